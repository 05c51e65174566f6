import assert from "node:assert/strict";
import { NetkitError } from "../../lib/errors.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import {
  type OvsLacpMemberStats,
  type OvsLacpStatus,
  OvsPeer,
  parseBondShow,
  parseLacpShow,
  parseLacpStats,
} from "../../testing/ovs_peer.ts";
import { needs } from "../skip.ts";

// Output recorded from Open vSwitch 3.1.0 (two userspace peers over veth pairs), trimmed to one
// member where the second adds nothing; one unknown line added to prove it is tolerated.
const LACP_SHOW_NEGOTIATED = `---- bond0 ----
  status: active negotiated
  sys_id: ba:a0:00:d6:30:41
  sys_priority: 65534
  aggregation key: 1
  lacp_time: fast
  some future field: 42

member: p1: current attached
  port_id: 2
  port_priority: 65535
  may_enable: true

  actor sys_id: ba:a0:00:d6:30:41
  actor sys_priority: 65534
  actor port_id: 2
  actor port_priority: 65535
  actor key: 1
  actor state: activity timeout aggregation synchronized collecting distributing

  partner sys_id: de:bb:b5:95:43:40
  partner sys_priority: 65534
  partner port_id: 1
  partner port_priority: 65535
  partner key: 1
  partner state: activity timeout aggregation synchronized collecting distributing expired
`;

const LACP_SHOW_DEFAULTED = `---- bond0 ----
  status: active
  sys_id: ba:a0:00:d6:30:41
  sys_priority: 65534
  aggregation key: 1
  lacp_time: fast

member: p1: defaulted detached
  port_id: 2
  port_priority: 65535
  may_enable: false

  actor sys_id: ba:a0:00:d6:30:41
  actor sys_priority: 65534
  actor port_id: 2
  actor port_priority: 65535
  actor key: 1
  actor state: activity timeout aggregation collecting distributing defaulted

  partner sys_id: 00:00:00:00:00:00
  partner sys_priority: 0
  partner port_id: 0
  partner port_priority: 0
  partner key: 0
  partner state:
`;

const LACP_STATS = `---- bond0 statistics ----

member: p1:
  TX PDUs: 3
  RX PDUs: 1
  RX Bad PDUs: 0
  RX Marker Request PDUs: 0
  Link Expired: 0
  Link Defaulted: 0
  Carrier Status Changed: 0

member: p2:
  TX PDUs: 2
  RX PDUs: 1
  RX Bad PDUs: 5
  RX Marker Request PDUs: 0
  Link Expired: 1
  Link Defaulted: 2
  Carrier Status Changed: 3
`;

const BOND_SHOW = `---- bond0 ----
bond_mode: balance-tcp
bond may use recirculation: yes, Recirc-ID : 1
bond-hash-basis: 0
lb_output action: disabled, bond-id: -1
updelay: 0 ms
downdelay: 0 ms
next rebalance: 9862 ms
lacp_status: negotiated
lacp_fallback_ab: false
active-backup primary: <none>
active member mac: 22:a6:b6:28:7e:0f(p2)

member p1: disabled
  may_enable: false

member p2: enabled
  active member
  may_enable: true
`;

Deno.test("parseLacpShow reads port, member, actor and partner fields by name", () => {
  const bond = parseLacpShow(LACP_SHOW_NEGOTIATED).bond0;
  assert.ok(bond);
  assert.equal(bond.status, "active negotiated");
  assert.equal(bond.active, true);
  assert.equal(bond.negotiated, true);
  assert.equal(bond.sysId, "ba:a0:00:d6:30:41");
  assert.equal(bond.sysPriority, 65534);
  assert.equal(bond.aggregationKey, 1);
  assert.equal(bond.lacpTime, "fast");
  assert.deepEqual(Object.keys(bond.members), ["p1"]);
  const p1 = bond.members.p1!;
  assert.equal(p1.status, "current attached");
  assert.equal(p1.rxState, "current");
  assert.equal(p1.attached, true);
  assert.equal(p1.portId, 2);
  assert.equal(p1.mayEnable, true);
  assert.deepEqual(p1.actor, {
    sysId: "ba:a0:00:d6:30:41",
    sysPriority: 65534,
    portId: 2,
    portPriority: 65535,
    key: 1,
    state: ["activity", "timeout", "aggregation", "synchronized", "collecting", "distributing"],
    stateBits: 0x3f,
  });
  assert.equal(p1.partner.sysId, "de:bb:b5:95:43:40");
  assert.equal(p1.partner.portId, 1);
  assert.equal(p1.partner.stateBits, 0xbf);
});

