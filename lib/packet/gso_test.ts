import assert from "node:assert/strict";
import { internetChecksum, onesComplementSum } from "./checksum.ts";
import { GsoType, segmentFrame, vnetGsoSize, vnetGsoType, vnetNeedsChecksum } from "./gso.ts";

const MACS = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

/** Options of a test super-frame. */
interface Super {
  ipv6?: boolean;
  udp?: boolean;
  payload: number;
  /** TCP flags (default ACK|PSH). */
  flags?: number;
  /** Bytes of TCP options (a multiple of 4). */
  options?: number;
  vlan?: boolean;
  seq?: number;
  id?: number;
}

/** A merged frame as GRO or TSO leaves it: one header, a long payload, checksum pending. */
function superFrame(o: Super): Uint8Array {
  const eth = o.vlan ? 18 : 14;
  const ipLen = o.ipv6 ? 40 : 20;
  const l4Len = o.udp ? 8 : 20 + (o.options ?? 0);
  const frame = new Uint8Array(eth + ipLen + l4Len + o.payload);
  frame.set(MACS);
  let p = 12;
  if (o.vlan) frame.set([0x81, 0x00, 0x00, 0x2a], (p += 4) - 4);
  frame.set(o.ipv6 ? [0x86, 0xdd] : [0x08, 0x00], p);
  const ip = eth;
  const protocol = o.udp ? 17 : 6;
  if (o.ipv6) {
    frame.set([0x60, 0, 0, 0], ip);
    const plen = l4Len + o.payload;
    frame.set([plen >> 8, plen & 0xff, protocol, 64], ip + 4);
    frame.set([0x20, 0x01, 0x0d, 0xb8], ip + 8);
    frame[ip + 23] = 1;
    frame.set([0x20, 0x01, 0x0d, 0xb8], ip + 24);
    frame[ip + 39] = 2;
  } else {
    const total = ipLen + l4Len + o.payload;
    const id = o.id ?? 0x1234;
    frame.set([0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff, 0x40, 0, 64, protocol], ip);
    frame.set([192, 0, 2, 1, 192, 0, 2, 2], ip + 12);
  }
  const l4 = ip + ipLen;
  frame.set([0x9c, 0x40, 0x14, 0x51], l4); // ports 40000 → 5201
  if (o.udp) {
    frame.set([(8 + o.payload) >> 8, (8 + o.payload) & 0xff], l4 + 4);
  } else {
    const seq = o.seq ?? 0x10000000;
    frame.set([seq >>> 24, (seq >> 16) & 0xff, (seq >> 8) & 0xff, seq & 0xff], l4 + 4);
    frame[l4 + 12] = (l4Len / 4) << 4;
    frame[l4 + 13] = o.flags ?? 0x18;
    frame.set([0xff, 0xff], l4 + 14);
    for (let i = 20; i < l4Len; i++) frame[l4 + i] = 1; // NOPs
  }
  for (let i = 0; i < o.payload; i++) frame[l4 + l4Len + i] = (i * 7 + 3) & 0xff;
  return frame;
}

interface Seen {
  frames: Uint8Array[];
  result: number | string;
}

function cut(frame: Uint8Array, type: number, size: number, max: number): Seen {
  const frames: Uint8Array[] = [];
  const result = segmentFrame(
    frame,
    type,
    size,
    new Uint8Array(max),
    (s) => frames.push(s.slice()),
  );
  return { frames, result };
}

