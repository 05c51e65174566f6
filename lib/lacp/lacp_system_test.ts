import assert from "node:assert/strict";
import { parseInjectRule } from "./inject_rule.ts";
import { LacpTimes } from "./lacp_port.ts";
import { LacpSystem, type LacpSystemOptions } from "./lacp_system.ts";
import {
  decodeLacpdu,
  decodeMarker,
  encodeLacpdu,
  encodeMarker,
  type Lacpdu,
  LacpState,
  slowSubtypeAt,
} from "../packet/lacp.ts";
import { parseMac } from "../packet/mac.ts";

const {
  ACTIVE,
  SHORT_TIMEOUT,
  AGGREGATION,
  SYNCHRONIZATION,
  COLLECTING,
  DISTRIBUTING,
  DEFAULTED,
  EXPIRED,
} = LacpState;

/** A frame on its way: delivered to `port` of `to` at `at`. */
interface InFlight {
  at: number;
  to: Side;
  port: number;
  frame: Uint8Array;
}

/** One LACP system under test plus everything it sent. */
interface Side {
  system: LacpSystem;
  sent: { at: number; port: number; frame: Uint8Array }[];
  /** Ports whose cable is cut in this side's transmit direction. */
  cut: Set<number>;
}

/**
 * Systems joined back to back on a fake clock: port i of one reaches port i of the other after
 * `latency` ms. Time only moves by {@linkcode Lab.advance}, from deadline to deadline.
 */
class Lab {
  now = 0;
  readonly latency = 1;
  /** How late every wake-up is, as with a slow poll(2). */
  lateByMs = 0;
  readonly #queue: InFlight[] = [];
  readonly sides: Side[] = [];

  /** Adds a system; `route` says where a frame sent on a port arrives (by default: same port). */
  add(
    options: Omit<LacpSystemOptions, "transmit">,
    peerOf: () => Side | null,
    route: (port: number) => { side: Side | null; port: number } = (port) => ({
      side: peerOf(),
      port,
    }),
  ): Side {
    const side: Side = { system: null as unknown as LacpSystem, sent: [], cut: new Set() };
    side.system = new LacpSystem({
      ...options,
      transmit: (port, frame) => {
        side.sent.push({ at: this.now, port, frame });
        const to = route(port);
        if (to.side !== null && !side.cut.has(port)) {
          this.#queue.push({ at: this.now + this.latency, to: to.side, port: to.port, frame });
        }
        return true;
      },
    });
    this.sides.push(side);
    return side;
  }

