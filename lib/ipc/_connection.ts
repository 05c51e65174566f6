/**
 * Folder-internal: one client connection of a `ControlServer`. It reads requests and answers
 * them in order, one at a time, within the server's limits: idle and per-request deadlines, a
 * write deadline, the subscription slots and the buffer budget shared by all connections.
 * See `mod.ts` for the protocol.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { z } from "zod";
import { TimeoutError, withTimeout } from "../async.ts";
import { errorMessage, NetkitError } from "../errors.ts";
import type { Allowance } from "./_allowance.ts";
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

const log = getLogger(["netkit", "ipc"]);

/** The reply sent for a handler that returns `undefined`. */
export const OK_REPLY: Readonly<{ status: "ok" }> = Object.freeze({ status: "ok" });

/** How long a subscription source may take to finish after `return()` before it is abandoned. */
const RETURN_GRACE_MS = 1000;

/** What a handler knows about the request beyond its content. */
export interface RequestContext {
  /** Names the client connection in logs, e.g. `"client 7"` (unique per server). */
  readonly peer: string;
  /**
   * Aborted when the server closes, when the request runs past its deadline or, during a
   * subscription, when the client goes away. Long-running handlers and subscription sources
   * should stop waiting when it fires.
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

/** What a connection needs from its server. */
export interface ServiceConfig<Req> {
  /** The socket path, for logs and messages. */
  readonly path: string;
  /** Validates each request. */
  readonly schema: z.ZodType<Req>;
  /** Answers each valid request. */
  readonly handle: RequestHandler<Req>;
  /** Largest accepted request line in bytes. */
  readonly maxMessageBytes: number;
  /** How long a connection may wait for a complete request. */
  readonly idleTimeoutMs: number;
  /** How long a request may stall, in its bytes or in its handler. */
  readonly requestTimeoutMs: number;
  /** How long a client has to take one reply line. */
  readonly writeTimeoutMs: number;
  /** Bytes buffered by all connections beyond their first buffers, replies being written included. */
  readonly buffers: Allowance;
  /** Subscriptions streaming at once. */
  readonly subscriptions: Allowance;
}

/**
 * What a connection is doing: waiting for a complete request (`idle`, even with part of one
 * received), answering one (`busy`), streaming a subscription, or going away.
 */
export type ConnectionState = "idle" | "busy" | "subscribed" | "closing";

const ABORTED: unique symbol = Symbol("aborted");
const EXPIRED: unique symbol = Symbol("expired");

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(run: () => T | Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** `promise`'s value, or `EXPIRED` after `ms`; `promise` must not reject. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof EXPIRED> {
  try {
    return await withTimeout(promise, ms, "expired");
  } catch (err) {
    if (err instanceof TimeoutError) return EXPIRED;
    throw err;
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

/** How one read ended. */
type ReadOutcome = "data" | "eof" | "expired" | "refused";

/** One client connection: reads requests, answers them in order, one at a time. */
export class ControlConnection<Req> {
  /** Names the connection in logs. */
  readonly peer: string;
  /** Settles (never rejects) when the connection is finished and all its I/O has ended. */
  readonly done: Promise<void>;
  #conn: Deno.UnixConn;
  #config: ServiceConfig<Req>;
  #framer: LineFramer;
  #readBuffer: ReadBuffer;
  #abort = new AbortController();
  #aborted: Promise<typeof ABORTED>;
  #reading: Promise<number | null> | null = null;
  #writing: Promise<unknown> | null = null;
  #watcher: Promise<void> | null = null;
  #state: Exclude<ConnectionState, "closing"> = "busy";
  #since = performance.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  // Bytes of the server's buffer budget this connection holds.
  #held = 0;

  /** Serves `conn`, or only tells it `refusal` when given. */
  constructor(conn: Deno.UnixConn, peer: string, config: ServiceConfig<Req>, refusal?: string) {
    this.#conn = conn;
    this.peer = peer;
    this.#config = config;
    const allot = (delta: number) => this.#allot(delta);
    this.#framer = new LineFramer(config.maxMessageBytes, allot);
    this.#readBuffer = new ReadBuffer(allot);
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

  /** What the connection is doing now. */
  get state(): ConnectionState {
    return this.#abort.signal.aborted ? "closing" : this.#state;
  }

  /** Since when (`performance.now()`) the connection has been in its {@linkcode state}. */
  get since(): number {
    return this.#since;
  }

  #enter(state: Exclude<ConnectionState, "closing">): void {
    this.#state = state;
    this.#since = performance.now();
  }

  #allot(delta: number): boolean {
    if (!this.#config.buffers.allot(delta)) return false;
    this.#held += delta;
    return true;
  }

  /** Starts waiting for the next request; the connection is closed if none completes in time. */
  #becomeIdle(): void {
    this.#enter("idle");
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
    this.#enter("busy");
    clearTimeout(this.#idleTimer);
  }

  async #run(refusal: string | undefined): Promise<void> {
    log.debug("{peer} connected to {path}", { peer: this.peer, path: this.#config.path });
    try {
      if (refusal === undefined) await this.#serveAll();
      else await this.#sendError(refusal);
    } catch (err) {
      // Every expected failure is handled below; this only guards the server against bugs.
      log.error("{peer} on {path} failed: {error}", {
        peer: this.peer,
        path: this.#config.path,
        error: errorMessage(err),
      });
    } finally {
      clearTimeout(this.#idleTimer);
      this.#abort.abort(new NetkitError("The connection is closed"));
      closeQuietly(this.#conn);
      // Closing cancels any pending read or write; wait for them so no operation outlives the
      // connection.
      await this.#reading;
      await this.#writing;
      await this.#watcher;
      this.#config.buffers.give(this.#held);
      this.#held = 0;
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
        await this.#sendError(
          `Request exceeds ${this.#config.maxMessageBytes} bytes; send smaller requests`,
        );
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
      const outcome = await this.#read();
      if (outcome === "expired") {
        await this.#sendError(
          `Request incomplete: nothing more arrived for ${this.#config.requestTimeoutMs} ms; ` +
            "send each request at once, ended by a newline",
        );
        return;
      }
      if (outcome === "refused") {
        await this.#sendError(this.#shortOfBuffers());
        return;
      }
      eof = outcome === "eof";
    }
  }

  #shortOfBuffers(): string {
    const { used, limit } = this.#config.buffers;
    return `The control server at "${this.#config.path}" is short of buffer space ` +
      `(${used} of ${limit} bytes in use); try again later`;
  }

  /**
   * Reads once into the framer. While part of a request is held, its next bytes must come
   * within the request timeout: a client that stalls mid-request is told so.
   */
  async #read(): Promise<ReadOutcome> {
    const reading = this.#startRead();
    const n = this.#framer.buffered === 0
      ? await reading
      : await within(reading, this.#config.requestTimeoutMs);
    if (n === EXPIRED) return "expired"; // the read is still pending; closing ends it
    this.#reading = null;
    if (n === null) return "eof";
    return this.#framer.push(this.#readBuffer.filled(n)) ? "data" : "refused";
  }

  /** Starts a read; it resolves to `null` at end of input or when the connection failed. */
  #startRead(): Promise<number | null> {
    this.#reading = this.#conn.read(this.#readBuffer.bytes).catch((err) => {
      if (!this.#abort.signal.aborted) {
        log.debug("{peer} read failed: {error}", { peer: this.peer, error: errorMessage(err) });
      }
      return null;
    });
    return this.#reading;
  }

