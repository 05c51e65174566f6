/**
 * The Wireshark dissector tools/lsoe.lua, run in tshark over captures of LSoE frames: lsoed's own
 * bytes (the golden vectors of the reference, §1.9), every PDU type built by hand
 * (testing/lsoe_frames.ts), malformed datagrams and a PDU in three datagrams.
 */

import assert from "node:assert/strict";
import { encodeEthernet } from "../lib/packet/ethernet.ts";
import { parseMac } from "../lib/packet/mac.ts";
import { PcapWriter } from "../lib/packet/pcap.ts";
import { concat } from "../testing/bytes.ts";
import { CHUNK_LEN, lsoeDatagram, lsoeDatagrams, lsoePdu, uint } from "../testing/lsoe_frames.ts";
import { withTempPcap } from "../testing/tshark.ts";
import { needs } from "./skip.ts";

const DISSECTOR = new URL("../tools/lsoe.lua", import.meta.url).pathname;
const HELLO_GROUP = parseMac("01:80:c2:00:00:0e");
const MAC_A = parseMac("4a:ea:00:00:00:0a");
const MAC_B = parseMac("36:94:00:00:00:0b");
const MAC_C = parseMac("02:00:00:00:00:0c");

function bytes(hexText: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hexText.replace(/\s/g, "").match(/../g) ?? [], (p) => parseInt(p, 16));
}

/** lsoed's frames (reference §1.9): Ethernet payloads, datagram header included. */
const GOLDEN = {
  hello: "0080000b ea89ca1c 000003",
  keepalive: "0080000b 5089ca1c 020003",
  open: "0080001c a8a517ec 010014 fe7d3a34 6e6b2d612d30303030aa 00 0000",
  ackOpen: "00800010 6e2d9f06 030008 01 0000 0000",
  ackIpv4: "00800010 6e2d9f27 030008 04 0000 0000",
  ipv4: "00800019 de3d4f2d 040011 0002 40 7f000001 08 00 c0000202 1e",
  mplsIpv4: "0080000d e0898ff9 060005 0000",
  mplsIpv6: "0080000d de898ff9 070005 0000",
} as const;

/** One frame of a capture: its Ethernet payload, and when (ms after the first frame). */
interface Frame {
  payload: Uint8Array;
  etherType?: number;
  src?: Uint8Array;
  pad?: boolean;
  atMs?: number;
}

