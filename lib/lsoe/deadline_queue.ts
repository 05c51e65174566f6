/**
 * A binary min-heap of things that each have one deadline, where each item knows its place so
 * that a changed deadline moves it in O(log n): the LSoE engine keeps its sessions and HELLO
 * beacons here, so that finding what is due costs nothing per idle session.
 *
 * @module
 */

/** Something with a deadline the queue orders by. */
export interface Scheduled {
  /** When it next has work (ms); Infinity: none. */
  deadline: number;
  /** Its place in the queue, -1 when not queued: only the queue writes it. */
  queueIndex: number;
}

/**
 * The queue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeadlineQueue } from "./deadline_queue.ts";
 *
 * const queue = new DeadlineQueue();
 * const a = { deadline: 30, queueIndex: -1 };
 * const b = { deadline: 20, queueIndex: -1 };
 * queue.update(a);
 * queue.update(b);
 * assert.equal(queue.peek(), b);
 * b.deadline = 40;
 * queue.update(b);
 * assert.equal(queue.peek(), a);
 * ```
 */
export class DeadlineQueue<T extends Scheduled = Scheduled> {
  readonly #heap: T[] = [];

  /** How many items are queued. */
  get size(): number {
    return this.#heap.length;
  }

  /** The item with the earliest deadline, or undefined. */
  peek(): T | undefined {
    return this.#heap[0];
  }

  /** The earliest finite deadline, or null. */
  nextDeadline(): number | null {
    const top = this.#heap[0];
    return top === undefined || top.deadline === Infinity ? null : top.deadline;
  }

  /** Queues `item`, or moves it after its deadline changed. */
  update(item: T): void {
    if (item.queueIndex < 0) {
      item.queueIndex = this.#heap.length;
      this.#heap.push(item);
    }
    this.#siftUp(item.queueIndex);
    this.#siftDown(item.queueIndex);
  }

  /** Takes `item` out (nothing if it is not queued). */
  remove(item: T): void {
    const index = item.queueIndex;
    if (index < 0 || this.#heap[index] !== item) return;
    const last = this.#heap.pop()!;
    item.queueIndex = -1;
    if (last === item) return;
    this.#heap[index] = last;
    last.queueIndex = index;
    this.#siftUp(index);
    this.#siftDown(last.queueIndex);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.deadline <= heap[index]!.deadline) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && heap[left]!.deadline < heap[smallest]!.deadline) smallest = left;
      if (right < heap.length && heap[right]!.deadline < heap[smallest]!.deadline) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    a.queueIndex = j;
    b.queueIndex = i;
  }
}
