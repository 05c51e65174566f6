import assert from "node:assert/strict";
import { NetkitError } from "../errors.ts";
import { withRunDir } from "../../testing/ipc.ts";
import { flockHolder, InstanceLock, verifySocketOwner } from "./instance_lock.ts";

const LOCKS = [
  "1: POSIX  ADVISORY  READ 1388 fe:00:5310921 128 128",
  "2: FLOCK  ADVISORY  WRITE 1481 fe:00:2146392 0 EOF",
  "2: -> FLOCK  ADVISORY  WRITE 1500 00:1a:77 0 EOF",
  "3: FLOCK  ADVISORY  WRITE 1206 103:05:77 0 EOF",
].join("\n") + "\n";

Deno.test("flockHolder() finds the holder of an exclusive flock by device and inode", () => {
  // st_dev 0xfe00 is major 0xfe, minor 0; 0x10305 is major 0x103, minor 5.
  assert.equal(flockHolder(LOCKS, 0xfe00, 2146392), 1481);
  assert.equal(flockHolder(LOCKS, 0x10305, 77), 1206);
  // A POSIX lock, a waiter, another device: nobody holds a flock on those.
  assert.equal(flockHolder(LOCKS, 0xfe00, 5310921), null);
  assert.equal(flockHolder(LOCKS, 0x1a, 77), null);
  assert.equal(flockHolder(LOCKS, 0xfe00, 77), null);
  assert.equal(flockHolder("", 0xfe00, 2146392), null);
});

Deno.test("verifySocketOwner() accepts only the pid holding the socket's lock file", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/lacp-test.sock`;
    await assert.rejects(
      verifySocketOwner(path, Deno.pid),
      (err) => err instanceof NetkitError && /lacp-test\.sock\.lock" is missing$/.test(err.message),
    );
    // A lock file nobody holds, as a fake daemon could leave beside its socket.
    await Deno.writeTextFile(`${path}.lock`, `${Deno.pid}\n`);
    await assert.rejects(
      verifySocketOwner(path, Deno.pid),
      (err) => err instanceof NetkitError && /, but nobody holds ".*\.lock"$/.test(err.message),
    );
    await Deno.remove(`${path}.lock`);
    const lock = await InstanceLock.acquire(path);
    try {
      await verifySocketOwner(path, Deno.pid);
      await assert.rejects(
        verifySocketOwner(path, Deno.pid + 1),
        (err) =>
          err instanceof NetkitError &&
          err.message === `Refusing to signal pid ${Deno.pid + 1}: the daemon on "${path}" ` +
              `gave it as its own, but "${path}.lock" is held by pid ${Deno.pid}`,
      );
    } finally {
      await lock.release();
    }
  });
});