/** Every field each test reads, plus the two that must stay empty. */
const FIELDS = [
  "_ws.col.Info",
  "_ws.expert.message",
  "_ws.lua.error",
  "lsoe.version",
  "lsoe.last",
  "lsoe.datagram",
  "lsoe.length",
  "lsoe.checksum",
  "lsoe.checksum.status",
  "lsoe.padding",
  "lsoe.pdu.type",
  "lsoe.pdu.length",
  "lsoe.pdu.data",
  "lsoe.open.nonce",
  "lsoe.open.local_id",
  "lsoe.open.attributes",
  "lsoe.open.auth_length",
  "lsoe.ack.type",
  "lsoe.ack.error_type",
  "lsoe.ack.error_code",
  "lsoe.ack.error_hint",
  "lsoe.encap.count",
  "lsoe.encap.ipv4",
  "lsoe.encap.ipv6",
  "lsoe.encap.prefix_length",
  "lsoe.encap.primary",
  "lsoe.encap.loopback",
  "lsoe.mpls.label",
  "lsoe.vendor.enterprise",
  "lsoe.vendor.type",
  "lsoe.vendor.data",
  "lsoe.reassembled_in",
  "lsoe.fragment",
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/**
 * tshark's reading of `frames` with the dissector loaded (and `-o` `preferences`): one row per
 * frame. Fails on a Lua error, whether tshark prints it on stderr or puts it in the tree.
 */
function dissect(
  frames: readonly Frame[],
  preferences: readonly string[] = [],
  twoPass = false,
): Row[] {
  let rows: Row[] = [];
  withTempPcap((path) => {
    {
      using pcap = PcapWriter.create(Deno.openSync(path, { write: true, truncate: true }));
      frames.forEach((frame, i) => {
        const at = BigInt(frame.atMs ?? i) * 1_000_000n;
        pcap.write(
          encodeEthernet({
            dst: HELLO_GROUP,
            src: frame.src ?? MAC_A,
            etherType: frame.etherType ?? 0x88b5,
            payload: frame.payload,
            pad: frame.pad ?? false,
          }),
          1_700_000_000_000_000_000n + at,
        );
      });
    }
    const args = ["-X", `lua_script:${DISSECTOR}`, "-r", path, "-T", "fields"];
    args.push("-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;");
    for (const preference of preferences) args.push("-o", preference);
    if (twoPass) args.push("-2");
    for (const field of FIELDS) args.push("-e", field);
    const out = new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).outputSync();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `tshark failed: ${stderr}`);
    // tshark warns when run as root; anything else (a Lua load or run error) fails the test.
    const complaints = stderr.split("\n").filter((line) =>
      line !== "" && !/Running as user/.test(line)
    );
    assert.deepEqual(complaints, [], "tshark wrote to stderr");
    rows = new TextDecoder().decode(out.stdout).trimEnd().split("\n").map((line) => {
      const values = line.split("|");
      assert.equal(values.length, FIELDS.length, line);
      return Object.fromEntries(FIELDS.map((field, i) => [field, values[i]!])) as Row;
    });
  });
  assert.equal(rows.length, frames.length);
  for (const row of rows) {
    assert.equal(row["_ws.lua.error"], "", `Lua error: ${row["_ws.expert.message"]}`);
  }
  return rows;
}

/** `row`'s values of the fields `expected` names. */
function pick(row: Row, expected: Partial<Row>): Partial<Row> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, row[key as keyof Row]]));
}

function assertRows(rows: readonly Row[], expected: readonly Partial<Row>[]): void {
  assert.deepEqual(rows.map((row, i) => pick(row, expected[i] ?? {})), expected);
}

Deno.test("the hand-built frames of testing/lsoe_frames.ts reproduce lsoed's golden vectors", () => {
  const pdus: Record<keyof typeof GOLDEN, Uint8Array> = {
    hello: lsoePdu(0),
    keepalive: lsoePdu(2),
    open: lsoePdu(1, bytes("fe7d3a34 6e6b2d612d30303030aa 00 0000")),
    ackOpen: lsoePdu(3, bytes("01 0000 0000")),
    ackIpv4: lsoePdu(3, bytes("04 0000 0000")),
    ipv4: lsoePdu(4, bytes("0002 40 7f000001 08 00 c0000202 1e")),
    mplsIpv4: lsoePdu(6, uint(0, 2)),
    mplsIpv6: lsoePdu(7, uint(0, 2)),
  };
  for (const [name, golden] of Object.entries(GOLDEN)) {
    assert.deepEqual(lsoeDatagrams(pdus[name as keyof typeof GOLDEN]), [bytes(golden)], name);
  }
});

const GOLDEN_ROWS: Partial<Row>[] = [
  { "_ws.col.Info": "HELLO", "lsoe.pdu.type": "0", "lsoe.pdu.length": "3" },
  { "_ws.col.Info": "KEEPALIVE", "lsoe.pdu.type": "2", "lsoe.checksum": "0x5089ca1c" },
  {
    "_ws.col.Info": "OPEN nonce fe7d3a34 id 6e6b2d612d30303030aa",
    "lsoe.open.nonce": "fe7d3a34",
    "lsoe.open.local_id": "6e6b2d612d30303030aa",
    "lsoe.open.attributes": "",
    "lsoe.open.auth_length": "0",
  },
  { "_ws.col.Info": "ACK of OPEN", "lsoe.ack.type": "1", "lsoe.ack.error_type": "0" },
  { "_ws.col.Info": "ACK of IPv4 encapsulation", "lsoe.ack.type": "4" },
  {
    "_ws.col.Info": "IPv4 encapsulation: 2 addresses",
    "lsoe.encap.count": "2",
    "lsoe.encap.ipv4": "127.0.0.1;192.0.2.2",
    "lsoe.encap.prefix_length": "8;30",
    "lsoe.encap.loopback": "1;0",
    "lsoe.encap.primary": "0;0",
  },
  { "_ws.col.Info": "MPLS-IPv4 encapsulation: 0 addresses", "lsoe.encap.count": "0" },
  { "_ws.col.Info": "MPLS-IPv6 encapsulation: 0 addresses", "lsoe.pdu.type": "7" },
];

