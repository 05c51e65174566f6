/**
 * The multicast lab plus the router's `netkit mroute` daemon run as a real process and the CLI.
 *
 * @module
 */

import { controlSocketPath, request } from "../../lib/ipc/mod.ts";
import { MulticastLab } from "../../lib/lab/multicast_lab.ts";
import { mrouteSocketName } from "../../lib/mroute/daemon.ts";
import { netnsId } from "../../lib/net/netns.ts";
import { netkit } from "./_lacp.ts";

export { ADDR } from "../../lib/lab/multicast_lab.ts";

/** {@linkcode MulticastLab} with the router's daemon socket and CLI. */
export class MrouteLab extends MulticastLab {
  /** The default control socket of the router's daemon. */
  get socketPath(): string {
    return controlSocketPath(mrouteSocketName(netnsId(this.router), 0));
  }

  /** `./netkit -n <router> mroute ARGS`. */
  mroute(...args: string[]): { code: number; out: string; err: string } {
    return netkit(["-n", this.router, "mroute", ...args]);
  }

  /** `netkit mroute show -s -j` in the router. */
  show(): { vifs: Record<string, unknown>[]; routes: Record<string, unknown>[] } {
    const out = this.mroute("show", "-s", "-j");
    if (out.code !== 0) throw new Error(`show failed: ${out.err}`);
    return JSON.parse(out.out);
  }
}

/** `./netkit -n NETNS mroute daemon ARGS` run in the foreground as a real process. */
export class MrouteDaemonProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly socketPath: string;
  readonly logFile: string;
  #stopped: Promise<Deno.CommandStatus> | null = null;
  #exitStatus: Deno.CommandStatus | null = null;
  /** What the daemon printed on stderr (errors before logging starts). */
  readonly #stderr: Promise<string>;

  private constructor(child: Deno.ChildProcess, socketPath: string, logFile: string) {
    this.#child = child;
    this.socketPath = socketPath;
    this.logFile = logFile;
    this.#stderr = new Response(child.stderr).text();
    child.status.then((s) => this.#exitStatus = s);
  }

  /** Starts the daemon and waits until it answers SHOW. */
  static async start(lab: MrouteLab, args: string[]): Promise<MrouteDaemonProcess> {
    const logFile = Deno.makeTempFileSync({ prefix: "netkit-mroute-", suffix: ".log" });
    const child = new Deno.Command("./netkit", {
      args: [
        "-n",
        lab.router,
        "--log-level",
        "debug",
        "--log-file",
        logFile,
        "mroute",
        "daemon",
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const daemon = new MrouteDaemonProcess(child, lab.socketPath, logFile);
    const deadline = Date.now() + 8000;
    for (;;) {
      try {
        await request(lab.socketPath, { action: "SHOW" }, { timeoutMs: 1000 });
        return daemon;
      } catch (err) {
        if (Date.now() > deadline) {
          await daemon.stop();
          throw new Error(
            `mroute daemon did not start: ${err}; log: ${Deno.readTextFileSync(logFile)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  get #exited(): boolean {
    return this.#exitStatus !== null;
  }

  /** SIGTERM and the exit status; safe to call again. */
  stop(): Promise<Deno.CommandStatus> {
    this.#stopped ??= (async () => {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await this.#stderr;
      return await this.#child.status;
    })();
    return this.#stopped;
  }

  /** The daemon's log so far. */
  log(): string {
    return Deno.readTextFileSync(this.logFile);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    Deno.removeSync(this.logFile);
  }
}
