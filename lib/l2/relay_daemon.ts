/**
 * The `netkit relay` daemon: a {@linkcode Relay} (the QUIC endpoint where gateways and clients
 * meet) and its status socket, served through lib/ipc with the contract of relay_client.ts, on
 * the shared daemon loop (lib/daemon/loop.ts). The relay is driven by its connections, not by a
 * poll, so the loop only waits for a stop signal; SIGHUP reopens the log file and rereads the
 * rooms file at once (the relay also rereads it within a second of a change).
 * Requires `--allow-all` (QUIC, the socket, the rooms file).
 *
 * @module
 */

import { DaemonLoop } from "../daemon/loop.ts";
import { type ControlServer, controlSocketPath } from "../ipc/mod.ts";
import { currentNetnsId } from "../net/netns.ts";
import { Relay, type RelayOptions } from "./relay.ts";
import { relaySocketName } from "./relay_client.ts";
import { listenStatus } from "./status_server.ts";

/** How the relay daemon runs: the relay's options and where its status socket goes. */
export interface RelayDaemonOptions extends RelayOptions {
  /** Default: `relay-ns<netns>-<port>` in the run directory. */
  statusSocket?: string;
}

/** A running relay with its status socket. */
export class RelayDaemon implements AsyncDisposable {
  /** The QUIC relay itself. */
  readonly relay: Relay;
  readonly #status: ControlServer;
  #loop: DaemonLoop | null = null;
  #stopping = false;

  private constructor(relay: Relay, status: ControlServer) {
    this.relay = relay;
    this.#status = status;
  }

  /**
   * Starts the relay, then serves its status; a status socket another relay holds stops the
   * new relay again and throws that error.
   */
  static async start(options: RelayDaemonOptions): Promise<RelayDaemon> {
    const { statusSocket, ...relayOptions } = options;
    const relay = await Relay.start(relayOptions);
    try {
      const status = await listenStatus(
        statusSocket ?? controlSocketPath(relaySocketName(currentNetnsId(), relay.addr.port)),
        // The pid is whom `relay -k` signals, once the socket's lock confirms it.
        async () => ({ ...await relay.freshStatus(), pid: Deno.pid }),
      );
      return new RelayDaemon(relay, status);
    } catch (err) {
      await relay.close();
      throw err;
    }
  }

  /** The status socket's path. */
  get statusPath(): string {
    return this.#status.path;
  }

  /**
   * Serves until {@linkcode stop}, SIGINT or SIGTERM; returns the signal caught (null for a
   * stop() call). `loop` is the CLI's, made before the relay started.
   */
  async run(loop?: DaemonLoop): Promise<Deno.Signal | null> {
    using own = loop === undefined ? new DaemonLoop() : null;
    const current = loop ?? own!;
    this.#loop = current;
    current.reload = () => this.relay.rereadRooms();
    if (this.#stopping) current.stop();
    try {
      return await current.until();
    } finally {
      this.#loop = null;
    }
  }

  /** Ends {@linkcode run}. */
  stop(): void {
    this.#stopping = true;
    this.#loop?.stop();
  }

  /** Stops serving status, then tells every peer the relay is going and closes. */
  async close(): Promise<void> {
    this.stop();
    await this.#status.close();
    await this.relay.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