Deno.test("parseLacpShow reads a defaulted member with no partner and an empty state", () => {
  const bond = parseLacpShow(LACP_SHOW_DEFAULTED).bond0!;
  assert.equal(bond.negotiated, false);
  const p1 = bond.members.p1!;
  assert.equal(p1.rxState, "defaulted");
  assert.equal(p1.attached, false);
  assert.equal(p1.mayEnable, false);
  assert.equal(p1.actor.stateBits, 0x77);
  assert.deepEqual(p1.partner.state, []);
  assert.equal(p1.partner.stateBits, 0);
  assert.equal(p1.partner.sysId, "00:00:00:00:00:00");
});

Deno.test("parseLacpStats reads every counter of every member", () => {
  const stats = parseLacpStats(LACP_STATS);
  assert.deepEqual(Object.keys(stats), ["bond0"]);
  assert.deepEqual(stats.bond0?.p2, {
    txPdus: 2,
    rxPdus: 1,
    rxBadPdus: 5,
    rxMarkerRequestPdus: 0,
    linkExpired: 1,
    linkDefaulted: 2,
    carrierStatusChanged: 3,
  });
  assert.equal(stats.bond0?.p1?.txPdus, 3);
});

Deno.test("parseBondShow reads LACP status and member enabled, may_enable and active", () => {
  const bond = parseBondShow(BOND_SHOW).bond0!;
  assert.equal(bond.bondMode, "balance-tcp");
  assert.equal(bond.lacpStatus, "negotiated");
  assert.equal(bond.lacpFallbackAb, false);
  assert.deepEqual(bond.members, {
    p1: { enabled: false, mayEnable: false, active: false },
    p2: { enabled: true, mayEnable: true, active: true },
  });
  assert.equal(bond.fields["active member mac"], "22:a6:b6:28:7e:0f(p2)");
});

Deno.test("OVS output parsers fail with the field and the raw text", () => {
  const broken = LACP_SHOW_NEGOTIATED.replace("  actor key: 1\n", "");
  assert.throws(() => parseLacpShow(broken), (e: unknown) => {
    assert.ok(e instanceof NetkitError);
    assert.match(e.message, /"ovs-appctl lacp\/show".*no "actor key" in member "p1"/);
    assert.ok(e.message.includes(JSON.stringify(broken)), e.message);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  assert.throws(
    () => parseLacpStats(LACP_STATS.replace("Link Expired: 1", "Link Expired: many")),
    /"Link Expired" is "many" in member "p2".*raw text: "---- bond0 statistics/,
  );
  assert.throws(() => parseBondShow("no such bond\n"), /no "---- bond ----" header.*no such bond/);
});

/** Whether a process is gone; a zombie waiting for its reaper counts as gone. */
function processGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).charAt(0);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Pids of live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text)) found.push(Number(entry.name));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** Asserts that close() left nothing: both daemons gone, no process using the dir, dir removed. */
function assertStopped(peer: OvsPeer, pids: { ovsdbServer?: number; vswitchd?: number }): void {
  assert.ok(pids.ovsdbServer !== undefined && pids.vswitchd !== undefined);
  assert.ok(processGone(pids.ovsdbServer), `ovsdb-server pid ${pids.ovsdbServer} still runs`);
  assert.ok(processGone(pids.vswitchd), `ovs-vswitchd pid ${pids.vswitchd} still runs`);
  assert.deepEqual(processesMentioning(peer.dir), []);
  assert.throws(() => Deno.statSync(peer.dir), Deno.errors.NotFound);
}

function linkNames(netns: string): string[] {
  return ipJson<{ ifname: string }[]>("-n", netns, "link", "show").map((l) => l.ifname);
}

/** Fully negotiated: every member current, attached, enabled, partner in sync and distributing. */
function negotiated(s: OvsLacpStatus, members: number): boolean {
  const list = Object.values(s.members);
  return s.negotiated && list.length === members &&
    list.every((m) =>
      m.status === "current attached" && m.mayEnable &&
      ["synchronized", "collecting", "distributing"].every((w) => m.partner.state.includes(w)) &&
      !m.partner.state.includes("expired")
    );
}

