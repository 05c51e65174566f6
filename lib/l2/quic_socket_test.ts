import assert from "node:assert/strict";
import { needs } from "../../tests/skip.ts";
import { openQuicEndpoint, QUIC_RCVBUF } from "./quic_socket.ts";

/** The receive buffer `ss` reports for this host's UDP socket on `port` (the kernel's rb). */
function receiveBuffer(port: number): number {
  const out = new Deno.Command("ss", { args: ["-u", "-a", "-m", "-n", "-H", `sport = :${port}`] })
    .outputSync();
  const match = /rb(\d+)/.exec(new TextDecoder().decode(out.stdout));
  assert.ok(match, `ss shows no UDP socket on port ${port}`);
  return Number(match[1]);
}

Deno.test({
  name: "openQuicEndpoint gives the endpoint's UDP socket a 4 MiB receive buffer",
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN; `ss` comes with iproute2.
  ignore: needs("root", "ip"),
  fn() {
    const plain = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const endpoint = openQuicEndpoint("127.0.0.1");
    try {
      // The kernel reports twice what it was given; Quinn's own socket keeps the default.
      assert.equal(receiveBuffer(endpoint.addr.port), 2 * QUIC_RCVBUF);
      assert.ok(receiveBuffer(plain.addr.port) < QUIC_RCVBUF);
    } finally {
      endpoint.close();
      plain.close();
    }
  },
});
