/**
 * netkit relay, gateway and client end to end: real processes in namespaces, a Linux bridge
 * for a LAN, the kernel's ARP/ICMP/DHCP clients and servers, tshark as the judge of frames.
 */

import assert from "node:assert/strict";
import { delay, withTimeout } from "../../lib/async.ts";
import { certificateHash, writeDevCerts } from "../../lib/l2/certs.ts";
import { CloseCode, ControlReader, ControlWriter } from "../../lib/l2/control.ts";
import { pinnedConnectOptions } from "../../lib/l2/relay_session.ts";
import { writeDatagramHeader } from "../../lib/l2/datagram.ts";
import { clientLanAddress, clientMac, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { ip, sh } from "../../lib/lab/namespace_lab.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { parseMac } from "../../lib/packet/mac.ts";
import { needs, type Requirement } from "../skip.ts";
import { bridgedLab, Capture } from "./_l2.ts";
import { netkit, waitUntil } from "./_lacp.ts";

/** What every L2Lab needs: a LAN bridge, veth links, and TAP devices for the clients. */
const LAB: Requirement[] = ["root", "netns", "veth", "bridge", "tun"];

function neighbours(ns: string, dev: string): string {
  return ip("-n", ns, "neigh", "show", "dev", dev);
}

Deno.test({
  name: "gateway, relay and two clients: ping both ways, ARP, client to client, DHCP, CAM refresh",
  ignore: needs(...LAB, "ping", "busybox", "tshark"),
  async fn() {
    await using lab = new L2Lab({ clients: 2 });
    await lab.startRelay();
    await lab.startGateway(["--cam-refresh", "1"]);
    // The bridge port of the gateway: where CAM-refresh frames enter the LAN switch.
    await using cam = await Capture.start(lab.lan, "pgw", "ether proto 0x88b5");
    await lab.startClient(1);
    await lab.startClient(2);
    const [c1, c2] = lab.clientNs as [string, string];

    assert.ok(lab.ping(lab.h1, clientLanAddress(1)), "LAN host h1 → client 1");
    assert.ok(lab.ping(c1, L2.h2), "client 1 → LAN host h2");
    assert.ok(lab.ping(c1, clientLanAddress(2)), "client 1 → client 2");
    // ARP from the LAN reached the client: it knows h1's MAC from h1's request.
    assert.match(neighbours(c1, L2.tap), new RegExp(`^${L2.h1.replaceAll(".", "\\.")} `, "m"));

    // A lease from a DHCP server on the LAN, through the tunnel, by busybox's client.
    const conf = `${lab.dir}/udhcpd.conf`;
    Deno.writeTextFileSync(
      conf,
      [
        "start 192.168.50.150",
        "end 192.168.50.160",
        "interface eth0",
        `lease_file ${lab.dir}/udhcpd.leases`,
        `pidfile ${lab.dir}/udhcpd.pid`,
        "opt subnet 255.255.255.0",
        "opt lease 600",
        "",
      ].join("\n"),
    );
    Deno.writeTextFileSync(`${lab.dir}/udhcpd.leases`, "");
    await using _server = ChildDaemon.spawn("udhcpd", "ip", [
      "netns",
      "exec",
      lab.h1,
      "busybox",
      "udhcpd",
      "-f",
      conf,
    ]);
    const lease = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        c2,
        "busybox",
        "udhcpc",
        "-i",
        L2.tap,
        "-n",
        "-q",
        "-t",
        "5",
        "-T",
        "1",
        "-s",
        "/bin/true",
      ],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const said = new TextDecoder().decode(lease.stdout) + new TextDecoder().decode(lease.stderr);
    assert.equal(lease.code, 0, `udhcpc: ${said}`);
    assert.match(said, /lease of 192\.168\.50\.1(5[0-9]|60) obtained/);

    // CAM refresh: one padded frame per client MAC, to the gateway NIC, EtherType 0x88b5.
    const gwMac = lab.lab.link(lab.gw, "eth0").mac;
    await delay(1500);
    const { rows, expert } = await cam.rows(["eth.src", "eth.dst", "eth.type", "frame.len"]);
    for (const i of [1, 2]) {
      const mine = rows.filter((r) => r[0] === clientMac(i));
      assert.ok(mine.length >= 2, `CAM refreshes for client ${i}: ${JSON.stringify(rows)}`);
      for (const r of mine) {
        assert.deepEqual(r.slice(1), [
          [...gwMac].map((b) => b.toString(16).padStart(2, "0")).join(":"),
          "0x88b5",
          "60",
        ]);
      }
    }
    assert.deepEqual(expert, []);
    // The LAN switch learned both client MACs on the gateway's port.
    const fdb = sh("ip", "netns", "exec", lab.lan, "bridge", "fdb", "show", "dev", "pgw");
    for (const i of [1, 2]) assert.match(fdb, new RegExp(clientMac(i)));

    // Graceful shutdown of client 2, as the relay saw it: final stats, disconnect, left.
    await lab.clients[1]!.stop();
    lab.clients[1] = null;
    await waitUntil(
      () => lab.log("relay"),
      (log) => /Peer \d+ \(LAB1:client2\) left \(disconnect\)/.test(log),
      5000,
      "client 2 to leave",
    );
    const log = lab.log("relay");
    const disconnect = log.search(
      /disconnects \(signal\): caught SIGTERM; final stats: \d+ frames/,
    );
    const left = log.search(/Peer \d+ \(LAB1:client2\) left \(disconnect\)/);
    assert.ok(disconnect >= 0 && disconnect < left, log);
  },
});

