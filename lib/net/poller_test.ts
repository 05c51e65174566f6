import assert from "node:assert/strict";
import { encodeGetLink } from "./netlink_messages.ts";
import { Poller } from "./poller.ts";
import { RtnetlinkSocket } from "./rtnetlink.ts";

Deno.test("Poller.wait() times out with nothing ready", async () => {
  await using poller = new Poller();
  const start = performance.now();
  const result = await poller.wait([], 60);
  assert.deepEqual(result, { ready: [], woken: false });
  assert.ok(performance.now() - start >= 50);
});

Deno.test("Poller.wait() reports a readable descriptor", async () => {
  await using poller = new Poller();
  using socket = RtnetlinkSocket.open();
  socket.send(encodeGetLink({ seq: 1 }));
  const result = await poller.wait([socket.fd], 1000);
  assert.deepEqual(result.ready, [socket.fd]);
});

Deno.test("Poller.wait() with settleMs returns what is ready that much later; nothing ready: no settle", async () => {
  await using poller = new Poller();
  using socket = RtnetlinkSocket.open();
  socket.send(encodeGetLink({ seq: 1 }));
  let start = performance.now();
  const result = await poller.wait([socket.fd], 1000, undefined, 80);
  assert.deepEqual(result.ready, [socket.fd]);
  assert.ok(performance.now() - start >= 75, "the settle was waited out");
  start = performance.now();
  await poller.wait([], 0, undefined, 500);
  assert.ok(performance.now() - start < 400, "a timeout does not settle");
});

Deno.test("Poller.wake() ends a wait without a timeout at once, and a wake before a wait is kept", async () => {
  await using poller = new Poller();
  const timer = setTimeout(() => poller.wake(), 30);
  const result = await poller.wait([], -1);
  clearTimeout(timer);
  assert.equal(result.woken, true);
  poller.wake();
  assert.equal((await poller.wait([], 5000)).woken, true);
  assert.equal((await poller.wait([], 0)).woken, false, "the wake was consumed");
});

Deno.test("Poller.close() ends a wait in progress and can be repeated", async () => {
  const poller = new Poller();
  const waiting = poller.wait([], -1);
  await poller.close();
  assert.equal((await waiting).woken, true);
  await poller.close();
  await assert.rejects(poller.wait([], 0), /closed/);
});

Deno.test("Poller refuses two waits at once", async () => {
  await using poller = new Poller();
  const first = poller.wait([], -1);
  await assert.rejects(poller.wait([], 0), /already in progress/);
  poller.wake();
  await first;
});

Deno.test("Poller.wait() watches a descriptor number closed and reused when given a new array", async () => {
  await using poller = new Poller();
  const first = RtnetlinkSocket.open();
  const fds = [first.fd];
  assert.deepEqual((await poller.wait(fds, 0)).ready, []);
  first.close();
  // The lowest free number: most likely the one just closed, which epoll has forgotten.
  using second = RtnetlinkSocket.open();
  second.send(encodeGetLink({ seq: 1 }));
  const result = await poller.wait([second.fd], 1000);
  assert.deepEqual(result.ready, [second.fd]);
});

Deno.test("Poller.wait() reports a closed descriptor ready at once, as poll(2) does", async () => {
  await using poller = new Poller();
  const socket = RtnetlinkSocket.open();
  const fd = socket.fd;
  socket.close();
  const start = performance.now();
  const result = await poller.wait([fd], 5000);
  assert.deepEqual(result.ready, [fd]);
  assert.ok(performance.now() - start < 1000);
});
