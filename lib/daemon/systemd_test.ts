import assert from "node:assert/strict";
import { parseJournalStream, systemdService } from "./systemd.ts";

Deno.test("parseJournalStream reads DEVICE:INODE and nothing else", () => {
  assert.deepEqual(parseJournalStream("8:12345"), { dev: 8, ino: 12345 });
  for (const text of ["", "8", "8:", ":1", "8:1:2", "a:1", " 8:1", "8:1\n"]) {
    assert.equal(parseJournalStream(text), null, JSON.stringify(text));
  }
});

/** Runs `check` with the environment variables `vars` set (undefined: removed), then restores them. */
function withEnv(vars: Record<string, string | undefined>, check: () => void): void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  };
  set(vars);
  try {
    check();
  } finally {
    set(before);
  }
}

Deno.test("systemdService believes JOURNAL_STREAM only when it names our stderr, INVOCATION_ID only under a systemd parent", () => {
  const stderr = Deno.statSync("/proc/self/fd/2");
  withEnv({ JOURNAL_STREAM: `${stderr.dev}:${stderr.ino}`, INVOCATION_ID: undefined }, () => {
    assert.equal(systemdService(), "JOURNAL_STREAM names its standard error");
  });
  // A variable leaked into a login shell: another file, or a parent that is not systemd.
  withEnv({ JOURNAL_STREAM: `${stderr.dev}:${stderr.ino! + 1}`, INVOCATION_ID: "0123abcd" }, () => {
    const parent = Deno.readTextFileSync(`/proc/${Deno.ppid}/comm`).trim();
    assert.equal(
      systemdService(),
      parent === "systemd" ? "INVOCATION_ID is set and systemd started it" : null,
    );
  });
});