Deno.test({
  name: "a client's rogue DHCP offer never reaches the LAN, and a spoofing peer is cut off",
  ignore: needs(...LAB, "busybox", "tshark"),
  async fn() {
    await using lab = new L2Lab({ clients: 2 });
    await lab.startRelay(["--malformed-limit", "12"]);
    await lab.startGateway();
    await lab.startClient(1);
    const [c1, c2] = lab.clientNs as [string, string];
    await using lan = await Capture.start(lab.h1, "eth0");

    // udhcpd on the client's TAP answers nobody on the LAN: its offers die in the client.
    const conf = `${lab.dir}/rogue.conf`;
    Deno.writeTextFileSync(
      conf,
      `start 192.168.50.200\nend 192.168.50.210\ninterface ${L2.tap}\n` +
        `lease_file ${lab.dir}/rogue.leases\npidfile ${lab.dir}/rogue.pid\n`,
    );
    Deno.writeTextFileSync(`${lab.dir}/rogue.leases`, "");
    await using _rogue = ChildDaemon.spawn("rogue udhcpd", "ip", [
      "netns",
      "exec",
      c1,
      "busybox",
      "udhcpd",
      "-f",
      conf,
    ]);
    // A LAN client asks; the rogue server hears it through the tunnel and offers.
    new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        lab.h2,
        "busybox",
        "udhcpc",
        "-i",
        "eth0",
        "-n",
        "-q",
        "-t",
        "2",
        "-T",
        "1",
        "-s",
        "/bin/true",
      ],
      stdout: "null",
      stderr: "null",
    }).outputSync();

    // A hand-made peer in namespace c2: admitted as a client, then misbehaves.
    const pin = await Deno.readTextFile(lab.pin);
    const endpoint = runInNetns(c2, () => new Deno.QuicEndpoint({ hostname: "0.0.0.0", port: 0 }));
    try {
      const relay = { hostname: L2.relay, port: L2.port, serverName: L2.serverName, pin };
      const conn = await Deno.connectQuic({
        ...pinnedConnectOptions(relay, await certificateHash(pin)),
        endpoint,
      });
      const closed = conn.closed.catch(() => ({ closeCode: -1, reason: "error" }));
      const stream = await conn.createBidirectionalStream();
      const writer = new ControlWriter(stream.writable);
      const reader = new ControlReader(stream.readable);
      const mac = "02:00:00:00:00:66";
      await writer.send({
        v: 1,
        type: "hello",
        role: "client",
        credential: Deno.readTextFileSync(lab.credentialFile("client2")).trim(),
        mac,
        budget: 1500,
        sw: "test",
      });
      const welcome = await reader.read();
      assert.equal(welcome?.type, "welcome");
      if (welcome?.type !== "welcome") return;
      const tag = welcome.room_id & 0xffff;
      const frame = (src: string) => {
        const d = new Uint8Array(8 + 60);
        writeDatagramHeader(d, welcome.peer_id, 0, tag);
        d.set(parseMac("ff:ff:ff:ff:ff:ff"), 8);
        d.set(parseMac(src), 14);
        d[20] = 0x08;
        d[21] = 0x06;
        return d;
      };
      const sends: Uint8Array[] = [];
      for (let i = 0; i < 4; i++) sends.push(new Uint8Array([0x11, 0, 0])); // runts
      for (let i = 0; i < 4; i++) {
        const d = frame(mac);
        d[6] = d[6]! ^ 0xff; // wrong room tag
        sends.push(d);
      }
      for (let i = 0; i < 4; i++) sends.push(frame("02:00:00:00:00:77")); // spoofed source
      for (const d of sends) await conn.sendDatagram(d).catch(() => {});
      const info = await withTimeout(closed, 5000, "the relay to close the connection");
      assert.equal(info.closeCode, CloseCode.MALFORMED_THRESHOLD);
      await reader.cancel();
    } finally {
      endpoint.close();
    }

    const status = await lab.status();
    const drops = status.drops;
    assert.equal(drops.runt, 4, JSON.stringify(drops));
    assert.equal(drops.wrong_room, 4);
    assert.equal(drops.unauthorized_source_mac, 4);
    assert.ok(!status.rooms[0]!.peers.some((p) => p.mac === "02:00:00:00:00:66"));

    // Nothing of the rogue server or the spoofing peer reached the LAN.
    const client1 = lab.clients[0]!;
    await client1.stop();
    lab.clients[0] = null;
    const seen = await lan.rows(["eth.src", "udp.srcport"]);
    assert.ok(
      !seen.rows.some((r) => r[1] === "67"),
      `DHCP server frames on the LAN: ${JSON.stringify(seen.rows)}`,
    );
    assert.ok(!seen.rows.some((r) => r[0] === "02:00:00:00:00:66" || r[0] === "02:00:00:00:00:77"));
    assert.match(
      client1.output,
      /drops \{[^}]*"rogue_dhcp_server":[1-9]/,
    );
  },
});