/** Checks one segment's IP and transport checksums and returns [ip, l4, payload start]. */
function checkSums(seg: Uint8Array, ipv6: boolean, vlan = false): [number, number, number] {
  const ip = vlan ? 18 : 14;
  const l4 = ip + (ipv6 ? 40 : 20);
  const end = ipv6
    ? l4 + ((seg[ip + 4]! << 8) | seg[ip + 5]!)
    : ip + ((seg[ip + 2]! << 8) | seg[ip + 3]!);
  assert.equal(end, seg.length, "the IP length covers the segment exactly");
  const protocol = seg[ip + (ipv6 ? 6 : 9)]!;
  const pseudo = ipv6
    ? onesComplementSum(seg, ip + 8, ip + 40, protocol + (end - l4))
    : onesComplementSum(seg, ip + 12, ip + 20, protocol + (end - l4));
  if (!ipv6) assert.equal(internetChecksum(seg, ip, l4), 0, "IPv4 header checksum");
  assert.equal(internetChecksum(seg, l4, end, pseudo), 0, "transport checksum");
  const l4Len = protocol === 17 ? 8 : (seg[l4 + 12]! >> 4) * 4;
  return [ip, l4, l4 + l4Len];
}

function seqOf(seg: Uint8Array, l4: number): number {
  return ((seg[l4 + 4]! << 24) | (seg[l4 + 5]! << 16) | (seg[l4 + 6]! << 8) | seg[l4 + 7]!) >>> 0;
}

Deno.test("segmentFrame cuts a TCPv4 super-frame at gso_size: lengths, IDs, sequence, flags, checksums", () => {
  const frame = superFrame({ payload: 5000, flags: 0x19, /* ACK|PSH|FIN */ options: 12 });
  const { frames, result } = cut(frame, GsoType.TCPV4, 1448, 1514);
  assert.equal(result, 4);
  assert.deepEqual(frames.map((f) => f.length), [14 + 52 + 1448, 1514, 1514, 14 + 52 + 656]);
  const payload: number[] = [];
  frames.forEach((seg, i) => {
    const [ip, l4, data] = checkSums(seg, false);
    assert.equal((seg[ip + 4]! << 8) | seg[ip + 5]!, 0x1234 + i, "IPv4 IDs count up");
    assert.equal(seqOf(seg, l4), 0x10000000 + i * 1448);
    assert.equal(seg[l4 + 13], i === 3 ? 0x19 : 0x10, "PSH and FIN only on the last");
    assert.deepEqual(seg.subarray(l4 + 20, data), new Uint8Array(12).fill(1), "options copied");
    payload.push(...seg.subarray(data));
  });
  assert.deepEqual(new Uint8Array(payload), frame.subarray(14 + 52));
});

Deno.test("segmentFrame cuts smaller than gso_size when a segment would not fit the frame size", () => {
  const frame = superFrame({ payload: 2896 });
  const { frames, result } = cut(frame, GsoType.TCPV4, 1448, 1406);
  assert.equal(result, 3);
  assert.deepEqual(frames.map((f) => f.length), [1406, 1406, 14 + 40 + 2896 - 2 * 1352]);
  frames.forEach((seg) => checkSums(seg, false));
});

Deno.test("segmentFrame: TCPv6 and an 802.1Q tag; CWR only on the first segment; sequence wraps", () => {
  const frame = superFrame({ ipv6: true, vlan: true, payload: 3000, flags: 0x90, seq: 0xffffff00 });
  const { frames, result } = cut(frame, GsoType.TCPV6, 1000, 1514);
  assert.equal(result, 3);
  frames.forEach((seg, i) => {
    assert.deepEqual(seg.subarray(12, 16), new Uint8Array([0x81, 0, 0, 0x2a]), "the tag stays");
    const [, l4] = checkSums(seg, true, true);
    assert.equal(seqOf(seg, l4), (0xffffff00 + i * 1000) % 2 ** 32);
    assert.equal(seg[l4 + 13], i === 0 ? 0x90 : 0x10);
  });
});

Deno.test("segmentFrame: a USO frame becomes whole UDP datagrams with their own length and checksum", () => {
  const frame = superFrame({ udp: true, payload: 3 * 1200 + 100 });
  const { frames, result } = cut(frame, GsoType.UDP_L4, 1200, 1406);
  assert.equal(result, 4);
  frames.forEach((seg, i) => {
    const [, l4] = checkSums(seg, false);
    assert.equal((seg[l4 + 4]! << 8) | seg[l4 + 5]!, 8 + (i === 3 ? 100 : 1200));
  });
  // A datagram is never cut: one that does not fit is refused.
  assert.deepEqual(cut(frame, GsoType.UDP_L4, 1400, 1406), { frames: [], result: "mtu_exceeded" });
  assert.deepEqual(cut(frame, GsoType.UDP_L4, 0, 1406), { frames: [], result: "gso_malformed" });
});

