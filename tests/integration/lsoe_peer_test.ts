/**
 * A real `netkit lsoe` in one namespace against a crafted peer (testing/lsoe_peer.ts, a raw
 * socket) in another, joined by veth: the retransmission schedule of an OPEN nobody ACKs,
 * measured from a tshark capture in the speaker's namespace and decoded with the codec; bad
 * checksums, a wrong version, a runt, a truncated PDU and bad fragments, each counted by reason
 * with the session left alone; VENDOR and unknown PDU types ACKed (the unknown one with an
 * error); non-empty MPLS encapsulations shown (lsoed crashes on them); and one MAC on two veths
 * (lsoed's "MAC seen on two interfaces"), refused and counted without a crash.
 *
 * @module
 */

import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import type { SessionJson, StatusReply } from "../../lib/lsoe/client.ts";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { isMalformed } from "../../lib/packet/errors.ts";
import {
  AckErrorCode,
  AckErrorType,
  DATAGRAM_CHUNK_LEN,
  decodeDatagram,
  decodePdu,
  encodePdu,
  type LsoePdu,
  PduType,
} from "../../lib/packet/lsoe.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { countsSince } from "../../bench/_shared.ts";
import { craftDatagram, LsoePeer, truncatedPdu, WELL_BEHAVED } from "../../testing/lsoe_peer.ts";
import { LsoeProcess } from "../../testing/lsoe_process.ts";
import { needs } from "../skip.ts";
import { Capture } from "./_l2.ts";

const NEEDS = ["root", "netns", "veth", "tshark"] as const;

/** Two namespaces joined by `pairs` veth pairs: speaker ends s0.., peer ends p0... */
function build(lab: NamespaceLab, pairs = 1): { s: string; p: string } {
  const s = lab.netns("s");
  const p = lab.netns("p");
  for (let i = 0; i < pairs; i++) {
    lab.veth({ netns: s, name: `s${i}` }, { netns: p, name: `p${i}` });
  }
  return { s, p };
}

/** The speaker's session with `peerMac` on `iface`, if any. */
function session(status: StatusReply, iface: string, peerMac: string): SessionJson | undefined {
  return status.sessions.find((x) => x.interface === iface && x.peer_mac === peerMac);
}

/** A captured LSoE frame: when, from and to whom, and the single-datagram PDU it carries. */
interface CapturedPdu {
  epochMs: number;
  src: string;
  dst: string;
  pdu: LsoePdu | null;
}

/** The LSoE frames of a capture, each payload decoded with the codec. */
async function capturedPdus(capture: Capture): Promise<CapturedPdu[]> {
  const { rows } = await capture.rows(
    ["frame.time_epoch", "eth.src", "eth.dst", "data.data"],
    "eth.type == 0x88b5",
  );
  return rows.filter((r) => r.length === 4 && r[3] !== "").map(([time, src, dst, data]) => {
    const payload = Uint8Array.from(data!.match(/../g) ?? [], (b) => parseInt(b, 16));
    const datagram = decodeDatagram(payload);
    let pdu: LsoePdu | null = null;
    if (!isMalformed(datagram) && datagram.number === 0 && datagram.last) {
      const decoded = decodePdu(datagram.chunk);
      pdu = isMalformed(decoded) ? null : decoded;
    }
    return { epochMs: Number(time) * 1000, src: src!, dst: dst!, pdu };
  });
}

/** Within ±10 % of `expected` seconds. */
function assertSeconds(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= expected * 0.1,
    `${what}: ${actual.toFixed(3)} s, expected ${expected} s ± 10 %`,
  );
}

Deno.test({
  name:
    "an OPEN the peer never ACKs is retransmitted after 1 s and 2 s (capture timestamps), and the session closes 4 s later as retransmit_exhausted",
  ignore: needs(...NEEDS),
  sanitizeResources: false,
  async fn() {
    using lab = new NamespaceLab();
    const { s, p } = build(lab);
    await using speaker = await LsoeProcess.start(s, ["-i", "s0"]);
    await using capture = await Capture.start(s, "s0", "ether proto 0x88b5");
    using peer = LsoePeer.open({
      netns: p,
      interface: "p0",
      behaviour: { ...WELL_BEHAVED, ackOpen: false, sendOpen: false },
    });
    const neighbour = peer.neighbour(0);
    const mac = formatMac(neighbour.mac);
    const since = performance.now();
    peer.hello();

    const [closed] = await waitFor(
      () => speaker.eventsOf("session_close", since),
      (events) => events.length > 0,
      { timeoutMs: 15_000, what: "the session_close event" },
    );
    assert.equal(closed!.event.reason, "retransmit_exhausted");
    assert.equal(closed!.event.peer_mac, mac);
    assert.equal(closed!.event.peer_local_id, null, "the peer never sent an OPEN");
    await delay(200); // nothing more may follow
    const closeMs = Date.parse(closed!.event.time);

    const opens = (await capturedPdus(capture)).filter((f) =>
      f.dst === mac && f.pdu?.type === PduType.OPEN
    );
    // lsoed's counting with retransmit-max-drop 3: sent, timeout 1 → again, timeout 2 → again,
    // timeout 3 → closed. So three OPENs, all with one nonce.
    assert.equal(opens.length, 3, `OPENs to the peer: ${opens.length}`);
    const nonces = new Set(opens.map((o) => o.pdu?.type === PduType.OPEN && o.pdu.nonce.join()));
    assert.equal(nonces.size, 1, "a retransmission is the same OPEN");
    assertSeconds((opens[1]!.epochMs - opens[0]!.epochMs) / 1000, 1, "first retransmission");
    assertSeconds((opens[2]!.epochMs - opens[1]!.epochMs) / 1000, 2, "second retransmission");
    assertSeconds((closeMs - opens[2]!.epochMs) / 1000, 4, "close after the last");

    assert.equal(speaker.eventsOf("session_open").length, 0);
    assert.equal(speaker.eventsOf("session_close").length, 1);
    assert.equal(neighbour.received.get(PduType.OPEN), 3, "the peer heard the same three");
    const status = await speaker.status();
    assert.equal(session(status, "s0", mac), undefined, "the closed session is gone");
    assert.equal(speaker.exited, false);
  },
});

