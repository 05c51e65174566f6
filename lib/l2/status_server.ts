/**
 * The server side of the status sockets of the relay, a gateway and a client: the one request
 * (`{"cmd": "status"}`, lib/l2/relay_client.ts) validated, and the daemon's answer sent.
 *
 * @module
 */

import { z } from "zod";
import { ControlServer } from "../ipc/mod.ts";
import { exactly } from "../zod_exact.ts";
import type { StatusRequest } from "./relay_client.ts";

const StatusRequestSchema = exactly<StatusRequest>()(z.object({ cmd: z.literal("status") }));

/**
 * Serves `status()` on `path` (holding the path's instance lock, lib/ipc: a second daemon on
 * the same path is refused). `status` throwing a `NetkitError` sends its message as the error
 * reply.
 */
export function listenStatus(path: string, status: () => unknown): Promise<ControlServer> {
  return ControlServer.listen({ path, schema: StatusRequestSchema, handle: status });
}
