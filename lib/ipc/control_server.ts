/**
 * The daemon side of the control protocol: {@linkcode ControlServer} listens on a Unix socket,
 * refuses to start while another instance serves the path, and answers each JSON line with
 * the handler's reply. See `mod.ts` for the protocol.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { z } from "zod";
import { delay } from "../async.ts";
import { errorMessage, NetkitError, NetkitOsError } from "../errors.ts";
import { Allowance } from "./_allowance.ts";
import { ControlConnection, type RequestHandler, type ServiceConfig } from "./_connection.ts";
import { InstanceLock } from "./instance_lock.ts";
import { closeQuietly } from "./_wire.ts";

export {
  OK_REPLY,
  type RequestContext,
  type RequestHandler,
  summarizeIssues,
} from "./_connection.ts";

const log = getLogger(["netkit", "ipc"]);

/** Default cap on one incoming message, in bytes (newline not counted). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Default cap on simultaneously open client connections. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Default time a connection may wait for its next complete request before it is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/**
 * Default time a request may stall: a pause in its bytes before its end, or its handler
 * working on the reply. As long as a client waits by default, so a server never works for a
 * client that gave up.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Default time a client has to take one reply line before it is cut off. */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;
/** Default cap on subscriptions streaming at once, well below the connection cap. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 64;
/**
 * Default cap on the bytes buffered by all connections together (requests being received or
 * answered, replies being written), beyond each connection's first 68 KiB of buffers.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Pause after a failed accept (e.g. out of file descriptors) before trying again. */
const ACCEPT_RETRY_MS = 100;
/** The longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** `sun_path` holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** Options for {@linkcode ControlServer.listen}. */
export interface ControlServerOptions<Req> {
  /** Socket path, usually from `controlSocketPath(name)`; at most 107 bytes. */
  path: string;
  /** Validates each request; the handler receives the parsed output. */
  schema: z.ZodType<Req>;
  /** Answers each valid request; see {@linkcode RequestHandler}. */
  handle: RequestHandler<Req>;
  /** Largest accepted request line in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * Most client connections open at once (default 256). At the limit a new client takes the
   * place of the connection idle the longest, else of the oldest subscription; only when every
   * connection is answering a request is it told to retry later.
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection may go without completing a request, while it is not being
   * answered or streaming a subscription, before it is closed (default 10 s).
   */
  idleTimeoutMs?: number;
  /**
   * Milliseconds a request may stall (default 5 s): a pause in its bytes before its end, or
   * from its arrival until its reply is ready. Past it the client gets an error reply, the
   * handler's signal is aborted and the connection is closed. A synchronous handler cannot be
   * interrupted: its reply, once ready, is sent.
   */
  requestTimeoutMs?: number;
  /** Milliseconds a client has to read one reply line before it is cut off (default 10 s). */
  writeTimeoutMs?: number;
  /** Most subscriptions streaming at once (default 64); more are refused with an error reply. */
  maxSubscriptions?: number;
  /**
   * Most bytes buffered by all connections together beyond their first buffers (default
   * 64 MiB, or room for two of the largest requests if that is more). A request that would
   * pass it is refused with an error reply and its connection closed.
   */
  maxBufferedBytes?: number;
  /** Socket file mode: `0o600` (owner only, default) or `0o660` (owner and group). */
  mode?: 0o600 | 0o660;
  /** Group to give the socket, so its members may connect with mode `0o660`. */
  gid?: number;
}