  /** Runs every deadline and delivery up to `until`. */
  advance(until: number): void {
    for (let guard = 0;; guard++) {
      assert.ok(guard < 100000, "the lab did not settle");
      const deadlines = this.sides.map((s) => s.system.nextDeadline()).filter((d): d is number =>
        d !== null
      );
      const next = Math.min(...deadlines, ...this.#queue.map((f) => f.at));
      if (!Number.isFinite(next) || next + this.lateByMs > until) break;
      this.now = Math.max(this.now, next + this.lateByMs);
      const due = this.#queue.filter((f) => f.at <= this.now);
      this.#queue.splice(0, this.#queue.length, ...this.#queue.filter((f) => f.at > this.now));
      for (const f of due) f.to.system.receive(f.port, f.frame, this.now);
      for (const s of this.sides) {
        s.system.tick(this.now);
        // A deadline that does not move past now would make a real daemon spin.
        const next = s.system.nextDeadline();
        assert.ok(
          next === null || next > this.now - this.lateByMs,
          `deadline ${next} not after now ${this.now}`,
        );
      }
    }
    this.now = until;
    for (const s of this.sides) s.system.tick(this.now);
  }
}

const SYS_A = parseMac("02:00:00:00:00:0a");
const SYS_B = parseMac("02:00:00:00:00:0b");

function actor(system: Uint8Array, overrides: Partial<LacpSystemOptions["actor"]> = {}) {
  return { system, systemPriority: 32768, key: 1, active: true, shortTimeout: true, ...overrides };
}

function ports(count: number, base: number) {
  return Array.from({ length: count }, (_, i) => ({
    name: `p${i + 1}`,
    port: i + 1,
    portPriority: 32768,
    mac: new Uint8Array([2, 0, 0, 0, base, i + 1]),
    enabled: true,
  }));
}

/** Two 2-port systems joined port to port. */
function pair(
  a: Partial<LacpSystemOptions> = {},
  b: Partial<LacpSystemOptions> = {},
): { lab: Lab; a: Side; b: Side } {
  const lab = new Lab();
  let sideB: Side | null = null;
  const sideA = lab.add({ actor: actor(SYS_A), ports: ports(2, 0xa), ...a }, () => sideB);
  sideB = lab.add({ actor: actor(SYS_B), ports: ports(2, 0xb), ...b }, () => sideA);
  sideA.system.begin(0);
  sideB.system.begin(0);
  return { lab, a: sideA, b: sideB };
}

const CD = ACTIVE | SHORT_TIMEOUT | AGGREGATION | SYNCHRONIZATION | COLLECTING | DISTRIBUTING;

function lacpdus(side: Side, port: number): { at: number; pdu: Lacpdu }[] {
  return side.sent.filter((s) => s.port === port && slowSubtypeAt(s.frame) === 1).map((s) => ({
    at: s.at,
    pdu: decodeLacpdu(s.frame),
  }));
}

Deno.test("LacpSystem pair reaches COLLECTING_DISTRIBUTING on both ports right after the 2 s wait_while", () => {
  const { lab, a, b } = pair();
  let converged = -1;
  for (let t = 0; t <= 5000 && converged < 0; t += 10) {
    lab.advance(t);
    const all = [a, b].every((s) => s.system.ports.every((_, i) => s.system.isAggregated(i)));
    if (all) converged = t;
  }
  assert.ok(
    converged >= LacpTimes.AGGREGATE_WAIT,
    `converged at ${converged} ms, before wait_while ran out`,
  );
  assert.ok(converged <= LacpTimes.AGGREGATE_WAIT + 100, `converged at ${converged} ms`);
  // Hearing each other restarted both wait_whiles 1 ms after start, so the LACPDUs announcing
  // ATTACHED and then C/D meet the periodic one in the same second: the 3-per-second limit may
  // hold the last back for up to a second.
  lab.advance(converged + LacpTimes.FAST_PERIODIC);
  for (const side of [a, b]) {
    for (const port of side.system.ports) {
      assert.equal(port.actorState, CD);
      assert.equal(port.partnerState, CD);
      assert.equal(port.rxState, "CURRENT");
      assert.equal(port.selected, "SELECTED");
      assert.equal(port.snapshot().actorChurn, "NO_CHURN");
    }
  }
  // Both directions agree on who is who.
  assert.deepEqual([...a.system.ports[0]!.snapshot().partner.system], [...SYS_B]);
  assert.equal(a.system.ports[1]!.snapshot().partner.port, 2);
});

Deno.test("LacpSystem sends a LACPDU at once on start, then every second to a fast partner", () => {
  const { lab, a } = pair();
  lab.advance(20000);
  const sent = lacpdus(a, 0);
  assert.equal(sent[0]!.at, 0, "first LACPDU at start");
  // After convergence only the periodic machine sends: exactly 1 s apart.
  const late = sent.filter((s) => s.at > 5000).map((s) => s.at);
  const gaps = late.slice(1).map((t, i) => t - late[i]!);
  assert.ok(gaps.length >= 10);
  for (const gap of gaps) assert.equal(gap, LacpTimes.FAST_PERIODIC);
});

Deno.test("LacpSystem sends every 30 s to a partner that asks for the slow rate", () => {
  const { lab, a } = pair({}, { actor: actor(SYS_B, { shortTimeout: false }) });
  lab.advance(130000);
  const late = lacpdus(a, 0).filter((s) => s.at > 10000).map((s) => s.at);
  const gaps = late.slice(1).map((t, i) => t - late[i]!);
  assert.ok(gaps.length >= 3, `gaps ${gaps}`);
  for (const gap of gaps) assert.equal(gap, LacpTimes.SLOW_PERIODIC);
});

Deno.test("LacpSystem expires the partner 3 s after its last LACPDU and defaults it 3 s later", () => {
  const { lab, a, b } = pair();
  lab.advance(5000);
  assert.ok(a.system.isAggregated(0));
  const lastFromB = Math.max(...lacpdus(b, 0).map((s) => s.at));
  b.cut.add(0);
  b.cut.add(1);
  const lastArrival = lastFromB + lab.latency;
  lab.advance(lastArrival + LacpTimes.SHORT_TIMEOUT - 1);
  assert.equal(a.system.ports[0]!.rxState, "CURRENT");
  lab.advance(lastArrival + LacpTimes.SHORT_TIMEOUT);
  const port = a.system.ports[0]!;
  assert.equal(port.rxState, "EXPIRED");
  assert.equal(port.actorState & EXPIRED, EXPIRED, "actor advertises Expired");
  assert.equal(port.partnerState & SYNCHRONIZATION, 0, "partner no longer in sync");
  assert.equal(port.partnerState & SHORT_TIMEOUT, SHORT_TIMEOUT, "partner assumed short timeout");
  assert.equal(port.muxState, "ATTACHED", "no longer collecting and distributing");
  lab.advance(lastArrival + 2 * LacpTimes.SHORT_TIMEOUT - 1);
  assert.equal(port.rxState, "EXPIRED");
  lab.advance(lastArrival + 2 * LacpTimes.SHORT_TIMEOUT);
  assert.equal(port.rxState, "DEFAULTED");
  assert.equal(port.actorState & (EXPIRED | DEFAULTED), DEFAULTED);
  assert.deepEqual(
    [...port.snapshot().partner.system],
    [0, 0, 0, 0, 0, 0],
    "partner reset to administrative defaults",
  );
  // While expired the actor keeps sending fast, so a returning partner is heard at once.
  const expiredWindow = lacpdus(a, 0).filter((s) => s.at > lastFromB && s.at <= lastFromB + 6000);
  assert.ok(expiredWindow.some((s) => (s.pdu.actor.state & EXPIRED) !== 0));
});

Deno.test("LacpSystem with the slow rate expires the partner only after 90 s", () => {
  const { lab, a, b } = pair({ actor: actor(SYS_A, { shortTimeout: false }) });
  lab.advance(40000);
  assert.ok(a.system.isAggregated(0));
  const lastFromB = Math.max(...lacpdus(b, 0).map((s) => s.at));
  b.cut.add(0);
  lab.advance(lastFromB + lab.latency + LacpTimes.LONG_TIMEOUT - 1);
  assert.equal(a.system.ports[0]!.rxState, "CURRENT");
  lab.advance(lastFromB + lab.latency + LacpTimes.LONG_TIMEOUT);
  assert.equal(a.system.ports[0]!.rxState, "EXPIRED");
});

Deno.test("LacpSystem answers a partner with stale information about us at once (NTT)", () => {
  const { lab, a, b } = pair();
  lab.advance(10500);
  const before = lacpdus(a, 0).length;
  // The partner goes passive: its next LACPDU shows a changed view, which we answer immediately.
  const pdu = lacpdus(b, 0).at(-1)!.pdu;
  const changed = {
    ...pdu,
    partner: { ...pdu.partner, state: pdu.partner.state & ~SYNCHRONIZATION },
  };
  a.system.receive(0, encodeLacpdu(changed, new Uint8Array([2, 0, 0, 0, 0xb, 1])), lab.now);
  const after = lacpdus(a, 0);
  assert.equal(after.length, before + 1, "answered without waiting for the periodic timer");
  assert.equal(after.at(-1)!.at, lab.now);
});

Deno.test("LacpSystem sends at most 3 LACPDUs per second however often NTT is set", () => {
  const { lab, a, b } = pair();
  lab.advance(10000);
  const pdu = lacpdus(b, 0).at(-1)!.pdu;
  const start = lab.now;
  // Flip what the partner says about us every 10 ms for 2 seconds.
  for (let i = 0; i < 200; i++) {
    lab.advance(start + i * 10);
    const state = i % 2 === 0 ? pdu.partner.state & ~SYNCHRONIZATION : pdu.partner.state;
    a.system.receive(
      0,
      encodeLacpdu({ ...pdu, partner: { ...pdu.partner, state } }, new Uint8Array(6).fill(2)),
      lab.now,
    );
  }
  const times = lacpdus(a, 0).map((s) => s.at).filter((t) => t >= start);
  for (const t of times) {
    const inWindow = times.filter((u) => u >= t && u < t + 1000).length;
    assert.ok(inWindow <= LacpTimes.TX_LIMIT, `${inWindow} LACPDUs within 1 s starting at ${t}`);
  }
  assert.ok(times.length >= 5, "the limiter delays, it does not silence");
});

Deno.test("LacpSystem stays silent when both ends are passive, and a passive end answers an active one", () => {
  const silent = pair({ actor: actor(SYS_A, { active: false }) }, {
    actor: actor(SYS_B, { active: false }),
  });
  silent.lab.advance(10000);
  assert.equal(silent.a.sent.length + silent.b.sent.length, 0);
  assert.equal(silent.a.system.ports[0]!.snapshot().periodicState, "NO_PERIODIC");

  const mixed = pair({ actor: actor(SYS_A, { active: false }) });
  mixed.lab.advance(5000);
  assert.ok(mixed.a.sent.length > 0);
  assert.ok(mixed.a.system.isAggregated(0) && mixed.b.system.isAggregated(0));
  assert.equal(mixed.b.system.ports[0]!.partnerState & ACTIVE, 0, "the partner sees us passive");
});

Deno.test("LacpSystem puts a port whose partner is another system on STANDBY (first heard wins)", () => {
  // Port 1 of A faces B, port 2 of A faces C: two different partners for one aggregator.
  const lab = new Lab();
  const sides: Record<string, Side | null> = { a: null, b: null, c: null };
  const a = lab.add({ actor: actor(SYS_A), ports: ports(2, 0xa) }, () => null, (port) => ({
    side: port === 0 ? sides.b! : sides.c!,
    port: 0,
  }));
  const b = lab.add(
    { actor: actor(SYS_B), ports: ports(1, 0xb) },
    () => null,
    () => ({ side: a, port: 0 }),
  );
  const c = lab.add(
    { actor: actor(parseMac("02:00:00:00:00:0c")), ports: ports(1, 0xc) },
    () => null,
    () => ({ side: a, port: 1 }),
  );
  Object.assign(sides, { a, b, c });
  // C starts later, so A hears B first and gives B the aggregator.
  a.system.begin(0);
  b.system.begin(0);
  lab.advance(500);
  c.system.begin(lab.now);
  lab.advance(8000);
  const [p1, p2] = a.system.ports;
  assert.equal(p1!.selected, "SELECTED");
  assert.equal(p1!.muxState, "COLLECTING_DISTRIBUTING");
  assert.equal(p2!.selected, "STANDBY");
  assert.equal(p2!.muxState, "WAITING");
  assert.equal(p2!.actorState & SYNCHRONIZATION, 0, "a standby port does not claim sync");
  assert.equal(c.system.ports[0]!.muxState, "ATTACHED", "C is left waiting for our sync");
  // When B goes away, the aggregator is free and C's LAG takes it.
  b.cut.add(0);
  a.system.setEnabled(0, false, lab.now);
  lab.advance(12000);
  assert.equal(p2!.selected, "SELECTED");
  assert.equal(p2!.muxState, "COLLECTING_DISTRIBUTING");
});

Deno.test("LacpSystem detects loopback and never aggregates a port facing itself", () => {
  const lab = new Lab();
  let self: Side | null = null;
  self = lab.add({ actor: actor(SYS_A), ports: ports(2, 0xa) }, () => null);
  self.system = new LacpSystem({
    actor: actor(SYS_A),
    ports: ports(2, 0xa),
    transmit: (port, frame) => {
      self!.sent.push({ at: lab.now, port, frame });
      self!.system.receive(1 - port, frame, lab.now);
      return true;
    },
  });
  lab.sides[0] = self;
  self.system.begin(0);
  lab.advance(10000);
  for (const port of self.system.ports) {
    assert.equal(port.loopback, true);
    assert.equal(port.selected, "UNSELECTED");
    assert.equal(port.muxState, "DETACHED");
    assert.ok(port.snapshot().counters.loopbackRx > 0);
  }
});

Deno.test("LacpSystem counts a partner that never synchronizes as churned after 60 s", () => {
  // B never claims synchronization (as a switch whose side of the LAG is not configured).
  const { lab, a } = pair({}, { rules: [parseInjectRule("-> A:-S")] });
  lab.advance(LacpTimes.CHURN_DETECTION - 100);
  assert.equal(a.system.ports[0]!.snapshot().partnerChurn, "CHURN_MONITOR");
  lab.advance(LacpTimes.CHURN_DETECTION + 100);
  assert.equal(a.system.ports[0]!.snapshot().partnerChurn, "CHURN");
  assert.equal(a.system.ports[0]!.snapshot().partnerChurnCount, 1);
  assert.equal(a.system.ports[0]!.snapshot().actorChurn, "NO_CHURN");
});

Deno.test("LacpSystem answers a Marker Information PDU with a Marker Response, at most 5 a second", () => {
  const { lab, a } = pair();
  lab.advance(100);
  const info = encodeMarker(
    { version: 1, tlv: "information", requesterPort: 7, requesterSystem: SYS_B, transactionId: 42 },
    new Uint8Array([2, 0, 0, 0, 0xb, 1]),
  );
  for (let i = 0; i < 8; i++) a.system.receive(0, info, lab.now);
  const markers = a.sent.filter((s) => slowSubtypeAt(s.frame) === 2).map((s) =>
    decodeMarker(s.frame)
  );
  assert.equal(markers.length, 5);
  assert.deepEqual({ ...markers[0]!, requesterSystem: [...markers[0]!.requesterSystem] }, {
    version: 1,
    tlv: "response",
    requesterPort: 7,
    requesterSystem: [...SYS_B],
    transactionId: 42,
  });
  const counters = a.system.ports[0]!.snapshot().counters;
  assert.equal(counters.markerRx, 8);
  assert.equal(counters.markerTx, 5);
  assert.equal(counters.markerDropped, 3);
});

Deno.test("LacpSystem counts malformed PDUs and leaves its state alone", () => {
  const { lab, a } = pair();
  lab.advance(5000);
  const port = a.system.ports[0]!;
  const before = JSON.stringify({
    a: port.actorState,
    p: port.partnerState,
    rx: port.rxState,
    mux: port.muxState,
  });
  const good = a.sent.filter((s) => s.port === 0).at(-1)!.frame;
  const truncated = good.slice(0, 60);
  const badTlv = good.slice();
  badTlv[17] = 19; // actor TLV length
  const version0 = good.slice();
  version0[15] = 0;
  for (const frame of [truncated, badTlv, version0]) a.system.receive(0, frame, lab.now);
  assert.equal(port.snapshot().counters.malformedRx, 3);
  assert.equal(
    JSON.stringify({
      a: port.actorState,
      p: port.partnerState,
      rx: port.rxState,
      mux: port.muxState,
    }),
    before,
  );
});

Deno.test("LacpSystem disables a port whose link goes down and renegotiates when it returns", () => {
  const { lab, a } = pair();
  lab.advance(5000);
  a.system.setEnabled(0, false, lab.now);
  const port = a.system.ports[0]!;
  assert.equal(port.rxState, "PORT_DISABLED");
  assert.equal(port.muxState, "DETACHED");
  const sentWhileDown = a.sent.length;
  lab.advance(8000);
  assert.equal(
    a.sent.filter((s) => s.port === 0).length,
    a.sent.slice(0, sentWhileDown).filter((s) => s.port === 0).length,
    "nothing sent on a down port",
  );
  a.system.setEnabled(0, true, lab.now);
  lab.advance(12000);
  assert.ok(a.system.isAggregated(0));
  assert.ok(a.system.isAggregated(1), "the other port was never disturbed");
});

Deno.test("injection changes what goes on the wire at once, never the state machines", () => {
  const { lab, a, b } = pair({ rules: [parseInjectRule("P:+CD -> A:-CD")] });
  lab.advance(5000);
  const port = a.system.ports[0]!;
  assert.equal(port.actorState, CD, "our true state is collecting and distributing");
  const last = lacpdus(a, 0).at(-1)!.pdu;
  assert.equal(last.actor.state, CD & ~(COLLECTING | DISTRIBUTING), "the wire says otherwise");
  assert.equal(
    b.system.ports[0]!.partnerState,
    CD & ~(COLLECTING | DISTRIBUTING),
    "the partner believes the wire",
  );
  assert.equal(
    b.system.ports[0]!.muxState,
    "COLLECTING_DISTRIBUTING",
    "coupled control only needs our sync",
  );
  assert.ok(a.system.ruleFireCounts(0)[0]! > 0);
  // The first injected LACPDU went out the moment the condition began to hold, or as soon as
  // the 3-per-second limit allowed.
  const sent = lacpdus(a, 0);
  const firstInjected = sent.find((s) => (s.pdu.partner.state & COLLECTING) !== 0)!;
  const partnerCd = lacpdus(b, 0).find((s) => (s.pdu.actor.state & COLLECTING) !== 0)!;
  const holds = partnerCd.at + lab.latency;
  const earlier = sent.filter((s) => s.at <= holds && s !== firstInjected).slice(
    -LacpTimes.TX_LIMIT,
  );
  const allowed = earlier.length === LacpTimes.TX_LIMIT && earlier[0]!.at > holds - 1000
    ? earlier[0]!.at + LacpTimes.FAST_PERIODIC
    : holds;
  assert.equal(firstInjected.at, allowed);
  assert.equal(firstInjected.pdu.actor.state & COLLECTING, 0);
});

Deno.test("injected identity fields reach the partner and break its match, as a misconfigured key would", () => {
  const { lab, a, b } = pair({ rules: [parseInjectRule("-> key=7")] });
  lab.advance(10000);
  assert.equal(a.system.ports[0]!.actorInfo().key, 1, "our true key");
  assert.equal(b.system.ports[0]!.snapshot().partner.key, 7, "what the partner was told");
  // The partner echoes key 7 back, which does not match our key 1: we never see it in sync.
  assert.equal(a.system.ports[0]!.partnerState & SYNCHRONIZATION, 0);
  assert.equal(a.system.isAggregated(0), false);
});

Deno.test("injection with #N fires N times on each port, and drop sends nothing", () => {
  const limited = pair({ rules: [parseInjectRule("-> version=2 #3")] });
  limited.lab.advance(10000);
  for (const port of [0, 1]) {
    assert.equal(lacpdus(limited.a, port).filter((s) => s.pdu.version === 2).length, 3);
    assert.equal(limited.a.system.ruleFireCounts(port)[0], 3);
  }
  const dropped = pair({ rules: [parseInjectRule("-> drop")] });
  dropped.lab.advance(5000);
  assert.equal(lacpdus(dropped.a, 0).length, 0);
  assert.ok(dropped.a.system.ports[0]!.snapshot().counters.injectedDrops > 0);
  assert.equal(dropped.b.system.ports[0]!.rxState, "DEFAULTED", "the partner never heard us");
});

Deno.test("injectionComplete() holds once every port where a rule fired has sent its injected LACPDU", () => {
  const { lab, a } = pair({ rules: [parseInjectRule("P:+S -> A:-S #1")] });
  assert.equal(a.system.injectionComplete(), false);
  lab.advance(100);
  assert.equal(a.system.injectionComplete(), false, "no rule has fired before the partner syncs");
  lab.advance(5000);
  assert.equal(a.system.injectionComplete(), true);
  assert.deepEqual(a.system.injectedPorts(), ["p1", "p2"]);
});

Deno.test("LacpSystem.observe() sees every settled state, even one that lasts a millisecond", () => {
  const { lab, a } = pair();
  const seen: string[] = [];
  const stop = a.system.observe(() => seen.push(a.system.ports[0]!.muxState));
  lab.advance(5000);
  assert.ok(
    seen.includes("WAITING") && seen.includes("ATTACHED") &&
      seen.includes("COLLECTING_DISTRIBUTING"),
  );
  const count = seen.length;
  stop();
  lab.advance(8000);
  assert.equal(seen.length, count, "no calls after removal");
});

Deno.test("LacpSystem periodic LACPDUs keep a 1 s cadence when every wake-up is late", () => {
  const { lab, a } = pair();
  lab.advance(6000);
  // From now on every wake-up comes 3 ms after its deadline, as a slow poll would make it.
  lab.lateByMs = 3;
  const start = lab.now;
  lab.advance(40000);
  // The lab's last tick, at 40000 exactly, is not late: leave it out.
  const times = lacpdus(a, 0).map((s) => s.at).filter((t) => t > start && t < 40000);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 30, `${gaps.length} gaps`);
  for (const gap of gaps) assert.equal(gap, LacpTimes.FAST_PERIODIC, `gaps ${gaps}`);
  assert.ok(a.system.isAggregated(0));
});