Deno.test({
  name:
    "bad checksums, version 1, runts, truncated PDUs and bad fragments are counted by reason; VENDOR and unknown types are ACKed (the unknown one with WARNING/UNKNOWN_PDU_TYPE, seen in a capture); MPLS encapsulations are shown; the session stays open throughout",
  ignore: needs(...NEEDS),
  sanitizeResources: false,
  async fn() {
    using lab = new NamespaceLab();
    const { s, p } = build(lab);
    await using speaker = await LsoeProcess.start(s, ["-i", "s0"]);
    await using capture = await Capture.start(s, "s0", "ether proto 0x88b5");
    using peer = LsoePeer.open({ netns: p, interface: "p0" });
    const n = peer.neighbour(0);
    const mac = formatMac(n.mac);
    peer.hello();
    const opened = await waitFor(
      () => speaker.status(),
      (st) => session(st, "s0", mac)?.state === "open" && n.open,
      { timeoutMs: 10_000, what: "the session open on both sides" },
    );
    const openSince = session(opened, "s0", mac)!.open_since;
    assert.notEqual(openSince, null);
    const before = opened.drops;
    const keepalive = encodePdu({ type: PduType.KEEPALIVE });

    // Refused datagrams, one of each.
    peer.sendPayload(n, craftDatagram({ chunk: keepalive, badChecksum: true }));
    peer.sendPayload(n, craftDatagram({ chunk: keepalive, version: 1 }));
    peer.sendPayload(n, new Uint8Array([0, 0x80, 0, 4]));
    peer.sendPayload(
      n,
      craftDatagram({
        chunk: truncatedPdu({
          type: PduType.IPV4,
          entries: [{ flags: 0, address: new Uint8Array([192, 0, 2, 7]), prefixLength: 32 }],
        }, 3),
      }),
    );
    // Fragments of a two-datagram VENDOR PDU: the first twice (a duplicate), then the last, so
    // the PDU still arrives whole and is ACKed.
    const vendor = encodePdu({
      type: PduType.VENDOR,
      enterpriseNumber: 32473, // RFC 5612's documentation number
      enterpriseType: 1,
      data: new Uint8Array(DATAGRAM_CHUNK_LEN + 100).fill(0xab),
    });
    const first = craftDatagram({ chunk: vendor.subarray(0, DATAGRAM_CHUNK_LEN), last: false });
    peer.sendPayload(n, first);
    peer.sendPayload(n, first);
    peer.sendPayload(
      n,
      craftDatagram({ chunk: vendor.subarray(DATAGRAM_CHUNK_LEN), number: 1, last: true }),
    );
    // Number 127 not last: no datagram could ever end that PDU.
    peer.sendPayload(n, craftDatagram({ chunk: keepalive, number: 127, last: false }));
    // An unknown type, ACKed with an error.
    peer.sendPdu(n, { type: "unknown", pduType: 42, body: new Uint8Array([1, 2, 3]) });
    // MPLS encapsulations, with label stacks.
    peer.sendPdu(n, {
      type: PduType.MPLS_IPV4,
      entries: [{
        flags: 0x80,
        labels: [16, 100_000],
        address: new Uint8Array([192, 0, 2, 9]),
        prefixLength: 32,
      }],
    });
    const v6 = new Uint8Array(16);
    v6.set([0x20, 0x01, 0x0d, 0xb8], 0);
    v6[15] = 9;
    peer.sendPdu(n, {
      type: PduType.MPLS_IPV6,
      entries: [{ flags: 0, labels: [1_048_575], address: v6, prefixLength: 128 }],
    });
    // Last, a first datagram whose last never comes: dropped after the reassembly timeout.
    peer.sendPayload(n, craftDatagram({ chunk: keepalive, number: 0, last: false }));

    const after = await waitFor(
      () => speaker.status(),
      (st) => (st.drops.reassembly_timeout ?? 0) > (before.reassembly_timeout ?? 0),
      { timeoutMs: 5000, what: "the partial PDU to time out" },
    );
    assert.deepEqual(countsSince(after.drops, before), {
      bad_checksum: 1,
      bad_version: 1,
      runt: 1,
      pdu_length_mismatch: 1,
      duplicate_fragment: 1,
      fragment_out_of_range: 1,
      reassembly_timeout: 1,
    });

    const acks = n.acks();
    const ackOf = (type: number) => acks.filter((a) => a.ackType === type);
    assert.equal(ackOf(PduType.VENDOR).length, 1, "the reassembled VENDOR PDU is ACKed once");
    assert.deepEqual(ackOf(PduType.VENDOR)[0], {
      type: PduType.ACK,
      ackType: PduType.VENDOR,
      errorType: AckErrorType.NO_ERROR,
      errorCode: 0,
      errorHint: 0,
    });
    assert.deepEqual(ackOf(42), [{
      type: PduType.ACK,
      ackType: 42,
      errorType: AckErrorType.WARNING,
      errorCode: AckErrorCode.UNKNOWN_PDU_TYPE,
      errorHint: 42,
    }]);
    assert.equal(ackOf(PduType.MPLS_IPV4).length, 1);
    assert.equal(ackOf(PduType.MPLS_IPV6).length, 1);
    assert.equal(ackOf(PduType.IPV4).length, 0, "the truncated IPv4 list was never a PDU");

    const now = session(after, "s0", mac)!;
    assert.equal(now.state, "open");
    assert.equal(now.open_since, openSince, "the same session, never reopened");
    assert.equal(now.counters.vendor_received, 1);
    assert.deepEqual(now.encapsulations.mpls_ipv4, [{
      address: "192.0.2.9",
      prefix_length: 32,
      primary: true,
      loopback: false,
      labels: [16, 100_000],
    }]);
    assert.deepEqual(now.encapsulations.mpls_ipv6, [{
      address: "2001:db8::9",
      prefix_length: 128,
      primary: false,
      loopback: false,
      labels: [1_048_575],
    }]);
    const families = speaker.eventsOf("encapsulations").filter((e) => e.event.peer_mac === mac)
      .map((e) => e.event.family);
    assert.ok(families.includes("mpls_ipv4") && families.includes("mpls_ipv6"), `${families}`);
    assert.equal(speaker.eventsOf("session_close").length, 0);
    assert.equal(speaker.exited, false);

    // The unknown type's ACK as it went on the wire, decoded from the capture.
    const speakerMac = formatMac(peer.speakerMac!);
    const wire = (await capturedPdus(capture)).filter((f) =>
      f.src === speakerMac && f.dst === mac && f.pdu?.type === PduType.ACK && f.pdu.ackType === 42
    );
    assert.equal(wire.length, 1);
    assert.deepEqual(wire[0]!.pdu, ackOf(42)[0]);
  },
});

