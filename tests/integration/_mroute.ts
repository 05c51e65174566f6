/**
 * The multicast lab plus the router's `netkit mroute` daemon run as a real process and the CLI.
 *
 * @module
 */

import { controlSocketPath, request } from "../../lib/ipc/mod.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { MulticastLab } from "../../lib/lab/multicast_lab.ts";
import { mrouteSocketName } from "../../lib/mroute/paths.ts";
import { netnsId } from "../../lib/net/netns.ts";
import { netkit } from "./_lacp.ts";

export { ADDR } from "../../lib/lab/multicast_lab.ts";

/** {@linkcode MulticastLab} with the router's daemon socket and CLI. */
export class MrouteLab extends MulticastLab {
  /** The default control socket of the router's daemon. */
  get socketPath(): string {
    return this.tableSocketPath(0);
  }

  /** The default control socket of the router's daemon for multicast routing table `table`. */
  tableSocketPath(table: number): string {
    return controlSocketPath(mrouteSocketName(netnsId(this.router), table));
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
  readonly #daemon: ChildDaemon;
  readonly socketPath: string;
  readonly logFile: string;

  private constructor(daemon: ChildDaemon, socketPath: string, logFile: string) {
    this.#daemon = daemon;
    this.socketPath = socketPath;
    this.logFile = logFile;
  }

  /** Starts the daemon (for multicast routing table `table`) and waits until it answers SHOW. */
  static async start(lab: MrouteLab, args: string[], table = 0): Promise<MrouteDaemonProcess> {
    const socketPath = lab.tableSocketPath(table);
    const logFile = Deno.makeTempFileSync({ prefix: "netkit-mroute-", suffix: ".log" });
    const daemon = new MrouteDaemonProcess(
      ChildDaemon.spawn("netkit mroute daemon", "./netkit", [
        "-n",
        lab.router,
        "--log-level",
        "debug",
        "--log-file",
        logFile,
        "mroute",
        "daemon",
        ...(table === 0 ? [] : ["--table", String(table)]),
        ...args,
      ]),
      socketPath,
      logFile,
    );
    try {
      await daemon.#daemon.waitUntil(async () => {
        await request(socketPath, { action: "SHOW" }, { timeoutMs: 1000 });
        return true;
      }, { timeoutMs: 8000 });
      return daemon;
    } catch (err) {
      const log = daemon.log();
      await daemon[Symbol.asyncDispose]();
      throw new Error(`${err instanceof Error ? err.message : err}; log: ${log}`);
    }
  }

  get pid(): number {
    return this.#daemon.pid;
  }

  /** SIGTERM and the exit status; safe to call again. */
  stop(): Promise<Deno.CommandStatus> {
    return this.#daemon.stop();
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