function everyMember(
  stats: Record<string, OvsLacpMemberStats>,
  names: string[],
  test: (s: OvsLacpMemberStats, name: string) => boolean,
): boolean {
  return names.every((name) => stats[name] !== undefined && test(stats[name], name));
}

Deno.test({
  name:
    "OvsPeer pair negotiates LACP over two veth pairs and counts expiry then defaulting when one stops",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd"),
  async fn() {
    using lab = new NamespaceLab();
    const nsA = lab.netns("ovsa");
    const nsB = lab.netns("ovsb");
    lab.veth({ netns: nsA, name: "a1" }, { netns: nsB, name: "b1" });
    lab.veth({ netns: nsA, name: "a2" }, { netns: nsB, name: "b2" });
    await using peerA = await OvsPeer.start(nsA);
    await using peerB = await OvsPeer.start(nsB);
    assert.notEqual(peerA.dir, peerB.dir);

    await peerA.addBond({ members: ["a1", "a2"], lacp: "active", time: "fast" });
    await peerB.addBond({ members: ["b1", "b2"], lacp: "active", time: "fast" });
    const [a, b] = await Promise.all([
      peerA.waitFor(() => peerA.lacpShow(), (s) => negotiated(s, 2), 10_000, "A to negotiate"),
      peerB.waitFor(() => peerB.lacpShow(), (s) => negotiated(s, 2), 10_000, "B to negotiate"),
    ]);
    assert.equal(a.status, "active negotiated");
    assert.equal(a.lacpTime, "fast");
    // Each side sees the other's system and, per veth pair, the other end's port.
    assert.equal(a.members.a1?.partner.sysId, b.sysId);
    assert.equal(b.members.b2?.partner.sysId, a.sysId);
    assert.equal(a.members.a1?.partner.portId, b.members.b1?.actor.portId);
    assert.equal(a.members.a2?.partner.portId, b.members.b2?.actor.portId);
    assert.equal(b.members.b1?.partner.portId, a.members.a1?.actor.portId);

    const bondA = await peerA.bondShow();
    assert.equal(bondA.lacpStatus, "negotiated");
    assert.deepEqual(
      Object.entries(bondA.members).map(([n, m]) => [n, m.enabled, m.mayEnable]),
      [["a1", true, true], ["a2", true, true]],
    );

    // Fast LACP: one PDU a second each way on every member.
    const before = await peerA.lacpStats();
    const rising = await peerA.waitFor(
      () => peerA.lacpStats(),
      (now) =>
        everyMember(
          now,
          ["a1", "a2"],
          (s, n) => s.txPdus > before[n]!.txPdus && s.rxPdus > before[n]!.rxPdus,
        ),
      10_000,
      "A's PDU counters to rise",
    );
    assert.ok(everyMember(rising, ["a1", "a2"], (s) => s.rxBadPdus === 0 && s.linkExpired === 0));

    // B stops: A hears nothing, expires after 3 fast periods, defaults 3 s later.
    const pidsB = peerB.pids;
    const stopped = Date.now();
    await peerB.close();
    assertStopped(peerB, pidsB);
    await peerA.waitFor(
      () => peerA.lacpStats(),
      (s) => everyMember(s, ["a1", "a2"], (m) => m.linkExpired >= 1),
      10_000,
      "A to count Link Expired",
    );
    const expiredAfter = Date.now() - stopped;
    await peerA.waitFor(
      () => peerA.lacpStats(),
      (s) => everyMember(s, ["a1", "a2"], (m) => m.linkDefaulted >= 1),
      10_000,
      "A to count Link Defaulted",
    );
    const defaultedAfter = Date.now() - stopped;
    // B's last PDU left at most ~1 s before it stopped: expiry cannot be seen before ~2 s, nor
    // defaulting before ~5 s (detection only ever lags the event).
    assert.ok(expiredAfter >= 1_500, `expired after ${expiredAfter} ms`);
    assert.ok(defaultedAfter >= 4_000, `defaulted after ${defaultedAfter} ms`);

    const alone = await peerA.lacpShow();
    assert.equal(alone.negotiated, false, peerA.logTail());
    for (const m of Object.values(alone.members)) {
      assert.equal(m.status, "defaulted detached");
      assert.equal(m.mayEnable, false);
      assert.deepEqual(m.partner.state, []);
    }
    assert.equal((await peerA.bondShow()).lacpStatus, "configured");

    const pidsA = peerA.pids;
    await peerA.close();
    assertStopped(peerA, pidsA);
    // The clean exit removed OVS's tap devices and left the members as found.
    assert.deepEqual(linkNames(nsA).sort(), ["a1", "a2", "lo"]);
    assert.ok(!ip("-n", nsA, "link", "show", "a1").includes("PROMISC"));
  },
});