Deno.test({
  name:
    "a MAC already in session on one veth is refused on a second veth and counted as mac_on_other_interface; the first session stays open and the speaker runs on",
  ignore: needs("root", "netns", "veth"),
  sanitizeResources: false,
  async fn() {
    using lab = new NamespaceLab();
    const { s, p } = build(lab, 2);
    await using speaker = await LsoeProcess.start(s, ["-i", "s0", "-i", "s1"]);
    using first = LsoePeer.open({ netns: p, interface: "p0" });
    using second = LsoePeer.open({ netns: p, interface: "p1" }); // the same MACs
    const mac = formatMac(first.neighbour(0).mac);
    assert.equal(formatMac(second.neighbour(0).mac), mac);
    first.hello();
    const opened = await waitFor(
      () => speaker.status(),
      (st) => session(st, "s0", mac)?.state === "open",
      { timeoutMs: 10_000, what: "the session on s0 open" },
    );
    const openSince = session(opened, "s0", mac)!.open_since;

    second.hello();
    second.sendPdu(second.neighbour(0), { type: PduType.KEEPALIVE });
    const after = await waitFor(
      () => speaker.status(),
      (st) => (st.drops.mac_on_other_interface ?? 0) >= 2,
      { timeoutMs: 5000, what: "the HELLO and KEEPALIVE on s1 counted" },
    );
    await delay(1500); // what the speaker would answer on s1 has had time to go out
    const last = await speaker.status();
    assert.equal(session(last, "s1", mac), undefined, "no session on the second veth");
    assert.equal(session(last, "s0", mac)?.state, "open");
    assert.equal(session(last, "s0", mac)?.open_since, openSince);
    assert.equal(last.drops.mac_on_other_interface, after.drops.mac_on_other_interface);
    assert.equal(second.neighbour(0).heard.length, 0, "nothing was sent to it on s1");
    assert.equal(speaker.eventsOf("session_close").length, 0);
    assert.equal(speaker.exited, false);
  },
});
