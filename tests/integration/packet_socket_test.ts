import assert from "node:assert/strict";
import { NetkitOsError } from "../../lib/errors.ts";
import { BufferArena } from "../../lib/net/buffer_arena.ts";
import { FrameBatch } from "../../lib/net/frame_batch.ts";
import { getInterface, InterfaceFlag } from "../../lib/net/interfaces.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { PacketSocket, PacketType } from "../../lib/net/packet_socket.ts";
import { Poller } from "../../lib/net/poller.ts";
import { BROADCAST_MAC, encodeEthernet, formatMac, parseMac } from "../../lib/packet/mod.ts";
import { ip, ipJson, NamespaceLab, type VethEnd } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

const TEST_TYPE = 0x88b5; // IEEE local experimental EtherType
const LACP_MAC = parseMac("01:80:c2:00:00:02");

/** Two namespaces joined by a veth pair: a.v0 <-> b.v1. */
function pair(lab: NamespaceLab): [VethEnd, VethEnd] {
  const a = lab.netns("a");
  const b = lab.netns("b");
  return lab.veth({ netns: a, name: "v0" }, { netns: b, name: "v1" });
}

function openOn(end: VethEnd, etherType?: number): PacketSocket {
  return runInNetns(
    end.netns,
    () =>
      PacketSocket.open(
        etherType === undefined ? { interface: end.name } : { interface: end.name, etherType },
      ),
  );
}

function testFrame(dst: Uint8Array, src: Uint8Array, marker: number): Uint8Array {
  const payload = new Uint8Array(46);
  new DataView(payload.buffer).setUint32(0, marker);
  return encodeEthernet({ dst, src, etherType: TEST_TYPE, payload });
}

/** Waits up to `ms` for a frame on `socket` matching `accept`. */
async function receiveMatching(
  socket: PacketSocket,
  accept: (frame: Uint8Array) => boolean,
  ms = 2000,
) {
  await using poller = new Poller();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (let got = socket.receive(); got !== null; got = socket.receive()) {
      if (accept(got.frame)) return got;
    }
    await poller.wait([socket.fd], deadline - Date.now());
  }
  return null;
}

const hasMarker = (marker: number) => (frame: Uint8Array) =>
  frame.length >= 18 && new DataView(frame.buffer, frame.byteOffset).getUint32(14) === marker;

Deno.test({
  name: "PacketSocket delivers a frame from namespace A to B with its sockaddr_ll metadata",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using tx = openOn(a);
    using rx = openOn(b, TEST_TYPE);
    const frame = testFrame(b.mac, a.mac, 0xc0ffee);
    assert.equal(tx.send(frame), true);
    const got = await receiveMatching(rx, hasMarker(0xc0ffee));
    assert.ok(got, "frame did not arrive");
    assert.deepEqual(got.frame, frame);
    assert.equal(got.ifindex, b.ifindex);
    assert.equal(got.pktType, PacketType.HOST);
    assert.equal(got.protocol, TEST_TYPE);
    assert.equal(formatMac(got.source), formatMac(a.mac));
    assert.equal(got.vlanTci, -1);

    const broadcast = testFrame(BROADCAST_MAC, a.mac, 0xb0b0);
    tx.send(broadcast);
    const bcast = await receiveMatching(rx, hasMarker(0xb0b0));
    assert.equal(bcast?.pktType, PacketType.BROADCAST);
  },
});

Deno.test({
  name: "PacketSocket sees transmissions of other sockets on the host as PACKET_OUTGOING",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using tx = openOn(a);
    using watcher = openOn(a);
    tx.send(testFrame(b.mac, a.mac, 0x0a0a));
    const seen = await receiveMatching(watcher, hasMarker(0x0a0a));
    assert.equal(seen?.pktType, PacketType.OUTGOING);
    assert.equal(seen?.ifindex, a.ifindex);
    // The sending socket itself is not handed its own frame back.
    assert.equal(await receiveMatching(tx, hasMarker(0x0a0a), 200), null);
  },
});

Deno.test({
  name: "PacketSocket restores the 802.1Q tag the kernel strips on receive",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using tx = openOn(a);
    using rx = openOn(b);
    const payload = new Uint8Array(46);
    new DataView(payload.buffer).setUint32(0, 0x7a6);
    const tagged = encodeEthernet({
      dst: b.mac,
      src: a.mac,
      etherType: TEST_TYPE,
      vlanTags: [{ tpid: 0x8100, pcp: 5, dei: false, vid: 100 }],
      payload,
    });
    tx.send(tagged);
    const got = await receiveMatching(
      rx,
      (f) => f.length >= 22 && new DataView(f.buffer, f.byteOffset).getUint32(18) === 0x7a6,
    );
    assert.ok(got, "tagged frame did not arrive");
    assert.deepEqual(got.frame, tagged);
    assert.equal(got.vlanTci, (5 << 13) | 100);
    assert.equal(got.protocol, TEST_TYPE);
  },
});