  /** Answers one decoded message; returns whether the connection should go on. */
  async #serve(decoded: Decoded): Promise<boolean> {
    this.#becomeBusy();
    const goOn = await this.#answer(decoded, performance.now());
    this.#framer.shrink();
    this.#readBuffer.shrink();
    if (goOn) this.#becomeIdle();
    return goOn;
  }

  async #answer(decoded: Decoded, since: number): Promise<boolean> {
    if (!decoded.ok) return await this.#sendError(`Invalid JSON: ${decoded.reason}`);
    const { schema, handle } = this.#config;
    const parsed = await this.#untilAnswered(
      settle(() => schema.safeParseAsync(decoded.value)),
      since,
    );
    if (parsed === ABORTED) return false;
    if (parsed === EXPIRED) return await this.#expire();
    if (!parsed.ok) return await this.#sendError(this.#failure(parsed.error));
    if (!parsed.value.success) {
      const summary = summarizeIssues(parsed.value.error.issues);
      return await this.#sendError(`Invalid request: ${summary}`);
    }
    // Replies not yet read hold the budget: take no more work until they drain.
    if (this.#config.buffers.overdrawn) return await this.#sendError(this.#shortOfBuffers());
    const request = parsed.value.data;
    const context: RequestContext = { peer: this.peer, signal: this.#abort.signal };
    const outcome = await this.#untilAnswered(settle(() => handle(request, context)), since);
    if (outcome === ABORTED) return false;
    if (outcome === EXPIRED) return await this.#expire();
    if (!outcome.ok) return await this.#sendError(this.#failure(outcome.error));
    if (isAsyncIterable(outcome.value)) {
      await this.#stream(outcome.value);
      return false;
    }
    return await this.#sendReply(outcome.value === undefined ? OK_REPLY : outcome.value);
  }

  /**
   * Gives up on a request past its deadline: the handler's signal is aborted, the client told,
   * and the connection closed, since the handler may still be running.
   */
  async #expire(): Promise<boolean> {
    const message = `Request not answered within ${this.#config.requestTimeoutMs} ms`;
    log.warning("{peer}: {message} on {path}", {
      peer: this.peer,
      message,
      path: this.#config.path,
    });
    this.#abort.abort(new NetkitError(message));
    await this.#sendError(message);
    return false;
  }

  /**
   * Streams a subscription until it ends, the client goes away or the server closes. The
   * subscription owns the connection, which is closed afterwards: the client learns that the
   * stream ended from the end of input.
   */
  async #stream(source: AsyncIterable<unknown>): Promise<void> {
    const opened = await settle(() => source[Symbol.asyncIterator]());
    if (!opened.ok) {
      await this.#sendError(this.#failure(opened.error));
      return;
    }
    const iterator = opened.value;
    const { subscriptions } = this.#config;
    if (!subscriptions.take(1)) {
      await this.#stopSource(iterator);
      await this.#sendError(
        `Too many subscriptions to "${this.#config.path}" (${subscriptions.limit}); ` +
          "try again later",
      );
      return;
    }
    this.#enter("subscribed");
    this.#framer.takeRest();
    this.#framer.shrink();
    this.#watcher = this.#watchForHangup();
    let finished = false;
    try {
      while (true) {
        const step = await this.#untilAborted(settle(() => iterator.next()));
        if (step === ABORTED) return;
        if (!step.ok) {
          finished = true;
          await this.#sendError(this.#failure(step.error));
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
      subscriptions.give(1);
    }
  }

  /** During a subscription, input only tells us when the client has gone. */
  async #watchForHangup(): Promise<void> {
    // The bytes are ignored, so the read buffer never grows here.
    while ((await this.#startRead()) !== null) {
      this.#reading = null;
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
    const outcome = await within(settle(() => iterator.return?.()), RETURN_GRACE_MS);
    if (outcome === EXPIRED) {
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
      return await this.#sendError(this.#failure(err));
    }
    if (line === null) return await this.#sendError("Internal error: the reply has no JSON form");
    return await this.#sendBytes(line);
  }

  async #sendError(message: string): Promise<boolean> {
    return await this.#sendBytes(encodeLine(errorReply(message)) ?? new Uint8Array());
  }

  /**
   * Writes one line within the write deadline; a client that does not read it in time is cut
   * off. The line counts against the buffer budget while it is being written.
   */
  async #sendBytes(line: Uint8Array): Promise<boolean> {
    const { buffers, writeTimeoutMs } = this.#config;
    buffers.force(line.length);
    try {
      const writing = writeAll(this.#conn, line).then(() => null, (err: unknown) => err ?? "");
      this.#writing = writing;
      const failure = await within(writing, writeTimeoutMs);
      if (failure === null) return true;
      if (failure === EXPIRED) {
        log.debug("{peer} did not read its reply within {ms} ms; closing it", {
          peer: this.peer,
          ms: writeTimeoutMs,
        });
        this.close("The client did not read its reply");
      } else if (!this.#abort.signal.aborted) {
        log.debug("{peer} write failed: {error}", {
          peer: this.peer,
          error: errorMessage(failure),
        });
      }
      return false;
    } finally {
      buffers.give(line.length);
    }
  }

  #untilAborted<T>(promise: Promise<T>): Promise<T | typeof ABORTED> {
    return Promise.race([promise, this.#aborted]);
  }

  /** `promise`, unless the connection ends or the request taken at `since` runs out of time. */
  #untilAnswered<T>(
    promise: Promise<T>,
    since: number,
  ): Promise<T | typeof ABORTED | typeof EXPIRED> {
    const left = Math.max(0, since + this.#config.requestTimeoutMs - performance.now());
    return within(this.#untilAborted(promise), left);
  }
}
