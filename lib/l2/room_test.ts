import assert from "node:assert/strict";
import { parseMac } from "../packet/mac.ts";
import { parseCredential } from "./credentials.ts";
import { FLOOD, type JoinRequest, type RoomPeer, RoomRegistry, switchFrame } from "./room.ts";
import {
  addClient,
  addRoom,
  emptyRooms,
  type RoomsConfig,
  rotateCredential,
} from "./rooms_file.ts";

const GW = parseMac("02:00:00:00:00:01");
const C1 = parseMac("02:00:00:00:00:11");
const C2 = parseMac("02:00:00:00:00:12");
const LAN = parseMac("52:54:00:00:00:99");

/** Room ABCD (TAP MTU 1392: frames of 1406) with the gateway and clients c1..c4. */
async function rooms(): Promise<{ config: RoomsConfig; credentials: Record<string, string> }> {
  const config = emptyRooms();
  const credentials: Record<string, string> = { gateway: await addRoom(config, "ABCD") };
  for (const name of ["c1", "c2", "c3", "c4"]) {
    credentials[name] = await addClient(config, "ABCD", name);
  }
  return { config, credentials };
}

async function registry(maxClients = 4): Promise<RoomRegistry<string>> {
  let n = 0;
  const reg = new RoomRegistry<string>({ maxClients, newToken: () => `token${++n}` });
  reg.configure((await rooms()).config);
  return reg;
}

/** A join of credential `name` (gateway or a client) of room ABCD. */
function request(name: string, mac: Uint8Array, extra: Partial<JoinRequest> = {}): JoinRequest {
  const role = name === "gateway" ? "gateway" : "client";
  return { role, room: "ABCD", credential: name, mac, budget: 1414, ...extra };
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

Deno.test("RoomRegistry authenticates a credential only with its secret, room and role, and says nothing more", async () => {
  const { config, credentials } = await rooms();
  const reg = new RoomRegistry<string>({ maxClients: 4 });
  reg.configure(config);
  const c1 = parseCredential(credentials.c1!);
  assert.equal(await reg.authenticate(c1, "client"), "c1");
  assert.equal(await reg.authenticate(parseCredential(credentials.gateway!), "gateway"), "gateway");
  const wrongSecret = { ...c1, secret: parseCredential(credentials.c2!).secret };
  assert.equal(await reg.authenticate(wrongSecret, "client"), null);
  assert.equal(await reg.authenticate({ ...c1, name: "nobody" }, "client"), null);
  assert.equal(await reg.authenticate({ ...c1, room: "NOPE" }, "client"), null);
  // A client's credential does not make a gateway: no squatting the LAN's side.
  assert.equal(await reg.authenticate(c1, "gateway"), null);
});

Deno.test("RoomRegistry gives a room the operator's MTU and refuses a peer whose path cannot carry it", async () => {
  const reg = await registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  assert.equal(gw.room.frameMax, 1406);
  const small = reg.join(request("c1", C1, { budget: 1300 }), "c1");
  assert.equal(!small.ok && small.code, "mtu_too_small");
  assert.match(!small.ok ? small.reason : "", /frames of 1406 bytes; this connection carries 1292/);
  assert.match(!small.ok ? small.reason : "", /cannot split frames: update it/);
});

Deno.test("RoomRegistry admits a peer that splits frames when two datagrams carry the room's frame", async () => {
  const reg = await registry();
  admit(reg, request("gateway", GW), "gw");
  // 1162 bytes: QUIC's smallest datagram, every path carries it; 2 × 1154 ≥ 1406.
  const split = reg.join(request("c1", C1, { budget: 1162, fragments: true }), "c1");
  assert.equal(split.ok, true);
  // Half the room's frame behind each header is the least: 2 × (710 − 8) = 1404 < 1406.
  const tiny = reg.join(request("c2", C2, { budget: 710, fragments: true }), "c2");
  assert.equal(!tiny.ok && tiny.code, "mtu_too_small");
  assert.match(!tiny.ok ? tiny.reason : "", /this connection carries 1404 in two fragments: lower/);
  assert.equal(reg.join(request("c2", C2, { budget: 711, fragments: true }), "c2").ok, true);
});

Deno.test("RoomRegistry refuses a client MAC another credential holds, even while that client is away", async () => {
  const reg = await registry();
  const c1 = admit(reg, request("c1", C1), "c1");
  const dup = reg.join(request("c2", C1), "c2");
  assert.equal(!dup.ok && dup.code, "duplicate_mac");
  reg.markAway(c1, 0);
  // A MAC alone never resumes anything.
  const squat = reg.join(request("c2", C1), "c2");
  assert.equal(!squat.ok && squat.code, "duplicate_mac");
  assert.equal(c1.link, null);
});

Deno.test("RoomRegistry resumes a session only with its token, the same credential and the same MAC", async () => {
  const reg = await registry();
  const c1 = admit(reg, request("c1", C1), "c1");
  const resumed = reg.join(request("c1", C1, { resume: c1.resumeToken }), "c1b");
  assert.ok(resumed.ok);
  assert.equal(resumed.peer, c1);
  assert.equal(resumed.resumed, true);
  assert.equal(resumed.replaced, "c1");
  assert.equal(resumed.evicted, null);
  assert.equal(c1.link, "c1b");
  // Another credential with c1's token is just another client.
  const other = reg.join(request("c2", C2, { resume: c1.resumeToken }), "c2");
  assert.ok(other.ok);
  assert.equal(other.resumed, false);
  assert.notEqual(other.peer.peerId, c1.peerId);
});

Deno.test("RoomRegistry lets a restarted peer's new session replace its old one at once", async () => {
  const reg = await registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("c1", C1), "c1");
  // The old session still looks active (a client killed without a goodbye).
  const again = reg.join(request("c1", C1), "c1-restarted");
  assert.ok(again.ok);
  assert.equal(again.resumed, false);
  assert.equal(again.evicted, c1);
  assert.notEqual(again.peer.peerId, c1.peerId);
  assert.deepEqual(gw.room.members.map((p) => p.link), ["gw", "c1-restarted"]);
  // The gateway too: its credential is the only way to the LAN's side of the room.
  const gw2 = reg.join(request("gateway", LAN), "gw2");
  assert.ok(gw2.ok);
  assert.equal(gw2.evicted, gw);
  assert.equal(gw.room.gateway?.link, "gw2");
});

