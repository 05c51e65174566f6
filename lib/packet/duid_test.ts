import assert from "node:assert/strict";
import { decodeDuid, type Duid, encodeDuid, generateDuidLl } from "./duid.ts";
import { parseMac } from "./mac.ts";
import { hex } from "../../testing/bytes.ts";
import { decoded, fuzzDecoder, plain, refusalReason } from "../../testing/total_decoders.ts";

const CLIENT_MAC = parseMac("52:54:00:12:34:01");
const CLIENT_DUID = generateDuidLl(CLIENT_MAC);

Deno.test("DUIDs of every type encode and decode; generateDuidLl() is type 3, Ethernet", () => {
  assert.equal(hex(CLIENT_DUID), "00030001525400123401");
  const duids: Duid[] = [
    { kind: "llt", hardwareType: 1, time: 0x2c5a1b00, linkLayerAddress: CLIENT_MAC },
    { kind: "en", enterpriseNumber: 32473, identifier: new Uint8Array([1, 2, 3]) },
    { kind: "ll", hardwareType: 1, linkLayerAddress: CLIENT_MAC },
    { kind: "uuid", uuid: new Uint8Array(16).fill(0x42) },
    { kind: "raw", type: 9, data: new Uint8Array([1]) },
  ];
  for (const duid of duids) {
    assert.deepEqual(plain(decoded(decodeDuid(encodeDuid(duid)))), plain(duid));
  }
  assert.equal(hex(encodeDuid(duids[0]!)), "000100012c5a1b00525400123401");
  assert.equal(hex(encodeDuid(duids[1]!)), "000200007ed9010203");

  for (
    const bad of [
      "",
      "00",
      "0001000100000000",
      "000200007ed9",
      "00030001",
      "0004" + "00".repeat(15),
    ]
  ) {
    const bytes = new Uint8Array(bad.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
    assert.equal(refusalReason(decodeDuid(bytes)), "bad_duid_length", bad);
  }
  assert.equal(refusalReason(decodeDuid(new Uint8Array(131))), "bad_duid_length");
  assert.throws(() => encodeDuid({ kind: "raw", type: 9, data: new Uint8Array(129) }), RangeError);
  assert.throws(() => generateDuidLl(new Uint8Array(5)), RangeError);
});

Deno.test("fuzz: truncated and bit-flipped DUIDs never throw or read out of bounds", () => {
  const duids = [
    CLIENT_DUID,
    encodeDuid({ kind: "llt", hardwareType: 1, time: 1, linkLayerAddress: CLIENT_MAC }),
    encodeDuid({ kind: "uuid", uuid: new Uint8Array(16) }),
  ];
  fuzzDecoder(decodeDuid, duids, { seed: 0xd1, mutations: 300, guardViews: true });
});
