import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import { type AddressEvent, AddressMonitor } from "../../lib/net/address_monitor.ts";
import { type Address, AddressFlag } from "../../lib/net/netlink_messages.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { formatIpv4 } from "../../lib/packet/ipv4.ts";
import { formatIpv6 } from "../../lib/packet/ipv6.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

/** One entry of `ip -j addr`'s `addr_info`, the fields compared. */
interface IpAddrInfo {
  family: "inet" | "inet6";
  local: string;
  address?: string | undefined;
  prefixlen: number;
  scope: string;
  label?: string | undefined;
  secondary?: boolean;
  tentative?: boolean;
  dadfailed?: boolean;
  nodad?: boolean;
}

const SCOPES: Record<number, string> = { 0: "global", 200: "site", 253: "link", 254: "host" };

/** One address as a line both sides can produce: what `ip addr` shows of it. */
function line(
  ifindex: number,
  a: Omit<IpAddrInfo, "family"> & { family: number },
): string {
  const flags = ["secondary", "tentative", "dadfailed", "nodad"] as const;
  return [
    ifindex,
    a.family,
    `${a.local}${a.address === undefined ? "" : ` peer ${a.address}`}/${a.prefixlen}`,
    a.scope,
    a.label ?? "-",
    ...flags.filter((flag) => a[flag]),
  ].join(" ");
}

function fromMonitor(a: Address): string {
  const text = a.family === 4 ? formatIpv4 : formatIpv6;
  return line(a.ifindex, {
    family: a.family,
    local: text(a.address),
    address: a.peer === null ? undefined : text(a.peer),
    prefixlen: a.prefixLength,
    scope: SCOPES[a.scope] ?? String(a.scope),
    label: a.label ?? undefined,
    // IFA_F_SECONDARY is also IFA_F_TEMPORARY, which ip shows as "temporary" for IPv6.
    secondary: a.family === 4 && (a.flags & AddressFlag.SECONDARY) !== 0,
    tentative: (a.flags & AddressFlag.TENTATIVE) !== 0,
    dadfailed: (a.flags & AddressFlag.DADFAILED) !== 0,
    nodad: (a.flags & AddressFlag.NODAD) !== 0,
  });
}

function fromIp(ns: string): string[] {
  return ipJson<{ ifindex: number; addr_info: IpAddrInfo[] }[]>("-n", ns, "addr", "show")
    .flatMap((link) =>
      link.addr_info.map((a) => line(link.ifindex, { ...a, family: a.family === "inet" ? 4 : 6 }))
    ).sort();
}

/**
 * Polls the monitor until its table equals `ip -j addr` (IPv6 DAD can take a second or two:
 * the kernel announces a link-local address only once DAD is done, while a dump shows it
 * tentative). Returns the events polled meanwhile.
 */
async function settle(monitor: AddressMonitor, ns: string, what: string): Promise<AddressEvent[]> {
  const events: AddressEvent[] = [];
  await waitFor(
    () => {
      events.push(...monitor.poll());
      // Only the differences, so that a timeout message shows what is wrong.
      const mine = monitor.addresses().map(fromMonitor);
      const kernel = fromIp(ns);
      return {
        onlyMonitor: mine.filter((x) => !kernel.includes(x)),
        onlyIp: kernel.filter((x) => !mine.includes(x)),
        resyncs: monitor.resyncs,
        sizes: [mine.length, kernel.length],
      };
    },
    (diff) =>
      diff.onlyMonitor.length === 0 && diff.onlyIp.length === 0 && diff.sizes[0] === diff.sizes[1],
    { timeoutMs: 8000, intervalMs: 20, what: `the monitor's table to equal ip -j addr ${what}` },
  );
  return events;
}

function describe(event: AddressEvent): string {
  return event.type === "resync"
    ? "resync"
    : `${event.type} ${
      (event.address.family === 4 ? formatIpv4 : formatIpv6)(event.address.address)
    }`;
}

/** A fresh namespace of `lab` holding a veth pair v1/v2 (down: no link-local addresses). */
function vethNamespace(lab: NamespaceLab, short: string): string {
  const ns = lab.netns(short);
  ip("-n", ns, "link", "add", "v1", "type", "veth", "peer", "name", "v2");
  return ns;
}

/** `ip -batch` lines adding `count` IPv4 /32s on v1 and as many IPv6 /128s on v2. */
function additions(count: number): string[] {
  return Array.from({ length: count }, (_, i) => [
    `addr add 10.1.${i >> 8}.${i & 255}/32 dev v1`,
    `addr add 2001:db8:1::${i.toString(16)}/128 dev v2 nodad`,
  ]).flat();
}

/** The arguments of `ip -n ns -batch FILE` over `commands`; FILE is the last one. */
function batch(ns: string, commands: string[]): string[] {
  const file = Deno.makeTempFileSync({ suffix: ".ip" });
  Deno.writeTextFileSync(file, commands.join("\n") + "\n");
  return ["-n", ns, "-batch", file];
}

