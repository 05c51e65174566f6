import assert from "node:assert/strict";
import {
  BROADCAST_MAC,
  formatMac,
  isBroadcastMac,
  isLocallyAdministeredMac,
  isMulticastMac,
  macEquals,
  macFromKey,
  macKey,
  MAX_MAC_KEY,
  parseMac,
} from "./mac.ts";

const EXPECTED = [0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc];

Deno.test("parseMac() accepts colon, dash and Cisco dot notation in any case", () => {
  for (
    const text of [
      "02:00:00:aa:bb:cc",
      "02:00:00:AA:BB:CC",
      "02-00-00-aa-bb-cc",
      "02-00-00-AA-BB-CC",
      "0200.00aa.bbcc",
      "0200.00AA.BBCC",
      "0200.00aA.BbcC",
    ]
  ) {
    assert.deepEqual([...parseMac(text)], EXPECTED, text);
  }
});

Deno.test("parseMac() returns a new 6-byte array each call", () => {
  const a = parseMac("ff:ff:ff:ff:ff:ff");
  const b = parseMac("ff:ff:ff:ff:ff:ff");
  assert.equal(a.length, 6);
  assert.notEqual(a.buffer, b.buffer);
  a[0] = 0;
  assert.equal(b[0], 0xff);
});

Deno.test("parseMac() rejects malformed text with a message naming the input", () => {
  for (
    const text of [
      "",
      "zz",
      "02:00:00:aa:bb",
      "02:00:00:aa:bb:cc:dd",
      "02:00:00:aa:bb:cg",
      "02:00-00:aa:bb:cc", // mixed separators
      "2:0:0:aa:bb:cc", // single-digit octets
      "020:00:0aa:bb:cc",
      " 02:00:00:aa:bb:cc",
      "02:00:00:aa:bb:cc\n",
      "020000aabbcc",
      "0200.00aa.bbc",
      "0200:00aa:bbcc",
      "02.00.00.aa.bb.cc",
    ]
  ) {
    assert.throws(() => parseMac(text), {
      name: "TypeError",
      message:
        `Invalid MAC address "${text}": expected six hex octets like 02:00:00:00:00:01, 02-00-00-00-00-01 or 0200.0000.0001`,
    });
  }
});

Deno.test("formatMac() prints lowercase colon form at an offset", () => {
  assert.equal(formatMac(new Uint8Array(EXPECTED)), "02:00:00:aa:bb:cc");
  const frame = new Uint8Array([9, 9, 0x00, 0x1b, 0x21, 0x0a, 0xf0, 0x0f, 9]);
  assert.equal(formatMac(frame, 2), "00:1b:21:0a:f0:0f");
  assert.equal(formatMac(frame, 3), "1b:21:0a:f0:0f:09");
  assert.equal(formatMac(BROADCAST_MAC), "ff:ff:ff:ff:ff:ff");
});

Deno.test("formatMac() and parseMac() round-trip", () => {
  for (const text of ["00:00:00:00:00:00", "01:80:c2:00:00:02", "fe:dc:ba:98:76:54"]) {
    assert.equal(formatMac(parseMac(text)), text);
  }
});

Deno.test("MAC readers reject offsets that leave fewer than 6 bytes or are not indexes", () => {
  const bytes = new Uint8Array(8);
  const readers: [string, (b: Uint8Array, o: number) => unknown][] = [
    ["formatMac", formatMac],
    ["macKey", macKey],
    ["isMulticastMac", isMulticastMac],
    ["isBroadcastMac", isBroadcastMac],
    ["isLocallyAdministeredMac", isLocallyAdministeredMac],
    ["macEquals(a)", (b, o) => macEquals(b, o, bytes, 0)],
    ["macEquals(b)", (b, o) => macEquals(bytes, 0, b, o)],
  ];
  for (const [name, read] of readers) {
    read(bytes, 2); // the last offset that fits
    for (const offset of [3, -1, 1.5, NaN, 2 ** 32 + 1]) {
      assert.throws(() => read(bytes, offset), {
        name: "RangeError",
        message:
          `MAC address at offset ${offset} is out of bounds: it needs 6 bytes and the buffer has 8`,
      }, `${name} at ${offset}`);
    }
  }
  assert.throws(() => formatMac(new Uint8Array(5)), RangeError);
});