Deno.test({
  name: "OvsPeer single-member LACP port negotiates with a passive peer",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd"),
  async fn() {
    using lab = new NamespaceLab();
    const nsA = lab.netns("ovsa");
    const nsB = lab.netns("ovsb");
    lab.veth({ netns: nsA, name: "a1" }, { netns: nsB, name: "b1" });
    await using peerA = await OvsPeer.start(nsA);
    await using peerB = await OvsPeer.start(nsB);
    await peerA.addBond({
      bond: "lag",
      members: ["a1"],
      time: "fast",
      systemId: "02:00:00:00:00:0a",
      systemPriority: 100,
      memberOptions: { a1: { portId: 7, portPriority: 9 } },
    });
    await peerB.addBond({ bond: "lag", members: ["b1"], lacp: "passive", time: "fast" });
    const a = await peerA.waitFor(
      () => peerA.lacpShow("lag"),
      (s) => negotiated(s, 1),
      10_000,
      "A to negotiate",
    );
    const b = await peerB.waitFor(
      () => peerB.lacpShow(),
      (s) => negotiated(s, 1),
      10_000,
      "B to negotiate",
    );
    assert.equal(b.status, "passive negotiated");
    assert.equal(a.sysId, "02:00:00:00:00:0a");
    const a1 = a.members.a1!;
    assert.equal(a1.actor.portId, 7);
    assert.equal(a1.actor.portPriority, 9);
    assert.equal(b.members.b1?.partner.sysPriority, 100);
    assert.equal(b.members.b1?.partner.portId, 7);
    // Passive partner: no Activity bit. One member: OVS never sets Aggregation.
    assert.ok(!a1.partner.state.includes("activity"));
    assert.ok(!a1.actor.state.includes("aggregation"));
  },
});

Deno.test({
  name: "OvsPeer.close stops OVS and removes its tap devices after ovs-vswitchd was killed",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("ovsk");
    lab.veth({ netns: ns, name: "k1" }, { netns: ns, name: "k2" });
    const peer = await OvsPeer.start(ns);
    const pids = peer.pids;
    try {
      await peer.addBond({ bridge: "brk", members: ["k1", "k2"] });
      assert.ok(linkNames(ns).includes("brk"), "netdev bridge tap expected");
      Deno.kill(pids.vswitchd!, "SIGKILL");
    } finally {
      await peer.close();
    }
    await peer.close();
    assertStopped(peer, pids);
    assert.deepEqual(linkNames(ns).sort(), ["k1", "k2", "lo"]);
  },
});

Deno.test({
  name: "OvsPeer.addBond refuses a member that does not exist in the namespace",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("ovsm");
    lab.veth({ netns: ns, name: "m1" }, { netns: ns, name: "m2" });
    await using peer = await OvsPeer.start(ns);
    await assert.rejects(
      peer.addBond({ members: ["m1", "nk-missing"] }),
      /cannot use member "nk-missing": could not open network device nk-missing \(No such device\)/,
    );
    // The failed port was removed, so the name is free again.
    await peer.addBond({ members: ["m1", "m2"] });
    assert.deepEqual(Object.keys((await peer.bondShow()).members), ["m1", "m2"]);
  },
});

Deno.test({
  name: "OvsPeer.start in a missing namespace fails with the reason and leaves nothing behind",
  ignore: needs("root", "ovs-vswitchd"),
  async fn() {
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const ours = () =>
      [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => n.startsWith("netkit-ovs-"));
    const before = ours();
    await assert.rejects(
      OvsPeer.start("nk-no-such-netns"),
      (e: unknown) =>
        e instanceof NetkitError && e.message.includes('"nk-no-such-netns"') &&
        e.message.includes("ovsdb-server"),
    );
    assert.deepEqual(ours(), before);
    assert.deepEqual(processesMentioning("nk-no-such-netns"), []);
  },
});
