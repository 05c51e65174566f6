/**
 * Segmentation offload through the L2 tunnel: frames the kernel merged (TSO from a veth host,
 * GRO on the gateway's LAN interface, TSO from the client's own stack into its TAP) are cut
 * back into room-sized segments, so TCP runs at the rate it has without merging, measured with
 * iperf3 in the same run (the bar: at least 0.8 of it).
 */

import assert from "node:assert/strict";
import { delay } from "../../lib/async.ts";
import { clientLanAddress, clientMac, L2 } from "../../lib/lab/l2_lab.ts";
import { nk } from "../../ffi/native.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { TapDevice, TunOffload } from "../../lib/net/tap.ts";
import { GsoType } from "../../lib/packet/gso.ts";
import { parseIpv4 } from "../../lib/packet/ipv4.ts";
import { internetChecksum } from "../../lib/packet/checksum.ts";
import { parseMac } from "../../lib/packet/mac.ts";
import { concat } from "../../testing/bytes.ts";
import { Capture, startedLab } from "./_l2.ts";
import { ip, sh } from "../../lib/lab/namespace_lab.ts";
import { needs, type Requirement } from "../skip.ts";
import { waitUntil } from "../../testing/wait_until.ts";

const LAB: Requirement[] = ["root", "netns", "veth", "bridge", "tun", "iperf3", "ethtool"];
const SECONDS = 2;
const ROUNDS = 2;

/** Sets offload `features` (`["gro", "on"]`, ...) of `iface` in namespace `ns`. */
function ethtool(ns: string, iface: string, ...features: string[]): void {
  sh("ip", "netns", "exec", ns, "ethtool", "-K", iface, ...features);
}

/** `iperf3 args...` in namespace `ns`, quiet, never longer than 10 s. */
function iperf3(ns: string, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns, "timeout", "10", "iperf3", ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** A one-test iperf3 server in `ns` (on `address`, or all), returned once it listens. */
async function iperfServer(ns: string, address?: string): Promise<AsyncDisposable> {
  const server = iperf3(ns, "-s", "-1", ...(address === undefined ? [] : ["-B", address]));
  const stop = async () => {
    try {
      server.kill();
    } catch {
      // It has exited after its one test.
    }
    await server.status;
  };
  try {
    await waitUntil(
      () => sh("ip", "netns", "exec", ns, "ss", "-Hltn", "sport", "= :5201"),
      (listening) => listening !== "",
      5000,
      "iperf3 to listen",
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { [Symbol.asyncDispose]: stop };
}

/** iperf3 for {@linkcode SECONDS} from `from` to a server in `to`; bits per second received. */
async function iperf(from: string, to: string, address: string, reverse = false): Promise<number> {
  await using _server = await iperfServer(to, address);
  const out = await new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      from,
      "iperf3",
      "-c",
      address,
      "-t",
      String(SECONDS),
      "-J",
      ...(reverse ? ["-R"] : []),
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(out.success, `iperf3 failed: ${report.error}`);
  assert.ok(report.end?.sum_received, `iperf3 said: ${JSON.stringify(report).slice(0, 600)}`);
  return report.end.sum_received.bits_per_second;
}

/** "N merged frames cut into M" from a peer's stop summary. */
function merged(output: string): { frames: number; segments: number; drops: string } {
  const m = output.match(/stopped: .* (\d+) merged frames cut into (\d+), .*drops (\{.*\})/);
  assert.ok(m, `no stop summary in: ${output}`);
  return { frames: Number(m[1]), segments: Number(m[2]), drops: m[3]! };
}

Deno.test({
  name:
    "merged frames from a TSO host and from GRO are cut for the room: TCP keeps ≥ 0.8 of its unmerged rate",
  ignore: needs(...LAB),
  async fn() {
    await using lab = await startedLab(null);
    const client = clientLanAddress(1);
    // Three ways a LAN host's TCP reaches the gateway: as wire-size segments (the baseline),
    // merged by the host's TSO (veths and the bridge keep them merged), or merged by GRO on the
    // gateway. A veth merges only what comes from a peer without TSO: the bridge's port `pgw`.
    const cases = {
      unmerged: { tso: "off", gro: "off" },
      tso: { tso: "on", gro: "off" },
      gro: { tso: "off", gro: "on" },
    } as const;
    const best: Record<string, number> = { unmerged: 0, tso: 0, gro: 0 };
    const seen: Record<string, ReturnType<typeof merged>[]> = { unmerged: [], tso: [], gro: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, c] of Object.entries(cases)) {
        ethtool(lab.h1, "eth0", "tso", c.tso, "gso", c.tso);
        ethtool(lab.lan, "pgw", "tso", c.tso);
        ethtool(lab.gw, "eth0", "gro", c.gro);
        await lab.startGateway(["--clamp-mss"]);
        const rate = await iperf(lab.h1, lab.clientNs[0]!, client);
        await lab.gateway!.stop();
        best[name] = Math.max(best[name]!, rate);
        seen[name]!.push(merged(lab.gateway!.output));
      }
    }
    const summary = JSON.stringify({ best, seen });
    const mbit = (name: string) => (best[name]! / 1e6).toFixed(0);
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `measured: LAN → client TCP ${mbit("unmerged")} Mbit/s unmerged, ${mbit("tso")} with ` +
          `TSO from the host, ${mbit("gro")} with GRO on the gateway (best of ${ROUNDS})\n`,
      ),
    );
    for (const name of ["tso", "gro"]) {
      for (const s of seen[name]!) {
        assert.ok(
          s.frames > 0 && s.segments > s.frames,
          `${name}: merged frames were cut ${summary}`,
        );
        assert.doesNotMatch(s.drops, /gso_|mtu_exceeded/, `${name}: none refused ${summary}`);
      }
      assert.ok(best[name]! >= 0.8 * best.unmerged!, `${name} keeps 0.8 of the rate ${summary}`);
    }
    for (const s of seen.unmerged!) {
      assert.equal(s.frames, 0, `the baseline is unmerged ${summary}`);
    }
  },
});

