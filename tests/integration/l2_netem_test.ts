/**
 * The L2 tunnel over a bad WAN, made with netem: delay and loss on the client's link to the
 * relay, both ways. Hosts without netem skip this file; the kernel lane runs it.
 */

import assert from "node:assert/strict";
import { clientLanAddress, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { sh } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

/** `ping -c count -i 0.1` from `ns`: replies and the average round trip (ms). */
function pingStats(ns: string, address: string, count: number): { received: number; avg: number } {
  let text = "";
  try {
    text = sh("ip", "netns", "exec", ns, "ping", "-q", "-c", String(count), "-i", "0.1", address);
  } catch (err) {
    text = err instanceof Error ? err.message : String(err);
  }
  const received = Number(/(\d+) (?:packets )?received/.exec(text)?.[1] ?? 0);
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(text)?.[1] ?? NaN);
  return { received, avg };
}

for (
  const { delayMs, lossPercent } of [
    { delayMs: 25, lossPercent: 2 },
    // A distant client: 300 ms round trip, 5 % loss each way.
    { delayMs: 150, lossPercent: 5 },
  ]
) {
  Deno.test({
    name: `a client joins and carries pings over a WAN with ${delayMs} ms delay and ` +
      `${lossPercent}% loss each way`,
    ignore: needs("root", "netns", "veth", "bridge", "tun", "netem", "ping"),
    async fn() {
      await using lab = new L2Lab({ clients: 1 });
      await lab.startRelay();
      await lab.startGateway();
      const c1 = lab.clientNs[0]!;
      // Both directions of the client's WAN link: its own side and the relay's bridge port.
      for (const [ns, dev] of [[c1, "wan"], [lab.relayNs, "w-c1"]] as const) {
        sh(
          "tc",
          "-n",
          ns,
          "qdisc",
          "add",
          "dev",
          dev,
          "root",
          "netem",
          "delay",
          `${delayMs}ms`,
          "loss",
          `${lossPercent}%`,
        );
      }
      // The handshake, the control stream and path MTU discovery all cross the bad link.
      await lab.startClient(1);
      const toLan = pingStats(c1, L2.h1, 30);
      const fromLan = pingStats(lab.h1, clientLanAddress(1), 30);
      for (const [what, stats] of [["client → h1", toLan], ["h1 → client", fromLan]] as const) {
        // Loss is random: each echo crosses the bad link twice; most must come back.
        assert.ok(stats.received >= 15, `${what}: ${stats.received} of 30 replies`);
        // Two netem hops: at least twice the delay on top of the tunnel's own round trip.
        assert.ok(stats.avg >= 2 * delayMs, `${what}: ${stats.avg} ms on average`);
      }
      const status = await lab.status();
      const client = status.rooms[0]!.peers.find((p) => p.credential === "client1");
      assert.equal(client?.state, "active");
      assert.equal(status.peers_total, 2, "the client never had to reconnect");
    },
  });
}