Deno.test({
  name:
    "the gateway keeps its session while its LAN interface is deleted or down, bridges it again, and logs each loss once",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await bridgedLab();
    const c1 = lab.clientNs[0]!;
    ip("-n", lab.lan, "link", "del", "pgw"); // takes the gateway's eth0 with it
    assert.ok(!lab.ping(c1, L2.h1, 1), "no LAN, no reply");
    lab.lab.veth({ netns: lab.lan, name: "pgw" }, { netns: lab.gw, name: "eth0" });
    ip("-n", lab.lan, "link", "set", "pgw", "master", "br0");
    await waitUntil(() => lab.ping(c1, L2.h1, 1), (ok) => ok, 10_000, "ping over the new eth0");
    assert.ok(!lab.gateway!.exited, "the gateway kept running");
    const status = await lab.status();
    assert.equal(status.peers_total, 2, "the gateway never left the room");
    assert.match(lab.log("gateway"), /Lost eth0: .*ENETDOWN[\s\S]*Bridging eth0 again/);
    // Down for 3 s, then up: the loss and the recovery are logged once each, not every second.
    ip("-n", lab.gw, "link", "set", "eth0", "down");
    await delay(3000);
    ip("-n", lab.gw, "link", "set", "eth0", "up");
    await waitUntil(() => lab.ping(c1, L2.h1, 1), (ok) => ok, 10_000, "ping over eth0 again");
    const log = lab.log("gateway");
    assert.equal(log.match(/Lost eth0/g)?.length, 2, log);
    assert.equal(log.match(/Bridging eth0 again/g)?.length, 2, log);
  },
});

Deno.test({
  name: "gateway completes offloaded checksums and --clamp-mss fits a TCP SYN to the room's MTU",
  ignore: needs(...LAB, "socat", "tshark"),
  async fn() {
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway(["--clamp-mss"]);
    await lab.startClient(1);
    const c1 = lab.clientNs[0]!;
    const tapMtu = (await lab.status()).rooms[0]!.tap_mtu;
    await using tcp = await Capture.start(c1, L2.tap, "tcp");
    // h1 (MTU 1500, checksum offload on its veth) opens a connection to the client, where
    // nothing listens: the client's kernel answers the SYN with a reset only if the gateway
    // completed the SYN's checksum.
    const socat = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        lab.h1,
        "socat",
        "-T2",
        "-",
        `TCP:${clientLanAddress(1)}:9,connect-timeout=3`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    assert.match(new TextDecoder().decode(socat.stderr), /Connection refused/);
    const { rows } = await tcp.rows([
      "ip.src",
      "tcp.flags.syn",
      "tcp.flags.reset",
      "tcp.options.mss_val",
    ]);
    assert.deepEqual(rows, [
      [L2.h1, "1", "0", String(tapMtu - 40)],
      [clientLanAddress(1), "0", "1", ""],
    ]);
  },
});