Deno.test({
  name: "PacketSocket memberships show in the kernel and leave interface flags untouched",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    const promiscuity = () =>
      ipJson<{ promiscuity: number }[]>("-d", "-n", b.netns, "link", "show", b.name)[0]!
        .promiscuity;
    const flagsBefore = runInNetns(b.netns, () => getInterface(b.name).flags);
    {
      using rx = openOn(b);
      rx.addPromisc();
      rx.addMulticast(LACP_MAC);
      assert.equal(promiscuity(), 1);
      assert.match(ip("-n", b.netns, "maddr", "show", "dev", b.name), /01:80:c2:00:00:02/);
      const flags = runInNetns(b.netns, () => getInterface(b.name).flags);
      assert.equal(flags & InterfaceFlag.PROMISC, 0, "IFF_PROMISC must not be set");
      using tx = openOn(a);
      const foreign = parseMac("02:aa:bb:cc:dd:ee");
      tx.send(testFrame(foreign, a.mac, 0xf0f0));
      const got = await receiveMatching(rx, hasMarker(0xf0f0));
      assert.equal(got?.pktType, PacketType.OTHERHOST);
    }
    // Closing the socket ends both memberships: nothing about the interface changed.
    assert.equal(promiscuity(), 0);
    assert.doesNotMatch(ip("-n", b.netns, "maddr", "show", "dev", b.name), /01:80:c2:00:00:02/);
    assert.equal(runInNetns(b.netns, () => getInterface(b.name).flags), flagsBefore);
  },
});

Deno.test({
  name: "PacketSocket batched path carries 20000 paced frames complete and in order",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using arena = BufferArena.map(4 << 20);
    const txBatch = new FrameBatch({ slots: 64, slotSize: 256, arena });
    const rxBatch = new FrameBatch({ slots: 64, slotSize: 256, arena });
    using tx = openOn(a, TEST_TYPE);
    using rx = runInNetns(
      b.netns,
      () => PacketSocket.open({ interface: b.name, etherType: TEST_TYPE, rcvbuf: 8 << 20 }),
    );
    await using poller = new Poller();
    const total = 20000;
    const template = testFrame(b.mac, a.mac, 0);
    const received: number[] = [];
    let sent = 0;
    const started = performance.now();
    const framesPerMs = 40; // pace: 40,000 frames/s
    const deadline = Date.now() + 15000;
    while (received.length < total && Date.now() < deadline) {
      const due = Math.min(total, Math.floor((performance.now() - started) * framesPerMs) + 64);
      if (sent < due) {
        const n = Math.min(64, due - sent);
        for (let i = 0; i < n; i++) {
          txBatch.setFrame(i, template);
          new DataView(txBatch.data.buffer, txBatch.data.byteOffset).setUint32(
            i * 256 + 14,
            sent + i,
          );
        }
        sent += tx.sendBatch(txBatch, n);
      }
      const got = rx.receiveBatch(rxBatch);
      for (let i = 0; i < got; i++) {
        const frame = rxBatch.frame(i);
        received.push(new DataView(frame.buffer, frame.byteOffset).getUint32(14));
      }
      if (got === 0) await poller.wait([rx.fd], 1);
    }
    assert.equal(received.length, total, `received ${received.length} of ${total}`);
    assert.ok(received.every((seq, i) => seq === i), "frames arrived out of order or duplicated");
    assert.equal(rx.stats().drops, 0);
  },
});

Deno.test({
  name: "PacketSocket marks frames larger than the slot as truncated",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using tx = openOn(a);
    using rx = runInNetns(
      b.netns,
      () => PacketSocket.open({ interface: b.name, etherType: TEST_TYPE, maxFrame: 100 }),
    );
    const big = encodeEthernet({
      dst: b.mac,
      src: a.mac,
      etherType: TEST_TYPE,
      payload: new Uint8Array(500).fill(7),
    });
    tx.send(big);
    const got = await receiveMatching(rx, () => true);
    assert.equal(got?.truncated, true);
    assert.equal(got?.frame.length, 100);
    assert.deepEqual(got?.frame, big.subarray(0, 100));
  },
});

Deno.test({
  name: "PacketSocket.open names the interface and errno when it does not exist",
  ignore: needs("root", "netns"),
  fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("x");
    assert.throws(
      () => runInNetns(ns, () => PacketSocket.open({ interface: "nkmissing0" })),
      (err: unknown) =>
        err instanceof NetkitOsError && err.code === "ENODEV" &&
        err.message === 'look up interface "nkmissing0": ENODEV (No such device)',
    );
  },
});

Deno.test({
  name: "PacketSocket.ignoreOutgoing() keeps frames others send on the interface out of the socket",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const [a, b] = pair(lab);
    using sender = openOn(a); // another sender on the interface, as the host's own traffic
    // Every EtherType, as the gateway's: only those sockets see outgoing frames at all.
    using seesAll = openOn(a);
    using ignores = openOn(a);
    assert.equal(ignores.ignoreOutgoing(), true);
    assert.equal(sender.send(testFrame(b.mac, a.mac, 0x07)), true);
    // Without the option the frame comes back as OUTGOING, so the test can fail.
    const seen = await receiveMatching(seesAll, hasMarker(0x07));
    assert.equal(seen?.pktType, PacketType.OUTGOING);
    assert.equal(await receiveMatching(ignores, hasMarker(0x07), 300), null);
    // Frames that arrive still do.
    using far = openOn(b);
    far.send(testFrame(a.mac, b.mac, 0x1a));
    assert.equal((await receiveMatching(ignores, hasMarker(0x1a)))?.pktType, PacketType.HOST);
  },
});