/** One system on its own, and a scripted partner that speaks to it through `receive`. */
function alone(options: Partial<LacpSystemOptions> = {}): { lab: Lab; a: Side } {
  const lab = new Lab();
  const a = lab.add({ actor: actor(SYS_A), ports: ports(2, 0xa), ...options }, () => null);
  a.system.begin(0);
  return { lab, a };
}

/** What a partner `system` in state `state` sends to port `index` of `side`, echoing it. */
function partnerFrame(
  side: Side,
  index: number,
  system: Uint8Array,
  state = CD,
  echoState = (s: number) => s,
): Uint8Array {
  const mine = side.system.ports[index]!.actorInfo();
  return encodeLacpdu(
    {
      version: 1,
      actor: { systemPriority: 32768, system, key: 1, portPriority: 32768, port: index + 1, state },
      partner: { ...mine, state: echoState(mine.state) },
      collectorMaxDelay: 0,
      extraTlvs: [],
    },
    new Uint8Array([2, 0, 0, 0, 0xb, index + 1]),
  );
}

/** Feeds port `index` a partner LACPDU every second from `from` until `until`. */
function speak(
  lab: Lab,
  side: Side,
  index: number,
  system: Uint8Array,
  from: number,
  until: number,
  state = CD,
): void {
  for (let t = from; t <= until; t += 1000) {
    lab.advance(t);
    side.system.receive(index, partnerFrame(side, index, system, state), t);
  }
  lab.advance(until);
}

