import assert from "node:assert/strict";
import { delay, withTimeout } from "../../lib/async.ts";
import { ip, NamespaceLab, type VethEnd } from "../../lib/lab/namespace_lab.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { PacketSocket } from "../../lib/net/packet_socket.ts";
import { encodeLacpdu, type Lacpdu, LacpState } from "../../lib/packet/lacp.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { interfaceState, netkit, startLacp, tshark, waitUntil } from "./_lacp.ts";
import { needs } from "../skip.ts";

/** Namespaces a and b joined by two veth pairs: a1-b1 and a2-b2. */
function twoLinks(lab: NamespaceLab): { a: string; b: string; ends: VethEnd[] } {
  const a = lab.netns("a");
  const b = lab.netns("b");
  const [a1, b1] = lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
  const [a2, b2] = lab.veth({ netns: a, name: "a2" }, { netns: b, name: "b2" });
  return { a, b, ends: [a1, b1, a2, b2] };
}

function runDirFiles(netnsName: string): string[] {
  const id = Deno.statSync(`/run/netns/${netnsName}`).ino;
  try {
    return [...Deno.readDirSync("/run/netkit")].map((e) => e.name).filter((n) =>
      n.startsWith(`lacp-ns${id}-`)
    );
  } catch {
    return [];
  }
}

Deno.test({
  name:
    "two netkit lacp daemons over two veth pairs aggregate both ports and leave the interfaces as found",
  ignore: needs("root", "netns", "veth", "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b, ends } = twoLinks(lab);
    const before = ends.map((e) => interfaceState(e.netns, e.name));
    // Namespace inodes are reused: a file some killed daemon left under this inode is not ours.
    const leftBefore = new Set([...runDirFiles(a), ...runDirFiles(b)]);
    const pcap = Deno.makeTempFileSync({ suffix: ".pcap" });
    try {
      const started = Date.now();
      await using da = startLacp(a, ["-i", "a1", "-i", "a2", "--pcap", pcap]);
      await using db = startLacp(b, ["-i", "b1", "-i", "b2"]);
      const status = await da.aggregated();
      await db.aggregated();
      const elapsed = Date.now() - started;
      // wait_while is 2 s; the launcher start takes a few hundred ms more.
      assert.ok(elapsed >= 2000 && elapsed < 6000, `aggregated after ${elapsed} ms`);
      const [a1, b1] = ends;
      for (const [i, port] of status.ports.entries()) {
        assert.equal(
          port.actor.system,
          formatMac(a1!.mac),
          "system id defaults to the first interface's MAC",
        );
        assert.equal(port.actor.port, i + 1, "ports numbered in -i order");
        assert.equal(port.actor.key, 1);
        assert.equal(port.actor.system_priority, 32768);
        assert.equal(port.partner.system, formatMac(b1!.mac));
        assert.equal(port.actor.state_letters, "ATGSCD");
        assert.equal(port.rx_state, "CURRENT");
        assert.ok(port.counters.lacpdu_rx > 0 && port.counters.lacpdu_tx > 0);
      }
      // Human status and JSON both come from the CLI too.
      const json = netkit(["-n", a, "lacp", "-s", "-j"]);
      assert.equal(json.code, 0);
      assert.equal(JSON.parse(json.out)[0].ports.length, 2);
      assert.match(
        netkit(["-n", a, "lacp", "-s", "-i", "a2"]).out,
        /^Interface: a2 \(port 2, link up\)\n {2}Mux State: COLLECTING_DISTRIBUTING/m,
      );

      const stopped = netkit(["-n", a, "lacp", "-k"]);
      assert.equal(stopped.code, 0);
      assert.match(
        stopped.out,
        new RegExp(`^Stopped netkit lacp daemon ${da.pid} \\(a1, a2\\)$`, "m"),
      );
      assert.equal((await da.done).code, 0);
      assert.equal((await db.stop()).code, 0);
      assert.deepEqual(
        ends.map((e) => interfaceState(e.netns, e.name)),
        before,
        "interface flags, promiscuity and multicast lists",
      );
      assert.deepEqual(
        [...runDirFiles(a), ...runDirFiles(b)].filter((f) => !leftBefore.has(f)),
        [],
        "control sockets and locks removed",
      );

      // Every frame we sent decodes cleanly in Wireshark's dissectors.
      const { rows, expert } = tshark(pcap, [
        "eth.dst",
        "eth.type",
        "slow.subtype",
        "lacp.version",
        "lacp.actor.sysid",
      ]);
      const ours = rows.filter((r) => r[4] === formatMac(a1!.mac));
      assert.ok(ours.length >= 6, `${ours.length} LACPDUs from us`);
      for (const row of rows) {
        assert.deepEqual(row.slice(0, 4), ["01:80:c2:00:00:02", "0x8809", "0x01", "0x01"]);
      }
      assert.deepEqual(expert, []);
    } finally {
      Deno.removeSync(pcap);
    }
  },
});

