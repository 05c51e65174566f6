import assert from "node:assert/strict";
import { parseMac } from "../packet/mac.ts";
import { FLOOD, type JoinRequest, type RoomPeer, RoomRegistry, switchFrame } from "./room.ts";

const GW = parseMac("02:00:00:00:00:01");
const C1 = parseMac("02:00:00:00:00:11");
const C2 = parseMac("02:00:00:00:00:12");
const LAN = parseMac("52:54:00:00:00:99");

function registry(maxClients = 4): RoomRegistry<string> {
  let n = 0;
  return new RoomRegistry<string>({ maxClients, newToken: () => `token${++n}` });
}

function request(role: "gateway" | "client", mac: Uint8Array, extra: Partial<JoinRequest> = {}) {
  return { role, room: "ABCD", mac, budget: 1414, ...extra };
}

function admit(reg: RoomRegistry<string>, req: JoinRequest, link: string): RoomPeer<string> {
  const result = reg.join(req, link);
  if (!result.ok) assert.fail(`join refused: ${result.code}: ${result.reason}`);
  return result.peer;
}

function frame(dst: Uint8Array, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  return f;
}

Deno.test("RoomRegistry fixes the room MTU from its first peer", () => {
  const reg = registry();
  const gw = admit(reg, request("gateway", GW, { budget: 1300 }), "gw");
  assert.equal(gw.room.frameMax, 1292);
  const bigger = admit(reg, request("client", C1, { budget: 1414 }), "c1");
  assert.equal(bigger.room.frameMax, 1292);
  const result = reg.join(request("client", C2, { budget: 1200 }), "c2");
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, "mtu_too_small");
});

Deno.test("RoomRegistry refuses a second gateway and a duplicate client MAC", () => {
  const reg = registry();
  admit(reg, request("gateway", GW), "gw");
  admit(reg, request("client", C1), "c1");
  const gw2 = reg.join(request("gateway", LAN), "gw2");
  assert.equal(!gw2.ok && gw2.code, "gateway_exists");
  const dup = reg.join(request("client", C1), "c1b");
  assert.equal(!dup.ok && dup.code, "duplicate_mac");
});

Deno.test("RoomRegistry enforces the client limit per room", () => {
  const reg = registry(1);
  admit(reg, request("client", C1), "c1");
  const full = reg.join(request("client", C2), "c2");
  assert.equal(!full.ok && full.code, "room_full");
  admit(reg, request("client", C2, { room: "OTHER" }), "c2");
});

Deno.test("RoomRegistry refuses a multicast client MAC and a budget below the minimum", () => {
  const reg = registry();
  const mc = reg.join(request("client", parseMac("01:00:5e:00:00:01")), "x");
  assert.equal(!mc.ok && mc.code, "invalid_mac");
  const small = reg.join(request("client", C1, { budget: 500 }), "x");
  assert.equal(!small.ok && small.code, "mtu_too_small");
});

Deno.test("RoomRegistry resumes a peer with its token and hands back the old link", () => {
  const reg = registry();
  const c1 = admit(reg, request("client", C1), "old");
  const result = reg.join(request("client", C1, { resume: c1.resumeToken }), "new");
  assert.ok(result.ok);
  assert.equal(result.peer, c1);
  assert.equal(result.resumed, true);
  assert.equal(result.replaced, "old");
  assert.equal(c1.link, "new");
});

Deno.test("RoomRegistry gives an away peer back to a hello of the same role and MAC", () => {
  const reg = registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  reg.markAway(gw, 1000);
  const result = reg.join(request("gateway", GW), "gw2");
  assert.ok(result.ok);
  assert.equal(result.peer.peerId, gw.peerId);
  assert.equal(result.replaced, null);
});

Deno.test("RoomRegistry expires away peers after the window and deletes the empty room", () => {
  const reg = registry();
  const c1 = admit(reg, request("client", C1), "c1");
  reg.markAway(c1, 1000);
  assert.deepEqual(reg.expire(100_000, 120_000), []);
  assert.deepEqual(reg.expire(121_000, 120_000), [c1]);
  assert.equal([...reg.rooms()].length, 0);
  // The MAC is free again, in a new room with a new id.
  const again = admit(reg, request("client", C1), "c1b");
  assert.notEqual(again.room.id, c1.room.id);
});

Deno.test("RoomRegistry never reuses a peer id that is still held", () => {
  const reg = registry();
  const ids = new Set<number>();
  for (let i = 0; i < 4; i++) {
    ids.add(admit(reg, request("client", parseMac(`02:00:00:00:01:0${i}`)), `c${i}`).peerId);
  }
  assert.equal(ids.size, 4);
});

Deno.test("switchFrame floods broadcast and sends client unicast to its owner", () => {
  const reg = registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("client", C1), "c1");
  const c2 = admit(reg, request("client", C2), "c2");
  assert.equal(switchFrame(c1, frame(parseMac("ff:ff:ff:ff:ff:ff"), C1)), FLOOD);
  assert.equal(switchFrame(gw, frame(parseMac("33:33:00:00:00:01"), LAN)), FLOOD);
  assert.equal(switchFrame(c1, frame(C2, C1)), c2);
  assert.equal(switchFrame(gw, frame(C1, LAN)), c1);
});

Deno.test("switchFrame sends client unknown unicast to the gateway only", () => {
  const reg = registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("client", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C1)), gw);
  assert.equal(switchFrame(gw, frame(parseMac("52:54:00:00:00:98"), LAN)), "unknown_destination");
});

Deno.test("switchFrame drops a spoofed client source MAC and reflection", () => {
  const reg = registry();
  admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("client", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C2)), "unauthorized_source_mac");
  assert.equal(switchFrame(c1, frame(C1, C1)), "reflection");
});

Deno.test("switchFrame without a gateway has nowhere to send client unknown unicast", () => {
  const reg = registry();
  const c1 = admit(reg, request("client", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C1)), "unknown_destination");
});