const SYS_C = parseMac("02:00:00:00:00:0c");

Deno.test("LacpSystem detaches a port whose partner changes and waits out a new wait_while (one and two links)", () => {
  for (const links of [1, 2]) {
    const { lab, a } = alone();
    for (let i = 0; i < links; i++) speak(lab, a, i, SYS_B, 0, 4000);
    for (let i = 0; i < links; i++) assert.ok(a.system.isAggregated(i));
    const change = 4500;
    for (let i = 0; i < links; i++) {
      lab.advance(change + i);
      a.system.receive(i, partnerFrame(a, i, SYS_C), change + i);
    }
    for (let i = 0; i < links; i++) {
      const after = lacpdus(a, i).filter((s) => s.at >= change);
      assert.equal(after[0]!.at, change + i, "the change is announced at once");
      assert.equal(after[0]!.pdu.actor.state & SYNCHRONIZATION, 0, "without Sync");
      assert.equal(a.system.ports[i]!.muxState, "WAITING");
    }
    for (let i = 0; i < links; i++) speak(lab, a, i, SYS_C, change + 1000, change + 3000);
    for (let i = 0; i < links; i++) {
      const synced = lacpdus(a, i).find((s) =>
        s.at >= change && (s.pdu.actor.state & SYNCHRONIZATION) !== 0
      )!;
      // Ready waits for the last port of the aggregate to finish its wait.
      assert.equal(synced.at, change + (links - 1) + LacpTimes.AGGREGATE_WAIT, `${links} links`);
      assert.ok(a.system.isAggregated(i));
      assert.deepEqual([...a.system.ports[i]!.snapshot().partner.system], [...SYS_C]);
    }
  }
});

