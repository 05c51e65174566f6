/**
 * `netkit vnet daemon`'s IPv4 responders against real clients, each guest a namespace holding
 * the TAP the daemon made: busybox `udhcpc` (lease, mask, DNS, MTU and option 121 equal the
 * config, in `linklocal` and `lan`), ISC `dhclient` and `dhcpcd -T -4`, the kernel's ARP for the
 * gateway and `ping` to it; crafted frames written into the guest's side (a REQUEST naming
 * another server: silence; a 576-byte DISCOVER: an OFFER; a DISCOVER with another chaddr, and
 * one from another MAC: ignored, counted in `show -s`, the first reported by `vnet monitor` as
 * unknown traffic); tshark on the guest's link for the whole run: no malformed frame, no bad
 * checksum. Then two `lan` guests on two NICs, addressed by DHCP, ping each other over IPv4 and
 * IPv6 through netkit's proxy ARP and proxy NDP (routed: the TTL arrives decremented).
 *
 * The responders' TAP-harness test (vnet_responders_test.ts) stays: it proves the pure
 * responders alone, without the daemon, which this one cannot tell apart.
 *
 * @module
 */

import assert from "node:assert/strict";
import { waitFor } from "../../lib/async.ts";
import { ip, ipJson, NamespaceLab, sh } from "../../lib/lab/namespace_lab.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { PacketSocket } from "../../lib/net/packet_socket.ts";
import {
  createDhcpDiscover,
  createDhcpRequest,
  DhcpMessageType,
  parseIpv4,
  parseMac,
} from "../../lib/packet/mod.ts";
import { needs } from "../skip.ts";
import { Capture } from "./_l2.ts";
import { inNetns, recordedEnv, recordScript, VnetProcess } from "./_vnet.ts";

const GATEWAY_MAC = "02:00:00:00:00:01";
const GUEST_MAC = "52:54:00:00:00:01";

/** Moves the TAP `name` into `netns` with IPv6 off (its RS and MLD are not this test's), up. */
function placeGuest(router: string, netns: string, name: string, ipv6 = false): void {
  ip("-n", router, "link", "set", name, "netns", netns);
  if (!ipv6) inNetns(netns, 5, "sysctl", "-qw", `net.ipv6.conf.${name}.disable_ipv6=1`);
  else inNetns(netns, 5, "sysctl", "-qw", `net.ipv6.conf.${name}.accept_dad=0`);
  ip("-n", netns, "link", "set", "lo", "up");
  ip("-n", netns, "link", "set", name, "up");
}

/** busybox udhcpc in `netns` on `iface` until bound (it quits then): what its script saw. */
function udhcpc(dir: string, netns: string, iface: string, extra: string[] = []) {
  const { script, record } = recordScript(dir, `udhcpc-${iface}`);
  inNetns(
    netns,
    20,
    ...["busybox", "udhcpc", "-i", iface, "-f", "-q", "-n", "-t", "5", "-T", "1"],
    ...["-s", script, ...extra],
  );
  return recordedEnv(record);
}

/** Writes `frames` into `iface` of `netns` as its guest would send them. */
function inject(netns: string, iface: string, ...frames: Uint8Array[]): void {
  using socket = runInNetns(netns, () => PacketSocket.open({ interface: iface }));
  for (const frame of frames) assert.ok(socket.send(frame), "the frame was sent");
}

/** A DISCOVER from the guest whose IP datagram is `size` bytes (an unknown option fills it). */
function discoverOfSize(xid: number, size: number): Uint8Array {
  const clientMac = parseMac(GUEST_MAC);
  for (let fill = 1; fill < size; fill++) {
    const frame = createDhcpDiscover({
      clientMac,
      xid,
      options: { unknown: [{ code: 224, data: new Uint8Array(fill) }] },
    });
    if (frame.length - 14 === size) return frame;
  }
  throw new Error(`no DISCOVER of ${size} bytes`);
}