Deno.test({
  name:
    "a gateway that loses its WAN link resumes its place: same peer, no peer_left, LAN state kept",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await bridgedLab();
    const gatewayId = (await lab.status()).rooms[0]!.peers.find((p) => p.role === "gateway")!
      .peer_id;
    ip("-n", lab.gw, "link", "set", "wan", "down");
    // Both ends notice within the 15 s idle timeout; the relay holds the gateway as away.
    await waitUntil(
      () => lab.status(),
      (s) => s.rooms[0]!.peers.some((p) => p.role === "gateway" && p.state === "away"),
      20_000,
      "the relay to hold the gateway as away",
    );
    ip("-n", lab.gw, "link", "set", "wan", "up");
    await waitUntil(
      () => lab.status(),
      (s) => s.rooms[0]!.peers.some((p) => p.role === "gateway" && p.state === "active"),
      20_000,
      "the gateway back",
    );
    const status = await lab.status();
    const gateway = status.rooms[0]!.peers.find((p) => p.role === "gateway")!;
    assert.equal(gateway.peer_id, gatewayId);
    assert.equal(status.peers_total, 2, "a resume is not a new peer");
    // The relay shows the gateway active once it sent welcome, maybe before the gateway logs it.
    await waitUntil(
      () => lab.log("gateway"),
      (log) => /Resumed in room LAB1 as peer /.test(log),
      5_000,
      "the gateway to log its resume",
    );
    assert.doesNotMatch(lab.log("relay"), /left room/);
    // The remote MAC table survived: LAN → client unicast flows without a new peer_joined.
    await waitUntil(() => lab.ping(lab.h2, clientLanAddress(1), 1), (ok) => ok, 10_000, "ping");
  },
});

