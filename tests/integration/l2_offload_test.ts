/**
 * Segmentation offload through the L2 tunnel: frames the kernel merged (TSO from a veth host,
 * GRO on the gateway's LAN interface, TSO from the client's own stack into its TAP) are cut
 * back into room-sized segments, so TCP runs at the rate it has without merging, measured with
 * iperf3 in the same run (the bar: at least 0.8 of it).
 */

import assert from "node:assert/strict";
import { clientLanAddress, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
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

/** iperf3 for {@linkcode SECONDS} from `from` to a server in `to`; bits per second received. */
async function iperf(from: string, to: string, address: string, reverse = false): Promise<number> {
  const server = new Deno.Command("ip", {
    args: ["netns", "exec", to, "iperf3", "-s", "-1", "-B", address],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitUntil(
      () => sh("ip", "netns", "exec", to, "ss", "-Hltn", "sport", "= :5201"),
      (listening) => listening !== "",
      5000,
      "iperf3 to listen",
    );
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
  } finally {
    try {
      server.kill();
    } catch {
      // It has exited after its one test.
    }
    await server.status;
  }
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
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startClient(1);
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
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway(["--clamp-mss"]);
    await lab.startClient(1);
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
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway();
    await lab.startClient(1);
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
    const server = new Deno.Command("ip", {
      args: ["netns", "exec", c1, "iperf3", "-s", "-1", "-B", "10.42.0.2"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await new Deno.Command("ip", {
      args: ["netns", "exec", lab.h1, "timeout", "6", "iperf3", "-c", "10.42.0.2", "-t", "2"],
      stdout: "null",
      stderr: "null",
    }).output();
    server.kill();
    await server.status;
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
