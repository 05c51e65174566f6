/**
 * Proves Wireshark's LACP and Marker dissectors read what lib/packet/lacp.ts writes: LACPDUs and
 * Marker PDUs are written to a capture with PcapWriter, decoded by tshark, compared field by field,
 * and checked for expert warnings and errors.
 */

import assert from "node:assert/strict";
import {
  decodeLacpdu,
  decodeMarker,
  encodeLacpdu,
  encodeMarker,
  type Lacpdu,
  type LacpPortInfo,
  LacpState,
  LacpTlvType,
  MalformedPacketError,
  type MarkerPdu,
  markerResponse,
  parseMac,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { tsharkFields, withPcapOf } from "../../testing/tshark.ts";

const SRC = parseMac("02:a1:b2:c3:d4:01");

// Multiple occurrences of a field (lacp.tlv_type appears once per TLV) are joined with ";".
// ("aggregator=/" does not work: tshark 4.0 reads "/" as an escape and prints "\".)
const AGGREGATOR = ";";

/** Wireshark's state flag string: "EFDCSGSA", bit 7 first, "*" for each clear bit. */
function wiresharkStateFlags(state: number): string {
  return [..."EFDCSGSA"].map((letter, i) => (state & (0x80 >> i)) !== 0 ? letter : "*").join("");
}

function hex8(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}

function info(overrides: Partial<LacpPortInfo>): LacpPortInfo {
  return {
    systemPriority: 32768,
    system: parseMac("02:00:00:00:00:01"),
    key: 1,
    portPriority: 32768,
    port: 1,
    state: 0,
    ...overrides,
  };
}

const LACPDUS: Lacpdu[] = [
  // Open vSwitch with a bond up: actor ATGSCD, partner AGSCD.
  {
    version: 1,
    actor: info({
      systemPriority: 65534,
      system: parseMac("02:a1:b2:c3:d4:00"),
      key: 3,
      portPriority: 65535,
      port: 2,
      state: 0x3f,
    }),
    partner: info({ state: 0x3d }),
    collectorMaxDelay: 0,
    extraTlvs: [],
  },
  // Before hearing a partner: actor AG, defaulted partner with no information.
  {
    version: 1,
    actor: info({ state: LacpState.ACTIVE | LacpState.AGGREGATION }),
    partner: info({
      systemPriority: 0,
      system: new Uint8Array(6),
      key: 0,
      portPriority: 0,
      port: 0,
      state: LacpState.DEFAULTED,
    }),
    collectorMaxDelay: 0,
    extraTlvs: [],
  },
  // Every field at its maximum; an empty actor state.
  {
    version: 1,
    actor: info({ system: parseMac("aa:bb:cc:dd:ee:ff"), state: 0 }),
    partner: info({
      systemPriority: 0xffff,
      system: parseMac("ff:ff:ff:ff:ff:fe"),
      key: 0xffff,
      portPriority: 0xffff,
      port: 0xffff,
      state: 0xff,
    }),
    collectorMaxDelay: 0xffff,
    extraTlvs: [],
  },
  // Expired and short timeout, passive.
  {
    version: 1,
    actor: info({ key: 0x1234, port: 0x0102, state: 0x86 }),
    partner: info({ key: 0x4321, port: 0x0201, state: 0x47 }),
    collectorMaxDelay: 5,
    extraTlvs: [],
  },
  // Version 2 with a Port Algorithm TLV (ECMP flow hash).
  {
    version: 2,
    actor: info({ state: 0x3d, port: 5 }),
    partner: info({ state: 0x3d, port: 6 }),
    collectorMaxDelay: 0,
    extraTlvs: [{ type: LacpTlvType.PORT_ALGORITHM, value: new Uint8Array([0, 0, 0, 5]) }],
  },
];

const MARKER: MarkerPdu = {
  version: 1,
  tlv: "information",
  requesterPort: 7,
  requesterSystem: parseMac("02:a1:b2:c3:d4:00"),
  transactionId: 0xdeadbeef,
};
const MARKERS: MarkerPdu[] = [MARKER, markerResponse(MARKER)];

const LACP_FIELDS = [
  "frame.len",
  "eth.dst",
  "eth.src",
  "slow.subtype",
  "lacp.version",
  "lacp.tlv_type",
  "lacp.tlv_length",
  "lacp.actor.sys_priority",
  "lacp.actor.sysid",
  "lacp.actor.key",
  "lacp.actor.port_priority",
  "lacp.actor.port",
  "lacp.actor.state",
  "lacp.actor.state_str",
  "lacp.partner.sys_priority",
  "lacp.partner.sysid",
  "lacp.partner.key",
  "lacp.partner.port_priority",
  "lacp.partner.port",
  "lacp.partner.state",
  "lacp.partner.state_str",
  "lacp.collector.max_delay",
  "lacp.pad",
  "marker.version",
  "marker.tlvType",
  "marker.tlvLen",
  "marker.requesterPort",
  "marker.requesterSystem",
  "marker.requesterTransId",
  "marker.requesterPad",
  "_ws.expert.message",
];

function formatSystem(system: Uint8Array): string {
  return [...system].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** What tshark should print for `pdu`; fields of other protocols stay empty. */
function expectedLacpRow(pdu: Lacpdu): Record<string, string> {
  const side = (role: string, p: LacpPortInfo) => ({
    [`lacp.${role}.sys_priority`]: String(p.systemPriority),
    [`lacp.${role}.sysid`]: formatSystem(p.system),
    [`lacp.${role}.key`]: String(p.key),
    [`lacp.${role}.port_priority`]: String(p.portPriority),
    [`lacp.${role}.port`]: String(p.port),
    [`lacp.${role}.state`]: hex8(p.state),
    [`lacp.${role}.state_str`]: wiresharkStateFlags(p.state),
  });
  const types = [1, 2, 3, ...pdu.extraTlvs.map((tlv) => tlv.type), 0];
  const lengths = [20, 20, 16, ...pdu.extraTlvs.map((tlv) => tlv.value.length + 2), 0];
  const extraLength = lengths.slice(3).reduce((a, b) => a + b, 0);
  return {
    "frame.len": "124",
    "eth.dst": "01:80:c2:00:00:02",
    "eth.src": formatSystem(SRC),
    "slow.subtype": "0x01",
    "lacp.version": hex8(pdu.version),
    "lacp.tlv_type": types.map(hex8).join(AGGREGATOR),
    "lacp.tlv_length": lengths.map(hex8).join(AGGREGATOR),
    ...side("actor", pdu.actor),
    ...side("partner", pdu.partner),
    "lacp.collector.max_delay": String(pdu.collectorMaxDelay),
    // The reserved octets after the Terminator: 50, less the extra TLVs' octets.
    "lacp.pad": "00".repeat(50 - extraLength),
  };
}

function expectedMarkerRow(pdu: MarkerPdu): Record<string, string> {
  return {
    "frame.len": "124",
    "eth.dst": "01:80:c2:00:00:02",
    "eth.src": formatSystem(SRC),
    "slow.subtype": "0x02",
    "marker.version": hex8(pdu.version),
    // The Marker TLV, then the Terminator.
    "marker.tlvType": `${pdu.tlv === "information" ? "0x01" : "0x02"}${AGGREGATOR}0x00`,
    "marker.tlvLen": `0x10${AGGREGATOR}0x00`,
    "marker.requesterPort": String(pdu.requesterPort),
    "marker.requesterSystem": formatSystem(pdu.requesterSystem),
    "marker.requesterTransId": String(pdu.transactionId),
    "marker.requesterPad": "0",
  };
}

Deno.test({
  name: "tshark decodes LACPDUs and Marker PDUs field by field with no expert warnings",
  ignore: needs("tshark"),
  fn() {
    const frames = [
      ...LACPDUS.map((pdu) => encodeLacpdu(pdu, SRC)),
      ...MARKERS.map((pdu) => encodeMarker(pdu, SRC)),
    ];
    const expected = [...LACPDUS.map(expectedLacpRow), ...MARKERS.map(expectedMarkerRow)];
    withPcapOf(frames, (path) => {
      const rows = tsharkFields(path, LACP_FIELDS, { aggregator: AGGREGATOR });
      assert.equal(rows.length, expected.length);
      rows.forEach((row, i) => {
        const got = Object.fromEntries(LACP_FIELDS.map((field, j) => [field, row[j]]));
        // Fields not listed must be empty; "_ws.expert.message" empty means no expert info at all
        // (no note, warning or error). That holds for the version 2 frame too: Wireshark 4.0
        // decodes version 1 only, yet walks the TLVs up to the Terminator and lists the Port
        // Algorithm TLV as type 0x04 "Unknown" with length 6 (its value is not decoded) without
        // complaint, then reports the 44 reserved octets that remain after the Terminator.
        const want = Object.fromEntries(
          LACP_FIELDS.map((field) => [field, expected[i]?.[field] ?? ""]),
        );
        assert.deepEqual(got, want, `frame ${i + 1}`);
      });
    });
  },
});

Deno.test({
  name: "tshark flags the malformed PDUs decodeLacpdu() and decodeMarker() reject",
  ignore: needs("tshark"),
  fn() {
    // Controls for the expert check above: corrupt one TLV of a good PDU each and make sure both
    // tshark and our decoders notice.
    const badActorLength = encodeLacpdu(LACPDUS[0]!, SRC);
    badActorLength[17] = 19;
    const badPartnerType = encodeLacpdu(LACPDUS[0]!, SRC);
    badPartnerType[36] = 9;
    const badMarkerType = encodeMarker(MARKER, SRC);
    badMarkerType[16] = 3;
    const reasons = [
      () => decodeLacpdu(badActorLength),
      () => decodeLacpdu(badPartnerType),
      () => decodeMarker(badMarkerType),
    ].map((decode) => {
      try {
        decode();
        return "decoded";
      } catch (err) {
        if (!(err instanceof MalformedPacketError)) throw err;
        return err.reason;
      }
    });
    assert.deepEqual(reasons, ["bad_actor_tlv", "bad_partner_tlv", "bad_marker_tlv"]);
    withPcapOf([badActorLength, badPartnerType, badMarkerType], (path) => {
      const rows = tsharkFields(path, ["_ws.expert.message", "_ws.expert.severity"], {
        aggregator: AGGREGATOR,
      });
      // Severity 8388608 is PI_ERROR.
      assert.deepEqual(rows, [
        ["TLV is not expected length", "8388608"],
        ["TLV is not expected type", "8388608"],
        ["TLV is not expected type", "8388608"],
      ]);
    });
  },
});
