/**
 * A `netkit -n NETNS lsoe ...` speaker run as a child process for tests and bench/lsoe: its
 * status read from its control socket and its events (what `netkit lsoe monitor -j` prints)
 * recorded from a subscription, both checked against the contract lib/lsoe/client.ts.
 *
 * @module
 */

import { waitFor } from "../lib/async.ts";
import { requestChecked, subscribeChecked } from "../lib/daemon/client.ts";
import { controlSocketPath } from "../lib/ipc/mod.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import {
  type LsoeEvent,
  lsoeReply,
  lsoeSocketName,
  MonitorLine,
  type SessionJson,
  StatusReply,
} from "../lib/lsoe/client.ts";
import { netnsId } from "../lib/net/netns.ts";

/** How an {@linkcode LsoeProcess} runs. */
export interface LsoeProcessOptions {
  /** The netkit executable (default `./netkit` of this checkout). */
  executable?: string;
  /** `--log-level` (default `warning`: a debug log costs more per frame than the protocol). */
  logLevel?: string;
  /** Give up waiting for it to serve after this long (default 15 s). */
  startTimeoutMs?: number;
  /** Ends the wait for it to serve (Ctrl-C of a bench). */
  signal?: AbortSignal | undefined;
}

/** An event the speaker sent, with when it arrived here (performance.now()). */
export interface ReceivedEvent {
  /** Arrival, performance.now() ms. */
  at: number;
  /** The event. */
  event: LsoeEvent;
}

const NETKIT = new URL("../netkit", import.meta.url).pathname;

/** Options a test speaker gets unless it says otherwise: quick HELLOs, a short silence limit. */
export const QUICK: readonly string[] = [
  "--hello-interval",
  "1",
  "--keepalive-receive-timeout",
  "3",
];

/** A running `netkit lsoe` speaker. */
export class LsoeProcess implements AsyncDisposable {
  readonly #daemon: ChildDaemon;
  readonly #socket: string;
  readonly #unsubscribe = new AbortController();
  #subscription: Promise<void> = Promise.resolve();
  /** The namespace it runs in. */
  readonly netns: string;
  /** Its `--log-file`, a temporary file. */
  readonly logFile: string;
  /** Every event received since it started serving, oldest first. */
  readonly events: ReceivedEvent[] = [];

  private constructor(daemon: ChildDaemon, netns: string, logFile: string) {
    this.#daemon = daemon;
    this.netns = netns;
    this.logFile = logFile;
    this.#socket = controlSocketPath(lsoeSocketName(netnsId(netns)));
  }

  /**
   * Starts `netkit -n NETNS lsoe ARGS`, waits until it answers STATUS and subscribes to its
   * events.
   */
  static async start(
    netns: string,
    args: readonly string[],
    options: LsoeProcessOptions = {},
  ): Promise<LsoeProcess> {
    const logFile = Deno.makeTempFileSync({ prefix: "netkit-lsoe-", suffix: ".log" });
    const daemon = ChildDaemon.spawn(
      `netkit lsoe in "${netns}"`,
      options.executable ?? NETKIT,
      [
        ...["-n", netns, "--log-level", options.logLevel ?? "warning", "--log-file", logFile],
        ...["lsoe", ...args],
      ],
    );
    const speaker = new LsoeProcess(daemon, netns, logFile);
    try {
      await daemon.waitUntil(async () => {
        await speaker.status();
        return true;
      }, { timeoutMs: options.startTimeoutMs ?? 15_000, signal: options.signal });
      await speaker.#subscribe();
      return speaker;
    } catch (err) {
      await speaker[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Its process id. */
  get pid(): number {
    return this.#daemon.pid;
  }

  /** Whether it has exited (it must not, in any of the tests). */
  get exited(): boolean {
    return this.#daemon.exited;
  }

  /** STATUS (`netkit lsoe -s -j`). */
  status(): Promise<StatusReply> {
    return requestChecked(this.#socket, { action: "STATUS" }, StatusReply, lsoeReply("STATUS"), {
      timeoutMs: 5000,
    });
  }

  /** Its sessions (STATUS). */
  async sessions(): Promise<SessionJson[]> {
    return (await this.status()).sessions;
  }

  /**
   * Waits until an event received at index `from` or later satisfies `predicate`; returns it.
   * `what` names it in the timeout's message.
   */
  async waitForEvent(
    what: string,
    predicate: (event: LsoeEvent) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<ReceivedEvent> {
    const found = await waitFor(
      () => this.events.slice(from).find((e) => predicate(e.event)),
      (e) => e !== undefined,
      { timeoutMs, intervalMs: 10, what: `${what} in ${this.netns}` },
    );
    return found!;
  }

  /** The events of kind `kind` received at or after `since` (performance.now()). */
  eventsOf<K extends LsoeEvent["event"]>(
    kind: K,
    since = -Infinity,
  ): (ReceivedEvent & { event: Extract<LsoeEvent, { event: K }> })[] {
    return this.events.filter((e): e is ReceivedEvent & {
      event: Extract<LsoeEvent, { event: K }>;
    } => e.event.event === kind && e.at >= since);
  }

  /** The log written so far. */
  log(): string {
    return Deno.readTextFileSync(this.logFile);
  }

  /** Subscribes, and returns once the acknowledgement line arrived (no event is missed after). */
  async #subscribe(): Promise<void> {
    const lines = subscribeChecked(
      this.#socket,
      { action: "SUBSCRIBE" },
      MonitorLine,
      lsoeReply("SUBSCRIBE"),
      { signal: this.#unsubscribe.signal },
    );
    const first = await lines.next();
    if (first.done || !("status" in first.value)) {
      throw new Error(`the lsoe daemon did not acknowledge SUBSCRIBE: ${JSON.stringify(first)}`);
    }
    this.#subscription = (async () => {
      try {
        for await (const line of lines) {
          if ("event" in line) this.events.push({ at: performance.now(), event: line });
        }
      } catch {
        // The daemon stopped: the events so far are kept.
      }
    })();
  }

  /** Ends the subscription, then SIGTERM (SIGKILL if it lingers); the exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    this.#unsubscribe.abort();
    await this.#subscription;
    return await this.#daemon.stop();
  }

  /** Stops it and removes its log file. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    try {
      Deno.removeSync(this.logFile);
    } catch {
      // Already gone.
    }
  }
}
