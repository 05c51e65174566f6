/**
 * netkit's LACP actor against the Linux bonding driver in 802.3ad mode. The host kernel may lack
 * bonding: these tests then skip, and run inside the kernel lane (user-mode Linux 6.1), where
 * every syscall is traced and so everything is slower: waits are bounded and generous, the
 * timing assertions are about the protocol's seconds, not milliseconds.
 *
 * @module
 */

import assert from "node:assert/strict";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { formatStateLetters, LacpState } from "../../lib/packet/lacp.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { BondPeer, type BondSlave, type BondStatus } from "../../testing/bond_peer.ts";
import { netkit, startLacp, tshark, waitUntil } from "./_lacp.ts";
import { aggregated } from "../../testing/lacp_process.ts";
import { needs } from "../skip.ts";

const { ACTIVE, SHORT_TIMEOUT, AGGREGATION, SYNCHRONIZATION, COLLECTING, DISTRIBUTING } = LacpState;
/** 63: activity, short timeout, aggregation, sync, collecting, distributing. */
const FAST_UP = ACTIVE | SHORT_TIMEOUT | AGGREGATION | SYNCHRONIZATION | COLLECTING |
  DISTRIBUTING;
/** 61: the same with long timeout. */
const SLOW_UP = FAST_UP & ~SHORT_TIMEOUT;
const COLLECTING_DISTRIBUTING = COLLECTING | DISTRIBUTING;

/** A bond `bond0` over p1,p2 in namespace "bond", facing e1,e2 in namespace "dut". */
function bondLab(lab: NamespaceLab, lacpRate: "fast" | "slow") {
  const peer = lab.netns("bond");
  const dut = lab.netns("dut");
  const [, e1] = lab.veth({ netns: peer, name: "p1" }, { netns: dut, name: "e1" });
  const [, e2] = lab.veth({ netns: peer, name: "p2" }, { netns: dut, name: "e2" });
  const bond = BondPeer.create(peer, { slaves: ["p1", "p2"], lacpRate });
  return { bond, dut, e1: e1!, e2: e2! };
}

/** One line per slave: aggregator, actor state, partner system and state, as letters. */
function summary(status: BondStatus): string {
  return status.slaves.map((s) =>
    `${s.name} agg ${s.aggregatorId} A:${
      formatStateLetters(s.actor?.portState ?? 0)
    } P:${s.partner?.systemMac}/${s.partner?.key}/${
      formatStateLetters(s.partner?.portState ?? 0)
    } churn ${s.actorChurnState}/${s.partnerChurnState}`
  ).join("; ");
}

/**
 * Polls the bond until `accept` holds, recording each change of {@linkcode summary} with the
 * milliseconds since `t0`; returns the accepted status, when it came, and the trace.
 */
