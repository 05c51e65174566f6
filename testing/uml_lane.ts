/**
 * The kernel lane: Debian's user-mode Linux (`linux.uml`, a 6.1 kernel run as an ordinary
 * process) boots with the host's filesystem as its root, runs one shell command as root inside,
 * and powers off. It has what some of our machines' kernels lack: bonding and team, netem, IPv4
 * multicast routing. Tests boot it once for a batch of work, never once per check.
 *
 * What crosses the boundary is files: the command's output, its exit status and anything it
 * writes (a JUnit report) land in a private directory of the host, removed by the caller.
 *
 * @module
 */

import { findOnPath } from "../lib/doctor/tools.ts";
import { shellQuote } from "../lib/text.ts";

/** The kernel's executable (package `user-mode-linux`). */
const UML = "linux.uml";
const MODULES = "/usr/lib/uml/modules";

/** Options for {@linkcode runInLane}. */
export interface LaneOptions {
  /** Kill the kernel after this long (ms); the run then reports `timedOut`. */
  timeoutMs: number;
  /** Kernel modules to load before the command (`modprobe` names). */
  modules?: string[];
  /** Working directory of the command (default: this process's). */
  cwd?: string;
  /** Memory of the kernel (default "2G"). */
  mem?: string;
  /** Extra environment of the command. */
  env?: Record<string, string>;
}

/** How a lane run ended. */
export interface LaneRun {
  /** The command's exit status, or null when it never finished (timeout, crash). */
  code: number | null;
  /** The command's standard output and error, interleaved. */
  output: string;
  /** The kernel's console (boot messages, panics), for diagnosis. */
  console: string;
  timedOut: boolean;
  ms: number;
}

/** Why the lane cannot run here, or null when it can. */
export function laneMissing(): string | null {
  if (findOnPath(UML) === null) {
    return `no ${UML}: install Debian's user-mode-linux package for the kernel lane`;
  }
  if (modulesDir() === null) return `no kernel modules for ${UML} in ${MODULES}`;
  if (Deno.uid() !== 0) return "the kernel lane runs as root";
  return null;
}

/** The one module tree of the installed UML kernel, e.g. /usr/lib/uml/modules/6.1.176. */
function modulesDir(): string | null {
  try {
    for (const entry of Deno.readDirSync(MODULES)) {
      if (entry.isDirectory) return `${MODULES}/${entry.name}`;
    }
  } catch {
    // not installed
  }
  return null;
}

