import assert from "node:assert/strict";
import { decodeNdOptions, encodeNdOptions, type NdOption, NdOptionType } from "./nd_options.ts";
import { parseIpv6 } from "./ipv6.ts";
import { parseMac } from "./mac.ts";
import { decoded, plain, refusalReason } from "../../testing/total_decoders.ts";

Deno.test("ND option types hold the IANA values", () => {
  assert.deepEqual(NdOptionType, {
    SOURCE_LINK_ADDRESS: 1,
    TARGET_LINK_ADDRESS: 2,
    PREFIX_INFORMATION: 3,
    MTU: 5,
    RDNSS: 25,
  });
});

Deno.test("encodeNdOptions() pads each option to 8 bytes; decodeNdOptions() reads from start", () => {
  const options: NdOption[] = [
    { kind: "target_link_address", address: parseMac("02:00:00:00:00:01") },
    { kind: "rdnss", lifetime: 0xffff_ffff, servers: [parseIpv6("2001:db8::53")] },
    { kind: "raw", type: 14, body: new Uint8Array(14) },
  ];
  const bytes = encodeNdOptions(options);
  assert.equal(bytes.length, 8 + 24 + 16);
  assert.deepEqual([...bytes.subarray(0, 2)], [2, 1]);
  assert.deepEqual([...bytes.subarray(8, 16)], [25, 3, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...bytes.subarray(32, 34)], [14, 2]);
  assert.deepEqual(plain(decoded(decodeNdOptions(bytes))), plain(options));
  const behindHeader = new Uint8Array(4 + bytes.length);
  behindHeader.set(bytes, 4);
  assert.deepEqual(plain(decoded(decodeNdOptions(behindHeader, 4))), plain(options));
  assert.deepEqual(decoded(decodeNdOptions(new Uint8Array())), []);
  assert.equal(refusalReason(decodeNdOptions(bytes.subarray(0, 20))), "truncated_nd_option");
});