Deno.test({
  name: "the client's TAP takes TSO frames from its stack and cuts them: client → LAN TCP",
  ignore: needs(...LAB),
  async fn() {
    await using lab = await startedLab(["--clamp-mss"]);
    const features = sh("ip", "netns", "exec", lab.clientNs[0]!, "ethtool", "-k", L2.tap);
    assert.match(features, /tcp-segmentation-offload: on/, "the TAP offers TSO to its stack");
    const rate = await iperf(lab.h1, lab.clientNs[0]!, clientLanAddress(1), true);
    assert.ok(rate > 0);
    Deno.stderr.writeSync(
      new TextEncoder().encode(`measured: client → LAN TCP ${(rate / 1e6).toFixed(0)} Mbit/s\n`),
    );
    await lab.clients[0]!.stop();
    const s = merged(lab.clients[0]!.output);
    assert.ok(s.frames > 0 && s.segments > s.frames, `the stack's TSO frames were cut: ${rate}`);
    assert.doesNotMatch(s.drops, /gso_|mtu_exceeded|jumbo/);
  },
});

Deno.test({
  name: "merged VXLAN frames the gateway cannot cut are counted; its LAN socket and the room go on",
  ignore: needs(...LAB, "ping"),
  async fn() {
    await using lab = await startedLab();
    const c1 = lab.clientNs[0]!;
    for (
      const [ns, dev, local, remote] of [
        [lab.h1, "eth0", 1, clientLanAddress(1)],
        [c1, L2.tap, 2, L2.h1],
      ] as const
    ) {
      ip(
        "-n",
        ns,
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        "42",
        "remote",
        remote,
        "dstport",
        "4789",
        "dev",
        dev,
      );
      ip("-n", ns, "addr", "add", `10.42.0.${local}/24`, "dev", "vx0");
      ip("-n", ns, "link", "set", "vx0", "up");
    }
    // TCP through VXLAN from h1 to the client: TSO on vx0 makes tunnel-GSO frames that cross
    // the veths whole. They cannot pass; whether iperf3 gets anything through does not matter.
    {
      await using _server = await iperfServer(c1, "10.42.0.2");
      await iperf3(lab.h1, "-c", "10.42.0.2", "-t", "2").status;
    }
    assert.ok(lab.ping(c1, L2.h1, 2), "the room still reaches the LAN");
    await lab.gateway!.stop();
    const s = merged(lab.gateway!.output);
    assert.match(
      s.drops,
      /"gso_unsupported":[1-9]/,
      `tunnel frames were counted: ${JSON.stringify(s)} ${lab.gateway!.output}`,
    );
    assert.doesNotMatch(lab.log("gateway"), /Lost eth0/, "the LAN socket was never reopened");
  },
});

/** A 10-byte vnet header as QEMU writes one for a TSO frame of IPv4 TCP (host order). */
function tsoHeader(gsoSize: number): Uint8Array {
  const h = new Uint8Array(10);
  h[0] = 1; // NEEDS_CSUM
  h[1] = GsoType.TCPV4;
  h.set([54, 0, gsoSize & 0xff, gsoSize >> 8, 34, 0, 16, 0], 2); // hdr_len, size, csum at 34+16
  return h;
}

