/**
 * Conformance scenarios for `netkit lacp` as the device under test (issue 14): a scripted peer
 * (a raw packet socket in the peer namespace) sends crafted LACPDUs; the oracle is what netkit
 * sends back, timed on arrival at the peer, and `netkit lacp -s -j`.
 */

import assert from "node:assert/strict";
import { NamespaceLab, type VethEnd } from "../../lib/lab/namespace_lab.ts";
import { delay } from "../../lib/async.ts";
import type { LacpProcess } from "../../testing/lacp_process.ts";
import type { PortStatus } from "../../lib/lacp/status.ts";
import { encodeLacpdu, LacpState } from "../../lib/packet/lacp.ts";
import { formatMac, parseMac } from "../../lib/packet/mac.ts";
import { claimsSync, IN_SYNC, ScriptedPeer } from "./_lacp_peer.ts";
import { netkit, startLacp, waitUntil } from "./_lacp.ts";
import { needs } from "../skip.ts";

const { ACTIVE, SHORT_TIMEOUT, AGGREGATION, SYNCHRONIZATION, COLLECTING, DEFAULTED } = LacpState;
const SYSTEM_1 = parseMac("02:00:00:00:01:01");
const SYSTEM_2 = parseMac("02:00:00:00:02:02");

/** netkit on a1 in namespace a; the scripted peer on b1 in namespace b. */
interface Scenario {
  dut: LacpProcess;
  peer: ScriptedPeer;
  b1: VethEnd;
}

async function withScenario(
  args: string[],
  body: (s: Scenario) => Promise<void>,
): Promise<void> {
  using lab = new NamespaceLab();
  const a = lab.netns("a");
  const b = lab.netns("b");
  const [, b1] = lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
  using peer = ScriptedPeer.open(b, "b1", b1.mac);
  await using dut = startLacp(a, ["-i", "a1", ...args]);
  await body({ dut, peer, b1 });
}

function port(dut: LacpProcess): Promise<PortStatus> {
  return dut.port("a1");
}

Deno.test({
  name:
    "netkit lacp detaches a port whose partner's system id changes, and syncs again only after a new 2 s wait_while",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer }) => {
      peer.behave({ system: SYSTEM_1 });
      await dut.aggregated();
      const switched = performance.now();
      peer.behave({ system: SYSTEM_2 });
      const detached = await peer.waitHeard(
        (pdu) => !claimsSync(pdu),
        switched,
        1500,
        "Sync withdrawn after the partner changed",
      );
      assert.ok(detached.at - switched < 500, `Sync withdrawn ${detached.at - switched} ms late`);
      const synced = await peer.waitHeard(claimsSync, detached.at, 5000, "Sync again");
      assert.ok(
        synced.at - switched >= 2000,
        `Sync again ${synced.at - switched} ms after the change, before wait_while ran out`,
      );
      const status = await dut.aggregated();
      assert.equal(status.ports[0]!.partner.system, formatMac(SYSTEM_2));
    });
  },
});

Deno.test({
  name:
    "netkit lacp restarts wait_while for a partner that appears during the start-up wait (Sync ≥ 2 s after it)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ peer }) => {
      const first = await peer.waitHeard(() => true, 0, 8000, "netkit's first LACPDU");
      assert.equal(claimsSync(first.pdu), false);
      await delay(500);
      const appeared = performance.now();
      peer.behave({ system: SYSTEM_1 });
      const synced = await peer.waitHeard(claimsSync, appeared, 5000, "Sync");
      assert.ok(
        synced.at - appeared >= 2000,
        `Sync ${synced.at - appeared} ms after the partner appeared`,
      );
    });
  },
});

Deno.test({
  name:
    "netkit lacp at fast expiry announces DEFAULTED at once, 6 s after the partner's last LACPDU, without Sync",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer }) => {
      peer.behave({ system: SYSTEM_1 });
      await dut.aggregated();
      peer.behave(null);
      const silent = peer.lastSent;
      const defaulted = await peer.waitHeard(
        (pdu) => (pdu.actor.state & DEFAULTED) !== 0,
        silent,
        9000,
        "DEFAULTED",
      );
      const late = defaulted.at - silent;
      assert.ok(late >= 6000 && late < 6500, `first DEFAULTED LACPDU ${late} ms after the last`);
      assert.equal(claimsSync(defaulted.pdu), false, "a defaulted port is detached, not in sync");
    });
  },
});

