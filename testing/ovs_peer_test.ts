import assert from "node:assert/strict";
import { NetkitError } from "../lib/errors.ts";
import { parseBondShow, parseLacpShow, parseLacpStats } from "./ovs_peer.ts";

// Output recorded from Open vSwitch 3.1.0 (two userspace peers over veth pairs), trimmed to one
// member where the second adds nothing; one unknown line added to prove it is tolerated.
const LACP_SHOW_NEGOTIATED = `---- bond0 ----
  status: active negotiated
  sys_id: ba:a0:00:d6:30:41
  sys_priority: 65534
  aggregation key: 1
  lacp_time: fast
  some future field: 42

member: p1: current attached
  port_id: 2
  port_priority: 65535
  may_enable: true

  actor sys_id: ba:a0:00:d6:30:41
  actor sys_priority: 65534
  actor port_id: 2
  actor port_priority: 65535
  actor key: 1
  actor state: activity timeout aggregation synchronized collecting distributing

  partner sys_id: de:bb:b5:95:43:40
  partner sys_priority: 65534
  partner port_id: 1
  partner port_priority: 65535
  partner key: 1
  partner state: activity timeout aggregation synchronized collecting distributing expired
`;

const LACP_SHOW_DEFAULTED = `---- bond0 ----
  status: active
  sys_id: ba:a0:00:d6:30:41
  sys_priority: 65534
  aggregation key: 1
  lacp_time: fast

member: p1: defaulted detached
  port_id: 2
  port_priority: 65535
  may_enable: false

  actor sys_id: ba:a0:00:d6:30:41
  actor sys_priority: 65534
  actor port_id: 2
  actor port_priority: 65535
  actor key: 1
  actor state: activity timeout aggregation collecting distributing defaulted

  partner sys_id: 00:00:00:00:00:00
  partner sys_priority: 0
  partner port_id: 0
  partner port_priority: 0
  partner key: 0
  partner state:
`;

const LACP_STATS = `---- bond0 statistics ----

member: p1:
  TX PDUs: 3
  RX PDUs: 1
  RX Bad PDUs: 0
  RX Marker Request PDUs: 0
  Link Expired: 0
  Link Defaulted: 0
  Carrier Status Changed: 0

member: p2:
  TX PDUs: 2
  RX PDUs: 1
  RX Bad PDUs: 5
  RX Marker Request PDUs: 0
  Link Expired: 1
  Link Defaulted: 2
  Carrier Status Changed: 3
`;

const BOND_SHOW = `---- bond0 ----
bond_mode: balance-tcp
bond may use recirculation: yes, Recirc-ID : 1
bond-hash-basis: 0
lb_output action: disabled, bond-id: -1
updelay: 0 ms
downdelay: 0 ms
next rebalance: 9862 ms
lacp_status: negotiated
lacp_fallback_ab: false
active-backup primary: <none>
active member mac: 22:a6:b6:28:7e:0f(p2)

member p1: disabled
  may_enable: false

member p2: enabled
  active member
  may_enable: true
`;

Deno.test("parseLacpShow reads port, member, actor and partner fields by name", () => {
  const bond = parseLacpShow(LACP_SHOW_NEGOTIATED).bond0;
  assert.ok(bond);
  assert.equal(bond.status, "active negotiated");
  assert.equal(bond.active, true);
  assert.equal(bond.negotiated, true);
  assert.equal(bond.sysId, "ba:a0:00:d6:30:41");
  assert.equal(bond.sysPriority, 65534);
  assert.equal(bond.aggregationKey, 1);
  assert.equal(bond.lacpTime, "fast");
  assert.deepEqual(Object.keys(bond.members), ["p1"]);
  const p1 = bond.members.p1!;
  assert.equal(p1.status, "current attached");
  assert.equal(p1.rxState, "current");
  assert.equal(p1.attached, true);
  assert.equal(p1.portId, 2);
  assert.equal(p1.mayEnable, true);
  assert.deepEqual(p1.actor, {
    sysId: "ba:a0:00:d6:30:41",
    sysPriority: 65534,
    portId: 2,
    portPriority: 65535,
    key: 1,
    state: ["activity", "timeout", "aggregation", "synchronized", "collecting", "distributing"],
    stateBits: 0x3f,
  });
  assert.equal(p1.partner.sysId, "de:bb:b5:95:43:40");
  assert.equal(p1.partner.portId, 1);
  assert.equal(p1.partner.stateBits, 0xbf);
});

Deno.test("parseLacpShow reads a defaulted member with no partner and an empty state", () => {
  const bond = parseLacpShow(LACP_SHOW_DEFAULTED).bond0!;
  assert.equal(bond.negotiated, false);
  const p1 = bond.members.p1!;
  assert.equal(p1.rxState, "defaulted");
  assert.equal(p1.attached, false);
  assert.equal(p1.mayEnable, false);
  assert.equal(p1.actor.stateBits, 0x77);
  assert.deepEqual(p1.partner.state, []);
  assert.equal(p1.partner.stateBits, 0);
  assert.equal(p1.partner.sysId, "00:00:00:00:00:00");
});

Deno.test("parseLacpStats reads every counter of every member", () => {
  const stats = parseLacpStats(LACP_STATS);
  assert.deepEqual(Object.keys(stats), ["bond0"]);
  assert.deepEqual(stats.bond0?.p2, {
    txPdus: 2,
    rxPdus: 1,
    rxBadPdus: 5,
    rxMarkerRequestPdus: 0,
    linkExpired: 1,
    linkDefaulted: 2,
    carrierStatusChanged: 3,
  });
  assert.equal(stats.bond0?.p1?.txPdus, 3);
});

Deno.test("parseBondShow reads LACP status and member enabled, may_enable and active", () => {
  const bond = parseBondShow(BOND_SHOW).bond0!;
  assert.equal(bond.bondMode, "balance-tcp");
  assert.equal(bond.lacpStatus, "negotiated");
  assert.equal(bond.lacpFallbackAb, false);
  assert.deepEqual(bond.members, {
    p1: { enabled: false, mayEnable: false, active: false },
    p2: { enabled: true, mayEnable: true, active: true },
  });
  assert.equal(bond.fields["active member mac"], "22:a6:b6:28:7e:0f(p2)");
});

Deno.test("OVS output parsers fail with the field and the raw text", () => {
  const broken = LACP_SHOW_NEGOTIATED.replace("  actor key: 1\n", "");
  assert.throws(() => parseLacpShow(broken), (e: unknown) => {
    assert.ok(e instanceof NetkitError);
    assert.match(e.message, /"ovs-appctl lacp\/show".*no "actor key" in member "p1"/);
    assert.ok(e.message.includes(JSON.stringify(broken)), e.message);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  assert.throws(
    () => parseLacpStats(LACP_STATS.replace("Link Expired: 1", "Link Expired: many")),
    /"Link Expired" is "many" in member "p2".*raw text: "---- bond0 statistics/,
  );
  assert.throws(() => parseBondShow("no such bond\n"), /no "---- bond ----" header.*no such bond/);
});