for (const etherType of [0x88b5, 0x8885]) {
  for (const pad of [false, true]) {
    Deno.test({
      name: `lsoe.lua decodes lsoed's golden vectors at EtherType 0x${etherType.toString(16)}, ${
        pad ? "padded to 60 bytes" : "unpadded"
      }`,
      ignore: needs("tshark"),
      fn() {
        const payloads = Object.values(GOLDEN).map(bytes);
        const rows = dissect(payloads.map((payload) => ({ payload, etherType, pad })));
        assertRows(rows, GOLDEN_ROWS);
        rows.forEach((row, i) => {
          const length = payloads[i]!.length;
          assert.deepEqual(pick(row, GOLDEN_ROWS[i]!), GOLDEN_ROWS[i]);
          assert.equal(row["lsoe.version"], "0");
          assert.equal(row["lsoe.last"], "1");
          assert.equal(row["lsoe.datagram"], "0");
          assert.equal(row["lsoe.length"], String(length));
          assert.equal(row["lsoe.checksum.status"], "1", "good");
          assert.equal(row["_ws.expert.message"], "");
          // Padding past the datagram length is set apart, not decoded.
          assert.equal(row["lsoe.padding"], pad ? "00".repeat(60 - 14 - length) : "");
        });
      },
    });
  }
}

Deno.test({
  name: "lsoe.lua decodes every PDU type, unknown types as data with expert info",
  ignore: needs("tshark"),
  fn() {
    const ipv6 = bytes("20010db8000000000000000000000001");
    const pdus = [
      lsoePdu(
        1,
        bytes("01020304"),
        bytes("6e6b2d622d30303030bb"),
        uint(2, 1),
        bytes("abcd"),
        uint(0, 2),
      ),
      lsoePdu(3, uint(9, 1), uint(0x1003, 2), uint(9, 2)),
      lsoePdu(
        5,
        uint(2, 2),
        bytes("80"),
        ipv6,
        uint(64, 1),
        bytes("c0"),
        bytes("fe800000000000000000000000000001"),
        uint(128, 1),
      ),
      lsoePdu(
        6,
        uint(1, 2),
        bytes("80 02"),
        uint(100 << 4, 3),
        uint((200 << 4) | 1, 3),
        bytes("c0000201"),
        uint(32, 1),
      ),
      lsoePdu(7, uint(1, 2), bytes("00 01"), uint(0xfffff << 4, 3), ipv6, uint(127, 1)),
      lsoePdu(255, uint(32473, 4), uint(7, 1), bytes("deadbeef")),
      lsoePdu(9, bytes("0102")),
    ];
    const rows = dissect(pdus.map((pdu) => ({ payload: lsoeDatagram(0, true, pdu), pad: true })));
    assertRows(rows, [
      {
        "_ws.col.Info": "OPEN nonce 01020304 id 6e6b2d622d30303030bb",
        "lsoe.open.attributes": "abcd",
        "lsoe.open.auth_length": "0",
        "_ws.expert.message": "",
      },
      {
        "_ws.col.Info": "ACK of type 9 (Warning, code 3 (Unknown PDU type), hint 9)",
        "lsoe.ack.type": "9",
        "lsoe.ack.error_type": "1",
        "lsoe.ack.error_code": "3",
        "lsoe.ack.error_hint": "9",
        "_ws.expert.message": "ACK with error: Warning, code 3 (Unknown PDU type), hint 9",
      },
      {
        "_ws.col.Info": "IPv6 encapsulation: 2 addresses",
        "lsoe.encap.ipv6": "2001:db8::1;fe80::1",
        "lsoe.encap.prefix_length": "64;128",
        "lsoe.encap.primary": "1;1",
        "lsoe.encap.loopback": "0;1",
        "_ws.expert.message": "",
      },
      {
        "_ws.col.Info": "MPLS-IPv4 encapsulation: 1 address",
        "lsoe.encap.ipv4": "192.0.2.1",
        "lsoe.mpls.label": "100;200",
        "lsoe.encap.primary": "1",
        "_ws.expert.message": "",
      },
      {
        "_ws.col.Info": "MPLS-IPv6 encapsulation: 1 address",
        "lsoe.encap.ipv6": "2001:db8::1",
        "lsoe.mpls.label": "1048575",
        "lsoe.encap.prefix_length": "127",
      },
      {
        "_ws.col.Info": "VENDOR enterprise 32473 type 7, 4 bytes",
        "lsoe.vendor.enterprise": "32473",
        "lsoe.vendor.type": "7",
        "lsoe.vendor.data": "deadbeef",
      },
      {
        "_ws.col.Info": "Unknown PDU type 9",
        "lsoe.pdu.type": "9",
        "lsoe.pdu.data": "0102",
        "_ws.expert.message": "Unknown PDU type 9",
      },
    ]);
    for (const row of rows) assert.equal(row["lsoe.checksum.status"], "1");
  },
});

