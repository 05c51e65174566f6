import assert from "node:assert/strict";
import { streamWriter } from "./output.ts";

Deno.test("streamWriter writes whole texts through partial writes", () => {
  const got: number[] = [];
  const write = streamWriter({
    writeSync(bytes) {
      const n = Math.min(3, bytes.length); // a pipe taking 3 bytes at a time
      got.push(...bytes.subarray(0, n));
      return n;
    },
  });
  write("hello, world\n");
  assert.equal(new TextDecoder().decode(new Uint8Array(got)), "hello, world\n");
});

Deno.test("streamWriter drops output once the reader is gone, and throws other errors", () => {
  let calls = 0;
  const write = streamWriter({
    writeSync() {
      calls++;
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  write("one");
  write("two");
  assert.equal(calls, 1, "nothing more is tried once the pipe broke");
  const failing = streamWriter({
    writeSync() {
      throw new Deno.errors.PermissionDenied("no");
    },
  });
  assert.throws(() => failing("x"), Deno.errors.PermissionDenied);
});

Deno.test({
  name:
    "a netkit command whose stdout reader went away finishes quietly (it used to die of SIGPIPE, 141)",
  async fn() {
    // `netkit --help | (exit)`: the reader closes before netkit writes.
    const child = new Deno.Command("./netkit", {
      args: ["--help"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await child.stdout.cancel();
    const { code, stderr } = await child.output().catch(async () => {
      const status = await child.status;
      return { code: status.code, stderr: new Uint8Array() };
    });
    assert.equal(new TextDecoder().decode(stderr), "");
    assert.equal(code, 0);
  },
});