Deno.test("macKey() is the 48-bit big-endian value of the address", () => {
  assert.equal(macKey(new Uint8Array(6)), 0);
  assert.equal(macKey(parseMac("00:00:00:00:00:01")), 1);
  assert.equal(macKey(parseMac("00:00:00:00:01:00")), 0x100);
  assert.equal(macKey(parseMac("00:00:80:00:00:00")), 0x8000_0000); // sign bit of a 32-bit shift
  assert.equal(macKey(parseMac("00:01:00:00:00:00")), 0x1_0000_0000);
  assert.equal(macKey(parseMac("02:00:00:aa:bb:cc")), 0x0200_00aa_bbcc);
  assert.equal(macKey(BROADCAST_MAC), MAX_MAC_KEY);
  assert.equal(macKey(new Uint8Array([7, ...EXPECTED]), 1), 0x0200_00aa_bbcc);
});

Deno.test("macKey() distinguishes addresses differing in any single bit", () => {
  const keys = new Set<number>([macKey(new Uint8Array(6))]);
  for (let bit = 0; bit < 48; bit++) {
    const mac = new Uint8Array(6);
    mac[bit >> 3] = 0x80 >> (bit & 7);
    keys.add(macKey(mac));
  }
  assert.equal(keys.size, 49);
});

Deno.test("macFromKey() inverts macKey()", () => {
  for (
    const text of [
      "00:00:00:00:00:00",
      "02:00:00:aa:bb:cc",
      "80:00:00:00:00:01",
      "ff:ff:ff:ff:ff:ff",
    ]
  ) {
    const mac = parseMac(text);
    assert.deepEqual(macFromKey(macKey(mac)), mac);
  }
  for (let i = 0; i < 200; i++) {
    const key = Math.floor(Math.random() * (MAX_MAC_KEY + 1));
    assert.equal(macKey(macFromKey(key)), key);
  }
});

Deno.test("macFromKey() rejects keys that are not 48-bit integers", () => {
  for (const key of [-1, MAX_MAC_KEY + 1, 1.5, NaN, Infinity]) {
    assert.throws(() => macFromKey(key), {
      name: "RangeError",
      message: `Invalid MAC key "${key}": expected an integer from 0 to 281474976710655`,
    });
  }
});

Deno.test("isMulticastMac() tests the I/G bit of the first byte", () => {
  assert.equal(isMulticastMac(parseMac("01:00:5e:00:00:01")), true);
  assert.equal(isMulticastMac(parseMac("33:33:00:00:00:01")), true);
  assert.equal(isMulticastMac(BROADCAST_MAC), true);
  assert.equal(isMulticastMac(parseMac("02:00:00:00:00:01")), false);
  assert.equal(isMulticastMac(parseMac("00:ff:ff:ff:ff:ff")), false);
  const frame = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0]);
  assert.equal(isMulticastMac(frame, 0), false);
  assert.equal(isMulticastMac(frame, 6), true);
});

Deno.test("isBroadcastMac() needs all six bytes to be ff", () => {
  assert.equal(isBroadcastMac(BROADCAST_MAC), true);
  for (let i = 0; i < 6; i++) {
    const mac = new Uint8Array(6).fill(0xff);
    mac[i] = 0xfe;
    assert.equal(isBroadcastMac(mac), false, `byte ${i}`);
  }
  assert.equal(isBroadcastMac(new Uint8Array([0, ...BROADCAST_MAC]), 1), true);
  assert.equal(isBroadcastMac(new Uint8Array([...BROADCAST_MAC, 0]), 1), false);
});

Deno.test("isLocallyAdministeredMac() tests the U/L bit of the first byte", () => {
  assert.equal(isLocallyAdministeredMac(parseMac("02:00:00:00:00:01")), true);
  assert.equal(isLocallyAdministeredMac(parseMac("00:1b:21:00:00:01")), false);
  assert.equal(isLocallyAdministeredMac(parseMac("01:00:5e:00:00:01")), false);
});

Deno.test("macEquals() compares six bytes at the given offsets", () => {
  const frame = new Uint8Array([...EXPECTED, 9, ...EXPECTED]);
  assert.equal(macEquals(frame, 0, frame, 7), true);
  assert.equal(macEquals(frame, 0, parseMac("02:00:00:aa:bb:cc"), 0), true);
  assert.equal(macEquals(frame, 1, frame, 7), false);
  const other = parseMac("02:00:00:aa:bb:cd");
  assert.equal(macEquals(frame, 0, other, 0), false);
});

Deno.test("BROADCAST_MAC is ff:ff:ff:ff:ff:ff", () => {
  assert.deepEqual([...BROADCAST_MAC], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
});
