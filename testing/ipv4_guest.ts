/**
 * A guest and its gateway on one link, as the IPv4 packet tests address them: the MACs of
 * ipv6_guest.ts and the `linklocal` profile's addresses.
 *
 * @module
 */

import { parseIpv4 } from "../lib/packet/mod.ts";

export { GATEWAY_MAC, GUEST_MAC } from "./ipv6_guest.ts";

/** The guest's address, inside 169.254.0.0/16 as a `linklocal` guest's /32 may be. */
export const GUEST_IP: Uint8Array<ArrayBuffer> = parseIpv4("169.254.0.5");
/** The gateway's address in netkit vnet's `linklocal` profile. */
export const GATEWAY_IP: Uint8Array<ArrayBuffer> = parseIpv4("169.254.0.1");