async function watch(
  bond: BondPeer,
  accept: (status: BondStatus) => boolean,
  timeoutMs: number,
  what: string,
  t0 = Date.now(),
): Promise<{ status: BondStatus; ms: number; trace: string[] }> {
  const trace: string[] = [];
  let last = "";
  try {
    const status = await waitUntil(
      async () => {
        const status = await bond.status();
        const line = summary(status);
        if (line !== last) trace.push(`${Date.now() - t0} ms: ${last = line}`);
        return status;
      },
      accept,
      timeoutMs,
      what,
    );
    return { status, ms: Date.now() - t0, trace };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : err}\n${trace.join("\n")}`);
  }
}

const every = (state: (s: BondSlave) => boolean) => (status: BondStatus) =>
  status.slaves.length > 0 && status.slaves.every(state);
const statesAre = (actor: number, partner: number) =>
  every((s) => s.actor?.portState === actor && s.partner?.portState === partner);

/** Prints a measurement, so that a run in the lane shows its numbers. */
function measured(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`  measured: ${text}\n`));
}

Deno.test({
  name: "a Linux 802.3ad bond aggregates both links with netkit at fast rate, states 63 both ways",
  ignore: needs("root", "netns", "veth", "bonding", "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut, e1 } = bondLab(lab, "fast");
    using _bond = bond;
    const pcap = Deno.makeTempFileSync({ suffix: ".pcap" });
    try {
      const t0 = Date.now();
      await using netkitLacp = startLacp(dut, ["-i", "e1", "-i", "e2", "--pcap", pcap]);
      const { status, ms, trace } = await watch(
        bond,
        statesAre(FAST_UP, FAST_UP),
        15000,
        "the bond to collect and distribute on both slaves",
        t0,
      );
      measured(
        `fast: bond 63/63 on both slaves ${ms} ms after netkit's start\n${trace.join("\n")}`,
      );
      const [p1, p2] = status.slaves as [BondSlave, BondSlave];
      assert.equal(p1.aggregatorId, p2.aggregatorId, "one aggregator");
      assert.deepEqual(status.activeAggregator, {
        id: p1.aggregatorId,
        ports: 2,
        actorKey: p1.actor!.key,
        partnerKey: 1,
        partnerMac: formatMac(e1.mac),
      });
      for (const [i, slave] of [p1, p2].entries()) {
        assert.deepEqual(slave.partner, {
          systemPriority: 32768,
          systemMac: formatMac(e1.mac),
          key: 1,
          portPriority: 32768,
          portNumber: i + 1,
          portState: FAST_UP,
        });
        // Linux judges churn only when its 60 s churn timer runs out, in sync or not.
        assert.deepEqual(
          [slave.actorChurnState, slave.partnerChurnState, slave.actorChurnedCount],
          ["monitoring", "monitoring", 0],
        );
      }

      const ours = await waitUntil(
        () => netkitLacp.status(),
        (s) => aggregated(s) && s.ports.every((p) => p.partner.state === FAST_UP),
        5000,
        "netkit to hear the bond collect and distribute",
      );
      for (const [i, port] of ours.ports.entries()) {
        const slave = status.slaves[i]!;
        assert.equal(port.mux_state, "COLLECTING_DISTRIBUTING");
        assert.deepEqual(port.partner, {
          ...port.partner,
          system: status.systemMac,
          system_priority: status.systemPriority,
          key: slave.actor!.key,
          port: slave.actor!.portNumber,
          port_priority: slave.actor!.portPriority,
        });
        assert.equal(port.effective_rate_mode, "fast");
        assert.deepEqual([port.churn.actor, port.churn.partner], ["NO_CHURN", "NO_CHURN"]);
        assert.equal(port.counters.malformed_rx, 0, "every LACPDU of the bond decodes");
        assert.equal(port.counters.marker_rx, 0, "the bond sends no Marker PDUs");
      }

      await netkitLacp.stop();
      const { rows, expert } = tshark(pcap, ["eth.src", "lacp.actor.sysid"], "lacp");
      const fromBond = rows.filter((r) => r[1] === status.systemMac).map((r) => r[0]);
      assert.deepEqual(
        [...new Set(fromBond)].sort(),
        [p1.permanentMac, p2.permanentMac].sort(),
        "the bond sends each slave's LACPDUs from that slave's own MAC",
      );
      assert.deepEqual(expert, [], "no dissector complaints about any frame, ours or the bond's");
    } finally {
      Deno.removeSync(pcap);
    }
  },
});

Deno.test({
  name: "a Linux 802.3ad bond at slow rate aggregates with netkit --rate slow, states 61 both ways",
  ignore: needs("root", "netns", "veth", "bonding"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut } = bondLab(lab, "slow");
    using _bond = bond;
    const t0 = Date.now();
    await using netkitLacp = startLacp(dut, ["-i", "e1", "-i", "e2", "--rate", "slow"]);
    const { status, ms, trace } = await watch(
      bond,
      statesAre(SLOW_UP, SLOW_UP),
      20000,
      "the bond to collect and distribute on both slaves",
      t0,
    );
    measured(
      `slow negotiation: bond 61/61 on both slaves ${ms} ms after start\n${trace.join("\n")}`,
    );
    assert.equal(status.lacpRate, "slow");
    assert.equal(status.slaves[0]!.aggregatorId, status.slaves[1]!.aggregatorId);
    assert.equal(status.activeAggregator?.ports, 2);
    const ours = await waitUntil(
      () => netkitLacp.status(),
      (s) => aggregated(s) && s.ports.every((p) => p.partner.state === SLOW_UP),
      5000,
      "netkit to hear the bond collect and distribute",
    );
    for (const port of ours.ports) {
      assert.equal(port.effective_rate_mode, "slow", "the bond asks us for slow PDUs");
      assert.equal(port.periodic_state, "SLOW_PERIODIC");
    }
  },
});