Deno.test({
  name: "lsoe.lua reports bad checksums, versions, lengths and truncated PDUs as expert info",
  ignore: needs("tshark"),
  fn() {
    const badChecksum = bytes(GOLDEN.keepalive);
    badChecksum[7]! ^= 0x01;
    const longLength = bytes(GOLDEN.hello);
    longLength[3] = 40; // beyond the unpadded payload
    const frames: Frame[] = [
      { payload: badChecksum },
      { payload: lsoeDatagram(0, true, lsoePdu(0), 1) },
      { payload: bytes("0080000b ea") },
      { payload: longLength },
      // The PDU says 20 bytes; the datagram carries 10 of them.
      { payload: lsoeDatagram(0, true, bytes("040014 0001 00 c0000201")) },
      { payload: lsoeDatagram(0, true, lsoePdu(0, bytes("00"))), pad: true },
      {
        payload: lsoeDatagram(
          0,
          true,
          lsoePdu(1, bytes("01020304"), new Uint8Array(10), uint(0, 1), uint(1, 2)),
        ),
      },
      { payload: lsoeDatagram(0, true, lsoePdu(4, uint(1, 2), bytes("00 c0000201"), uint(33, 1))) },
      { payload: lsoeDatagram(0, true, new Uint8Array()) },
      { payload: lsoeDatagram(0, true, lsoePdu(3, uint(1, 1))) },
    ];
    assertRows(dissect(frames), [
      {
        "_ws.col.Info": "KEEPALIVE [BAD CHECKSUM]",
        "lsoe.checksum.status": "0",
        "_ws.expert.message": "Bad checksum: 0x5089ca1d, calculated 0x5089ca1c",
      },
      {
        "_ws.col.Info": "Datagram of version 1",
        "lsoe.checksum.status": "2",
        "_ws.expert.message": "Version 1 (only 0 is spoken)",
        "lsoe.pdu.type": "",
      },
      { "_ws.col.Info": "Runt datagram", "_ws.expert.message": "Payload of 5 bytes" },
      {
        "_ws.col.Info": "Datagram with a bad length",
        "lsoe.checksum.status": "2",
        "_ws.expert.message": "Datagram length 40, payload 11 bytes",
      },
      {
        "_ws.col.Info": "IPv4 encapsulation: 1 address [MALFORMED]",
        "lsoe.checksum.status": "1",
        "_ws.expert.message": "PDU length 20, but the PDU has 10 bytes;Entry 1 of 1 truncated",
      },
      {
        "_ws.col.Info": "HELLO [MALFORMED]",
        "lsoe.padding": "00".repeat(60 - 14 - 12),
        "_ws.expert.message": "1 byte after the HELLO PDU's fields",
      },
      {
        "_ws.col.Info": "OPEN nonce 01020304 id 00000000000000000000",
        "lsoe.open.auth_length": "1",
        "_ws.expert.message": "Authentication length is not 0 (not specified in LSoE-01)",
      },
      {
        "_ws.col.Info": "IPv4 encapsulation: 1 address [MALFORMED]",
        "lsoe.encap.prefix_length": "33",
        "_ws.expert.message": "Prefix length 33 longer than 32",
      },
      {
        "_ws.col.Info": "Truncated PDU [MALFORMED]",
        "lsoe.length": "8",
        "_ws.expert.message": "PDU of 0 bytes, shorter than its 3-byte header",
      },
      {
        "_ws.col.Info": "ACK [MALFORMED]",
        "lsoe.pdu.type": "3",
        "_ws.expert.message": "ACK truncated",
      },
    ]);
  },
});