/** An 8000-byte TCP stream of one TSO frame from `src` to client 1, as a VM hands it over. */
function vmTsoFrame(src: Uint8Array): Uint8Array {
  const payload = 8000;
  const frame = new Uint8Array(54 + payload);
  frame.set(parseMac(clientMac(1)));
  frame.set(src, 6);
  // EtherType IPv4; version/IHL, length, ID 1, DF, TTL 64, TCP.
  const ipLength = 40 + payload;
  frame.set([0x08, 0x00, 0x45, 0, ipLength >> 8, ipLength & 0xff, 0, 1, 0x40, 0, 64, 6], 12);
  frame.set(parseIpv4("192.168.50.77"), 26);
  frame.set(parseIpv4(clientLanAddress(1)), 30);
  const ipChecksum = internetChecksum(frame, 14, 34); // a guest offloads only TCP's
  frame.set([ipChecksum >> 8, ipChecksum & 0xff], 24);
  // Ports 40000 → 9, sequence 1000, ACK|PSH, window; the checksum is the VM's to leave open.
  frame.set([0x9c, 0x40, 0, 9, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff], 34);
  for (let i = 0; i < payload; i++) frame[54 + i] = i & 0xff;
  return frame;
}

Deno.test({
  name:
    "a VM's TSO frame (a TAP with a vnet header on the LAN) reaches the client as segments tshark finds correct",
  ignore: needs(...LAB, "tshark"),
  async fn() {
    await using lab = await startedLab();
    // The "VM": a TAP on the LAN bridge whose other end (this process) writes what a guest's
    // virtio NIC would: one 8000-byte TCP frame with gso_size 1000 and the checksum left open.
    using vm = runInNetns(
      lab.lan,
      () => TapDevice.open({ name: "vm0", offloads: TunOffload.CSUM | TunOffload.TSO4 }),
    );
    ip("-n", lab.lan, "link", "set", "vm0", "master", "br0");
    await using capture = await Capture.start(lab.clientNs[0]!, L2.tap, "tcp port 9");
    const frame = concat(tsoHeader(1000), vmTsoFrame(parseMac("02:00:00:00:0a:01")));
    assert.equal(nk.nk_write(vm.fd, frame, frame.length), frame.length);
    const { rows, expert } = await capture.rows(
      [
        "tcp.seq_raw",
        "tcp.len",
        "tcp.flags.push",
        "ip.id",
        "tcp.checksum.status",
        "ip.checksum.status",
      ],
      "tcp.srcport == 40000",
      ["tcp.check_checksum:TRUE", "ip.check_checksum:TRUE"],
    );
    // gso_size 1000 fits the room (1406-byte frames): eight segments of 1000 bytes, IDs counting
    // up from the frame's, PSH only on the last; every checksum good (tshark's status 1).
    assert.deepEqual(
      rows,
      Array.from({ length: 8 }, (_, i) => [
        String(1000 + i * 1000),
        "1000",
        i === 7 ? "1" : "0",
        `0x${(1 + i).toString(16).padStart(4, "0")}`,
        "1",
        "1",
      ]),
      JSON.stringify(rows),
    );
    assert.deepEqual(expert.filter((e) => /checksum|malformed/i.test(e)), []);
  },
});

Deno.test({
  name: "gateway and client exit within 1 s of SIGTERM while TCP fills the tunnel both ways",
  ignore: needs(...LAB),
  async fn() {
    await using lab = await startedLab();
    const c1 = lab.clientNs[0]!;
    await using _toClient = await iperfServer(c1);
    await using _toLan = await iperfServer(lab.h1);
    const clients = [
      iperf3(lab.h1, "-c", clientLanAddress(1), "-t", "5", "-P", "4"),
      iperf3(c1, "-c", L2.h1, "-t", "5", "-P", "4"),
    ];
    try {
      await delay(1500); // both queues full by now
      for (
        const [what, process] of [["client", lab.clients[0]!], ["gateway", lab.gateway!]] as const
      ) {
        const started = performance.now();
        const status = await process.stop(3000);
        const took = performance.now() - started;
        assert.equal(status.code, 0, `${what}: ${process.output}`);
        assert.ok(took <= 1000, `${what} took ${Math.round(took)} ms to exit`);
      }
      lab.clients[0] = null;
      lab.gateway = null;
    } finally {
      for (const c of clients) {
        try {
          c.kill();
        } catch {
          // Done already.
        }
        await c.status;
      }
    }
  },
});
