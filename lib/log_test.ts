import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { reopenLogFile, setupLogging, shutdownLogging } from "./log.ts";
import { openCheckedFile } from "./net/safe_file.ts";

/** A log file opened as the CLI opens `--log-file`. */
function openLog(path: string): Deno.FsFile {
  return openCheckedFile(path, { what: "log file", write: true, append: true, create: true });
}

Deno.test("setupLogging() writes JSON lines at or above the chosen level to the log file", () => {
  const file = Deno.makeTempFileSync({ suffix: ".log" });
  try {
    setupLogging({ level: "warning", format: "json", file: openLog(file) });
    const log = getLogger(["netkit", "test"]);
    log.info("hidden {n}", { n: 1 });
    log.warn("port {port} expired", { port: "eth0" });
    log.fatal("critical maps to fatal");
    shutdownLogging();
    const lines = Deno.readTextFileSync(file).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].level, "WARNING");
    assert.equal(lines[0].logger, "netkit.test");
    assert.equal(lines[0].message, "port eth0 expired");
    assert.equal(lines[0].port, "eth0");
    assert.equal(lines[1].level, "FATAL");
  } finally {
    shutdownLogging();
    Deno.removeSync(file);
  }
});

Deno.test("setupLogging() text format carries level, category and message", () => {
  const file = Deno.makeTempFileSync({ suffix: ".log" });
  try {
    setupLogging({ level: "debug", format: "text", file: openLog(file) });
    getLogger(["netkit", "lacp"]).debug("{port} state changed: {change}", {
      port: "eth0",
      change: "A:ATG|P:F -> A:ATGSCD|P:ATGSCD",
    });
    shutdownLogging();
    const text = Deno.readTextFileSync(file);
    assert.match(text, /DEBUG/);
    assert.match(text, /netkit·lacp/);
    assert.match(text, /eth0 state changed: A:ATG\|P:F -> A:ATGSCD\|P:ATGSCD\n$/);
  } finally {
    shutdownLogging();
    Deno.removeSync(file);
  }
});

Deno.test("reopenLogFile() after the log file was renamed writes to a new file at the path", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/netkit.log`;
  try {
    const open = () => openLog(path);
    setupLogging({ level: "info", format: "text", file: open(), reopen: { path, open } });
    const log = getLogger(["netkit", "test"]);
    log.info("before rotation");
    Deno.renameSync(path, `${path}.1`);
    log.info("still in the renamed file");
    assert.equal(reopenLogFile(), `reopened log file ${path}`);
    log.info("after rotation");
    shutdownLogging();
    const rotated = Deno.readTextFileSync(`${path}.1`);
    assert.match(rotated, /before rotation\n.*still in the renamed file\n$/);
    assert.match(Deno.readTextFileSync(path), /^[^\n]*after rotation\n$/);
  } finally {
    shutdownLogging();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("reopenLogFile() keeps the open file when the path cannot be reopened, and says so", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/netkit.log`;
  try {
    const open = () => openLog(path);
    setupLogging({ level: "info", format: "text", file: open(), reopen: { path, open } });
    Deno.renameSync(path, `${path}.1`);
    // A link planted where the log file was: openCheckedFile refuses to follow it.
    Deno.symlinkSync("/etc/passwd", path);
    assert.match(
      reopenLogFile(),
      new RegExp(
        `^cannot reopen log file ${path} \\(.+\\); still writing to the file open before$`,
      ),
    );
    getLogger(["netkit", "test"]).info("kept");
    shutdownLogging();
    assert.match(Deno.readTextFileSync(`${path}.1`), /kept\n$/);
  } finally {
    shutdownLogging();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("reopenLogFile() with logging to stderr reopens nothing", () => {
  try {
    setupLogging({ level: "info", format: "text" });
    assert.equal(reopenLogFile(), "no log file to reopen");
  } finally {
    shutdownLogging();
  }
  assert.equal(reopenLogFile(), "no log file to reopen");
});
