import assert from "node:assert/strict";
import { EventHub } from "./event_hub.ts";

Deno.test("EventHub delivers events published after subscribing, in order, to every subscriber", async () => {
  const hub = new EventHub<number>();
  const controller = new AbortController();
  const a = hub.subscribe(controller.signal);
  const b = hub.subscribe(controller.signal);
  const firstA = a.next();
  const firstB = b.next();
  hub.publish(1);
  hub.publish(2);
  assert.deepEqual([(await firstA).value, (await a.next()).value], [1, 2]);
  assert.deepEqual([(await firstB).value, (await b.next()).value], [1, 2]);
  controller.abort();
  assert.equal((await a.next()).done, true);
  assert.equal((await b.next()).done, true);
  assert.equal(hub.size, 0);
});

Deno.test("EventHub drops the oldest events for a slow subscriber and says how many", async () => {
  const hub = new EventHub<number>(3);
  const controller = new AbortController();
  const sub = hub.subscribe(controller.signal);
  const first = sub.next();
  hub.publish(0);
  assert.equal((await first).value, 0);
  for (let i = 1; i <= 5; i++) hub.publish(i);
  assert.deepEqual((await sub.next()).value, { event: "dropped", count: 2 });
  assert.deepEqual([(await sub.next()).value, (await sub.next()).value, (await sub.next()).value], [
    3,
    4,
    5,
  ]);
  hub.close();
  assert.equal((await sub.next()).done, true);
  controller.abort();
});

Deno.test("EventHub subscriptions start when subscribe() is called, before the first read", async () => {
  const hub = new EventHub<string>();
  const controller = new AbortController();
  const sub = hub.subscribe(controller.signal);
  hub.publish("early");
  assert.equal((await sub.next()).value, "early");
  controller.abort();
  assert.equal((await sub.next()).done, true);
});

Deno.test("EventHub forgets a subscriber whose signal aborts before it is ever read", () => {
  const hub = new EventHub<number>();
  const controller = new AbortController();
  const unread = hub.subscribe(controller.signal);
  assert.equal(hub.size, 1);
  controller.abort();
  assert.equal(hub.size, 0);
  hub.publish(1); // nothing is queued for the aborted subscriber
  void unread.return(undefined);
});
