/**
 * The daemon side of the control protocol: {@linkcode ControlServer} listens on a Unix socket,
 * refuses to start while another instance serves the path, and answers each JSON line with
 * the handler's reply. See `mod.ts` for the protocol.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { z } from "zod";
import { errorMessage, NetkitError, NetkitOsError } from "../errors.ts";
import { InstanceLock } from "./instance_lock.ts";
import {
  closeQuietly,
  type Decoded,
  decodeJson,
  encodeLine,
  errorReply,
  isBlank,
  LineFramer,
  oneLine,
  ReadBuffer,
  writeAll,
} from "./_wire.ts";
import { delay } from "../async.ts";

const log = getLogger(["netkit", "ipc"]);

/** Default cap on one incoming message, in bytes (newline not counted). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Default cap on simultaneously open client connections. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Default time a connection may wait for its next complete request before it is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/** The reply sent for a handler that returns `undefined`. */
export const OK_REPLY: Readonly<{ status: "ok" }> = Object.freeze({ status: "ok" });

/** How long a subscription source may take to finish after `return()` before it is abandoned. */
const RETURN_GRACE_MS = 1000;
/** Pause after a failed accept (e.g. out of file descriptors) before trying again. */
const ACCEPT_RETRY_MS = 100;
/** The longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** `sun_path` holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** What a handler knows about the request beyond its content. */
export interface RequestContext {
  /** Names the client connection in logs, e.g. `"client 7"` (unique per server). */
  readonly peer: string;
  /**
   * Aborted when the server closes or, during a subscription, when the client goes away.
   * Long-running handlers and subscription sources should stop waiting when it fires.
   */
  readonly signal: AbortSignal;
}

/**
 * Answers one validated request. Returns (or resolves to) a JSON-serialisable reply,
 * `undefined` for `{"status":"ok"}`, or an `AsyncIterable` whose items are streamed as lines
 * (a subscription). Throwing a {@linkcode NetkitError} sends its message as the error reply;
 * anything else thrown is reported as `Internal error: ...`.
 */
export type RequestHandler<Req> = (request: Req, context: RequestContext) => unknown;

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
   * place of the connection idle the longest; only when none is idle is it told to retry later.
   */
  maxConnections?: number;
  /**
   * Milliseconds a connection may go without completing a request, while it is not being
   * answered or streaming a subscription, before it is closed (default 10 s).
   */
  idleTimeoutMs?: number;
  /** Socket file mode: `0o600` (owner only, default) or `0o660` (owner and group). */
  mode?: 0o600 | 0o660;
  /** Group to give the socket, so its members may connect with mode `0o660`. */
  gid?: number;
}

const ABORTED: unique symbol = Symbol("aborted");

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(run: () => T | Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function";
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** One line naming each failing field, e.g. `"port.priority": Too big: expected ...`. */
export function summarizeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const where = issue.path.length === 0 ? "request" : `"${formatPath(issue.path)}"`;
    return `${where}: ${oneLine(issue.message)}`;
  });
  if (issues.length > 3) shown.push(`and ${issues.length - 3} more`);
  return shown.join("; ");
}

/** What a connection needs from its server. */
interface ServiceConfig<Req> {
  path: string;
  schema: z.ZodType<Req>;
  handle: RequestHandler<Req>;
  maxMessageBytes: number;
  idleTimeoutMs: number;
}