Deno.test("LacpSystem detaches a link whose partner turns Individual before it moves to its own aggregator", () => {
  const { lab, a } = alone();
  speak(lab, a, 0, SYS_B, 0, 4000);
  speak(lab, a, 1, SYS_B, 0, 4000);
  lab.advance(4500);
  a.system.receive(1, partnerFrame(a, 1, SYS_B, CD & ~AGGREGATION), lab.now);
  const port = a.system.ports[1]!;
  assert.equal(port.muxState, "WAITING", "detached, then selected to its own aggregator");
  assert.equal(port.actorState & SYNCHRONIZATION, 0);
  assert.ok(a.system.isAggregated(0), "the other link stays");
  speak(lab, a, 1, SYS_B, 5500, 6400, CD & ~AGGREGATION);
  assert.equal(port.muxState, "WAITING", "wait_while runs its 2 s again");
  speak(lab, a, 1, SYS_B, 6500, 7000, CD & ~AGGREGATION);
  assert.ok(a.system.isAggregated(1));
});

Deno.test("LacpSystem gives a partner appearing while attached without one, or during the start-up wait, a full wait_while", () => {
  // Attached with no partner (defaulted), then a partner speaks.
  const defaulted = alone();
  defaulted.lab.advance(9000);
  const port = defaulted.a.system.ports[0]!;
  assert.equal(port.rxState, "DEFAULTED");
  assert.equal(port.muxState, "ATTACHED");
  speak(defaulted.lab, defaulted.a, 0, SYS_B, 9000, 10900);
  assert.equal(port.muxState, "WAITING", "not collecting 1.9 s after the partner appeared");
  speak(defaulted.lab, defaulted.a, 0, SYS_B, 11000, 11000);
  assert.ok(defaulted.a.system.isAggregated(0));
  // A partner appearing 300 ms into the start-up wait.
  const early = alone();
  speak(early.lab, early.a, 0, SYS_B, 300, 2400);
  const synced = lacpdus(early.a, 0).find((s) => (s.pdu.actor.state & SYNCHRONIZATION) !== 0)!;
  assert.equal(synced.at, 300 + LacpTimes.AGGREGATE_WAIT);
});

