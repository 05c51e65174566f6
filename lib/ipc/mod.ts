/**
 * The one control-socket protocol of every netkit daemon (LACP, multicast routing, relay).
 *
 * ## Transport
 *
 * An `AF_UNIX` stream socket, `<run dir>/<name>.sock`. The run directory is `/run/netkit/`
 * unless the environment variable `NETKIT_RUN_DIR` names another one
 * ({@linkcode runDir}, {@linkcode controlSocketPath}). CLIs find every instance of a daemon
 * with {@linkcode listControlSockets} (e.g. prefix `"lacp-"`). The socket has mode `0600`, or
 * `0660` with a chosen group; the directory is created with mode `0755`.
 *
 * ## Messages
 *
 * - A request is one JSON value (normally an object) on one line: UTF-8, ended by `"\n"`.
 *   Blank lines are ignored. A request line may be at most `maxMessageBytes` bytes (default
 *   1 MiB, newline not counted); a longer one gets an error reply and the connection is closed,
 *   because the start of the next message cannot be found.
 * - For one-shot clients of the tools netkit replaces, a request without a newline is answered
 *   as soon as the bytes received form one complete JSON value (a value ending in a digit waits,
 *   as more digits may follow), or when the client half-closes its side.
 * - Each request gets exactly one reply line, in request order. One connection's requests are
 *   handled one at a time; different connections are served concurrently.
 * - A reply is whatever JSON the daemon's handler returns (`{"status":"ok"}` when it returns
 *   nothing). A failure is always `{"status":"error","message":"..."}`:
 *   - `Invalid JSON: <parser message>` for a line that is not UTF-8 JSON,
 *   - `Invalid request: <"field.path": problem; ...>` for one that fails the daemon's schema,
 *   - the message of a `NetkitError` thrown by the handler, or `Internal error: <message>` for
 *     any other failure (logged, with the stack at debug level).
 *   The connection stays open after any of these.
 * - A subscription is a request whose handler returns an `AsyncIterable`: each item is sent as
 *   one line until the source ends, the client disconnects (or half-closes) or the server
 *   closes. The subscription owns its connection: later input is ignored and the server closes
 *   the connection when the stream ends, so end of input tells the client the stream is over.
 *   The source's `return()` is called when the client goes away.
 *
 * ## Limits against a runaway or hostile client
 *
 * Who can connect at all: the socket is `0600` (the daemon's user, root) or `0660` with a group
 * the operator chose, so every peer is root or a member of that group. Deno gives no access to
 * a connection's `SO_PEERCRED`, and with the default mode every peer would be root anyway, so
 * no limit depends on who the peer is: each guards the daemon against a buggy, stuck or
 * malicious client of whatever uid, and none lets such clients lock out a status request.
 *
 * - A connection that completes no request for `idleTimeoutMs` (default 10 s) while it is not
 *   being answered or streaming a subscription is closed without a reply. The clock starts at
 *   accept and after each reply; bytes that do not complete a request do not restart it, so a
 *   client cannot hold a connection by trickling a request.
 * - A request may stall for at most `requestTimeoutMs` (default 5 s, what a client waits by
 *   default): once part of it has arrived its next bytes must come within that time, and its
 *   handler must produce the reply within that time of its arrival. Past either the client gets
 *   `Request incomplete: nothing more arrived for <n> ms; ...` or
 *   `Request not answered within <n> ms`, the handler's signal is aborted and the connection
 *   is closed (the handler may still be running). A synchronous handler cannot be interrupted;
 *   its reply, once ready, is sent.
 * - Each reply line must be taken by the client within `writeTimeoutMs` (default 10 s), or the
 *   connection is closed and its subscription stopped. A subscriber that does not read
 *   therefore pins nothing for long: a source's own queue is bounded (`EventHub` drops the
 *   oldest events), the server pulls one item at a time, and the stalled write is cut off.
 * - At most `maxSubscriptions` (default 64) subscriptions stream at once; one more is refused
 *   with `Too many subscriptions to "<path>" (<n>); try again later` and its source stopped.
 * - At most `maxConnections` (default 256) connections are open. At the limit a new client
 *   takes the place of the connection idle the longest (half a request received counts as
 *   idle), else of the oldest subscription, which is closed without a reply. A connection
 *   whose handler is running is never taken: it may be committing a change whose reply must
 *   not be lost, and it ends within `requestTimeoutMs`. Only when every connection is being
 *   answered is the newcomer told `Too many connections to "<path>"; try again later`, so
 *   neither idle clients, half-sent requests nor subscribers can lock out a status request.
 * - The bytes buffered by all connections together, beyond each one's first 68 KiB (4 KiB of
 *   line buffer, 64 KiB of read buffer), stay within `maxBufferedBytes` (default 64 MiB, or
 *   room for two of the largest requests if that is more): requests being received or answered
 *   and replies being written. A request whose buffer would pass the budget is refused with
 *   `The control server at "<path>" is short of buffer space (<used> of <limit> bytes in use);
 *   try again later` and its connection closed; while replies not yet read overdraw the budget
 *   (a reply already made is always sent), new requests get that reply instead of being run.
 *   So `maxMessageBytes` × `maxConnections` is never reachable: the memory held is at most
 *   the budget plus one reply per handler running at once, plus 68 KiB per connection.
 *   Buffers grown for a large request are given back once it is answered.
 * - Each received byte is scanned once for the newline and for where a one-shot value could
 *   end; an unterminated line is parsed only when a top-level object, array or string closes
 *   (once: if that does not parse, later bytes cannot help) or a short literal may be whole. A
 *   large request costs time linear in its size however finely it is chunked.
 *
 * ## Single instance
 *
 * A daemon serves `<path>` only while it holds an exclusive `flock` on `<path>.lock`, which
 * contains its pid. A second daemon is refused with a message naming that pid. A socket file
 * found at the path is removed only when the lock is held *and* connecting to it is refused,
 * which proves its owner is gone (e.g. killed with SIGKILL); a socket something still answers
 * on, or a file that is not a socket, is never touched. On close the daemon removes the socket
 * and then the lock file while still holding the lock.
 *
 * That lock is also who a client may signal: `verifySocketOwner` accepts the pid a reply names
 * only if /proc/locks shows that process holding the lock (stop-by-pid, `lacp -k`).
 *
 * ## Example
 *
 * ```ts ignore
 * import { z } from "zod";
 * import { ControlServer, controlSocketPath, request } from "./mod.ts";
 *
 * const schema = z.object({ cmd: z.enum(["show", "watch"]) });
 * await using server = await ControlServer.listen({
 *   path: controlSocketPath("lacp-bond0"),
 *   schema,
 *   handle: (req) => (req.cmd === "show" ? { ports: [] } : events()),
 * });
 * const reply = await request(server.path, { cmd: "show" }); // { ports: [] }
 * ```
 *
 * @module
 */

export {
  ControlServer,
  type ControlServerOptions,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_SUBSCRIPTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WRITE_TIMEOUT_MS,
  OK_REPLY,
  type RequestContext,
  type RequestHandler,
  summarizeIssues,
} from "./control_server.ts";
export {
  DaemonReplyError,
  DaemonTimeoutError,
  DaemonUnreachableError,
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_TIMEOUT_MS,
  request,
  type RequestOptions,
  subscribe,
  type SubscribeOptions,
  type UnreachableReason,
} from "./control_client.ts";
export {
  controlSocketPath,
  DEFAULT_RUN_DIR,
  listControlSockets,
  runDir,
  SOCKET_SUFFIX,
} from "./run_dir.ts";
export {
  InstanceLock,
  type InstanceLockOptions,
  LOCK_SUFFIX,
  verifySocketOwner,
} from "./instance_lock.ts";
export { type Delivery, EventHub } from "./event_hub.ts";
export { JsonText } from "./_wire.ts";