Deno.test({
  name: "a relay killed with -9 and restarted costs the client's pings to the LAN at most 4 s",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await bridgedLab();
    const c1 = lab.clientNs[0]!;
    // 100 echoes, 0.1 s apart, across the crash: each missing reply is 0.1 s of outage.
    const ping = new Deno.Command("ip", {
      args: ["netns", "exec", c1, "ping", "-q", "-i", "0.1", "-W", "1", "-c", "100", L2.h1],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await delay(1000);
    Deno.kill(lab.relay!.pid, "SIGKILL"); // no goodbye to anyone
    await lab.relay!.stop();
    await lab.startRelay();
    const summary = new TextDecoder().decode((await ping.output()).stdout);
    const received = Number(/(\d+) received/.exec(summary)?.[1] ?? 0);
    const outage = (100 - received) / 10;
    // The peers notice within the 2 s idle timeout, back off up to 0.5 s and rejoin.
    assert.ok(outage <= 4, `pings lost for ${outage} s: ${summary}`);
    Deno.stderr.writeSync(new TextEncoder().encode(`measured: ping outage ${outage} s\n`));
    const status = await lab.status();
    assert.ok(status.rooms.some((r) => r.peers.filter((p) => p.state === "active").length === 2));
    assert.ok(lab.ping(lab.h2, clientLanAddress(1), 2), "LAN → client after the restart");
  },
});

Deno.test({
  name:
    "gateway and client refuse a wrong certificate, loopback, no carrier, a TAP they cannot make and missing CAP_NET_RAW, before the relay hears of them",
  ignore: needs(...LAB),
  async fn() {
    await using lab = new L2Lab({ clients: 0 });
    await lab.startRelay();
    const other = `${lab.dir}/other`;
    await writeDevCerts(other);
    const before = lab.lab.link(lab.gw, "eth0");
    const args = (cert: string, iface: string) => [
      "-n",
      lab.gw,
      "gateway",
      ...lab.peerArgs("gateway").map((a) => a === lab.pin ? cert : a),
      "--iface",
      iface,
    ];
    const wrong = netkit(args(`${other}/relay.pem`, "eth0"));
    assert.equal(wrong.code, 1, wrong.err);
    assert.match(wrong.err, /does not present the pinned certificate .*check --relay-cert/);
    const promiscuity =
      JSON.parse(ip("-j", "-d", "-n", lab.gw, "link", "show", "eth0"))[0].promiscuity;
    assert.equal(promiscuity, 0);
    assert.equal(lab.lab.link(lab.gw, "eth0").ifindex, before.ifindex);

    const lo = netkit(args(lab.pin, "lo"));
    assert.equal(lo.code, 1);
    assert.match(lo.err, /Interface "lo" is not Ethernet \(link type loopback\)/);

    ip("-n", lab.gw, "link", "add", "dark", "type", "veth", "peer", "name", "dark-peer");
    ip("-n", lab.gw, "link", "set", "dark", "up"); // its peer stays down: no carrier
    const dark = netkit(args(lab.pin, "dark"));
    assert.equal(dark.code, 1);
    assert.match(dark.err, /Interface "dark" has no carrier/);
    // A client whose TAP cannot be made says why and never joins.
    const ns = lab.lab.netns("cx");
    ip("-n", ns, "link", "add", "taken", "type", "veth", "peer", "name", "taken-peer");
    const client = netkit([
      "-n",
      ns,
      "client",
      ...lab.peerArgs("gateway"),
      "--tap",
      "taken",
      "--mac",
      clientMac(9),
    ]);
    assert.equal(client.code, 1, client.err);
    assert.match(client.err, /Cannot create TAP device "taken": .*CAP_NET_ADMIN/);
    // A gateway without CAP_NET_RAW says so before the relay hears of it.
    const pin = `${lab.dir}/pin-for-anyone.pem`;
    Deno.copyFileSync(lab.pin, pin);
    Deno.chmodSync(lab.dir, 0o755);
    Deno.chmodSync(pin, 0o644);
    const unprivileged = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        lab.gw,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "./netkit",
        "gateway",
        ...lab.peerArgs("gateway")
          .filter((a, i, all) => a !== "--credential-file" && all[i - 1] !== "--credential-file")
          .map((a) => a === lab.pin ? pin : a),
        "--iface",
        "eth0",
      ],
      env: { NETKIT_CREDENTIAL: Deno.readTextFileSync(lab.credentialFile("gateway")).trim() },
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    Deno.chmodSync(lab.dir, 0o700);
    assert.equal(unprivileged.code, 1, new TextDecoder().decode(unprivileged.stderr));
    assert.match(
      new TextDecoder().decode(unprivileged.stderr),
      /netkit gateway needs CAP_NET_RAW for its packet socket on "eth0": run it as root, or grant/,
    );
    // None of these reached the relay.
    assert.equal((await lab.status()).peers_total, 0);
  },
});

Deno.test({
  name: "gateway and client exit within 1 s of SIGTERM while the relay does not answer",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await bridgedLab();
    // The relay's end of both WAN links goes down: every packet to it vanishes.
    ip("-n", lab.relayNs, "link", "set", "w-c1", "down");
    ip("-n", lab.relayNs, "link", "set", "w-gw", "down");
    // The 2 s idle timeout, up to 0.5 s of backoff: both are in a reconnect that gets no answer.
    await delay(3500);
    for (
      const [what, process] of [["client", lab.clients[0]!], ["gateway", lab.gateway!]] as const
    ) {
      const started = performance.now();
      const status = await process.stop(3000);
      const took = performance.now() - started;
      assert.equal(status.signal, null, `${what} needed SIGKILL:\n${process.output}`);
      assert.equal(status.code, 0, process.output);
      assert.ok(took <= 1000, `${what} took ${Math.round(took)} ms to exit`);
    }
    lab.clients[0] = null;
    lab.gateway = null;
  },
});

Deno.test({
  name: "the client says when the gateway, and with it the LAN, leaves the room and comes back",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await bridgedLab();
    await lab.gateway!.stop();
    await waitUntil(
      () => lab.log("client1"),
      (log) => /The gateway left the room \(disconnect\): the LAN is unreachable/.test(log),
      5000,
      "the client to say the gateway left",
    );
    await lab.startGateway();
    await waitUntil(
      () => lab.log("client1"),
      (log) => /The gateway \([0-9a-f:]{17}\) joined the room: the LAN is reachable/.test(log),
      5000,
      "the client to say the gateway is back",
    );
    assert.ok(lab.ping(lab.clientNs[0]!, L2.h1, 2), "and the LAN is");
  },
});