/** An IPv6 encapsulation of `count` addresses: 5 + 18 × count bytes. */
function bigIpv6Pdu(count: number): Uint8Array<ArrayBuffer> {
  const entries = Array.from(
    { length: count },
    (_, i) =>
      concat(bytes("00 20010db8000000000000000000000000"), uint(64, 1)).map((b, j) =>
        j === 16 ? i % 256 : b
      ),
  );
  return lsoePdu(5, uint(count, 2), ...entries);
}

Deno.test({
  name:
    "lsoe.lua puts a PDU in three datagrams back together per source MAC, in any order, within the timeout",
  ignore: needs("tshark"),
  fn() {
    const pdu = bigIpv6Pdu(200);
    assert.equal(pdu.length, 3605);
    const [d0, d1, d2] = lsoeDatagrams(pdu);
    assert.equal(d2!.length, 8 + pdu.length - 2 * CHUNK_LEN);
    const hello = lsoeDatagram(0, true, lsoePdu(0));
    const frames: Frame[] = [
      { payload: d0!, src: MAC_A }, // 1
      { payload: d2!, src: MAC_B }, // 2: B's, last first
      { payload: d1!, src: MAC_A }, // 3
      { payload: hello, src: MAC_A }, // 4: a single-datagram PDU in between
      { payload: d1!, src: MAC_A }, // 5: duplicate
      { payload: d0!, src: MAC_B }, // 6
      { payload: d2!, src: MAC_A }, // 7: A's PDU complete
      { payload: d1!, src: MAC_B }, // 8: B's PDU complete
      { payload: d0!, src: MAC_C, atMs: 100 }, // 9
      { payload: d1!, src: MAC_C, atMs: 200 }, // 10
      { payload: d2!, src: MAC_C, atMs: 1300 }, // 11: more than 1 s after C's first
    ];
    const rows = dissect(frames);
    const complete = {
      "_ws.col.Info": "IPv6 encapsulation: 200 addresses",
      "lsoe.encap.count": "200",
      "lsoe.encap.ipv6": Array.from(
        { length: 200 },
        (_, i) => `2001:db8::${i === 0 ? "" : (i % 256).toString(16)}`,
      )
        .join(";"),
    };
    // tshark reads the capture once: a datagram cannot name the frame that completes it yet.
    assertRows(rows, [
      {
        "_ws.col.Info": "Datagram 0 of a PDU",
        "_ws.expert.message": "datagram 0, waiting for more",
      },
      {
        "_ws.col.Info": "Datagram 2 (last) of a PDU",
        "_ws.expert.message": "datagram 2, waiting for datagram 0",
      },
      {
        "_ws.col.Info": "Datagram 1 of a PDU",
        "_ws.expert.message": "datagram 1, waiting for more",
      },
      { "_ws.col.Info": "HELLO" },
      {
        "_ws.col.Info": "Datagram 1 of a PDU",
        "_ws.expert.message": "duplicate datagram 1 (dropped)",
      },
      {
        "_ws.col.Info": "Datagram 0 of a PDU",
        "_ws.expert.message": "datagram 0, waiting for datagram 1",
      },
      { ...complete, "lsoe.fragment": "1;3;7", "_ws.expert.message": "datagram 2, PDU complete" },
      { ...complete, "lsoe.fragment": "6;8;2", "_ws.expert.message": "datagram 1, PDU complete" },
      { "_ws.col.Info": "Datagram 0 of a PDU" },
      { "_ws.col.Info": "Datagram 1 of a PDU" },
      {
        "_ws.col.Info": "Datagram 2 (last) of a PDU",
        "_ws.expert.message": "datagram 2, waiting for datagram 0",
      },
    ]);
    // Read twice (as Wireshark's GUI does), each datagram names the frame that completed its PDU.
    assert.deepEqual(
      dissect(frames, [], true).map((row) => row["lsoe.reassembled_in"]),
      ["7", "8", "7", "", "", "8", "", "", "", "", ""],
    );
    // A longer reassembly timeout keeps C's datagrams together.
    const slow = dissect(frames, ["lsoe.reassembly_timeout:2000"]);
    assert.deepEqual(pick(slow[10]!, complete), complete);
  },
});

