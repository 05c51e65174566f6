/**
 * A QUIC endpoint whose UDP socket can take a burst. Quinn leaves the kernel's default receive
 * buffer (net.core.rmem_default, 208 KiB on Debian): about 100 datagrams of 1 KB, so a process
 * not scheduled for a millisecond at 100,000 frames/s loses what arrives meanwhile, and QUIC
 * reads the loss as congestion and slows down. Deno does not expose the socket: it is found
 * among this process's descriptors by its port (`lib/net/udp_receive_buffer.ts`). Requires
 * `--allow-ffi`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { setUdpReceiveBuffer } from "../net/udp_receive_buffer.ts";

const log = getLogger(["netkit", "l2"]);

/** The receive buffer asked for: 40 ms of 1000-byte frames at 100,000 frames/s. */
export const QUIC_RCVBUF = 4 << 20;

/**
 * Opens an endpoint on `hostname:port` (port 0: any) with a {@linkcode QUIC_RCVBUF} receive
 * buffer. Where the kernel grants less (no CAP_NET_ADMIN and a lower net.core.rmem_max), it
 * says so in the log and goes on with what it got.
 */
export function openQuicEndpoint(hostname: string, port = 0): Deno.QuicEndpoint {
  const endpoint = new Deno.QuicEndpoint({ hostname, port });
  const bound = endpoint.addr.port;
  const granted = setUdpReceiveBuffer(bound, QUIC_RCVBUF);
  if (granted === null || granted < QUIC_RCVBUF) {
    log.warning(
      "UDP receive buffer of port {port}: {size} instead of {wanted} bytes; bursts may be lost (raise net.core.rmem_max, or run with CAP_NET_ADMIN)",
      { port: bound, size: granted ?? "unknown", wanted: QUIC_RCVBUF },
    );
  }
  return endpoint;
}