Deno.test({
  name: "a Linux bond expires netkit 3 s after its last LACPDU and defaults it 3 s later",
  ignore: needs("root", "netns", "veth", "bonding"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut } = bondLab(lab, "fast");
    using _bond = bond;
    await using netkitLacp = startLacp(dut, ["-i", "e1", "-i", "e2"]);
    const up = await watch(bond, statesAre(FAST_UP, FAST_UP), 15000, "the bond to aggregate");
    await netkitLacp.aggregated(5000);
    const stopped = netkit(["-n", dut, "lacp", "-k"]);
    assert.equal(stopped.code, 0, stopped.err);
    const t0 = Date.now();
    const expired = await watch(
      bond,
      every((s) => (s.actor!.portState & LacpState.EXPIRED) !== 0),
      10000,
      "the bond to expire us",
      t0,
    );
    const defaulted = await watch(
      bond,
      (s) =>
        every((slave) => (slave.actor!.portState & LacpState.DEFAULTED) !== 0)(s) &&
        s.slaves[0]!.aggregatorId !== s.slaves[1]!.aggregatorId,
      10000,
      "the bond to default us",
      t0,
    );
    measured(
      `after -k: expired ${expired.ms} ms, defaulted ${defaulted.ms} ms\n${
        [...expired.trace, ...defaulted.trace].join("\n")
      }`,
    );
    for (const slave of expired.status.slaves) {
      assert.equal(slave.actor!.portState & COLLECTING_DISTRIBUTING, 0, "expired: not in use");
      assert.equal(slave.partner!.portState & SYNCHRONIZATION, 0, "expired: partner out of sync");
      assert.equal(slave.aggregatorId, up.status.slaves[0]!.aggregatorId, "expired: same LAG");
    }
    // Defaulted, the partner is all zeros, and Linux makes a port with no partner individual:
    // the two links no longer share an aggregator.
    for (const slave of defaulted.status.slaves) {
      assert.equal(slave.partner!.systemMac, "00:00:00:00:00:00");
      assert.equal(slave.partner!.portState, 0);
      assert.equal(slave.actor!.portState & COLLECTING_DISTRIBUTING, 0);
    }
    // Our last LACPDU went out up to 1 s before -k; the bond times out 3 s after it, counted in
    // 100 ms ticks that run about 10 % slow in the lane (its 60 s churn timer takes 66 s there).
    assert.ok(expired.ms >= 1500 && expired.ms <= 5000, `expired ${expired.ms} ms after -k`);
    assert.ok(
      defaulted.ms >= 4500 && defaulted.ms <= 8500,
      `defaulted ${defaulted.ms} ms after -k`,
    );
  },
});

Deno.test({
  name:
    "a Linux bond never collects on links where netkit withholds Sync, and counts a partner churn after 60 s",
  ignore: needs("root", "netns", "veth", "bonding"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut } = bondLab(lab, "fast");
    using _bond = bond;
    const t0 = Date.now();
    await using netkitLacp = startLacp(dut, ["-i", "e1", "-i", "e2", "--inject", "-> A:-S"]);
    const withheld = FAST_UP & ~SYNCHRONIZATION;
    const attached = ACTIVE | SHORT_TIMEOUT | AGGREGATION | SYNCHRONIZATION;
    const settled = await watch(
      bond,
      statesAre(attached, withheld),
      15000,
      "the bond to attach without collecting",
      t0,
    );
    // Our true state is in sync, collecting and distributing; only the wire says otherwise.
    const ours = await waitUntil(
      () => netkitLacp.status(),
      (s) => aggregated(s) && s.ports.every((p) => p.partner.state === attached),
      5000,
      "netkit to see the bond in sync but not collecting",
    );
    for (const port of ours.ports) {
      assert.equal(port.actor.state_letters, "ATGSCD");
      assert.ok(port.inject_rules[0]!.fired > 0);
    }
    // The bond's churn timers started when our first LACPDU arrived (its receive machine left
    // EXPIRED); 60 s later it judges: itself in sync (no churn), we never were (churned).
    let collected = "";
    const churned = await watch(
      bond,
      (s) => {
        for (const slave of s.slaves) {
          if ((slave.actor!.portState & COLLECTING_DISTRIBUTING) !== 0) collected ||= summary(s);
        }
        return every((slave) => slave.partnerChurnState === "churned")(s);
      },
      75000,
      "the bond to count a partner churn",
      t0,
    );
    measured(
      `withheld sync: bond ATGS/ATGCD ${settled.ms} ms, partner churned ${churned.ms} ms after start\n${
        [...settled.trace, ...churned.trace].join("\n")
      }`,
    );
    assert.equal(collected, "", "the bond never collected or distributed");
    for (const slave of churned.status.slaves) {
      assert.equal(slave.actorChurnState, "none");
      assert.deepEqual([slave.actorChurnedCount, slave.partnerChurnedCount], [0, 1]);
    }
    assert.ok(churned.ms >= 60000, `partner churn after ${churned.ms} ms`);
    const after = await netkitLacp.port("e1");
    assert.deepEqual([after.churn.actor, after.churn.partner], ["NO_CHURN", "NO_CHURN"]);
  },
});

