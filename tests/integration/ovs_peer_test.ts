import assert from "node:assert/strict";
import { NetkitError } from "../../lib/errors.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { type OvsLacpMemberStats, type OvsLacpStatus, OvsPeer } from "../../testing/ovs_peer.ts";
import { needs } from "../skip.ts";

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
