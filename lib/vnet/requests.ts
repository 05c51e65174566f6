/**
 * The requests the `netkit vnet` daemon takes (see lib/vnet/client.ts), as the daemon's control
 * server checks them. Pure: the daemon imports it, and tests check requests without root.
 *
 * @module
 */

import { z } from "zod";
import { exactly, type Schema } from "../zod_exact.ts";
import { NicSpec } from "./config.ts";

/** Every request the daemon accepts, checked. */
export type VnetRequest =
  | { action: "NIC_ADD"; payload: NicSpec }
  | { action: "NIC_DEL"; payload: { name: string } }
  | { action: "SHOW"; payload?: { stats?: boolean | undefined } | undefined }
  | { action: "SUBSCRIBE"; payload?: Record<string, never> | undefined };

/** Schema of {@linkcode VnetRequest}. */
export const VnetRequest: Schema<VnetRequest> = exactly<VnetRequest>()(
  z.discriminatedUnion("action", [
    z.object({ action: z.literal("NIC_ADD"), payload: NicSpec }),
    z.object({ action: z.literal("NIC_DEL"), payload: z.object({ name: z.string().max(64) }) }),
    z.object({
      action: z.literal("SHOW"),
      payload: z.object({ stats: z.boolean().optional() }).optional(),
    }),
    z.object({ action: z.literal("SUBSCRIBE"), payload: z.object({}).optional() }),
  ]),
);

/** The largest request line: one NIC's spec is well under 2 KiB. */
export const MAX_REQUEST_BYTES = 16 * 1024;