function isWritableDir(path: string): boolean {
  try {
    const probe = Deno.makeTempFileSync({ dir: path });
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * A copy of this tree's Deno cache (its npm packages and compiled sources, not its SQLite
 * databases) in `dir`, for the lane's Deno processes. Never the host's own: SQLite maps its
 * `-shm` files, and the lane's kernel, sharing them over hostfs, truncated them under the host's
 * Deno processes, which died of SIGBUS or panicked mid-test.
 */
async function privateDenoCache(dir: string): Promise<string> {
  const source = Deno.env.get("DENO_DIR") ?? `${Deno.cwd()}/.deno`;
  const target = `${dir}/deno`;
  await Deno.mkdir(target);
  const parts = [];
  for await (const entry of Deno.readDir(source)) {
    if (entry.isDirectory || entry.name === ".cached") parts.push(`${source}/${entry.name}`);
  }
  if (parts.length > 0) {
    const copy = await new Deno.Command("cp", { args: ["-a", ...parts, target] }).output();
    if (!copy.success) {
      throw new Error(
        `Copying the Deno cache for the lane failed: ${new TextDecoder().decode(copy.stderr)}`,
      );
    }
  }
  return target;
}

/**
 * Boots the lane, runs `command` (a shell command line) as root in `options.cwd`, and returns
 * how it ended. `dir` is a private directory of the caller's that the command may write to; the
 * lane's own files (init script, output, status) go there too.
 */
export async function runInLane(
  command: string,
  dir: string,
  options: LaneOptions,
): Promise<LaneRun> {
  const modules = modulesDir();
  if (modules === null) throw new Error(`No kernel modules for ${UML} in ${MODULES}`);
  const version = modules.slice(modules.lastIndexOf("/") + 1);
  const denoDir = await privateDenoCache(dir);
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    DENO_DIR: denoDir,
    NETKIT_DENO_DIR: denoDir, // what ./netkit (tools/launcher.sh) runs from
    ...options.env,
  };
  // The init process of the lane: what Linux needs mounted, the modules, the command, off.
  const init = [
    "#!/bin/sh",
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    "mount -t proc proc /proc",
    "mount -t sysfs sys /sys",
    "mount -t tmpfs tmpfs /run",
    "mount -t tmpfs tmpfs /dev/shm 2>/dev/null",
    // The lane's root writes to the host's filesystem: with the protections systemd would set,
    // or links other users plant in /tmp would be followed.
    "echo 1 > /proc/sys/fs/protected_symlinks",
    "echo 1 > /proc/sys/fs/protected_hardlinks",
    "echo 2 > /proc/sys/fs/protected_regular",
    "echo 2 > /proc/sys/fs/protected_fifos",
    `mkdir -p ${shellQuote(`${dir}/modules/lib/modules`)}`,
    `ln -sfn ${shellQuote(modules)} ${shellQuote(`${dir}/modules/lib/modules/${version}`)}`,
    ...(options.modules ?? []).map((m) =>
      `modprobe -d ${shellQuote(`${dir}/modules`)} ${shellQuote(m)}`
    ),
    "ip link set lo up",
    `cd ${shellQuote(options.cwd ?? Deno.cwd())}`,
    `sh -c ${shellQuote(command)} > ${shellQuote(`${dir}/output`)} 2>&1`,
    `echo $? > ${shellQuote(`${dir}/status`)}`,
    "poweroff -f",
  ].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/init`, init, { mode: 0o700 });
  const started = performance.now();
  // setsid: the kernel and its helper processes form one group, killed together on timeout.
  const child = new Deno.Command("setsid", {
    args: [
      UML,
      `mem=${options.mem ?? "2G"}`,
      "root=/dev/root",
      "rootfstype=hostfs",
      "rootflags=/",
      "rw",
      `init=${dir}/init`,
      "con=null",
      "con0=null,fd:1",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // The kernel's memory is a file in TMPDIR: on tmpfs it costs no disk writes.
    env: { TMPDIR: isWritableDir("/dev/shm") ? "/dev/shm" : dir },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeoutMs);
  const result = await child.output();
  clearTimeout(timer);
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`).catch(() => "");
  const status = (await read("status")).trim();
  const decoder = new TextDecoder();
  return {
    code: timedOut || !/^[0-9]+$/.test(status) ? null : Number(status),
    output: await read("output"),
    console: decoder.decode(result.stdout) + decoder.decode(result.stderr),
    timedOut,
    ms: Math.round(performance.now() - started),
  };
}

// `deno run -A testing/uml_lane.ts [--modules a,b] [--timeout S] -- COMMAND...`: runs COMMAND
// in the lane from this directory and exits with its status (for working on lane tests by hand).
if (import.meta.main) {
  const args = [...Deno.args];
  let modules = ["ipv6", "veth", "bridge", "tun", "bonding", "sch_netem", "udp_diag"];
  let timeoutMs = 600_000;
  while (args.length > 0 && args[0] !== "--") {
    const option = args.shift()!;
    const value = args.shift() ?? "";
    if (option === "--modules") modules = value.split(",");
    else if (option === "--timeout") timeoutMs = Number(value) * 1000;
    else throw new Error(`Unknown option ${option}`);
  }
  args.shift();
  const missing = laneMissing();
  if (missing !== null) throw new Error(missing);
  const dir = Deno.makeTempDirSync({ prefix: "netkit-lane-" });
  try {
    const run = await runInLane(args.join(" "), dir, { timeoutMs, modules });
    const encoder = new TextEncoder();
    Deno.stdout.writeSync(encoder.encode(run.output));
    Deno.stderr.writeSync(
      encoder.encode(
        `lane: exit ${run.code}${run.timedOut ? " (timed out)" : ""} after ${run.ms} ms\n`,
      ),
    );
    Deno.exitCode = run.code ?? 1;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
