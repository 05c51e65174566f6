import assert from "node:assert/strict";
import { waitFor } from "../lib/async.ts";
import { NamespaceLab } from "../lib/lab/namespace_lab.ts";
import { isMalformed } from "../lib/packet/errors.ts";
import {
  decodeDatagram,
  decodePdu,
  encodePdu,
  type LsoePdu,
  type OpenPdu,
  PduType,
} from "../lib/packet/lsoe.ts";
import { needs } from "../tests/skip.ts";
import {
  craftDatagram,
  EmulatedNeighbour,
  LsoePeer,
  neighbourMac,
  truncatedPdu,
  WELL_BEHAVED,
} from "./lsoe_peer.ts";

const speakerOpen = (nonce: number): OpenPdu => ({
  type: PduType.OPEN,
  nonce: new Uint8Array([0, 0, 0, nonce]),
  localId: new Uint8Array(10).fill(7),
  attributes: new Uint8Array(0),
});
const ackOf = (type: number): LsoePdu => ({
  type: PduType.ACK,
  ackType: type,
  errorType: 0,
  errorCode: 0,
  errorHint: 0,
});

function neighbour(behaviour = WELL_BEHAVED): EmulatedNeighbour {
  const n = new EmulatedNeighbour(0, neighbourMac(0, 0), new Uint8Array(10).fill(1), behaviour);
  n.state = "hello_sent";
  return n;
}

Deno.test("an emulated neighbour ACKs the speaker's OPEN, sends its own and is open once that is ACKed", () => {
  const n = neighbour();
  const answers = n.handle(10, speakerOpen(1));
  assert.deepEqual(answers.map((p) => p.type), [PduType.ACK, PduType.OPEN]);
  assert.deepEqual(answers[0], ackOf(PduType.OPEN));
  assert.equal((answers[1] as OpenPdu).nonce, n.nonce);
  assert.equal(n.state, "opening");
  assert.deepEqual(n.handle(20, ackOf(PduType.OPEN)), []);
  assert.equal(n.state, "open");
  assert.equal(n.openedAt, 20);
  // A KEEPALIVE at once, then one per interval.
  assert.deepEqual(n.due(20, 1000, 1000), [{ type: PduType.KEEPALIVE }]);
  assert.deepEqual(n.due(500, 1000, 1000), []);
  assert.deepEqual(n.due(1020, 1000, 1000), [{ type: PduType.KEEPALIVE }]);
  // Encapsulations are ACKed and kept.
  const v4: LsoePdu = { type: PduType.IPV4, entries: [] };
  assert.deepEqual(n.handle(30, v4), [ackOf(PduType.IPV4)]);
  assert.equal(n.encapsulations.get(PduType.IPV4), v4);
});

Deno.test("a neighbour told not to ACK or keep alive stays silent, and re-sends its OPEN until ACKed", () => {
  const n = neighbour({ ...WELL_BEHAVED, ackOpen: false, ackPdus: false, keepalives: false });
  assert.deepEqual(n.handle(0, speakerOpen(1)).map((p) => p.type), [PduType.OPEN]);
  assert.deepEqual(n.due(500, 1000, 1000), []);
  assert.deepEqual(n.due(1000, 1000, 1000).map((p) => p.type), [PduType.OPEN]);
  n.handle(1100, ackOf(PduType.OPEN));
  assert.equal(n.state, "open");
  assert.deepEqual(n.due(5000, 1000, 1000), []);
  assert.deepEqual(n.handle(5000, { type: PduType.IPV6, entries: [] }), []);
});

Deno.test("a new speaker nonce is a restart: counted, and our OPEN goes again", () => {
  const n = neighbour();
  n.handle(0, speakerOpen(1));
  n.handle(1, ackOf(PduType.OPEN));
  assert.equal(n.state, "open");
  assert.deepEqual(n.handle(2, speakerOpen(1)), [ackOf(PduType.OPEN)], "a repeat is ACKed only");
  const answers = n.handle(3, speakerOpen(2));
  assert.deepEqual(answers.map((p) => p.type), [PduType.ACK, PduType.OPEN]);
  assert.equal(n.speakerRestarts, 1);
  assert.equal(n.state, "opening");
  assert.equal(n.ourOpenAcked, false);
});

Deno.test("craftDatagram is right unless told otherwise, and each fault decodes to its reason", () => {
  const pdu = encodePdu({ type: PduType.KEEPALIVE });
  const good = decodeDatagram(craftDatagram({ chunk: pdu }));
  assert.ok(!isMalformed(good));
  assert.deepEqual({ ...good, chunk: [...good.chunk] }, { number: 0, last: true, chunk: [...pdu] });
  const reason = (bytes: Uint8Array) => {
    const d = decodeDatagram(bytes);
    return isMalformed(d) ? d.reason : "ok";
  };
  assert.equal(reason(craftDatagram({ chunk: pdu, badChecksum: true })), "bad_checksum");
  assert.equal(reason(craftDatagram({ chunk: pdu, version: 1 })), "bad_version");
  assert.equal(reason(craftDatagram({ chunk: pdu, length: 200 })), "bad_length");
  const fragment = decodeDatagram(craftDatagram({ chunk: pdu, number: 5, last: false }));
  assert.ok(!isMalformed(fragment) && fragment.number === 5 && !fragment.last);
  const cut = decodePdu(truncatedPdu({ type: PduType.IPV4, entries: [] }, 1));
  assert.ok(isMalformed(cut) && cut.reason === "pdu_length_mismatch", String(cut));
});

Deno.test({
  name: "two LsoePeers on a veth pair open each other's neighbours and exchange KEEPALIVEs",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.veth({ netns: a, name: "a0" }, { netns: b, name: "b0" });
    using left = LsoePeer.open({ netns: a, interface: "a0", macBase: 1 });
    using right = LsoePeer.open({
      netns: b,
      interface: "b0",
      macBase: 2,
      keepaliveIntervalMs: 100,
    });
    const x = left.neighbour(0);
    const y = right.neighbour(0);
    // x plays the speaker for y: y's HELLO, then x's OPEN (x's state machine takes it from there).
    right.hello();
    await waitFor(() => left.frames.length, (n) => n >= 1, { timeoutMs: 2000, what: "y's HELLO" });
    x.state = "hello_sent";
    const open: OpenPdu = {
      type: PduType.OPEN,
      nonce: x.nonce,
      localId: x.localId,
      attributes: new Uint8Array(0),
    };
    left.sendPdu(x, open, y.mac);
    await waitFor(() => x.open && y.open, (v) => v, { timeoutMs: 3000, what: "both open" });
    await waitFor(() => x.received.get(PduType.KEEPALIVE) ?? 0, (k) => k >= 3, {
      timeoutMs: 3000,
      what: "y's KEEPALIVEs",
    });
    assert.equal(y.speakerMac?.join(), x.mac.join());
    assert.ok(left.frames.every((f) => !isMalformed(f.datagram)));
    assert.ok(right.framesSent > 0 && left.framesReceived > 0);
  },
});