/** One client connection: reads requests, answers them in order, one at a time. */
class ControlConnection<Req> {
  readonly peer: string;
  /** Settles (never rejects) when the connection is finished and all its I/O has ended. */
  readonly done: Promise<void>;
  #conn: Deno.UnixConn;
  #config: ServiceConfig<Req>;
  #framer: LineFramer;
  readonly #buffer = new ReadBuffer();
  #abort = new AbortController();
  #aborted: Promise<typeof ABORTED>;
  #reading: Promise<number | null> | null = null;
  #watcher: Promise<void> | null = null;
  #idleSince: number | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.UnixConn, peer: string, config: ServiceConfig<Req>, refusal?: string) {
    this.#conn = conn;
    this.peer = peer;
    this.#config = config;
    this.#framer = new LineFramer(config.maxMessageBytes);
    this.#aborted = new Promise((resolve) => {
      this.#abort.signal.addEventListener("abort", () => resolve(ABORTED), { once: true });
    });
    this.done = this.#run(refusal);
  }

  /** Ends the connection: aborts its handler's signal and closes the socket. */
  close(reason = "The control server is closing"): void {
    this.#abort.abort(new NetkitError(reason));
    closeQuietly(this.#conn);
  }

  /** Whether the connection is closed or closing. */
  get closing(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * Since when (`performance.now()`) the connection has waited for a complete request, or
   * `null` while it is answering one or streaming a subscription.
   */
  get idleSince(): number | null {
    return this.closing ? null : this.#idleSince;
  }

  /** Starts waiting for the next request; the connection is closed if none completes in time. */
  #becomeIdle(): void {
    this.#idleSince = performance.now();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      log.debug("{peer} sent no request for {ms} ms; closing it", {
        peer: this.peer,
        ms: this.#config.idleTimeoutMs,
      });
      this.close("The connection was idle too long");
    }, this.#config.idleTimeoutMs);
  }

  #becomeBusy(): void {
    this.#idleSince = null;
    clearTimeout(this.#idleTimer);
  }

  async #run(refusal: string | undefined): Promise<void> {
    log.debug("{peer} connected to {path}", { peer: this.peer, path: this.#config.path });
    try {
      if (refusal === undefined) await this.#serveAll();
      else await this.#send(errorReply(refusal));
    } catch (err) {
      // Every expected failure is handled below; this only guards the server against bugs.
      log.error("{peer} on {path} failed: {error}", {
        peer: this.peer,
        path: this.#config.path,
        error: errorMessage(err),
      });
    } finally {
      this.#becomeBusy();
      this.#abort.abort(new NetkitError("The connection is closed"));
      closeQuietly(this.#conn);
      // Closing cancels any pending read; wait for it so no operation outlives the connection.
      await this.#reading;
      await this.#watcher;
      log.debug("{peer} disconnected", { peer: this.peer });
    }
  }

  async #serveAll(): Promise<void> {
    this.#becomeIdle();
    let eof = false;
    while (!this.#abort.signal.aborted) {
      const frame = this.#framer.next();
      if (frame?.kind === "overflow") {
        // Without the end of the line there is no way to find the next message: give up.
        await this.#send(errorReply(
          `Request exceeds ${this.#config.maxMessageBytes} bytes; send smaller requests`,
        ));
        return;
      }
      if (frame?.kind === "line") {
        if (isBlank(frame.bytes)) continue;
        if (!(await this.#serve(decodeJson(frame.bytes)))) return;
        continue;
      }
      if (eof) {
        // A client that half-closes after an unterminated request still gets its answer.
        const rest = this.#framer.takeRest();
        if (!isBlank(rest)) await this.#serve(decodeJson(rest));
        return;
      }
      // One-shot clients send one JSON value without a newline and wait for the reply.
      const complete = this.#framer.completeValue();
      if (complete !== null) {
        if (!(await this.#serve(complete))) return;
        continue;
      }
      eof = !(await this.#read(false));
    }
  }

  /** Reads once; returns false at end of input or when the connection failed. */
  async #read(discard: boolean): Promise<boolean> {
    this.#reading = this.#conn.read(this.#buffer.bytes).catch((err) => {
      if (!this.#abort.signal.aborted) {
        log.debug("{peer} read failed: {error}", { peer: this.peer, error: errorMessage(err) });
      }
      return null;
    });
    const n = await this.#reading;
    this.#reading = null;
    if (n === null) return false;
    const bytes = this.#buffer.filled(n);
    if (!discard) this.#framer.push(bytes);
    return true;
  }

  /** Answers one decoded message; returns whether the connection should go on. */
  async #serve(decoded: Decoded): Promise<boolean> {
    this.#becomeBusy();
    const goOn = await this.#answer(decoded);
    if (goOn) this.#becomeIdle();
    return goOn;
  }

  async #answer(decoded: Decoded): Promise<boolean> {
    if (!decoded.ok) return await this.#send(errorReply(`Invalid JSON: ${decoded.reason}`));
    const { schema, handle } = this.#config;
    const parsed = await this.#untilAborted(settle(() => schema.safeParseAsync(decoded.value)));
    if (parsed === ABORTED) return false;
    if (!parsed.ok) return await this.#send(errorReply(this.#failure(parsed.error)));
    if (!parsed.value.success) {
      const summary = summarizeIssues(parsed.value.error.issues);
      return await this.#send(errorReply(`Invalid request: ${summary}`));
    }
    const request = parsed.value.data;
    const context: RequestContext = { peer: this.peer, signal: this.#abort.signal };
    const outcome = await this.#untilAborted(settle(() => handle(request, context)));
    if (outcome === ABORTED) return false;
    if (!outcome.ok) return await this.#send(errorReply(this.#failure(outcome.error)));
    if (isAsyncIterable(outcome.value)) {
      await this.#stream(outcome.value);
      return false;
    }
    return await this.#sendReply(outcome.value === undefined ? OK_REPLY : outcome.value);
  }

  /**
   * Streams a subscription until it ends, the client goes away or the server closes. The
   * subscription owns the connection, which is closed afterwards: the client learns that the
   * stream ended from the end of input.
   */
  async #stream(source: AsyncIterable<unknown>): Promise<void> {
    const opened = await settle(() => source[Symbol.asyncIterator]());
    if (!opened.ok) {
      await this.#send(errorReply(this.#failure(opened.error)));
      return;
    }
    const iterator = opened.value;
    this.#framer.takeRest();
    this.#watcher = this.#watchForHangup();
    let finished = false;
    try {
      while (true) {
        const step = await this.#untilAborted(settle(() => iterator.next()));
        if (step === ABORTED) return;
        if (!step.ok) {
          finished = true;
          await this.#send(errorReply(this.#failure(step.error)));
          return;
        }
        if (step.value.done === true) {
          finished = true;
          return;
        }
        if (!(await this.#sendReply(step.value.value))) return;
      }
    } finally {
      if (!finished) await this.#stopSource(iterator);
    }
  }

  /** During a subscription, input only tells us when the client has gone. */
  async #watchForHangup(): Promise<void> {
    while (await this.#read(true)) {
      // Anything a subscriber sends is ignored.
    }
    if (!this.#abort.signal.aborted) {
      log.debug("{peer} ended its subscription", { peer: this.peer });
      this.#abort.abort(new NetkitError("The client disconnected"));
    }
  }

  async #stopSource(iterator: AsyncIterator<unknown>): Promise<void> {
    // Aborting first wakes a source that is waiting for its next item.
    this.#abort.abort(new NetkitError("The subscription ended"));
    if (typeof iterator.return !== "function") return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), RETURN_GRACE_MS);
    });
    const outcome = await Promise.race([settle(() => iterator.return?.()), late]);
    clearTimeout(timer);
    if (outcome === "late") {
      log.warning("{peer}: a subscription source did not stop within {ms} ms", {
        peer: this.peer,
        ms: RETURN_GRACE_MS,
      });
    } else if (!outcome.ok) {
      log.warning("{peer}: stopping a subscription source failed: {error}", {
        peer: this.peer,
        error: errorMessage(outcome.error),
      });
    }
  }

  /** The error reply text for a failed handler, logging what the client is not told. */
  #failure(err: unknown): string {
    if (err instanceof NetkitError) return err.message;
    log.warning("{peer}: request failed on {path}: {error}", {
      peer: this.peer,
      path: this.#config.path,
      error: errorMessage(err),
    });
    log.debug("{peer}: {stack}", {
      peer: this.peer,
      stack: err instanceof Error ? err.stack ?? err.message : String(err),
    });
    return `Internal error: ${errorMessage(err)}`;
  }

  async #sendReply(value: unknown): Promise<boolean> {
    let line: Uint8Array | null;
    try {
      line = encodeLine(value);
    } catch (err) {
      return await this.#send(errorReply(this.#failure(err)));
    }
    if (line === null) {
      return await this.#send(errorReply("Internal error: the reply has no JSON form"));
    }
    return await this.#sendBytes(line);
  }

  async #send(reply: ReturnType<typeof errorReply>): Promise<boolean> {
    return await this.#sendBytes(encodeLine(reply) ?? new Uint8Array());
  }

  async #sendBytes(line: Uint8Array): Promise<boolean> {
    try {
      await writeAll(this.#conn, line);
      return true;
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        log.debug("{peer} write failed: {error}", { peer: this.peer, error: errorMessage(err) });
      }
      return false;
    }
  }

  #untilAborted<T>(promise: Promise<T>): Promise<T | typeof ABORTED> {
    return Promise.race([promise, this.#aborted]);
  }
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
  for (const key of ["maxMessageBytes", "maxConnections", "idleTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new NetkitError(`Control server option ${key} "${value}" must be a positive integer`);
    }
  }
  // Longer timers fire at once.
  if (options.idleTimeoutMs !== undefined && options.idleTimeoutMs > MAX_TIMER_MS) {
    throw new NetkitError(
      `Control server option idleTimeoutMs "${options.idleTimeoutMs}" must be at most ${MAX_TIMER_MS}`,
    );
  }
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
    const config: ServiceConfig<Req> = {
      path,
      schema: options.schema,
      handle: options.handle,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
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
   * idle the longest, so idle clients can never lock out a new one.
   */
  #makeRoom(): boolean {
    let open = 0;
    let oldest: ControlConnection<unknown> | null = null;
    let oldestSince = Infinity;
    for (const connection of this.#connections) {
      if (connection.closing) continue;
      open++;
      const since = connection.idleSince;
      if (since !== null && since < oldestSince) {
        oldest = connection;
        oldestSince = since;
      }
    }
    if (open < this.#maxConnections) return true;
    if (oldest === null) return false;
    log.debug("{peer} is idle at the connection limit of {path}; closing it", {
      peer: oldest.peer,
      path: this.path,
    });
    oldest.close("The connection limit was reached while the connection was idle");
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
