/**
 * Running `./netkit lacp` daemons as real processes inside test namespaces, and reading their
 * status from their control sockets.
 *
 * @module
 */

import { controlSocketPath, request } from "../../lib/ipc/mod.ts";
import { controlSocketPrefix } from "../../lib/lacp/daemon.ts";
import type { DaemonStatus, PortStatus } from "../../lib/lacp/status.ts";
import { netnsId } from "../../lib/net/netns.ts";

const decoder = new TextDecoder();

/** Runs `./netkit ARGS` to completion. */
export function netkit(args: string[]): { code: number; out: string; err: string } {
  const out = new Deno.Command("./netkit", { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

/** Polls `probe` every 50 ms until `accept` holds or `timeoutMs` passes; throws with `what`. */
export async function waitUntil<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (err) {
      error = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)} ${
      error ?? ""
    }`,
  );
}

/** A `./netkit -n NETNS lacp ...` process run in the foreground, logging to a file. */
export class LacpProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly netns: string;
  readonly logFile: string;
  #exit: Deno.CommandStatus | null = null;

  private constructor(child: Deno.ChildProcess, netns: string, logFile: string) {
    this.#child = child;
    this.netns = netns;
    this.logFile = logFile;
    child.status.then((s) => this.#exit = s);
  }

  /** Starts the daemon; `args` follow `lacp`. */
  static start(netns: string, args: string[]): LacpProcess {
    const logFile = Deno.makeTempFileSync({ prefix: "netkit-lacp-", suffix: ".log" });
    const child = new Deno.Command("./netkit", {
      args: ["-n", netns, "--log-level", "debug", "--log-file", logFile, "lacp", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new LacpProcess(child, netns, logFile);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** The exit status once the process has ended, else null. */
  get exit(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /** Resolves when the process ends. */
  get done(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** The daemon's status from its control socket. */
  async status(): Promise<DaemonStatus> {
    const path = controlSocketPath(`${controlSocketPrefix(netnsId(this.netns))}${this.pid}`);
    return await request(path, { action: "status" }, { timeoutMs: 2000 }) as DaemonStatus;
  }

  /** The status of port `name`. */
  async port(name: string): Promise<PortStatus> {
    const port = (await this.status()).ports.find((p) => p.interface === name);
    if (port === undefined) throw new Error(`no port ${name}`);
    return port;
  }

  /** Waits until every port is collecting and distributing with a partner in sync. */
  async aggregated(timeoutMs = 8000): Promise<DaemonStatus> {
    return await waitUntil(
      () => this.status(),
      (s) =>
        s.ports.every((p) =>
          p.mux_state === "COLLECTING_DISTRIBUTING" &&
          p.partner.state_flags.includes("SYNCHRONIZATION")
        ),
      timeoutMs,
      `netkit in ${this.netns} to aggregate`,
    );
  }

  /** The log written so far. */
  log(): string {
    return Deno.readTextFileSync(this.logFile);
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    if (this.#exit === null) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    return await this.#child.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    Deno.removeSync(this.logFile);
  }
}

/** What about an interface must be the same before netkit runs and after it exits. */
export function interfaceState(netns: string, name: string): unknown {
  const out = new Deno.Command("ip", {
    args: ["-j", "-d", "-n", netns, "link", "show", name],
    stdout: "piped",
  }).outputSync();
  const [link] = JSON.parse(decoder.decode(out.stdout)) as Record<string, unknown>[];
  const maddr = new Deno.Command("ip", {
    args: ["-n", netns, "maddr", "show", "dev", name],
    stdout: "piped",
  }).outputSync();
  return {
    flags: link?.flags,
    promiscuity: link?.promiscuity,
    allmulti: link?.allmulti,
    mtu: link?.mtu,
    address: link?.address,
    multicast: decoder.decode(maddr.stdout).split("\n").filter((l) => l.includes("link")).map((l) =>
      l.trim()
    ).sort(),
  };
}

/** Runs tshark over a capture: one line of `fields` per frame, and any expert messages. */
export function tshark(pcap: string, fields: string[]): { rows: string[][]; expert: string[] } {
  const run = (args: string[]) =>
    decoder.decode(
      new Deno.Command("tshark", { args, stdout: "piped", stderr: "null" }).outputSync().stdout,
    );
  const rows = run([
    "-r",
    pcap,
    "-T",
    "fields",
    "-E",
    "separator=,",
    ...fields.flatMap((f) => ["-e", f]),
  ])
    .split("\n").filter(Boolean).map((l) => l.split(","));
  const expert = run(["-r", pcap, "-T", "fields", "-e", "_ws.expert.message"]).split("\n").filter(
    Boolean,
  );
  return { rows, expert };
}