Deno.test("LacpSystem announces DEFAULTED at once, detached and without Sync, 3 s after expiry", () => {
  const { lab, a } = alone();
  speak(lab, a, 0, SYS_B, 0, 5000);
  assert.ok(a.system.isAggregated(0));
  lab.advance(5000 + 2 * LacpTimes.SHORT_TIMEOUT);
  const first = lacpdus(a, 0).find((s) => s.at > 5000 && (s.pdu.actor.state & DEFAULTED) !== 0)!;
  assert.equal(first.at, 5000 + 2 * LacpTimes.SHORT_TIMEOUT);
  assert.equal(first.pdu.actor.state & SYNCHRONIZATION, 0);
  assert.equal(a.system.ports[0]!.muxState, "WAITING");
});

Deno.test("LacpSystem gives partner Sync only to an active partner, or a passive one that sees us active", () => {
  const passive = CD & ~ACTIVE;
  const { lab, a } = alone();
  for (let t = 0; t <= 4000; t += 1000) {
    lab.advance(t);
    a.system.receive(0, partnerFrame(a, 0, SYS_B, passive, (s) => s & ~ACTIVE), t);
  }
  const port = a.system.ports[0]!;
  assert.equal(port.partnerState & SYNCHRONIZATION, 0);
  assert.equal(port.muxState, "ATTACHED");
  a.system.receive(0, partnerFrame(a, 0, SYS_B, passive), lab.now);
  assert.ok(a.system.isAggregated(0));
});

