/**
 * A `netkit -n NETNS lacp ...` daemon run as a child process, logging to a temporary file, with
 * its status read from its control socket: what the LACP tests and benchmark drive.
 *
 * @module
 */

import { requestChecked } from "../lib/daemon/client.ts";
import { controlSocketPath } from "../lib/ipc/mod.ts";
import {
  controlSocketPrefix,
  LACP_STATUS,
  LacpStatusReply,
  STATUS_REQUEST,
} from "../lib/lacp/client.ts";
import type { DaemonStatus, PortStatus } from "../lib/lacp/status.ts";
import { netnsId } from "../lib/net/netns.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";

/** How a {@linkcode LacpProcess} runs. */
export interface LacpProcessOptions {
  /** The netkit executable (default `./netkit`). */
  executable?: string;
  /** `--log-level` (default: netkit's). */
  logLevel?: string;
}

/** Every port collecting and distributing, with a partner in sync. */
export function aggregated(status: DaemonStatus): boolean {
  return status.ports.every((p) =>
    p.mux_state === "COLLECTING_DISTRIBUTING" &&
    p.partner.state_flags.includes("SYNCHRONIZATION")
  );
}

/** A running `netkit lacp` daemon. */
export class LacpProcess implements AsyncDisposable {
  readonly #daemon: ChildDaemon;
  /** The namespace it runs in. */
  readonly netns: string;
  /** Its `--log-file`, a temporary file. */
  readonly logFile: string;

  private constructor(daemon: ChildDaemon, netns: string, logFile: string) {
    this.#daemon = daemon;
    this.netns = netns;
    this.logFile = logFile;
  }

  /** Starts the daemon in `netns`; `args` follow `lacp`. */
  static start(
    netns: string,
    args: readonly string[],
    options: LacpProcessOptions = {},
  ): LacpProcess {
    const logFile = Deno.makeTempFileSync({ prefix: "netkit-lacp-", suffix: ".log" });
    const level = options.logLevel === undefined ? [] : ["--log-level", options.logLevel];
    const daemon = ChildDaemon.spawn(
      `netkit lacp in "${netns}"`,
      options.executable ?? "./netkit",
      ["-n", netns, ...level, "--log-file", logFile, "lacp", ...args],
    );
    return new LacpProcess(daemon, netns, logFile);
  }

  /** Its process id. */
  get pid(): number {
    return this.#daemon.pid;
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#daemon.exited;
  }

  /** Resolves when the process ends. */
  get done(): Promise<Deno.CommandStatus> {
    return this.#daemon.status;
  }

  /** The daemon's status from its control socket, checked against the contract. */
  status(): Promise<DaemonStatus> {
    const path = controlSocketPath(`${controlSocketPrefix(netnsId(this.netns))}${this.pid}`);
    return requestChecked(path, STATUS_REQUEST, LacpStatusReply, LACP_STATUS, { timeoutMs: 2000 });
  }

  /** The status of port `name`. */
  async port(name: string): Promise<PortStatus> {
    const port = (await this.status()).ports.find((p) => p.interface === name);
    if (port === undefined) throw new Error(`no port ${name}`);
    return port;
  }

  /** Waits until every port is aggregated ({@linkcode aggregated}); returns that status. */
  async aggregated(timeoutMs = 8000, signal?: AbortSignal): Promise<DaemonStatus> {
    let last = null as DaemonStatus | null;
    try {
      await this.#daemon.waitUntil(async () => aggregated(last = await this.status()), {
        timeoutMs,
        signal,
      });
    } catch (err) {
      const ports = last?.ports.map((p) => `${p.interface} ${p.mux_state}`).join(", ");
      throw new Error(`${err instanceof Error ? err.message : err}; last: ${ports ?? "none"}`);
    }
    return last!;
  }

  /** The log written so far. */
  log(): string {
    return Deno.readTextFileSync(this.logFile);
  }

  /** SIGTERM (SIGKILL if it lingers), then the exit status; safe to call twice. */
  stop(): Promise<Deno.CommandStatus> {
    return this.#daemon.stop();
  }

  /** Stops the daemon and removes its log file. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    Deno.removeSync(this.logFile);
  }
}
