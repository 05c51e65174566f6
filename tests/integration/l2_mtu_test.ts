/**
 * A client whose path to the relay carries less than the room's frames: its WAN link's MTU is
 * 1280 (a tunnel, PPPoE, an IPv6 minimum path), so QUIC's datagrams stay near 1200 bytes, under
 * the 1414 a full frame of the default room needs. It is admitted anyway, and its full-size
 * frames cross that hop in two fragments, both ways (docs/l2-protocol.md §3.1).
 */

import assert from "node:assert/strict";
import { clientLanAddress, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { ip } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

/** An IPv4 packet of the default room's TAP MTU (1392): 20 IP + 8 ICMP + 1364 bytes. */
const FULL_PING = ["-M", "do", "-s", "1364"];
const COPY_BYTES = 4 << 20;

/** Random bytes (getRandomValues fills at most 64 KiB a call). */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/**
 * Copies `data` over TCP with socat from namespace `fromNs` to a listener at `address` in
 * `toNs`, each side bounded by `timeout 60`; returns what the listener received.
 */
async function tcpCopy(
  dir: string,
  fromNs: string,
  toNs: string,
  address: string,
  data: Uint8Array,
): Promise<Uint8Array> {
  const sent = `${dir}/tcp-sent`;
  const received = `${dir}/tcp-received`;
  await Deno.writeFile(sent, data);
  await Deno.remove(received).catch(() => {});
  const socat = (ns: string, ...args: string[]) =>
    new Deno.Command("ip", {
      args: ["netns", "exec", ns, "timeout", "60", "socat", "-u", ...args],
      stdout: "null",
      stderr: "piped",
    });
  const listener = socat(toNs, "TCP-LISTEN:5001,reuseaddr", `CREATE:${received}`).spawn();
  try {
    // retry: the listener may not be listening yet.
    const sender = await socat(fromNs, `OPEN:${sent}`, `TCP:${address}:5001,retry=50,interval=0.1`)
      .output();
    assert.equal(sender.code, 0, new TextDecoder().decode(sender.stderr));
    const done = await listener.output();
    assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
    return await Deno.readFile(received);
  } finally {
    try {
      listener.kill();
    } catch {
      // Already exited.
    }
  }
}

Deno.test({
  name: "a client whose WAN MTU is 1280 joins the default room and full-size frames cross in two " +
    "fragments both ways: DF pings and a TCP copy",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping", "socat"),
  async fn() {
    await using lab = new L2Lab({ clients: 1 });
    await lab.startRelay();
    await lab.startGateway();
    const c1 = lab.clientNs[0]!;
    ip("-n", c1, "link", "set", "wan", "mtu", "1280");
    await lab.startClient(1);
    const room = (await lab.status()).rooms[0]!;
    assert.equal(room.tap_mtu, 1392, "the default room");
    const joined = room.peers.find((p) => p.credential === "client1")!;
    assert.equal(joined.fragments, true);
    assert.ok(
      joined.datagram_max !== null && joined.datagram_max < room.frame_max + 8,
      `the client's datagrams (${joined.datagram_max} bytes) cannot carry a whole frame`,
    );

    assert.ok(lab.ping(lab.h1, clientLanAddress(1), 3, FULL_PING), "h1 → client, 1392 bytes, DF");
    assert.ok(lab.ping(c1, L2.h1, 3, FULL_PING), "client → h1, 1392 bytes, DF");
    // TCP's segments fill the TAP's MTU (MSS 1352) in both directions.
    for (const [from, to, address] of [[c1, lab.h1, L2.h1], [lab.h1, c1, clientLanAddress(1)]]) {
      const data = randomBytes(COPY_BYTES);
      const received = await tcpCopy(lab.dir, from!, to!, address!, data);
      assert.equal(received.length, data.length, `${from} → ${to}: every byte`);
      assert.ok(received.every((b, i) => b === data[i]), `${from} → ${to}: the same bytes`);
    }

    const client = (await lab.status()).rooms[0]!.peers.find((p) => p.credential === "client1")!;
    const segments = COPY_BYTES / 1352;
    assert.ok(
      client.fragments_reassembled >= segments,
      `the client's frames joined at the relay: ${client.fragments_reassembled}`,
    );
    assert.ok(
      client.frames_fragmented >= segments,
      `frames split for the client: ${client.frames_fragmented}`,
    );
    assert.equal(client.state, "active");
    assert.equal((await lab.status()).peers_total, 2, "the client never had to reconnect");
  },
});
