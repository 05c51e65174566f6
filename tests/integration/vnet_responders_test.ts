import assert from "node:assert/strict";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { parseIpv4, parseMac } from "../../lib/packet/mod.ts";
import { createIpv4NicView, type Ipv4NicView } from "../../lib/vnet/responders/nic_view.ts";
import { tsharkFields } from "../../testing/tshark.ts";
import { VnetTapHarness } from "../../testing/vnet_tap_harness.ts";
import { needs } from "../skip.ts";
import { waitFor } from "../../lib/async.ts";
import { recordedEnv, recordScript } from "./_vnet.ts";

const GUEST_MAC = parseMac("52:54:00:12:34:01");
const LINKLOCAL = createIpv4NicView({
  guestMac: GUEST_MAC,
  guestIpv4: parseIpv4("192.0.2.5"),
  prefixLength: 24,
  dnsServers: [parseIpv4("198.51.100.53")],
  mtu: 1400,
  leaseTime: 3600,
});
const LAN = createIpv4NicView({
  guestMac: GUEST_MAC,
  guestIpv4: parseIpv4("192.0.2.5"),
  prefixLength: 24,
  profile: "lan",
  gatewayIpv4: parseIpv4("192.0.2.1"),
  dnsServers: [parseIpv4("198.51.100.53")],
});
const CLIENT_TIMEOUT_MS = 20_000;

/** A lab with the NIC's client side in namespace `client`, and a temporary directory. */
interface Rig {
  lab: NamespaceLab;
  client: string;
  harness: VnetTapHarness;
  dir: string;
}