Deno.test({
  name: "netkit lacp ports follow carrier and survive an interface that vanishes and returns",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = twoLinks(lab);
    await using da = startLacp(a, ["-i", "a1", "-i", "a2"]);
    await using db = startLacp(b, ["-i", "b1", "-i", "b2"]);
    await da.aggregated();
    ip("-n", b, "link", "set", "b1", "down");
    const down = await waitUntil(
      () => da.port("a1"),
      (p) => !p.link_up,
      3000,
      "a1 to lose carrier",
    );
    assert.equal(down.rx_state, "PORT_DISABLED");
    assert.equal(down.mux_state, "DETACHED");
    assert.equal(
      (await da.port("a2")).mux_state,
      "COLLECTING_DISTRIBUTING",
      "the other port is undisturbed",
    );
    ip("-n", b, "link", "set", "b1", "up");
    await da.aggregated();

    // Delete the second pair: both daemons keep running with that port disabled.
    ip("-n", a, "link", "del", "a2");
    const gone = await waitUntil(() => da.port("a2"), (p) => !p.link_up, 3000, "a2 to go away");
    assert.equal(gone.mux_state, "DETACHED");
    assert.equal(da.exited, false);
    assert.match(
      da.log(),
      /a2 disappeared; its port is disabled until an interface of that name returns/,
    );
    // An interface of the same name returns: both ends renegotiate on it.
    lab.veth({ netns: a, name: "a2" }, { netns: b, name: "b2" });
    await da.aggregated(10000);
    await db.aggregated(10000);
    assert.match(da.log(), /a2 is back/);
  },
});

Deno.test({
  name:
    "netkit lacp refuses a second daemon on an interface, and -d reports startup errors and detaches",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a } = twoLinks(lab);
    await using first = startLacp(a, ["-i", "a1"]);
    await waitUntil(() => first.status(), () => true, 5000, "the first daemon to serve");
    const second = netkit(["-n", a, "lacp", "-i", "a2", "-i", "a1"]);
    assert.equal(second.code, 1);
    assert.equal(
      second.err,
      `netkit: error: Another netkit lacp daemon (pid ${first.pid}) is running on "a1"; stop it with "netkit lacp -k -i a1"\n`,
    );
    const missing = netkit(["-n", a, "lacp", "-i", "nkmissing0", "-d"]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.err,
      'netkit: error: look up interface "nkmissing0": ENODEV (No such device)\n',
    );

    const detached = netkit(["-n", a, "lacp", "-i", "a2", "-d"]);
    assert.equal(detached.code, 0, detached.err);
    const listed = JSON.parse(netkit(["-n", a, "lacp", "-s", "-j"]).out) as {
      pid: number;
      ports: { interface: string }[];
    }[];
    // Listed by pid, which is start order only until pids wrap around.
    assert.deepEqual(listed.map((d) => d.ports.map((p) => p.interface)).sort(), [["a1"], ["a2"]]);
    const daemonPid = listed.find((d) => d.ports[0]!.interface === "a2")!.pid;
    assert.notEqual(daemonPid, first.pid);
    const killed = netkit(["-n", a, "lacp", "-k", "-i", "a2"]);
    assert.equal(killed.code, 0);
    assert.equal(killed.out, `Stopped netkit lacp daemon ${daemonPid} (a2)\n`);
    assert.equal(first.exited, false, "-k -i a2 leaves the daemon on a1 alone");
  },
});

Deno.test({
  name:
    "netkit lacp --exit-after-inject exits 0 once the injected LACPDU is sent on each firing port",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = twoLinks(lab);
    await using _partner = startLacp(b, ["-i", "b1", "-i", "b2"]);
    await using da = startLacp(a, [
      "-i",
      "a1",
      "-i",
      "a2",
      "--inject",
      "P:+S -> A:-S",
      "--exit-after-inject",
    ]);
    const status = await withTimeout(da.done, 10000, "did not exit");
    assert.equal(status.code, 0);
    const log = da.log();
    assert.match(log, /Inject rule triggered on a[12]: Actor state ATGS?(CD)? -> ATG/);
    assert.match(log, /Exiting after successful injection and LACPDU transmission on a[12]/);
  },
});

Deno.test({
  name: "netkit lacp counts a flood of malformed PDUs and keeps serving and negotiating",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b, ends } = twoLinks(lab);
    await using _partner = startLacp(b, ["-i", "b1", "-i", "b2"]);
    await using da = startLacp(a, ["-i", "a1", "-i", "a2"]);
    await da.aggregated();
    const b1 = ends[1]!;
    const good: Lacpdu = {
      version: 1,
      actor: {
        systemPriority: 1,
        system: b1.mac,
        key: 1,
        portPriority: 1,
        port: 9,
        state: LacpState.ACTIVE,
      },
      partner: {
        systemPriority: 0,
        system: new Uint8Array(6),
        key: 0,
        portPriority: 0,
        port: 0,
        state: 0,
      },
      collectorMaxDelay: 0,
      extraTlvs: [],
    };
    const frame = encodeLacpdu(good, b1.mac);
    const variants = [frame.slice(0, 80), frame.slice(), frame.slice(), frame.slice()];
    variants[1]![17] = 0; // actor TLV length
    variants[2]![15] = 0; // version 0
    variants[3]![56] = 9; // collector TLV type
    // A second socket on b1 floods a1 beside the daemon that owns b1.
    using flood = runInNetns(b, () => PacketSocket.open({ interface: "b1" }));
    let sent = 0;
    for (let i = 0; i < 4000; i++) {
      if (flood.send(variants[i % variants.length]!)) sent++;
      if (i % 200 === 199) await delay(5);
    }
    // Every flood frame is either counted as malformed or, when it came too fast, as dropped by
    // the kernel for lack of room in the socket: nothing goes unaccounted.
    const port = await waitUntil(
      () => da.port("a1"),
      (p) => p.counters.malformed_rx + p.counters.kernel_drops >= sent,
      5000,
      "every flood frame to be accounted for",
    );
    assert.ok(
      port.counters.malformed_rx >= sent / 4,
      `${port.counters.malformed_rx} of ${sent} seen`,
    );
    assert.ok(port.counters.malformed_rx + port.counters.kernel_drops <= sent + 20);
    await da.aggregated(5000);
    assert.equal(da.exited, false);
    assert.equal(
      (await da.port("a1")).partner.port,
      1,
      "malformed PDUs never replaced the partner",
    );
  },
});