/** `./netkit vnet monitor -j` on `socket`, its lines collected until stopped. */
function monitor(socket: string): { stop(): Promise<Record<string, unknown>[]> } {
  const child = new Deno.Command("./netkit", {
    args: ["vnet", "monitor", "-j", "--socket", socket],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const output = child.output();
  return {
    async stop() {
      child.kill("SIGTERM");
      const out = new TextDecoder().decode((await output).stdout);
      return out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    },
  };
}

Deno.test({
  name:
    "vnet IPv4: udhcpc, dhclient, dhcpcd -T, ARP and ping to the gateway, crafted DHCP frames, clean capture",
  ignore: needs("root", "netns", "tun", "ping", "busybox", "dhclient", "dhcpcd", "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guest = lab.netns("g1");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet4-" });
    try {
      await using daemon = await VnetProcess.startIn(router, dir);
      const events = monitor(daemon.socket);
      daemon.vnet(
        ...["nic", "add", "vm1", "--mac", GUEST_MAC, "--ipv4", "192.0.2.5"],
        ...["--dns", "198.51.100.53", "--mtu", "1400"],
      );
      placeGuest(router, guest, "vm1");
      await using capture = await Capture.start(guest, "vm1");

      const lease = udhcpc(dir, guest, "vm1", ["-O", "staticroutes", "-O", "mtu"]);
      assert.equal(lease.get("ip"), "192.0.2.5");
      assert.equal(lease.get("subnet"), "255.255.255.255");
      assert.equal(lease.get("serverid"), "169.254.0.1");
      assert.equal(lease.get("dns")?.trim(), "198.51.100.53");
      assert.equal(lease.get("lease"), "86400");
      assert.equal(lease.get("mtu"), "1400");
      assert.equal(lease.get("staticroutes"), "169.254.0.1/32 0.0.0.0 0.0.0.0/0 169.254.0.1");
      // RFC 3442: a client that asked for option 121 and got it is sent no option 3.
      assert.equal(lease.get("router"), undefined);

      // The lease applied as its routes say; the kernel's ARP finds the gateway, ping answers.
      ip("-n", guest, "addr", "add", "192.0.2.5/32", "dev", "vm1");
      ip("-n", guest, "route", "add", "169.254.0.1/32", "dev", "vm1");
      ip("-n", guest, "route", "add", "default", "via", "169.254.0.1");
      assert.match(
        inNetns(guest, 10, "ping", "-c", "2", "-i", "0.2", "-W", "2", "169.254.0.1"),
        /2 received/,
      );
      const neighbours = ipJson<{ dst: string; lladdr?: string }[]>("-n", guest, "neigh", "show");
      assert.equal(neighbours.find((n) => n.dst === "169.254.0.1")?.lladdr, GATEWAY_MAC);

      // dhclient: bound (then in the background: stopped by its pid).
      const conf = `${dir}/dhclient.conf`;
      Deno.writeTextFileSync(
        conf,
        "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n" +
          "request subnet-mask, routers, domain-name-servers, interface-mtu, " +
          "rfc3442-classless-static-routes;\n",
      );
      const dhclient = recordScript(dir, "dhclient");
      const pidFile = `${dir}/dhclient.pid`;
      try {
        inNetns(
          guest,
          20,
          ...["dhclient", "-1", "-sf", dhclient.script, "-cf", conf],
          ...["-lf", `${dir}/dhclient.leases`, "-pf", pidFile, "vm1"],
        );
      } finally {
        try {
          Deno.kill(Number(Deno.readTextFileSync(pidFile).trim()), "SIGTERM");
        } catch {
          // Never started, or gone.
        }
      }
      const bound = recordedEnv(dhclient.record);
      assert.equal(bound.get("new_ip_address"), "192.0.2.5");
      assert.equal(bound.get("new_subnet_mask"), "255.255.255.255");
      assert.equal(bound.get("new_domain_name_servers"), "198.51.100.53");
      assert.equal(bound.get("new_interface_mtu"), "1400");
      assert.equal(
        bound.get("new_rfc3442_classless_static_routes"),
        "32 169 254 0 1 0 0 0 0 0 169 254 0 1",
      );

      // dhcpcd -T: a lease printed, nothing configured. Its stdout to a file: it may linger on
      // a pipe after printing.
      const dhcpcdOut = `${dir}/dhcpcd.out`;
      sh(
        "sh",
        "-c",
        `timeout 20 ip netns exec ${guest} dhcpcd -4 -T -t 15 vm1 > ${dhcpcdOut} 2>&1 || true`,
      );
      const dhcpcd = Deno.readTextFileSync(dhcpcdOut);
      assert.match(dhcpcd, /new_ip_address='192\.0\.2\.5'/, dhcpcd);
      assert.match(dhcpcd, /new_domain_name_servers='198\.51\.100\.53'/, dhcpcd);
      assert.match(dhcpcd, /new_dhcp_server_identifier='169\.254\.0\.1'/, dhcpcd);

      // Crafted frames, written where the guest writes.
      const clientMac = parseMac(GUEST_MAC);
      const before = daemon.show().nics[0]!;
      const foreignServer = createDhcpRequest({
        clientMac,
        xid: 0x5e1ec7,
        requestedIp: parseIpv4("192.0.2.5"),
        serverId: parseIpv4("192.0.2.99"),
      });
      const big = discoverOfSize(0x576, 576);
      assert.equal(big.length - 14, 576);
      const otherChaddr = createDhcpDiscover({ clientMac: parseMac("52:54:00:99:99:99"), xid: 7 });
      otherChaddr.set(clientMac, 6); // the guest's Ethernet source, another client's chaddr
      const otherMac = createDhcpDiscover({ clientMac: parseMac("52:54:00:99:99:98"), xid: 8 });
      inject(guest, "vm1", foreignServer, big, otherChaddr, otherMac);
      const grew = (key: string) =>
        (daemon.show().nics[0]!.responder_counts![key] ?? 0) -
        (before.responder_counts![key] ?? 0);
      await waitFor(() => grew("dhcp_foreign_chaddr"), (n) => n === 1, {
        timeoutMs: 3000,
        what: "the daemon to count the crafted frames",
      });
      const after = daemon.show().nics[0]!;
      assert.equal(grew("dhcp_other_server"), 1, JSON.stringify(after.responder_counts));
      assert.equal(grew("dhcp_offer"), 1, "the 576-byte DISCOVER got its OFFER");
      assert.equal(after.counters!.drops.source_mac - before.counters!.drops.source_mac, 1);

      const seen = await events.stop();
      assert.ok(
        seen.some((e) =>
          e.event === "lease" && e.nic === "vm1" && e.address === "192.0.2.5" &&
          e.family === "ipv4"
        ),
        JSON.stringify(seen),
      );
      assert.ok(
        seen.some((e) => e.event === "unknown" && e.reason === "dhcp_foreign_chaddr"),
        JSON.stringify(seen),
      );

      // The capture: the OFFER to the 576-byte DISCOVER, nothing to the foreign-server REQUEST.
      const dhcp = await capture.rows(["dhcp.id", "dhcp.option.dhcp", "eth.src"], "dhcp");
      const replies = (xid: number) =>
        dhcp.rows.filter(([id, , src]) => Number(id) === xid && src === GATEWAY_MAC);
      assert.deepEqual(replies(0x576).map(([, type]) => Number(type)), [DhcpMessageType.OFFER]);
      assert.deepEqual(replies(0x5e1ec7), []);
      const checked = await capture.rows(
        ["frame.number"],
        `eth.src == ${GATEWAY_MAC}`,
        ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
      );
      assert.ok(checked.rows.length >= 8, `${checked.rows.length} frames from the gateway`);
      assert.deepEqual(checked.expert.filter((e) => /checksum|malformed/i.test(e)), []);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "vnet lan: two guests on two NICs get their addresses by DHCP and ping each other (proxy ARP and NDP, routed)",
  ignore: needs("root", "netns", "tun", "ping", "busybox"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guests = [lab.netns("g1"), lab.netns("g2")];
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet4lan-" });
    try {
      await using daemon = await VnetProcess.startIn(router, dir);
      for (const [i, netns] of guests.entries()) {
        const name = `vm${i + 1}`;
        daemon.vnet(
          ...["nic", "add", name, "--mac", `52:54:00:00:01:0${i + 1}`, "--profile", "lan"],
          ...["--ipv4", `10.10.0.${5 + i}/24`, "--ipv6", `2001:db8:10::${5 + i}/64`],
        );
        placeGuest(router, netns, name, true);
        const lease = udhcpc(dir, netns, name);
        assert.equal(lease.get("ip"), `10.10.0.${5 + i}`);
        assert.equal(lease.get("subnet"), "255.255.255.0");
        assert.equal(lease.get("router")?.trim(), "10.10.0.1");
        ip("-n", netns, "addr", "add", `${lease.get("ip")}/24`, "dev", name);
        ip("-n", netns, "-6", "addr", "add", `2001:db8:10::${5 + i}/64`, "dev", name, "nodad");
      }
      // On-link to each other (the /24 and the /64): the kernel asks ARP and NS for the peer.
      const ping = (netns: string, ...args: string[]) =>
        inNetns(netns, 15, "ping", ...args, "-c", "2", "-i", "0.2", "-W", "3");
      assert.match(ping(guests[0]!, "10.10.0.6"), /ttl=63/);
      assert.match(ping(guests[1]!, "10.10.0.5"), /ttl=63/);
      assert.match(ping(guests[0]!, "-6", "2001:db8:10::6"), /ttl=63/);
      for (const [netns, peer] of [[guests[0]!, "10.10.0.6"], [guests[1]!, "10.10.0.5"]] as const) {
        const neighbours = ipJson<{ dst: string; lladdr?: string }[]>("-n", netns, "neigh");
        assert.equal(neighbours.find((n) => n.dst === peer)?.lladdr, GATEWAY_MAC);
      }
      const counts = daemon.show().nics.map((n) => n.responder_counts!.arp_proxy_reply ?? 0);
      assert.ok(counts.every((n) => n >= 1), JSON.stringify(counts));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