Deno.test({
  name: "lsoe.lua decodes another EtherType when the lsoe.extra_ethertypes preference names it",
  ignore: needs("tshark"),
  fn() {
    const frames = [{ payload: bytes(GOLDEN.hello), etherType: 0x9000 }];
    assert.equal(dissect(frames)[0]!["lsoe.pdu.type"], "");
    const rows = dissect(frames, ["lsoe.extra_ethertypes:0x9000, 36865"]);
    assertRows(rows, [{ "_ws.col.Info": "HELLO", "lsoe.checksum.status": "1" }]);
    const other = dissect([{ payload: bytes(GOLDEN.hello), etherType: 36865 }], [
      "lsoe.extra_ethertypes:0x9000, 36865",
    ]);
    assert.equal(other[0]!["_ws.col.Info"], "HELLO");
  },
});

Deno.test({
  name: "lsoe.lua never raises a Lua error on truncated or corrupted PDUs (checksums recomputed)",
  ignore: needs("tshark"),
  fn() {
    // A fixed linear congruential sequence: the same 400 cases every run.
    let seed = 17;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pdus = [
      ...Object.values(GOLDEN).map((golden) => bytes(golden).subarray(8)),
      lsoePdu(
        6,
        uint(1, 2),
        bytes("80 02"),
        uint(100 << 4, 3),
        uint(200 << 4, 3),
        bytes("c0000201"),
        uint(32, 1),
      ),
      lsoePdu(7, uint(1, 2), bytes("00 01"), uint(16, 3), new Uint8Array(16), uint(127, 1)),
      lsoePdu(255, uint(32473, 4), uint(7, 1), bytes("deadbeef")),
      lsoePdu(1, new Uint8Array(14), uint(3, 1), bytes("010203"), uint(0, 2)),
    ];
    const frames: Frame[] = [];
    for (let i = 0; i < 400; i++) {
      const pdu = Uint8Array.from(pdus[next(pdus.length)]!);
      // Corrupt one to three bytes, then cut at a random point.
      for (let k = next(3) + 1; k > 0; k--) pdu[next(pdu.length)] = next(256);
      frames.push({
        payload: lsoeDatagram(0, true, pdu.subarray(0, next(pdu.length + 1))),
        pad: i % 2 === 0,
      });
    }
    const rows = dissect(frames); // asserts no Lua error in the tree or on stderr
    for (const row of rows) assert.equal(row["lsoe.checksum.status"], "1");
  },
});