Deno.test("LacpSystem moves from FAST_PERIODIC to SLOW_PERIODIC at once, without sending", () => {
  const { lab, a } = alone();
  speak(lab, a, 0, SYS_B, 0, 5000);
  const port = a.system.ports[0]!;
  assert.equal(port.snapshot().periodicState, "FAST_PERIODIC");
  const asked = 5300;
  lab.advance(asked);
  a.system.receive(0, partnerFrame(a, 0, SYS_B, CD & ~SHORT_TIMEOUT), asked);
  assert.equal(port.snapshot().periodicState, "SLOW_PERIODIC");
  assert.equal(port.snapshot().timers.periodic, asked + LacpTimes.SLOW_PERIODIC);
  speak(lab, a, 0, SYS_B, 6000, 20000, CD & ~SHORT_TIMEOUT);
  assert.deepEqual(lacpdus(a, 0).filter((s) => s.at > asked).map((s) => s.at), []);
});

Deno.test("LacpSystem forgets a looped-back partner when it defaults", () => {
  const { lab, a } = alone();
  lab.advance(100);
  a.system.receive(0, partnerFrame(a, 0, SYS_A), lab.now);
  const port = a.system.ports[0]!;
  assert.equal(port.loopback, true);
  assert.equal(port.selected, "UNSELECTED");
  lab.advance(100 + 2 * LacpTimes.SHORT_TIMEOUT + LacpTimes.AGGREGATE_WAIT);
  assert.equal(port.rxState, "DEFAULTED");
  assert.equal(port.loopback, false);
  assert.equal(port.selected, "SELECTED");
  assert.equal(port.muxState, "ATTACHED");
});

