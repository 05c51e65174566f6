import assert from "node:assert/strict";
import {
  addClient,
  addRoom,
  editRoomsFile,
  emptyRooms,
  readRoomsFile,
  removeRoom,
} from "./rooms_file.ts";

Deno.test("rooms_file edits: a room's gateway credential, named clients with addresses, and the refusals", async () => {
  const config = emptyRooms();
  await addRoom(config, "LAN1", { tapMtu: 1300, addressGuard: false });
  await addClient(config, "LAN1", "alice", ["192.168.1.5", "2001:db8::5"]);
  assert.deepEqual(
    config.rooms.map((r) => [r.room, r.tap_mtu, r.address_guard, r.credentials.map((c) => c.name)]),
    [["LAN1", 1300, false, ["gateway", "alice"]]],
  );
  await assert.rejects(addRoom(config, "LAN1"), /Room "LAN1" exists/);
  await assert.rejects(addClient(config, "LAN1", "alice"), /has a client "alice"/);
  await assert.rejects(addClient(config, "LAN1", "gateway"), /names the room's gateway/);
  await assert.rejects(addClient(config, "LAN1", "bob", ["300.1.1.1"]), /Invalid address/);
  await assert.rejects(addClient(config, "NOPE", "bob"), /No room "NOPE"/);
  removeRoom(config, "LAN1");
  assert.deepEqual(config.rooms, []);
});

Deno.test("readRoomsFile validates the file and names what is wrong", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-rooms-" });
  try {
    const path = `${dir}/rooms.json`;
    assert.deepEqual(readRoomsFile(path), emptyRooms(), "a missing file has no rooms");
    await editRoomsFile(path, (config) => addRoom(config, "LAN1"));
    const saved = JSON.parse(await Deno.readTextFile(path));
    assert.equal(readRoomsFile(path).rooms[0]!.room, "LAN1");
    saved.rooms[0].credentials.push({ ...saved.rooms[0].credentials[0], role: "client" });
    await Deno.writeTextFile(path, JSON.stringify(saved));
    assert.throws(
      () => readRoomsFile(path),
      /is invalid: .*Duplicate credential "gateway".*Only the credential named "gateway"/,
    );
    await Deno.writeTextFile(path, "{");
    assert.throws(() => readRoomsFile(path), /is not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
