/**
 * The CLI side of the control protocol: {@linkcode request} sends one request and returns the
 * daemon's reply; {@linkcode subscribe} streams a subscription. Failures are
 * {@linkcode NetkitError}s whose messages name the socket. See `mod.ts` for the protocol.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import {
  closeQuietly,
  decodeJson,
  encodeLine,
  errorReplyMessage,
  isBlank,
  LineFramer,
  ReadBuffer,
  writeAll,
} from "./_wire.ts";

/** Default time {@linkcode request} waits for the whole exchange, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default cap on one reply line, in bytes. */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** Why a daemon could not be reached. */
export type UnreachableReason = "no such socket" | "connection refused";

/**
 * No daemon serves the socket: it does not exist, or nothing listens on it. Feature CLIs
 * catch this to add how to start their daemon.
 */
export class DaemonUnreachableError extends NetkitError {
  /** Always `"DaemonUnreachableError"`, so logs and `String(err)` name the class. */
  override name = "DaemonUnreachableError";
  /** The socket path that was tried. */
  readonly path: string;
  /** What connecting ran into. */
  readonly reason: UnreachableReason;

  /** Creates the error for socket `path`. */
  constructor(path: string, reason: UnreachableReason, options: { cause?: unknown } = {}) {
    super(`Cannot reach the netkit daemon at "${path}": ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}

/** The daemon did not answer within the time allowed. */
export class DaemonTimeoutError extends NetkitError {
  /** Always `"DaemonTimeoutError"`, so logs and `String(err)` name the class. */
  override name = "DaemonTimeoutError";
  /** The socket path that was tried. */
  readonly path: string;
  /** The time allowed, in milliseconds. */
  readonly timeoutMs: number;

  /** Creates the error for socket `path` and the time allowed. */
  constructor(path: string, timeoutMs: number) {
    super(
      `No reply from the netkit daemon at "${path}" within ${timeoutMs} ms; ` +
        "check that it is running and not stuck",
    );
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

/** The daemon answered with an error reply; the message is the daemon's. */
export class DaemonReplyError extends NetkitError {
  /** Always `"DaemonReplyError"`, so logs and `String(err)` name the class. */
  override name = "DaemonReplyError";
  /** The socket path of the daemon that refused the request. */
  readonly path: string;

  /** Creates the error for the daemon at `path` replying `message`. */
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Options for {@linkcode request}. */
export interface RequestOptions {
  /** Time allowed for connecting, sending and receiving the reply (default 5000 ms). */
  timeoutMs?: number;
  /** Largest accepted reply line in bytes (default 64 MiB). */
  maxReplyBytes?: number;
}

/** Options for {@linkcode subscribe}. */
export interface SubscribeOptions {
  /** Ends the subscription: the connection is closed and the iteration simply ends. */
  signal?: AbortSignal;
  /** Largest accepted line in bytes (default 64 MiB). */
  maxLineBytes?: number;
}

function encodeRequest(message: unknown): Uint8Array {
  let line: Uint8Array | null;
  try {
    line = encodeLine(message);
  } catch (err) {
    throw new NetkitError(`Cannot encode the request as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (line === null) {
    throw new NetkitError("Cannot encode the request as JSON: it has no JSON form");
  }
  return line;
}

async function connectTo(path: string): Promise<Deno.UnixConn> {
  try {
    return await Deno.connect({ transport: "unix", path });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DaemonUnreachableError(path, "no such socket", { cause: err });
    }
    if (err instanceof Deno.errors.ConnectionRefused) {
      throw new DaemonUnreachableError(path, "connection refused", { cause: err });
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new NetkitError(
        `Permission denied connecting to "${path}"; run as root or as a member of the socket's group`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Reads the next line (a final unterminated one included), or `null` at end of input. */
async function readLine(
  conn: Deno.UnixConn,
  framer: LineFramer,
  buffer: ReadBuffer,
  path: string,
): Promise<Uint8Array | null> {
  while (true) {
    const frame = framer.next();
    if (frame?.kind === "line") {
      if (isBlank(frame.bytes)) continue;
      return frame.bytes;
    }
    if (frame?.kind === "overflow") {
      throw new NetkitError(
        `The reply from the netkit daemon at "${path}" exceeds ${framer.maxBytes} bytes; ` +
          "ask for less or raise the reply limit",
      );
    }
    let n: number | null;
    try {
      n = await conn.read(buffer.bytes);
    } catch (err) {
      // Linux resets rather than ends a connection that its peer closed with input unread, as
      // a daemon does after refusing an over-long request; the reply sent before still counts.
      if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
      n = null;
    }
    if (n === null) {
      const rest = framer.takeRest();
      return isBlank(rest) ? null : rest;
    }
    framer.push(buffer.filled(n));
  }
}

function decodeReply(path: string, bytes: Uint8Array): unknown {
  const decoded = decodeJson(bytes);
  if (!decoded.ok) {
    throw new NetkitError(
      `The daemon at "${path}" sent a reply that is not JSON (${decoded.reason}); ` +
        "check that the socket belongs to a netkit daemon",
    );
  }
  const message = errorReplyMessage(decoded.value);
  if (message !== null) throw new DaemonReplyError(path, message);
  return decoded.value;
}

function lostConnection(path: string, err: unknown): NetkitError {
  if (err instanceof NetkitError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new NetkitError(`Lost the connection to the netkit daemon at "${path}": ${detail}`, {
    cause: err,
  });
}

/**
 * Sends `message` to the daemon at `path` and returns its reply, then closes the connection.
 * Throws {@linkcode DaemonUnreachableError} when no daemon serves the path,
 * {@linkcode DaemonTimeoutError} when the exchange takes longer than `timeoutMs`,
 * {@linkcode DaemonReplyError} for an error reply, and a {@linkcode NetkitError} for a reply
 * that is not JSON or a connection that breaks.
 *
 * Requires `--allow-read` and `--allow-net` for the socket path (`--allow-net=unix:<path>`).
 *
 * ```ts ignore
 * const status = await request(controlSocketPath("lacp-bond0"), { cmd: "show" });
 * ```
 */
export async function request(
  path: string,
  message: unknown,
  options: RequestOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const line = encodeRequest(message);
  let conn: Deno.UnixConn | null = null;
  let expired = false;
  const expiry = Promise.withResolvers<"expired">();
  const timer = setTimeout(() => {
    expired = true;
    // Closing cancels a pending read or write, which then fails and reports the timeout.
    if (conn !== null) closeQuietly(conn);
    expiry.resolve("expired");
  }, timeoutMs);
  try {
    const connecting = connectTo(path);
    const connected = await Promise.race([connecting, expiry.promise]);
    if (connected === "expired") {
      connecting.then((late) => late.close(), () => {});
      throw new DaemonTimeoutError(path, timeoutMs);
    }
    conn = connected;
    await writeAll(conn, line);
    const framer = new LineFramer(options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES);
    const reply = await readLine(conn, framer, new ReadBuffer(), path);
    if (reply === null) {
      throw new NetkitError(
        `The netkit daemon at "${path}" closed the connection without replying; check its log`,
      );
    }
    return decodeReply(path, reply);
  } catch (err) {
    if (expired) throw new DaemonTimeoutError(path, timeoutMs);
    throw lostConnection(path, err);
  } finally {
    clearTimeout(timer);
    if (conn !== null) closeQuietly(conn);
  }
}

/**
 * Sends the subscription request `message` to the daemon at `path` and yields each line it
 * streams back, parsed, until the daemon ends the stream, `options.signal` aborts, or the
 * caller stops iterating (which closes the connection, telling the daemon to stop). An error
 * line ends the iteration with a {@linkcode DaemonReplyError}. Connects on the first
 * iteration, so {@linkcode DaemonUnreachableError} surfaces there.
 *
 * Requires `--allow-read` and `--allow-net` for the socket path (`--allow-net=unix:<path>`).
 *
 * ```ts ignore
 * for await (const event of subscribe(controlSocketPath("lacp-bond0"), { cmd: "watch" })) {
 *   console.log(event);
 * }
 * ```
 */
export async function* subscribe(
  path: string,
  message: unknown,
  options: SubscribeOptions = {},
): AsyncGenerator<unknown, void, undefined> {
  const { signal } = options;
  const line = encodeRequest(message);
  if (signal?.aborted) return;
  const conn = await connectTo(path);
  const onAbort = (): void => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // The signal may have fired while connecting, before the listener was added.
    if (signal?.aborted) return;
    await writeAll(conn, line);
    const framer = new LineFramer(options.maxLineBytes ?? DEFAULT_MAX_REPLY_BYTES);
    const buffer = new ReadBuffer();
    while (true) {
      const bytes = await readLine(conn, framer, buffer, path);
      if (bytes === null) return;
      yield decodeReply(path, bytes);
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw lostConnection(path, err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    closeQuietly(conn);
  }
}