Deno.test("LacpSystem counts tagged frames, other Slow Protocols and illegal subtypes, and ignores them", () => {
  const { lab, a } = alone();
  lab.advance(100);
  const frame = partnerFrame(a, 0, SYS_B);
  const tagged = new Uint8Array(frame.length + 4);
  tagged.set(frame.subarray(0, 12));
  tagged.set([0x81, 0x00, 0x00, 0x05], 12);
  tagged.set(frame.subarray(12), 16);
  a.system.receive(0, tagged, lab.now);
  for (const subtype of [0, 3, 10, 11, 255]) {
    const other = frame.slice();
    other[14] = subtype;
    a.system.receive(0, other, lab.now);
  }
  const c = a.system.ports[0]!.snapshot().counters;
  assert.deepEqual([c.taggedRx, c.unknownRx, c.illegalRx, c.lacpduRx, c.malformedRx], [
    1,
    2,
    3,
    0,
    0,
  ]);
  assert.equal(a.system.ports[0]!.rxState, "EXPIRED", "no partner heard");
});

Deno.test("a rule whose action undoes its own condition loops until a '#N' limit ends it", () => {
  /** Runs of consecutive injected LACPDUs on A's first port over 30 s. */
  const rounds = (rule: string) => {
    const { lab, a } = pair({ rules: [parseInjectRule(rule)] });
    lab.advance(30000);
    const runs: number[] = [];
    let run = 0;
    for (const pdu of [...lacpdus(a, 0).map((s) => s.pdu), null]) {
      if (pdu !== null && pdu.actor.system[5] === 0x0c) {
        run++;
      } else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
    return { runs, aggregated: a.system.isAggregated(0) };
  };
  // The partner detaches from the new system id, we stop collecting, the rule stops, the
  // partner sees us again, re-attaches after its wait_while, we collect: the rule fires again.
  const loop = rounds("A:+CD -> system=02:00:00:00:00:0c");
  assert.ok(loop.runs.length >= 5, `rounds: ${loop.runs}`);
  const perEpisode = rounds("A:+CD -> system=02:00:00:00:00:0c #1/episode");
  assert.ok(perEpisode.runs.length >= 5, `rounds: ${perEpisode.runs}`);
  assert.deepEqual(perEpisode.runs, perEpisode.runs.map(() => 1), "one injected LACPDU a round");
  const once = rounds("A:+CD -> system=02:00:00:00:00:0c #1");
  assert.deepEqual(once.runs, [1]);
  assert.ok(once.aggregated, "after its one fire the pair settles");
});

Deno.test("a '#1/episode' rule fires once while its condition holds, and again when it returns", () => {
  const run = (rule: string) => {
    const { lab, a } = pair({ rules: [parseInjectRule(rule)] });
    // Episodes of the condition P:+S, as the settled states show them.
    let episodes = 0;
    let held = false;
    a.system.observe(() => {
      const holds = (a.system.ports[0]!.partnerState & SYNCHRONIZATION) !== 0;
      if (holds && !held) episodes++;
      held = holds;
    });
    lab.advance(20000);
    // The partner's sync drops while the link is down, and returns once it is back.
    a.system.setEnabled(0, false, lab.now);
    lab.advance(21000);
    a.system.setEnabled(0, true, lab.now);
    lab.advance(40000);
    assert.ok(a.system.isAggregated(0));
    return { episodes, fired: a.system.ruleFireCounts(0)[0]! };
  };
  // Withholding Sync from a partner that stays in sync: every LACPDU, or once an episode.
  const always = run("P:+S -> A:-S");
  assert.ok(always.fired > 20, `${always.fired} fires`);
  const once = run("P:+S -> A:-S #1/episode");
  assert.ok(once.episodes >= 2, `${once.episodes} episodes`);
  assert.equal(once.fired, once.episodes);
});

Deno.test("a port snapshot is frozen and keeps the moment it was taken", () => {
  const { lab, a } = alone();
  lab.advance(100);
  const port = a.system.ports[0]!;
  const before = port.snapshot();
  assert.ok(Object.isFrozen(before) && Object.isFrozen(before.counters));
  assert.ok(Object.isFrozen(before.timers) && Object.isFrozen(before.partner));
  assert.throws(() => {
    (before.counters as { lacpduRx: number }).lacpduRx = 99;
  }, TypeError);
  before.partner.system.fill(0xee);
  a.system.receive(0, partnerFrame(a, 0, SYS_B), lab.now);
  const after = port.snapshot();
  assert.deepEqual(
    [before.counters.lacpduRx, after.counters.lacpduRx],
    [0, 1],
    "the port moved on",
  );
  assert.equal(before.rxState, "EXPIRED");
  assert.equal(after.rxState, "CURRENT");
  assert.deepEqual([...after.partner.system], [...SYS_B], "the port's partner id is its own copy");
});
