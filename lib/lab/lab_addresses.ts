/**
 * The addresses and names of the lab topologies ({@linkcode ADDR} for the multicast lab of
 * `multicast_lab.ts`, {@linkcode L2} for the L2 gateway lab of `l2_lab.ts`), apart from the rigs
 * that build them so that the narratives can name them without loading what builds them. Pure.
 *
 * @module
 */

/** Addresses of the multicast lab (TEST-NET and documentation prefixes). */
export const ADDR = {
  sender4: "192.0.2.2",
  router4in: "192.0.2.1",
  router4out: "198.51.100.1",
  receiver4: "198.51.100.2",
  sender6: "2001:db8:1::2",
  router6in: "2001:db8:1::1",
  router6out: "2001:db8:2::1",
  receiver6: "2001:db8:2::2",
} as const;

/** The L2 gateway lab's addresses and names. */
export const L2 = {
  room: "LAB1",
  lanPrefix: "192.168.50",
  h1: "192.168.50.11",
  h2: "192.168.50.12",
  relay: "10.99.0.1",
  port: 4433,
  serverName: "relay.netkit.invalid",
  tap: "nk0",
} as const;

/** The static LAN address of client `i` (1-based). */
export function clientLanAddress(i: number): string {
  return `${L2.lanPrefix}.${100 + i}`;
}

/** The MAC of client `i` (1-based). */
export function clientMac(i: number): string {
  return `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`;
}
