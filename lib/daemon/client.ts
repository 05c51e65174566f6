/**
 * The client side of every daemon's contract: one request, its reply validated with the
 * contract's zod schema. A reply is input from whatever answers on the socket (a daemon of
 * another version, or a fake one), so it is checked at the edge like any other: a malformed
 * one becomes one line, `The lacp daemon sent a malformed status reply: ports: expected
 * array, received undefined`, never a JavaScript error deep in the formatting.
 *
 * Importing this loads neither a daemon nor the native library.
 *
 * @module
 */

import type { z } from "zod";
import { NetkitError } from "../errors.ts";
import type { Schema } from "../zod_exact.ts";
// control_client.ts, not the barrel mod.ts: a client must not load the server side (LogTape,
// the instance lock, libnetkit) just to send a request.
import {
  request,
  type RequestOptions,
  subscribe,
  type SubscribeOptions,
} from "../ipc/control_client.ts";

/** A reply that does not match the contract's schema. */
export class MalformedReplyError extends NetkitError {}

/** Which daemon and which request, for the error message: `{ daemon: "lacp", what: "status" }`. */
export interface ReplyContext {
  /** The daemon's command name: `lacp`, `mroute`, `relay`, `gateway`, `client`. */
  daemon: string;
  /** The request: `status`, `SHOW`, ... */
  what: string;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** Up to three problems, each `field.path: what is wrong`, on one line. */
function problems(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const message = issue.message.replace(/^Invalid input: /, "").replace(/\s+/g, " ");
    return issue.path.length === 0 ? message : `${fieldPath(issue.path)}: ${message}`;
  });
  if (error.issues.length > 3) shown.push(`and ${error.issues.length - 3} more`);
  return shown.join("; ");
}

/**
 * `reply` checked against `schema`, or a {@linkcode MalformedReplyError} saying which daemon
 * sent what and which fields are wrong.
 */
export function checkReply<T>(
  reply: unknown,
  schema: Schema<T>,
  context: ReplyContext,
): T {
  const parsed = schema.safeParse(reply);
  if (parsed.success) return parsed.data;
  throw new MalformedReplyError(
    `The ${context.daemon} daemon sent a malformed ${context.what} reply: ${
      problems(parsed.error)
    }`,
  );
}

/**
 * Sends `message` to the daemon at `path` and returns its reply, validated with `schema`
 * (errors as {@linkcode request} throws them, or {@linkcode MalformedReplyError}).
 */
export async function requestChecked<T>(
  path: string,
  message: unknown,
  schema: Schema<T>,
  context: ReplyContext,
  options: RequestOptions = {},
): Promise<T> {
  return checkReply(await request(path, message, options), schema, context);
}

/** {@linkcode subscribe}, each streamed line validated with `schema`. */
export async function* subscribeChecked<T>(
  path: string,
  message: unknown,
  schema: Schema<T>,
  context: ReplyContext,
  options: SubscribeOptions = {},
): AsyncGenerator<T> {
  for await (const item of subscribe(path, message, options)) {
    yield checkReply(item, schema, context);
  }
}