function checkOptions<Req>(options: ControlServerOptions<Req>): void {
  const { path } = options;
  if (!path.startsWith("/")) {
    throw new NetkitError(`Control socket path "${path}" is not absolute; give a full path`);
  }
  const length = new TextEncoder().encode(path).length;
  if (length > MAX_SOCKET_PATH_BYTES) {
    throw new NetkitError(
      `Control socket path "${path}" is ${length} bytes long but at most ` +
        `${MAX_SOCKET_PATH_BYTES} fit in a Unix socket address; choose a shorter run directory`,
    );
  }
  const mode: number = options.mode ?? 0o600;
  if (mode !== 0o600 && mode !== 0o660) {
    throw new NetkitError(
      `Control socket mode "0o${mode.toString(8)}" is not allowed; use 0o600 or 0o660`,
    );
  }
  const counts = [
    "maxMessageBytes",
    "maxConnections",
    "maxSubscriptions",
    "maxBufferedBytes",
  ] as const;
  const timeouts = ["idleTimeoutMs", "requestTimeoutMs", "writeTimeoutMs"] as const;
  for (const key of [...counts, ...timeouts]) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new NetkitError(`Control server option ${key} "${value}" must be a positive integer`);
    }
  }
  for (const key of timeouts) {
    // Longer timers fire at once.
    const value = options[key];
    if (value !== undefined && value > MAX_TIMER_MS) {
      throw new NetkitError(
        `Control server option ${key} "${value}" must be at most ${MAX_TIMER_MS}`,
      );
    }
  }
}

/** The default buffer budget: 64 MiB, or room for two of the largest requests and their reads. */
function defaultBufferBudget(maxMessageBytes: number): number {
  return Math.max(DEFAULT_MAX_BUFFERED_BYTES, 2 * (maxMessageBytes + 2 * 1024 * 1024));
}

