/**
 * LSoE datagrams built by hand for the dissector's test (tests/lsoe_dissector_test.ts), written
 * from reference §1.2–1.3 independently of the product codec in lib/packet/lsoe.ts, so the two
 * can check each other. The test proves this builder on lsoed's golden vectors first.
 *
 * @module
 */

import { concat } from "./bytes.ts";

// The Skipjack F-table (NIST Skipjack specification), the S-box of the LSoE checksum.
const F_TABLE = Uint8Array.from(
  [
    "a3d70983f848f6f4b321157899b1aff9",
    "e72d4d8ace4cca2e5295d91e4e384428",
    "0adf02a017f1606812b77ac3e9fa3d53",
    "96846bbaf2639a197caee5f5f7166aa2",
    "39b67b0fc193811beeb41aead0912fb8",
    "55b9da853f41bfe05a58805f660bd890",
    "35d5c0a733066569450094566d989b76",
    "97fcb2c2b0fedb20e1ebd6e4dd474a1d",
    "42ed9e6e493ccd4327d207d4dec76718",
    "89cb301f8dc68faac874dcc95d5c31a4",
    "7088612c9f0d2b8750825464267d0340",
    "344b1c73d1c4fd3bccfb7fabe63e5ba5",
    "ad04239c145122f02979717eff8c0ee2",
    "0cefbc72756f37a1ecd38e628b8610e8",
    "087711be924f24c532369dcff3a6bbac",
    "5e6ca9135725b5e3bda83a0105592a46",
  ].join("").match(/../g)!,
  (pair) => parseInt(pair, 16),
);

/** Datagram header: version, last flag and number, length, checksum. */
const HEADER_LEN = 8;
/** PDU bytes per datagram (an MTU of 1500 less the header). */
export const CHUNK_LEN = 1492;

/**
 * The S-box checksum of a whole datagram (header included; its checksum field counts as 0):
 * byte i adds F[byte] to sum i mod 4; the sums are combined with overlapping 8-bit shifts and the
 * result folded twice into 32 bits.
 */
export function sboxChecksum(datagram: Uint8Array): number {
  const sums = [0, 0, 0, 0];
  datagram.forEach((byte, i) => {
    sums[i % 4]! += F_TABLE[i >= 4 && i < 8 ? 0 : byte]!;
  });
  let x = BigInt(sums[0]!);
  for (const sum of sums.slice(1)) x = (x << 8n) + BigInt(sum);
  for (let fold = 0; fold < 2; fold++) x = (x >> 32n) + (x & 0xffffffffn);
  return Number(x);
}

/** One datagram: the header (version 0 unless `version` says otherwise) with its checksum, then `chunk`. */
export function lsoeDatagram(
  number: number,
  last: boolean,
  chunk: Uint8Array,
  version = 0,
): Uint8Array<ArrayBuffer> {
  const datagram = concat(new Uint8Array(HEADER_LEN), chunk);
  const view = new DataView(datagram.buffer);
  view.setUint8(0, version);
  view.setUint8(1, number | (last ? 0x80 : 0));
  view.setUint16(2, datagram.length);
  view.setUint32(4, sboxChecksum(datagram));
  return datagram;
}

/** A PDU: type, length (the 3-byte header included), body. */
export function lsoePdu(type: number, ...body: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bodyBytes = concat(...body);
  const header = new Uint8Array(3);
  new DataView(header.buffer).setUint8(0, type);
  new DataView(header.buffer).setUint16(1, 3 + bodyBytes.length);
  return concat(header, bodyBytes);
}

/** `pdu` cut into {@linkcode CHUNK_LEN}-byte datagrams numbered from 0, the last flagged. */
export function lsoeDatagrams(pdu: Uint8Array): Uint8Array<ArrayBuffer>[] {
  const datagrams = [];
  for (let offset = 0; offset < pdu.length || offset === 0; offset += CHUNK_LEN) {
    const chunk = pdu.subarray(offset, offset + CHUNK_LEN);
    datagrams.push(lsoeDatagram(offset / CHUNK_LEN, offset + CHUNK_LEN >= pdu.length, chunk));
    if (pdu.length === 0) break;
  }
  return datagrams;
}

/** A big-endian unsigned integer of `size` bytes. */
export function uint(value: number, size: 1 | 2 | 3 | 4): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let rest = value;
  for (let i = size - 1; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return bytes;
}
