import assert from "node:assert/strict";
import { z } from "zod";
import { UnsafeFileError } from "../net/safe_file.ts";
import { readJsonStateFile, writeJsonStateFile } from "./json_state_file.ts";

const Count = z.object({ version: z.literal(1), count: z.number().int() });
const OPTIONS = { describes: "counting state", maxBytes: 64 };

function inTempDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "netkit-json-state-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("a JSON state file is written atomically (mode 0644, directory made) and read back", () => {
  inTempDir((dir) => {
    const path = `${dir}/sub/state.json`;
    assert.equal(readJsonStateFile(path, Count, OPTIONS), null);
    writeJsonStateFile(path, '{"version": 1, "count": 3}\n');
    assert.deepEqual(readJsonStateFile(path, Count, OPTIONS), { version: 1, count: 3 });
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o644);
    assert.deepEqual(Deno.readDirSync(`${dir}/sub`).map((e) => e.name).toArray(), ["state.json"]);
    writeJsonStateFile(path, " \n");
    assert.equal(readJsonStateFile(path, Count, OPTIONS), null);
  });
});

Deno.test("a JSON state file that is not JSON, or not valid, is one error naming the file", () => {
  inTempDir((dir) => {
    const path = `${dir}/state.json`;
    writeJsonStateFile(path, "{not json");
    assert.throws(
      () => readJsonStateFile(path, Count, OPTIONS),
      /^NetkitError: State file ".*\/state\.json" is not JSON: /,
    );
    writeJsonStateFile(path, '{"version": 1, "count": "3"}');
    assert.throws(
      () => readJsonStateFile(path, Count, OPTIONS),
      /^NetkitError: State file ".*\/state\.json" is not a valid counting state: "count": .*expected number/,
    );
  });
});

Deno.test("a JSON state file longer than its bound, writable by others or a link is refused", () => {
  inTempDir((dir) => {
    const path = `${dir}/state.json`;
    writeJsonStateFile(path, JSON.stringify({ version: 1, count: 1, pad: "x".repeat(64) }));
    assert.throws(
      () => readJsonStateFile(path, Count, OPTIONS),
      (err) =>
        err instanceof UnsafeFileError &&
        /state file ".*\/state\.json": it is larger than 64 bytes$/.test(err.message),
    );
    const shared = `${dir}/shared.json`;
    writeJsonStateFile(shared, '{"version": 1, "count": 1}');
    Deno.chmodSync(shared, 0o666);
    assert.throws(() => readJsonStateFile(shared, Count, OPTIONS), UnsafeFileError);
    const link = `${dir}/link.json`;
    Deno.symlinkSync(`${dir}/state.json`, link);
    assert.throws(() => readJsonStateFile(link, Count, OPTIONS), UnsafeFileError);
    assert.throws(() => writeJsonStateFile(link, "{}"), UnsafeFileError);
  });
});