Deno.test("RoomRegistry enforces the client limit per room, not counting the session being replaced", async () => {
  const reg = await registry(1);
  admit(reg, request("c1", C1), "c1");
  const full = reg.join(request("c2", C2), "c2");
  assert.equal(!full.ok && full.code, "room_full");
  admit(reg, request("c1", C1), "c1-restarted");
});

Deno.test("RoomRegistry expires away peers after the window and keeps the room", async () => {
  const reg = await registry();
  const c1 = admit(reg, request("c1", C1), "c1");
  reg.markAway(c1, 1000);
  assert.deepEqual(reg.expire(1500, 1000), []);
  assert.deepEqual(reg.expire(2000, 1000), [c1]);
  const room = reg.room("ABCD");
  assert.ok(room !== undefined);
  assert.equal(room.members.length, 0);
  assert.equal(admit(reg, request("c1", C1), "c1").room.id, room.id);
});

Deno.test("RoomRegistry.configure removes the peers of a revoked or rotated credential, a removed room or a new MTU", async () => {
  const { config } = await rooms();
  const reg = new RoomRegistry<string>({ maxClients: 8 });
  reg.configure(config);
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("c1", C1), "c1");
  const c2 = admit(reg, request("c2", C2), "c2");
  const id = gw.room.id;
  const next: RoomsConfig = structuredClone(config);
  next.rooms[0]!.credentials = next.rooms[0]!.credentials.filter((c) => c.name !== "c1");
  await rotateCredential(next, "ABCD", "c2");
  assert.deepEqual(reg.configure(next), [c1, c2]);
  assert.deepEqual(gw.room.members, [gw]);
  assert.equal(reg.room("ABCD")?.id, id, "a room that stays keeps its id");
  const smaller: RoomsConfig = structuredClone(next);
  smaller.rooms[0]!.tap_mtu = 1300;
  assert.deepEqual(reg.configure(smaller), [gw]);
  assert.equal(reg.room("ABCD")?.frameMax, 1314);
  reg.configure(emptyRooms());
  assert.equal(reg.room("ABCD"), undefined);
});

Deno.test("RoomRegistry numbers peers per room and never reuses an id that is still held", async () => {
  const reg = await registry();
  const ids = new Set<number>();
  for (let i = 1; i <= 4; i++) {
    ids.add(admit(reg, request(`c${i}`, parseMac(`02:00:00:00:01:0${i}`)), `c${i}`).peerId);
  }
  assert.equal(ids.size, 4);
  assert.ok([...ids].every((id) => id >= 1 && id <= 4));
});

Deno.test("switchFrame floods broadcast and sends client unicast to its owner", async () => {
  const reg = await registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("c1", C1), "c1");
  const c2 = admit(reg, request("c2", C2), "c2");
  assert.equal(switchFrame(c1, frame(parseMac("ff:ff:ff:ff:ff:ff"), C1)), FLOOD);
  assert.equal(switchFrame(gw, frame(parseMac("33:33:00:00:00:01"), LAN)), FLOOD);
  assert.equal(switchFrame(c1, frame(C2, C1)), c2);
  assert.equal(switchFrame(gw, frame(C1, LAN)), c1);
});

Deno.test("switchFrame sends client unknown unicast to the gateway only", async () => {
  const reg = await registry();
  const gw = admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("c1", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C1)), gw);
  assert.equal(switchFrame(gw, frame(parseMac("52:54:00:00:00:98"), LAN)), "unknown_destination");
});

Deno.test("switchFrame drops a spoofed client source MAC and reflection", async () => {
  const reg = await registry();
  admit(reg, request("gateway", GW), "gw");
  const c1 = admit(reg, request("c1", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C2)), "unauthorized_source_mac");
  assert.equal(switchFrame(c1, frame(C1, C1)), "reflection");
});

Deno.test("switchFrame without a gateway has nowhere to send client unknown unicast", async () => {
  const reg = await registry();
  const c1 = admit(reg, request("c1", C1), "c1");
  assert.equal(switchFrame(c1, frame(LAN, C1)), "unknown_destination");
});