Deno.test({
  name: "a Linux bond puts links with different partner keys into separate aggregators",
  ignore: needs("root", "netns", "veth", "bonding"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut, e1 } = bondLab(lab, "fast");
    using _bond = bond;
    const system = formatMac(e1.mac);
    const t0 = Date.now();
    // One daemon per link: the same system, another key.
    await using one = startLacp(dut, ["-i", "e1", "--system-id", system, "--key", "1"]);
    await using two = startLacp(dut, ["-i", "e2", "--system-id", system, "--key", "2"]);
    const inUse = ACTIVE | SHORT_TIMEOUT | AGGREGATION;
    const { status, ms, trace } = await watch(
      bond,
      (s) =>
        s.slaves.every((slave) => slave.partner?.systemMac === system) &&
        s.slaves.map((slave) => slave.actor?.portState ?? 0).sort((a, b) => a - b).join() ===
          `${inUse},${FAST_UP}`,
      15000,
      "two aggregators, one in use",
      t0,
    );
    measured(`different keys: ${ms} ms\n${trace.join("\n")}`);
    const [p1, p2] = status.slaves as [BondSlave, BondSlave];
    assert.notEqual(p1.aggregatorId, p2.aggregatorId);
    assert.deepEqual([p1.partner!.key, p2.partner!.key], [1, 2]);
    const active = status.slaves.find((s) => s.aggregatorId === status.activeAggregator?.id)!;
    assert.equal(active.actor!.portState, FAST_UP, "the active aggregator's link is in use");
    assert.equal(status.activeAggregator?.ports, 1);
    // The bond tells the partner of the idle aggregator that it is out of sync, so that
    // daemon stays ATTACHED.
    const [mine, idle] = active.name === "p1" ? [one, two] : [two, one];
    const idleName = active.name === "p1" ? "e2" : "e1";
    const activeName = active.name === "p1" ? "e1" : "e2";
    await waitUntil(
      () => idle.port(idleName),
      (p) => p.mux_state === "ATTACHED" && p.partner.state === inUse,
      5000,
      "the daemon of the idle link to stay attached",
    );
    await waitUntil(
      () => mine.port(activeName),
      (p) => p.mux_state === "COLLECTING_DISTRIBUTING" && p.partner.state === FAST_UP,
      5000,
      "the daemon of the link in use to collect and distribute",
    );
  },
});

Deno.test({
  name: "a Linux bond re-aggregates with netkit restarted under another system id",
  ignore: needs("root", "netns", "veth", "bonding"),
  async fn() {
    using lab = new NamespaceLab();
    const { bond, dut, e1 } = bondLab(lab, "fast");
    using _bond = bond;
    const first = startLacp(dut, ["-i", "e1", "-i", "e2"]);
    try {
      await watch(bond, statesAre(FAST_UP, FAST_UP), 15000, "the bond to aggregate");
    } finally {
      await first[Symbol.asyncDispose]();
    }
    const before = await bond.status();
    assert.equal(before.activeAggregator?.partnerMac, formatMac(e1.mac));
    const system = "02:00:00:00:00:42";
    const t0 = Date.now();
    await using second = startLacp(dut, ["-i", "e1", "-i", "e2", "--system-id", system]);
    const heard = await watch(
      bond,
      every((slave) => slave.partner?.systemMac === system),
      15000,
      "the bond to hear the new system",
      t0,
    );
    const { status, ms, trace } = await watch(
      bond,
      (s) =>
        statesAre(FAST_UP, FAST_UP)(s) &&
        s.slaves.every((slave) => slave.partner?.systemMac === system),
      15000,
      "the bond to aggregate with the new system",
      t0,
    );
    measured(
      `new system: heard ${heard.ms} ms, aggregated ${ms} ms after the restart\n${
        trace.join("\n")
      }`,
    );
    assert.equal(status.activeAggregator?.partnerMac, system);
    assert.equal(status.activeAggregator?.ports, 2);
    // The first link to change partner leaves an aggregator its sibling still holds.
    assert.notEqual(status.activeAggregator?.id, before.activeAggregator?.id);
    // The restarted daemon waits out its own 2 s wait_while before it claims Sync.
    assert.ok(ms - heard.ms >= 1500, `collecting ${ms - heard.ms} ms after the bond heard us`);
    await second.aggregated(5000);
  },
});