Deno.test({
  name:
    "netkit lacp drops and counts LACPDUs tagged VID 5, priority-tagged VID 0, 0x88a8 and QinQ; untagged ones count",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer, b1 }) => {
      const frame = encodeLacpdu(peer.lacpdu({ system: SYSTEM_1 }), b1.mac);
      const tagged = (tags: number[][]) => {
        const out = new Uint8Array(frame.length + 4 * tags.length);
        out.set(frame.subarray(0, 12));
        tags.forEach(([tpid, tci], i) =>
          out.set([tpid! >> 8, tpid! & 0xff, tci! >> 8, tci! & 0xff], 12 + 4 * i)
        );
        out.set(frame.subarray(12), 12 + 4 * tags.length);
        return out;
      };
      await peer.waitHeard(() => true, 0, 8000, "netkit's first LACPDU");
      for (
        const tags of [
          [[0x8100, 5]],
          [[0x8100, 0xa000]],
          [[0x88a8, 7]],
          [[0x88a8, 7], [0x8100, 5]],
        ]
      ) {
        peer.send(tagged(tags));
      }
      const counted = await waitUntil(
        () => port(dut),
        (p) => p.counters.tagged_rx === 4,
        3000,
        "four tagged LACPDUs counted",
      );
      assert.equal(counted.counters.lacpdu_rx, 0);
      assert.equal(counted.partner.system, "00:00:00:00:00:00", "no tagged sender is the partner");
      peer.send(frame);
      const heard = await waitUntil(
        () => port(dut),
        (p) => p.counters.lacpdu_rx === 1,
        3000,
        "the untagged LACPDU",
      );
      assert.equal(heard.partner.system, formatMac(SYSTEM_1));
      assert.equal(heard.counters.tagged_rx, 4);
    });
  },
});

Deno.test({
  name:
    "netkit lacp gives no partner Sync to a passive partner that describes us as passive (recordPDU activity test)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer }) => {
      peer.echoPartnerState = (state) => state & ~ACTIVE;
      const passive = SHORT_TIMEOUT | AGGREGATION | SYNCHRONIZATION | COLLECTING |
        LacpState.DISTRIBUTING;
      const started = performance.now();
      peer.behave({ system: SYSTEM_1, state: passive });
      await delay(3000);
      const p = await port(dut);
      assert.equal(p.partner.state_flags.includes("SYNCHRONIZATION"), false);
      assert.equal(p.mux_state, "ATTACHED");
      assert.ok(peer.heardSince(started).every((h) => (h.pdu.actor.state & COLLECTING) === 0));
      // The same partner describing us as active is in sync at once.
      peer.echoPartnerState = (state) => state;
      peer.behave({ system: SYSTEM_1, state: passive });
      await dut.aggregated(3000);
    });
  },
});

Deno.test({
  name: "netkit lacp moves to SLOW_PERIODIC at once when the partner asks for the long timeout",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer }) => {
      peer.behave({ system: SYSTEM_1 });
      await dut.aggregated();
      assert.equal((await port(dut)).periodic_state, "FAST_PERIODIC");
      // Ask right after a periodic LACPDU, so the next one would come a whole second later.
      const periodic = await peer.waitHeard(() => true, performance.now(), 2000, "a LACPDU");
      peer.behave({ system: SYSTEM_1, state: IN_SYNC & ~SHORT_TIMEOUT });
      const asked = peer.lastSent;
      assert.ok(asked - periodic.at < 200, `asked ${asked - periodic.at} ms after the LACPDU`);
      const slow = await waitUntil(
        () => port(dut),
        (p) => p.effective_rate_mode === "slow",
        1000,
        "the slow rate",
      );
      assert.equal(slow.periodic_state, "SLOW_PERIODIC");
      assert.ok(slow.timers.periodic! > 28, `periodic timer ${slow.timers.periodic} s`);
      await delay(2500);
      const extra = peer.heardSince(asked + 50);
      assert.deepEqual(extra.map((h) => Math.round(h.at - asked)), [], "LACPDUs after the switch");
    });
  },
});

Deno.test({
  name:
    "netkit lacp forgets a looped-back partner once it defaults, and attaches like any defaulted port",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer }) => {
      const ours = await peer.waitHeard(() => true, 0, 8000, "netkit's first LACPDU");
      peer.sendPdu(peer.lacpdu({ system: ours.pdu.actor.system, port: 2 }));
      const looped = await waitUntil(() => port(dut), (p) => p.loopback, 2000, "loopback");
      assert.equal(looped.selection, "UNSELECTED");
      const settled = await waitUntil(
        () => port(dut),
        (p) => p.rx_state === "DEFAULTED" && p.mux_state === "ATTACHED",
        12000,
        "a defaulted, attached port",
      );
      assert.equal(settled.loopback, false);
      assert.equal(settled.selection, "SELECTED");
      assert.equal(settled.counters.loopback_rx, 1);
    });
  },
});

Deno.test({
  name:
    "netkit lacp counts illegal (0, 11-255) and unknown (3-10) Slow Protocols subtypes per port",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    await withScenario([], async ({ dut, peer, b1 }) => {
      const frame = encodeLacpdu(peer.lacpdu({ system: SYSTEM_1 }), b1.mac);
      await peer.waitHeard(() => true, 0, 8000, "netkit's first LACPDU");
      for (const subtype of [0, 3, 10, 11, 200, 255]) {
        const other = frame.slice();
        other[14] = subtype;
        peer.send(other);
      }
      const p = await waitUntil(
        () => port(dut),
        (p) => p.counters.illegal_rx + p.counters.unknown_rx === 6,
        3000,
        "six frames counted",
      );
      assert.equal(p.counters.illegal_rx, 4);
      assert.equal(p.counters.unknown_rx, 2);
      assert.equal(p.counters.lacpdu_rx + p.counters.malformed_rx + p.counters.marker_rx, 0);
      const text = netkit(["-n", dut.netns, "lacp", "-s"]);
      assert.match(text.out, /illegal rx 4, unknown rx 2, tagged rx 0/);
    });
  },
});