async function withRig(view: Ipv4NicView, fn: (rig: Rig) => Promise<void>): Promise<void> {
  using lab = new NamespaceLab();
  const dir = await Deno.makeTempDir({ prefix: "netkit_vnet_" });
  try {
    const client = lab.netns("guest");
    await using harness = VnetTapHarness.open({
      view,
      serverNetns: lab.netns("vnet"),
      clientNetns: client,
      pcapPath: `${dir}/tap.pcap`,
    });
    // No IPv6 on the guest: its router solicitations and MLD reports are not this test's.
    run(
      "ip",
      "netns",
      "exec",
      client,
      "sysctl",
      "-qw",
      `net.ipv6.conf.${harness.name}.disable_ipv6=1`,
    );
    ip("-n", client, "link", "set", harness.name, "up");
    await fn({ lab, client, harness, dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a command without blocking the event loop, where the harness answers the guest. */
async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${text.decode(out.stderr)} ${text.decode(out.stdout)}`,
    );
  }
  return text.decode(out.stdout);
}

/**
 * Runs a DHCP client in the guest's namespace until its script has recorded a lease (then stops
 * it, if it stays, as dhclient -d does) and returns what the script saw.
 */
async function leaseFrom(rig: Rig, args: string[]): Promise<Map<string, string>> {
  const { script, record } = recordScript(rig.dir, "record");
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", rig.client, ...args.map((arg) => arg === "SCRIPT" ? script : arg)],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  }).spawn();
  let exited = false;
  const output = child.output().finally(() => exited = true);
  const recorded = () => {
    try {
      return Deno.statSync(record).isFile;
    } catch {
      return false;
    }
  };
  try {
    await waitFor(() => recorded() || exited, Boolean, {
      timeoutMs: CLIENT_TIMEOUT_MS,
      intervalMs: 50,
      what: `a lease from ${args[0]}`,
    });
  } finally {
    if (!exited) child.kill("SIGTERM");
  }
  const out = await output;
  const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.ok(recorded(), `${args[0]} got no lease (exit ${out.code}): ${log}`);
  return recordedEnv(record);
}

/** Pings the gateway from the guest and checks the kernel resolved it to the gateway MAC. */
async function pingGateway(rig: Rig, gateway: string): Promise<void> {
  await run("ip", "netns", "exec", rig.client, "ping", "-c", "2", "-i", "0.2", "-W", "2", gateway);
  const neighbours = ipJson<{ dst: string; lladdr?: string }[]>("-n", rig.client, "neigh", "show");
  assert.deepEqual(
    neighbours.find((n) => n.dst === gateway)?.lladdr,
    "02:00:00:00:00:01",
    JSON.stringify(neighbours),
  );
}

/** tshark's reading of the capture: no malformed frame, no bad checksum. */
function assertCleanCapture(path: string): void {
  const rows = tsharkFields(path, ["frame.number", "_ws.malformed", "_ws.expert.message"], {
    preferences: ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
  });
  assert.ok(rows.length >= 6, `only ${rows.length} frames captured`);
  for (const [frame, malformed, expert] of rows) {
    assert.equal(malformed ?? "", "", `frame ${frame} is malformed`);
    assert.doesNotMatch(expert ?? "", /checksum|malformed/i, `frame ${frame}`);
  }
}

Deno.test({
  name:
    "busybox udhcpc gets the linklocal lease and routes; the kernel's ARP and ping reach the gateway",
  ignore: needs("root", "netns", "tun", "busybox", "ping", "tshark"),
  async fn() {
    await withRig(LINKLOCAL, async (rig) => {
      const lease = await leaseFrom(rig, [
        "busybox",
        "udhcpc",
        "-i",
        rig.harness.name,
        "-f",
        "-q",
        "-n",
        "-t",
        "5",
        "-T",
        "1",
        "-s",
        "SCRIPT",
        "-O",
        "staticroutes",
        "-O",
        "mtu",
      ]);
      assert.equal(lease.get("ip"), "192.0.2.5");
      assert.equal(lease.get("subnet"), "255.255.255.255");
      assert.equal(lease.get("serverid"), "169.254.0.1");
      assert.equal(lease.get("dns")?.trim(), "198.51.100.53");
      assert.equal(lease.get("lease"), "3600");
      assert.equal(lease.get("mtu"), "1400");
      assert.equal(lease.get("staticroutes"), "169.254.0.1/32 0.0.0.0 0.0.0.0/0 169.254.0.1");
      // RFC 3442: a client that asked for option 121 and got it is sent no option 3.
      assert.equal(lease.get("router"), undefined);
      // The guest applies the lease as its static routes say: the gateway on-link, then default.
      ip("-n", rig.client, "addr", "add", "192.0.2.5/32", "dev", rig.harness.name);
      ip("-n", rig.client, "route", "add", "169.254.0.1/32", "dev", rig.harness.name);
      ip("-n", rig.client, "route", "add", "default", "via", "169.254.0.1");
      await pingGateway(rig, "169.254.0.1");
      const counts = rig.harness.counts;
      assert.ok(
        counts.get("dhcp_offer") >= 1 && counts.get("dhcp_ack") >= 1,
        JSON.stringify(counts),
      );
      assert.ok(counts.get("arp_reply") >= 1, JSON.stringify(counts));
      assert.ok(counts.get("icmpv4_echo_reply") >= 2, JSON.stringify(counts));
      assert.deepEqual(rig.harness.events.find((e) => e.kind === "lease")?.address, "192.0.2.5");
      await rig.harness[Symbol.asyncDispose]();
      assertCleanCapture(`${rig.dir}/tap.pcap`);
    });
  },
});

Deno.test({
  name: "busybox udhcpc gets the lan profile's mask, router and DNS, and pings the gateway",
  ignore: needs("root", "netns", "tun", "busybox", "ping"),
  async fn() {
    await withRig(LAN, async (rig) => {
      const lease = await leaseFrom(rig, [
        "busybox",
        "udhcpc",
        "-i",
        rig.harness.name,
        "-f",
        "-q",
        "-n",
        "-t",
        "5",
        "-T",
        "1",
        "-s",
        "SCRIPT",
      ]);
      assert.equal(lease.get("ip"), "192.0.2.5");
      assert.equal(lease.get("subnet"), "255.255.255.0");
      assert.equal(lease.get("router")?.trim(), "192.0.2.1");
      assert.equal(lease.get("dns")?.trim(), "198.51.100.53");
      assert.equal(lease.get("staticroutes"), undefined);
      ip("-n", rig.client, "addr", "add", "192.0.2.5/24", "dev", rig.harness.name);
      await pingGateway(rig, "192.0.2.1");
    });
  },
});

const DHCLIENT_CONF =
  `option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, routers, domain-name-servers, interface-mtu, rfc3442-classless-static-routes;
`;

Deno.test({
  name: "ISC dhclient gets the linklocal lease with its classless static routes",
  ignore: needs("root", "netns", "tun", "dhclient"),
  async fn() {
    await withRig(LINKLOCAL, async (rig) => {
      await Deno.writeTextFile(`${rig.dir}/dhclient.conf`, DHCLIENT_CONF);
      const lease = await leaseFrom(rig, [
        "dhclient",
        "-1",
        "-d",
        "-q",
        "-sf",
        "SCRIPT",
        "-cf",
        `${rig.dir}/dhclient.conf`,
        "-lf",
        `${rig.dir}/dhclient.leases`,
        "--no-pid",
        rig.harness.name,
      ]);
      assert.equal(lease.get("new_ip_address"), "192.0.2.5");
      assert.equal(lease.get("new_subnet_mask"), "255.255.255.255");
      assert.equal(lease.get("new_domain_name_servers"), "198.51.100.53");
      assert.equal(lease.get("new_interface_mtu"), "1400");
      assert.equal(lease.get("new_dhcp_lease_time"), "3600");
      assert.equal(
        lease.get("new_rfc3442_classless_static_routes"),
        "32 169 254 0 1 0 0 0 0 0 169 254 0 1",
      );
    });
  },
});
