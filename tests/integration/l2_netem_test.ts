/**
 * The L2 tunnel over a bad WAN, made with netem: delay and loss on the client's link to the
 * relay, both ways. Hosts without netem skip this file; the kernel lane runs it.
 */

import assert from "node:assert/strict";
import { clientLanAddress, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { ip, sh } from "../../lib/lab/namespace_lab.ts";
import { needs, type Requirement } from "../skip.ts";

/** What a lab with a netem WAN needs. */
const NETEM_LAB: Requirement[] = ["root", "netns", "veth", "bridge", "tun", "netem", "ping"];
/** Echoes per direction and case: enough that losing half of them at 5 % loss never happens. */
const PINGS = 20;

/**
 * `ping -c count -i 0.1 -W 2` from `ns` (bounded: a lost last echo costs 2 s, not 10):
 * replies and the average round trip (ms).
 */
async function pingStats(
  ns: string,
  address: string,
  extra: string[] = [],
): Promise<{ received: number; avg: number }> {
  const args = ["netns", "exec", ns, "ping", "-q", "-c", String(PINGS), "-i", "0.1", "-W", "2"];
  const out = await new Deno.Command("ip", { args: [...args, ...extra, address] }).output();
  const text = new TextDecoder().decode(out.stdout);
  const received = Number(/(\d+) (?:packets )?received/.exec(text)?.[1] ?? 0);
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(text)?.[1] ?? NaN);
  return { received, avg };
}

/**
 * Both directions of client 1's WAN link (its own side and the relay's bridge port) delay by
 * half of `rttMs` and lose `lossPercent` of what they send.
 */
function impairWan(lab: L2Lab, rttMs: number, lossPercent: number): void {
  for (const [ns, dev] of [[lab.clientNs[0]!, "wan"], [lab.relayNs, "w-c1"]] as const) {
    const netem = ["delay", `${rttMs / 2}ms`, "loss", `${lossPercent}%`];
    sh("tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "netem", ...netem);
  }
}

/**
 * Pings h1 → client and client → h1 at once and checks the replies: every one without loss,
 * at least half with it (each echo crosses the bad link twice), and a round trip of at least
 * `rttMs` (both netem hops).
 */
async function checkPings(
  lab: L2Lab,
  rttMs: number,
  lossPercent: number,
  extra: string[] = [],
): Promise<number> {
  const [fromLan, toLan] = await Promise.all([
    pingStats(lab.h1, clientLanAddress(1), extra),
    pingStats(lab.clientNs[0]!, L2.h1, extra),
  ]);
  for (const [what, stats] of [["h1 → client", fromLan], ["client → h1", toLan]] as const) {
    const least = lossPercent === 0 ? PINGS : PINGS / 2;
    assert.ok(stats.received >= least, `${what}: ${stats.received} of ${PINGS} replies`);
    assert.ok(stats.avg >= rttMs, `${what}: ${stats.avg} ms on average`);
  }
  return fromLan.received + toLan.received;
}

Deno.test({
  name: "a client joins and carries pings both ways at 20, 60, 150 and 300 ms round trip, " +
    "with 0 % and 5 % loss each way",
  ignore: needs(...NETEM_LAB),
  async fn(t) {
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway();
    for (const rttMs of [20, 60, 150, 300]) {
      for (const lossPercent of [0, 5]) {
        await t.step(`${rttMs} ms, ${lossPercent} % loss`, async () => {
          impairWan(lab, rttMs, lossPercent);
          // The handshake, the control stream and path MTU discovery all cross the bad link.
          await lab.startClient(1);
          try {
            await checkPings(lab, rttMs, lossPercent);
            const client = (await lab.status()).rooms[0]!.peers.find((p) =>
              p.credential === "client1"
            );
            assert.equal(client?.state, "active");
          } finally {
            await lab.clients[0]?.stop();
          }
        });
      }
    }
    assert.doesNotMatch(lab.log("client1"), /Lost the relay/, "no client had to reconnect");
  },
});

Deno.test({
  name: "a distant client behind a 1280-byte WAN MTU passes full-size frames in fragments over " +
    "150 ms round trip and 5 % loss",
  ignore: needs(...NETEM_LAB),
  async fn() {
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway();
    ip("-n", lab.clientNs[0]!, "link", "set", "wan", "mtu", "1280");
    impairWan(lab, 150, 5);
    await lab.startClient(1);
    // 1392-byte IPv4 packets with DF: the room's full frames, two fragments each way per echo.
    const replies = await checkPings(lab, 150, 5, ["-M", "do", "-s", "1364"]);
    const client = (await lab.status()).rooms[0]!.peers.find((p) => p.credential === "client1")!;
    assert.equal(client.state, "active");
    assert.equal(client.fragments, true);
    // Every echo that came back crossed the client's hop in fragments, once each way.
    assert.ok(client.frames_fragmented >= replies, `${client.frames_fragmented} frames split`);
    assert.ok(client.fragments_reassembled >= replies, `${client.fragments_reassembled} joined`);
    assert.doesNotMatch(lab.log("client1"), /Lost the relay/, "the client never reconnected");
  },
});
