import assert from "node:assert/strict";
import { ChildDaemon } from "./child_daemon.ts";

Deno.test("ChildDaemon.stop ends a process that exits on SIGTERM without waiting the grace", async () => {
  const child = ChildDaemon.spawn("a sleeper", "sleep", ["30"]);
  const started = performance.now();
  const status = await child.stop(10_000);
  assert.equal(status.signal, "SIGTERM");
  assert.ok(performance.now() - started < 5000);
  assert.equal(await child.stop(), status, "a second stop returns the same status");
});

Deno.test("ChildDaemon.stop kills a process that ignores SIGTERM once the grace has passed", async () => {
  const child = ChildDaemon.spawn("a stubborn one", "sh", [
    "-c",
    "trap '' TERM; echo ready; while :; do sleep 0.05; done",
  ]);
  await child.waitUntil(() => Promise.resolve(child.output.includes("ready")), {
    timeoutMs: 5000,
  });
  const status = await child.stop(200);
  assert.equal(status.signal, "SIGKILL");
});

Deno.test("ChildDaemon.waitUntil stops polling when its signal aborts", async () => {
  await using child = ChildDaemon.spawn("a sleeper", "sleep", ["30"]);
  const abort = new AbortController();
  setTimeout(() => abort.abort(new Error("given up")), 50);
  await assert.rejects(
    child.waitUntil(() => Promise.resolve(false), { timeoutMs: 10_000, signal: abort.signal }),
    /given up/,
  );
});