Deno.test({
  name: "AddressMonitor follows scripted ip addr add/del, secondaries, peers and link deletion",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("addr");
    await using monitor = runInNetns(ns, () => AddressMonitor.open());
    assert.deepEqual(monitor.addresses().map(fromMonitor).sort(), fromIp(ns));
    assert.equal(monitor.addresses().length, 2, "lo: 127.0.0.1/8 and ::1/128");

    const step = async (cmd: string, expected: string[] = []) => {
      ip("-n", ns, ...cmd.split(" "));
      const events = (await settle(monitor, ns, `after "ip ${cmd}"`)).map(describe);
      for (const want of expected) {
        assert.ok(events.includes(want), `after "ip ${cmd}": no "${want}" in ${events}`);
      }
      return events;
    };
    await step("link add x1 type veth peer name x2");
    await step("link set x1 up");
    await step("link set x2 up");
    await step("addr add 192.0.2.1/24 dev x1", ["added 192.0.2.1"]);
    await step("addr add 192.0.2.2/24 dev x1 label x1:a", ["added 192.0.2.2"]);
    await step("addr add 10.9.0.1 peer 10.9.0.2 dev x1", ["added 10.9.0.1"]);
    await step("addr add 10.9.0.1/16 dev x2", ["added 10.9.0.1"]);
    await step("-6 addr add 2001:db8::1/64 dev x1 nodad", ["added 2001:db8::1"]);
    await step("-6 addr add 2001:db8::5 peer 2001:db8::6 dev x2 nodad", ["added 2001:db8::5"]);
    assert.deepEqual(await step("addr del 192.0.2.2/24 dev x1"), ["removed 192.0.2.2"]);
    assert.deepEqual(await step("-6 addr del 2001:db8::1/64 dev x1"), ["removed 2001:db8::1"]);
    // Deleting a primary takes its secondaries with it (promote_secondaries is off).
    await step("addr add 192.0.2.3/24 dev x1");
    const primary = await step("addr del 192.0.2.1/24 dev x1");
    assert.deepEqual(primary.sort(), ["removed 192.0.2.1", "removed 192.0.2.3"]);
    // The kernel withdraws every address of a deleted link (and of its veth peer).
    const deleted = await step("link del x1", ["removed 10.9.0.1", "removed 2001:db8::5"]);
    assert.ok(deleted.every((e) => e.startsWith("removed ")), String(deleted));
    assert.deepEqual(monitor.addresses().map((a) => a.ifindex), [1, 1]);
    assert.equal(monitor.resyncs, 0);
  },
});

Deno.test({
  name: "AddressMonitor opened while addresses are being added ends with ip -j addr's table",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = vethNamespace(lab, "race");
    const churn = additions(200);
    // Rounds of additions and withdrawals keep the table changing while the monitors open.
    const commands = Array.from({ length: 6 }, () => [
      ...churn,
      ...churn.map((command) => command.replace(" add ", " del ").replace(" nodad", "")),
    ]).flat().concat(churn);
    const args = batch(ns, commands);
    // The first open loads the native library: done before the race, not during it.
    await runInNetns(ns, () => AddressMonitor.open()).close();
    const child = new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).spawn();
    const monitors: AddressMonitor[] = [];
    try {
      // Monitors opened one after another while the batch runs: some open mid-way.
      let exited = false;
      const status = child.output().finally(() => exited = true);
      while (!exited && monitors.length < 20) {
        monitors.push(runInNetns(ns, () => AddressMonitor.open()));
        await delay(2);
      }
      const { success, stderr } = await status;
      assert.ok(success, new TextDecoder().decode(stderr));
      const initial = monitors.map((m) => m.addresses().length);
      assert.ok(initial.some((n) => n !== 402), `no monitor opened mid-batch: ${initial}`);
      for (const monitor of monitors) {
        await settle(monitor, ns, `after the racing batch (initial sizes ${initial})`);
        assert.equal(monitor.addresses().length, 2 + 400);
      }
    } finally {
      for (const monitor of monitors) await monitor.close();
      Deno.removeSync(args.at(-1)!);
    }
  },
});

Deno.test({
  name: "AddressMonitor re-reads the table after the kernel drops notifications (ENOBUFS)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = vethNamespace(lab, "ovr");
    // The smallest receive buffer the kernel allows: a burst of changes must overrun it.
    await using monitor = runInNetns(ns, () => AddressMonitor.open({ rcvbuf: 1 }));
    const commands = additions(250);
    commands.push("addr del 10.1.0.7/32 dev v1", "addr del 2001:db8:1::7/128 dev v2");
    const args = batch(ns, commands);
    try {
      ip(...args);
    } finally {
      Deno.removeSync(args.at(-1)!);
    }
    const events = monitor.poll();
    assert.ok(monitor.resyncs >= 1, "expected an overrun and a resync");
    assert.ok(events.some((e) => e.type === "resync"));
    await settle(monitor, ns, "after the burst");
    assert.equal(monitor.addresses().length, 2 + 498);
  },
});
