import assert from "node:assert/strict";
import { DeadlineQueue, type Scheduled } from "./deadline_queue.ts";

Deno.test("the queue yields items in deadline order through updates and removals", () => {
  const queue = new DeadlineQueue<Scheduled & { id: number }>();
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 0x7fffffff) % 1_000;
  const items = Array.from(
    { length: 200 },
    (_, id) => ({ id, deadline: random(), queueIndex: -1 }),
  );
  for (const item of items) queue.update(item);
  for (const item of items.slice(0, 50)) {
    item.deadline = random();
    queue.update(item);
  }
  for (const item of items.slice(50, 80)) queue.remove(item);
  queue.remove(items[60]!); // twice: nothing
  const order: number[] = [];
  for (let top = queue.peek(); top; top = queue.peek()) {
    order.push(top.deadline);
    queue.remove(top);
  }
  assert.equal(order.length, 170);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.equal(queue.nextDeadline(), null);
  queue.update({ id: -1, deadline: Infinity, queueIndex: -1 });
  assert.equal(queue.nextDeadline(), null);
});