function parentDir(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

/** Turns OS permission failures into a message saying what to do. */
function explain(err: unknown, what: string): unknown {
  const denied = err instanceof NetkitOsError && (err.code === "EACCES" || err.code === "EPERM");
  if (err instanceof Deno.errors.PermissionDenied || denied) {
    return new NetkitError(
      `Cannot ${what}: permission denied; run as root or set NETKIT_RUN_DIR to a writable directory`,
      { cause: err },
    );
  }
  return err;
}

/**
 * A daemon's control socket: one JSON request per line in, one JSON reply per line out.
 *
 * ```ts ignore
 * import { z } from "zod";
 * await using server = await ControlServer.listen({
 *   path: controlSocketPath("lacp-bond0"),
 *   schema: z.object({ cmd: z.literal("show") }),
 *   handle: () => ({ ports: [] }),
 * });
 * ```
 */
export class ControlServer implements AsyncDisposable {
  /** The socket path this server listens on. */
  readonly path: string;
  #listener: Deno.UnixListener;
  #lock: InstanceLock;
  #config: ServiceConfig<unknown>;
  #maxConnections: number;
  #connections = new Set<ControlConnection<unknown>>();
  #accepting: Promise<void>;
  #stop = new AbortController();
  #closing: Promise<void> | null = null;
  #nextPeer = 1;

  private constructor(
    listener: Deno.UnixListener,
    lock: InstanceLock,
    config: ServiceConfig<unknown>,
    maxConnections: number,
  ) {
    this.path = config.path;
    this.#listener = listener;
    this.#lock = lock;
    this.#config = config;
    this.#maxConnections = maxConnections;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Starts serving `options.path`. Creates the socket's directory (mode 0755) if missing,
   * takes the lock file `<path>.lock`, removes a stale socket only after proving that nothing
   * answers on it, listens, and sets the socket's mode (and group). Throws a
   * {@linkcode NetkitError} when another daemon serves the path, when another process listens
   * on it, or when the path is not a socket.
   *
   * Requires `--allow-read` and `--allow-write` on the socket's directory and `--allow-net`
   * (at least `--allow-net=unix:<path>`).
   */
  static async listen<Req>(options: ControlServerOptions<Req>): Promise<ControlServer> {
    checkOptions(options);
    const { path } = options;
    const dir = parentDir(path);
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw explain(err, `create the run directory "${dir}"`);
    }
    let lock: InstanceLock;
    try {
      lock = await InstanceLock.acquire(path);
    } catch (err) {
      throw explain(err, `lock "${path}.lock"`);
    }
    let listener: Deno.UnixListener;
    try {
      listener = Deno.listen({ transport: "unix", path });
    } catch (err) {
      await lock.release();
      if (err instanceof Deno.errors.AddrInUse) {
        throw new NetkitError(
          `"${path}" was created by another process while netkit was starting; stop it and retry`,
          { cause: err },
        );
      }
      throw explain(err, `listen on "${path}"`);
    }
    try {
      await lock.adoptSocket();
      await Deno.chmod(path, options.mode ?? 0o600);
      if (options.gid !== undefined) await Deno.chown(path, null, options.gid);
    } catch (err) {
      closeQuietly(listener);
      await lock.release();
      const group = options.gid === undefined ? "" : ` and group ${options.gid}`;
      throw new NetkitError(
        `Cannot set the mode${group} of "${path}": ${errorMessage(err)}; ` +
          "check that netkit runs as root or as a member of that group",
        { cause: err },
      );
    }
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const config: ServiceConfig<Req> = {
      path,
      schema: options.schema,
      handle: options.handle,
      maxMessageBytes,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
      buffers: new Allowance(options.maxBufferedBytes ?? defaultBufferBudget(maxMessageBytes)),
      subscriptions: new Allowance(options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS),
    };
    log.info("Serving control requests on {path}", { path });
    return new ControlServer(
      listener,
      lock,
      // The connection only passes schema output to the handler that accepts it.
      config as unknown as ServiceConfig<unknown>,
      options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    );
  }

  /** The number of open client connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Bytes buffered by all connections beyond their first buffers (what the budget caps). */
  get bufferedBytes(): number {
    return this.#config.buffers.used;
  }

  /** The number of subscriptions streaming. */
  get subscriptions(): number {
    return this.#config.subscriptions.used;
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#stop.signal.aborted || err instanceof Deno.errors.BadResource) return;
        // Typically EMFILE: keep the daemon up and try again shortly.
        log.warning("Cannot accept a connection on {path}: {error}", {
          path: this.path,
          error: errorMessage(err),
        });
        await delay(ACCEPT_RETRY_MS, this.#stop.signal);
        continue;
      }
      if (this.#stop.signal.aborted) {
        closeQuietly(conn);
        return;
      }
      const refusal = this.#makeRoom()
        ? undefined
        : `Too many connections to "${this.path}"; try again later`;
      const connection = new ControlConnection(
        conn,
        `client ${this.#nextPeer++}`,
        this.#config,
        refusal,
      );
      this.#connections.add(connection);
      connection.done.then(() => this.#connections.delete(connection));
    }
  }

  /**
   * Whether a new connection may be served: below the limit, or after closing the connection
   * idle the longest or else the oldest subscription (a monitor can reconnect; subscriptions
   * are capped well below the connection limit). A connection answering a request is never
   * closed for a newcomer: its handler may be making a change whose reply must not be lost,
   * and it ends within the request timeout.
   */
  #makeRoom(): boolean {
    let open = 0;
    let idle: ControlConnection<unknown> | null = null;
    let subscribed: ControlConnection<unknown> | null = null;
    for (const connection of this.#connections) {
      const state = connection.state;
      if (state === "closing") continue;
      open++;
      if (state === "idle" && (idle === null || connection.since < idle.since)) {
        idle = connection;
      } else if (
        state === "subscribed" && (subscribed === null || connection.since < subscribed.since)
      ) {
        subscribed = connection;
      }
    }
    if (open < this.#maxConnections) return true;
    const victim = idle ?? subscribed;
    if (victim === null) return false;
    log.debug("{peer} is the {kind} connection at the connection limit of {path}; closing it", {
      peer: victim.peer,
      kind: victim === idle ? "longest idle" : "oldest subscribed",
      path: this.path,
    });
    victim.close(
      victim === idle
        ? "The connection limit was reached while the connection was idle"
        : "The connection limit was reached; the oldest subscription made room",
    );
    return true;
  }

  /**
   * Stops accepting, ends subscriptions and in-flight requests (their signal is aborted and
   * their replies dropped), closes every client connection, then removes the socket and the
   * lock file. Safe to call more than once; every call resolves when the server is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#stop.abort();
    closeQuietly(this.#listener);
    await this.#accepting;
    for (const connection of this.#connections) connection.close();
    await Promise.all([...this.#connections].map((connection) => connection.done));
    await this.#lock.release();
    log.info("Stopped serving control requests on {path}", { path: this.path });
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
