import assert from "node:assert/strict";
import {
  Interrupted,
  ScenarioRun,
  type ScenarioRunOptions,
  type StepEvent,
  type StoppedEvent,
} from "./runner.ts";

type TestEvent =
  | StepEvent
  | { t: number; event: "note"; text: string }
  | StoppedEvent<"done" | "signal">;

function newRun(options: ScenarioRunOptions<TestEvent> = {}): ScenarioRun<TestEvent> {
  return new ScenarioRun<TestEvent>(options);
}

Deno.test("ScenarioRun records events with their time, shows each to the observer and ends with stopped", async () => {
  const seen: TestEvent[] = [];
  using run = newRun({ onEvent: (e) => seen.push(e) });
  let cleaned = false;
  await run.perform(async () => {
    run.stepTo(1, "first");
    run.emit({ event: "note", text: "hello" }, 0.5);
    await run.pause(1);
  }, () => {
    cleaned = true;
  });
  const end = run.finish(run.interrupted ? "signal" : "done");
  assert.ok(cleaned);
  assert.equal(end.reason, "done");
  assert.deepEqual(end.events.map((e) => e.event), ["step", "note", "stopped"]);
  assert.deepEqual(seen, end.events);
  assert.deepEqual(Object.keys(seen[1]!), ["t", "event", "text"], "t comes first in the JSON");
  assert.equal(seen[1]!.t, 0.5);
  assert.deepEqual(run.step, { step: 1, title: "first" });
});

Deno.test("ScenarioRun: the caller's signal interrupts a pause, the cleanup runs, the reason is signal", async () => {
  const caller = new AbortController();
  using run = newRun({ signal: caller.signal });
  const reached: string[] = [];
  const timer = setTimeout(() => caller.abort(), 10);
  await run.perform(async () => {
    reached.push("pause");
    await run.pause(60_000);
    reached.push("after");
  }, () => {
    reached.push("cleanup");
  });
  clearTimeout(timer);
  assert.deepEqual(reached, ["pause", "cleanup"]);
  assert.ok(run.interrupted);
  assert.equal(run.finish(run.interrupted ? "signal" : "done").reason, "signal");
});

Deno.test("ScenarioRun: a script that throws still gets its cleanup, then the error is thrown", async () => {
  using run = newRun();
  let cleaned = false;
  await assert.rejects(
    run.perform(() => Promise.reject(new Error("boom")), () => {
      cleaned = true;
    }),
    /boom/,
  );
  assert.ok(cleaned);
  assert.ok(run.failed);
  assert.ok(!run.interrupted);
});

Deno.test("ScenarioRun: an observer that throws ends the run and is not called again", async () => {
  let calls = 0;
  using run = newRun({
    onEvent: () => {
      calls++;
      throw new Error("stdout gone");
    },
  });
  let cleanedAfterEvents = 0;
  await assert.rejects(
    run.perform(async () => {
      run.emit({ event: "note", text: "one" });
      await run.pause(60_000);
    }, () => {
      run.emit({ event: "note", text: "two" });
      cleanedAfterEvents = run.events.length;
    }),
    /stdout gone/,
  );
  assert.equal(calls, 1);
  assert.equal(cleanedAfterEvents, 2, "events are still recorded");
});

Deno.test("ScenarioRun.until tests again on every event and on wake, and gives up after its time", async () => {
  using run = newRun();
  let ready = false;
  setTimeout(() => run.emit({ event: "note", text: "tick" }), 5);
  assert.equal(await run.until(() => run.events.length > 0, 60_000), true);
  setTimeout(() => {
    ready = true;
    run.wake();
  }, 5);
  assert.equal(await run.until(() => ready, 60_000), true);
  assert.equal(await run.until(() => false, 5), false);
});

Deno.test("ScenarioRun.interruptible rejects with Interrupted once the run fails", async () => {
  using run = newRun();
  let resolve = () => {};
  const never = new Promise<void>((r) => resolve = r);
  const waiting = run.interruptible(never);
  run.fail(new Error("the daemon exited"));
  await assert.rejects(waiting, Interrupted);
  assert.throws(() => run.check(), Interrupted);
  resolve();
});
