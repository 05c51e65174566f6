/**
 * The two NIC devices besides a TAP netkit creates: `--attach IFACE` (an Ethernet interface,
 * here one end of a veth pair, served through AF_PACKET) and an existing persistent TAP opened
 * by name. For each, a guest namespace gets its lease from busybox `udhcpc` and pings the
 * gateway; `nic del` leaves the interface netkit did not create where it was. And the
 * foreground mode, `netkit vnet --tap NAME ...`: one NIC, no daemon, the same lease (its optional
 * --socket only tells the test when it serves). And the router's ICMP errors, as a guest's ping
 * reports them: net unreachable (IPv4 and IPv6) without an uplink, TTL exceeded for a packet that
 * would leave with TTL 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { request, subscribe } from "../../lib/ipc/mod.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";
import { inNetns, recordedEnv, VnetProcess } from "./_vnet.ts";

/** busybox udhcpc on `iface` in `netns` until bound: the environment its script saw. */
function lease(dir: string, netns: string, iface: string): Map<string, string> {
  const record = `${dir}/${iface}.env`;
  const script = `${dir}/${iface}.sh`;
  Deno.writeTextFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > '${record}'\nexit 0\n`);
  Deno.chmodSync(script, 0o755);
  inNetns(
    netns,
    20,
    ...["busybox", "udhcpc", "-i", iface, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", script],
  );
  return recordedEnv(record);
}

/** Applies a linklocal lease of `address` on `iface` and pings the gateway twice. */
function pingGateway(netns: string, iface: string, address: string): string {
  ip("-n", netns, "addr", "add", `${address}/32`, "dev", iface);
  ip("-n", netns, "route", "add", "169.254.0.1/32", "dev", iface);
  return inNetns(netns, 10, "ping", "-c", "2", "-i", "0.2", "-W", "2", "169.254.0.1");
}

/** Whether `name` exists in `netns`. */
function exists(netns: string, name: string): boolean {
  return new Deno.Command("ip", { args: ["-n", netns, "link", "show", name], stderr: "null" })
    .outputSync().success;
}

Deno.test({
  name:
    "vnet --attach serves a veth end through AF_PACKET: lease, ping, and nic del keeps the veth",
  ignore: needs("root", "netns", "veth", "ping", "busybox"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guest = lab.netns("g");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-dev-" });
    try {
      lab.veth({ netns: router, name: "va" }, { netns: guest, name: "vb" });
      inNetns(guest, 5, "sysctl", "-qw", "net.ipv6.conf.vb.disable_ipv6=1");
      const mac = inNetns(guest, 5, "cat", "/sys/class/net/vb/address").trim();
      await using daemon = await VnetProcess.startIn(router, dir);
      daemon.vnet("nic", "add", "vm1", "--mac", mac, "--ipv4", "192.0.2.7", "--attach", "va");
      const bound = lease(dir, guest, "vb");
      assert.equal(bound.get("ip"), "192.0.2.7");
      assert.equal(bound.get("serverid"), "169.254.0.1");
      assert.match(pingGateway(guest, "vb", "192.0.2.7"), /2 received/);
      daemon.vnet("nic", "del", "vm1");
      assert.ok(exists(router, "va"), "the attached veth end is not netkit's to remove");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "vnet opens an existing persistent TAP by name: lease, ping, and nic del keeps the TAP",
  ignore: needs("root", "netns", "tun", "ping", "busybox"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guest = lab.netns("g");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-dev-" });
    try {
      ip("-n", router, "tuntap", "add", "dev", "vmp", "mode", "tap");
      await using daemon = await VnetProcess.startIn(router, dir);
      const mac = "52:54:00:00:00:09";
      daemon.vnet("nic", "add", "vm1", "--mac", mac, "--ipv4", "192.0.2.9", "--tap", "vmp");
      ip("-n", router, "link", "set", "vmp", "netns", guest);
      ip("-n", guest, "link", "set", "vmp", "address", mac);
      inNetns(guest, 5, "sysctl", "-qw", "net.ipv6.conf.vmp.disable_ipv6=1");
      ip("-n", guest, "link", "set", "vmp", "up");
      const bound = lease(dir, guest, "vmp");
      assert.equal(bound.get("ip"), "192.0.2.9");
      assert.match(pingGateway(guest, "vmp", "192.0.2.9"), /2 received/);
      // SUBSCRIBE is acknowledged first, then every event after it arrives (as with mroute).
      const stop = new AbortController();
      const events = subscribe(daemon.socket, { action: "SUBSCRIBE" }, { signal: stop.signal });
      assert.deepEqual((await events.next()).value, {
        status: "success",
        message: "Subscribed to vnet events.",
      });
      daemon.vnet("nic", "del", "vm1");
      assert.deepEqual((await events.next()).value, { event: "nic_removed", nic: "vm1" });
      stop.abort();
      await events.return(undefined);
      assert.ok(exists(guest, "vmp"), "a persistent TAP outlives the NIC that opened it");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "netkit vnet --tap (foreground, one NIC, no daemon) serves a lease and a ping; SIGTERM ends it",
  ignore: needs("root", "netns", "tun", "ping", "busybox"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const guest = lab.netns("g");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-dev-" });
    const mac = "52:54:00:00:00:0b";
    // Its --socket says when it serves: the TAP must not move while netkit still sets it up.
    const socket = `${dir}/vnet.sock`;
    const vnet = ChildDaemon.spawn("netkit vnet (foreground)", "./netkit", [
      ...["-n", router, "vnet", "--tap", "vmf", "--mac", mac, "--ipv4", "192.0.2.11"],
      ...["--socket", socket],
    ]);
    try {
      await vnet.waitUntil(async () => {
        await request(socket, { action: "SHOW" }, { timeoutMs: 1000 });
        return true;
      }, { timeoutMs: 10_000 });
      ip("-n", router, "link", "set", "vmf", "netns", guest);
      inNetns(guest, 5, "sysctl", "-qw", "net.ipv6.conf.vmf.disable_ipv6=1");
      ip("-n", guest, "link", "set", "vmf", "up");
      const bound = lease(dir, guest, "vmf");
      assert.equal(bound.get("ip"), "192.0.2.11");
      assert.match(pingGateway(guest, "vmf", "192.0.2.11"), /2 received/);
      const started = performance.now();
      const status = await vnet.stop();
      assert.equal(status.code, 0, vnet.output);
      assert.ok(performance.now() - started < 1000, "SIGTERM stops it within 1 s");
    } finally {
      await vnet.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** `ping ARGS` in `netns`, which fails when no reply comes: what it printed either way. */
function pingOutput(netns: string, ...args: string[]): string {
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", netns, "timeout", "10", "ping", ...args],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder();
  return text.decode(out.stdout) + text.decode(out.stderr);
}

Deno.test({
  name: "vnet sends a router's ICMP errors: net unreachable (v4, v6) with no uplink, TTL exceeded",
  ignore: needs("root", "netns", "tun", "ping"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const g1 = lab.netns("g1");
    const g2 = lab.netns("g2");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-dev-" });
    try {
      await using daemon = await VnetProcess.startIn(router, dir);
      const guests = [[g1, "vm1", "52:54:00:00:00:21", "5"], [g2, "vm2", "52:54:00:00:00:22", "6"]];
      for (const [netns, name, mac, host] of guests) {
        daemon.vnet(
          ...["nic", "add", name!, "--mac", mac!],
          ...["--ipv4", `192.0.2.${host}`, "--ipv6", `2001:db8::${host}`],
        );
        ip("-n", router, "link", "set", name!, "netns", netns!);
        inNetns(netns!, 5, "sysctl", "-qw", `net.ipv6.conf.${name}.accept_dad=0`);
        ip("-n", netns!, "link", "set", name!, "up");
        ip("-n", netns!, "addr", "add", `192.0.2.${host}/32`, "dev", name!);
        ip("-n", netns!, "route", "add", "169.254.0.1/32", "dev", name!);
        ip("-n", netns!, "route", "add", "default", "via", "169.254.0.1");
        ip("-n", netns!, "-6", "addr", "add", `2001:db8::${host}/128`, "dev", name!, "nodad");
        // replace: the daemon's RA may have put the same default route in first.
        ip("-n", netns!, "-6", "route", "replace", "default", "via", "fe80::1", "dev", name!);
      }
      assert.match(pingOutput(g1, "-c", "1", "-W", "2", "192.0.2.6"), /1 received/);
      assert.match(
        pingOutput(g1, "-c", "1", "-W", "2", "203.0.113.9"),
        /From 169\.254\.0\.1 .*Destination Net Unreachable/,
      );
      assert.match(
        pingOutput(g1, "-6", "-c", "1", "-W", "2", "2001:db8:ff::9"),
        /From fe80::1.*Destination unreachable: No route/,
      );
      assert.match(
        pingOutput(g1, "-c", "1", "-W", "2", "-t", "1", "192.0.2.6"),
        /From 169\.254\.0\.1 .*Time to live exceeded/,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** CPU time (user + system, in clock ticks of 10 ms) process `pid` has used so far. */
function cpuTicks(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

Deno.test({
  name: "vnet: an uplink deleted under the daemon is closed once, logged once, and spins nothing",
  ignore: needs("root", "netns", "tun"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-vnet-dev-" });
    try {
      await using daemon = await VnetProcess.startIn(router, dir, ["--uplink", "nkup9"]);
      assert.equal(daemon.show().uplink?.name, "nkup9");
      ip("-n", router, "link", "del", "nkup9");
      await new Promise((r) => setTimeout(r, 300));
      const before = cpuTicks(daemon.daemon.pid);
      await new Promise((r) => setTimeout(r, 1000));
      const used = cpuTicks(daemon.daemon.pid) - before;
      assert.ok(used < 30, `the daemon used ${used} ticks of CPU in 1 s after its uplink went`);
      assert.equal(daemon.show().uplink, null, "the failed uplink is no longer shown");
      const warnings = Deno.readTextFileSync(`${dir}/vnet.log`).split("\n")
        .filter((line) => line.includes("Uplink nkup9"));
      assert.equal(warnings.length, 1, warnings.join("\n"));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