Deno.test("segmentFrame refuses, emitting nothing, what it cannot cut correctly", () => {
  const v4 = superFrame({ payload: 3000 });
  const refused = (frame: Uint8Array, type: number, max = 1514) => {
    const seen = cut(frame, type, 1448, max);
    assert.equal(seen.frames.length, 0);
    return seen.result;
  };
  assert.equal(refused(v4, GsoType.UDP), "gso_unsupported", "UFO");
  assert.equal(refused(v4, 0x20), "gso_unsupported", "an unknown type");
  assert.equal(refused(v4, GsoType.TCPV6), "gso_malformed", "type and IP version disagree");
  assert.equal(refused(v4, GsoType.UDP_L4), "gso_malformed", "type and protocol disagree");
  const tunnel = v4.slice();
  tunnel[14 + 9] = 17; // TCP inside VXLAN: the kernel calls it TCPV4
  assert.equal(refused(tunnel, GsoType.TCPV4), "gso_unsupported", "a tunnel");
  const icmp = v4.slice();
  icmp[14 + 9] = 1;
  assert.equal(refused(icmp, GsoType.TCPV4), "gso_malformed", "not TCP at all");
  assert.equal(refused(v4.subarray(0, 1000), GsoType.TCPV4), "gso_malformed", "cut short");
  assert.equal(refused(v4.subarray(0, 30), GsoType.TCPV4), "gso_malformed", "no TCP header");
  assert.equal(refused(v4, GsoType.TCPV4, 54), "mtu_exceeded", "no room for payload");
  const fragment = v4.slice();
  fragment[14 + 6] = 0x20; // MF
  assert.equal(refused(fragment, GsoType.TCPV4), "gso_malformed");
  const badOffset = v4.slice();
  badOffset[14 + 20 + 12] = 0x40; // data offset 16 bytes
  assert.equal(refused(badOffset, GsoType.TCPV4), "gso_malformed");
  const ext = superFrame({ ipv6: true, payload: 3000 });
  ext[14 + 6] = 0; // a hop-by-hop header first
  assert.equal(refused(ext, GsoType.TCPV6), "gso_unsupported");
  const jumbo = superFrame({ ipv6: true, payload: 3000 });
  jumbo[14 + 4] = jumbo[14 + 5] = 0; // BIG TCP's payload length
  assert.equal(refused(jumbo, GsoType.TCPV6), "gso_malformed");
  assert.equal(refused(new Uint8Array(10), GsoType.TCPV4), "gso_malformed");
});

Deno.test("segmentFrame: a header-only frame is one segment; trailing bytes are not payload", () => {
  const bare = superFrame({ payload: 0, flags: 0x11 });
  const { frames, result } = cut(bare, GsoType.TCPV4, 1448, 1514);
  assert.equal(result, 1);
  assert.equal(frames[0]!.length, 54);
  checkSums(frames[0]!, false);
  const padded = new Uint8Array(superFrame({ payload: 2000 }).length + 6);
  padded.set(superFrame({ payload: 2000 }));
  const cutPadded = cut(padded, GsoType.TCPV4, 1000, 1514);
  assert.equal(cutPadded.result, 2);
  assert.equal(cutPadded.frames[1]!.length, 54 + 1000);
});

Deno.test("vnet header fields are read in host order, the ECN bit apart", () => {
  const header = new Uint8Array([0x01, 0x81, 0x42, 0x00, 0xa8, 0x05, 0x22, 0, 0x10, 0]);
  assert.equal(vnetGsoType(header), GsoType.TCPV4);
  assert.equal(vnetGsoSize(header), 1448);
  assert.equal(vnetNeedsChecksum(header), true);
  assert.equal(vnetNeedsChecksum(new Uint8Array(10)), false);
});
