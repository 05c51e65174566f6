/**
 * `netkit lsoe` as a real process for the integration tests: started in a namespace through
 * the built `./netkit`, its STATUS read and its events followed through the contract of
 * lib/lsoe/client.ts (validated, never cast).
 *
 * @module
 */

import { waitFor } from "../../lib/async.ts";
import { requestChecked, subscribeChecked } from "../../lib/daemon/client.ts";
import { controlSocketPath } from "../../lib/ipc/run_dir.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import {
  type LsoeEvent,
  lsoeReply,
  lsoeSocketName,
  MonitorLine,
  type SessionJson,
  StatusReply,
} from "../../lib/lsoe/client.ts";
import { netnsId } from "../../lib/net/netns_names.ts";

/** Options every test speaker gets unless it says otherwise: quick HELLOs, a short timeout. */
export const QUICK = ["--hello-interval", "1", "--keepalive-receive-timeout", "3"];

/** An event with the time the test received it (performance.now()). */
export interface SeenEvent {
  /** The event. */
  event: LsoeEvent;
  /** When the subscription delivered it. */
  at: number;
}

/** A running `netkit lsoe`, stopped when disposed of. */
export class LsoeProcess implements AsyncDisposable {
  readonly events: SeenEvent[] = [];
  readonly #subscription = new AbortController();
  #following: Promise<void> | null = null;

  private constructor(
    readonly daemon: ChildDaemon,
    readonly netns: string,
    readonly socket: string,
    readonly log: string,
  ) {}

  /**
   * Starts `netkit lsoe ARGS` in `netns` (its log in `log`), waits until it serves and
   * subscribes to its events.
   */
  static async start(netns: string, log: string, args: string[]): Promise<LsoeProcess> {
    const daemon = ChildDaemon.spawn("netkit lsoe", "./netkit", [
      ...["-n", netns, "--log-level", "debug", "--log-file", log, "lsoe", ...args],
    ]);
    const socket = controlSocketPath(lsoeSocketName(netnsId(netns)));
    const p = new LsoeProcess(daemon, netns, socket, log);
    try {
      await daemon.waitUntil(async () => {
        await p.status();
        return true;
      }, { timeoutMs: 10_000 });
      await p.#follow();
      return p;
    } catch (err) {
      await daemon.stop();
      throw new Error(`${err}\n${await Deno.readTextFile(log).catch(() => "")}`);
    }
  }

  /** STATUS, checked against the contract. */
  status(): Promise<StatusReply> {
    return requestChecked(this.socket, { action: "STATUS" }, StatusReply, lsoeReply("STATUS"), {
      timeoutMs: 2000,
    });
  }

  /** Its sessions. */
  async sessions(): Promise<SessionJson[]> {
    return (await this.status()).sessions;
  }

  /** Subscribes and records every event until stopped; resolves once subscribed. */
  async #follow(): Promise<void> {
    const subscribed = Promise.withResolvers<void>();
    this.#following = (async () => {
      try {
        for await (
          const line of subscribeChecked(
            this.socket,
            { action: "SUBSCRIBE" },
            MonitorLine,
            lsoeReply("SUBSCRIBE"),
            { signal: this.#subscription.signal },
          )
        ) {
          if ("status" in line) subscribed.resolve();
          else this.events.push({ event: line, at: performance.now() });
        }
      } catch (err) {
        subscribed.reject(err);
      }
    })();
    await subscribed.promise;
  }

  /** Waits until `predicate` holds for a recorded event (looking from `from`); returns it. */
  async waitForEvent(
    what: string,
    predicate: (event: LsoeEvent) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<SeenEvent> {
    const found = await waitFor(
      () => this.events.slice(from).find((e) => predicate(e.event)),
      (e) => e !== undefined,
      { timeoutMs, intervalMs: 10, what: `${what} in ${this.netns}` },
    );
    return found!;
  }

  /** Stops following and the process (SIGTERM). */
  async stop(): Promise<Deno.CommandStatus> {
    this.#subscription.abort();
    const status = await this.daemon.stop();
    await this.#following?.catch(() => {});
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
