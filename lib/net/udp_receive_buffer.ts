/**
 * The receive buffer of a UDP socket this process has but holds no descriptor for: a runtime's
 * own socket (Deno's QUIC endpoint does not expose its descriptor) is found among the process's
 * descriptors by the port it is bound to.
 *
 * @module
 */

import { nk } from "../../ffi/native.ts";

/**
 * Asks for a `bytes` receive buffer on this process's UDP socket bound to `port`
 * (`SO_RCVBUFFORCE` with CAP_NET_ADMIN, else `SO_RCVBUF`, which net.core.rmem_max caps).
 * Returns what the kernel granted, or null when no such socket was found or the kernel refused.
 * Requires `--allow-ffi`.
 */
export function setUdpReceiveBuffer(port: number, bytes: number): number | null {
  const fd = nk.nk_udp_fd_by_port(port);
  if (fd < 0) return null;
  const reported = nk.nk_set_rcvbuf(fd, bytes);
  // The kernel doubles what it is given (bookkeeping) and reports the doubled size.
  return reported < 0 ? null : reported / 2;
}
