import assert from "node:assert/strict";
import "../../ffi/native.ts";
import { NetkitOsError } from "../errors.ts";
import {
  effectiveUid,
  ensurePrivateDir,
  isNotFound,
  openCheckedFile,
  readCheckedFile,
  UnsafeFileError,
  writeFileAtomic,
} from "./safe_file.ts";

function withDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "netkit-safe-file-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const write = { what: "test file", write: true, create: true } as const;

Deno.test("openCheckedFile() creates a file with the mode asked, and truncates only when asked", () => {
  withDir((dir) => {
    const path = `${dir}/a`;
    {
      using file = openCheckedFile(path, { ...write, mode: 0o600 });
      file.writeSync(new TextEncoder().encode("hello"));
    }
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    {
      using _file = openCheckedFile(path, write);
    }
    assert.equal(Deno.readTextFileSync(path), "hello");
    {
      using file = openCheckedFile(path, { ...write, append: true });
      file.writeSync(new TextEncoder().encode("!"));
    }
    assert.equal(Deno.readTextFileSync(path), "hello!");
    {
      using _file = openCheckedFile(path, { ...write, truncate: true });
    }
    assert.equal(Deno.readTextFileSync(path), "");
  });
});

Deno.test("openCheckedFile() refuses a symbolic link, even a dangling one, and changes nothing", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/target`, "keep");
    Deno.symlinkSync(`${dir}/target`, `${dir}/link`);
    Deno.symlinkSync(`${dir}/absent`, `${dir}/dangling`);
    assert.throws(
      () => openCheckedFile(`${dir}/link`, { ...write, truncate: true }),
      (err: unknown) =>
        err instanceof UnsafeFileError && err.path === `${dir}/link` &&
        err.message ===
          `Refusing to write test file "${dir}/link": it is a symbolic link, which netkit ` +
            "never follows; remove it or give another path",
    );
    assert.throws(() => openCheckedFile(`${dir}/dangling`, write), UnsafeFileError);
    assert.equal(Deno.readTextFileSync(`${dir}/target`), "keep");
    assert.throws(() => Deno.statSync(`${dir}/absent`), Deno.errors.NotFound, "not created");
  });
});

Deno.test("openCheckedFile() refuses a hard-linked file and anything not a regular file", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/target`, "keep");
    Deno.linkSync(`${dir}/target`, `${dir}/second-name`);
    assert.throws(
      () => openCheckedFile(`${dir}/second-name`, { ...write, truncate: true }),
      /^UnsafeFileError: Refusing to write test file ".*\/second-name": it has 2 hard links/,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/target`), "keep");
    assert.throws(
      () => openCheckedFile(dir, { what: "test file", read: true }),
      /it is a directory, not a regular file/,
    );
    // A FIFO must neither block the open nor be written to.
    new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
    assert.throws(
      () => openCheckedFile(`${dir}/fifo`, { what: "test file", read: true }),
      /it is a FIFO, not a regular file/,
    );
  });
});

Deno.test("openCheckedFile() reports a missing file as ENOENT and refuses forbidden mode bits", () => {
  withDir((dir) => {
    assert.throws(
      () => openCheckedFile(`${dir}/none`, { what: "key file", read: true }),
      (err: unknown) => err instanceof NetkitOsError && err.code === "ENOENT" && isNotFound(err),
    );
    Deno.writeTextFileSync(`${dir}/key`, "secret");
    Deno.chmodSync(`${dir}/key`, 0o640);
    assert.throws(
      () =>
        readCheckedFile(`${dir}/key`, {
          what: "key file",
          forbiddenModeBits: 0o077,
          maxBytes: 4096,
        }),
      /^UnsafeFileError: Refusing to read key file ".*\/key": its mode 0640 lets its group read it; /,
    );
    Deno.chmodSync(`${dir}/key`, 0o600);
    assert.equal(
      new TextDecoder().decode(
        readCheckedFile(`${dir}/key`, {
          what: "key file",
          forbiddenModeBits: 0o077,
          maxBytes: 4096,
        }),
      ),
      "secret",
    );
    // A file longer than maxBytes is refused, not read whole.
    assert.throws(
      () => readCheckedFile(`${dir}/key`, { what: "key file", maxBytes: 5 }),
      /^UnsafeFileError: Refusing to read key file ".*\/key": it is larger than 5 bytes$/,
    );
  });
});

Deno.test("effectiveUid() is this process's effective uid", () => {
  // netkit is never setuid, so here the effective uid is the real one.
  assert.equal(effectiveUid(), Deno.uid());
});

Deno.test("writeFileAtomic() writes the exact mode through a fresh temporary file and leaves none", () => {
  withDir((dir) => {
    writeFileAtomic(`${dir}/state.json`, "one", { what: "state file", mode: 0o644 });
    writeFileAtomic(`${dir}/key.pem`, new TextEncoder().encode("two"), {
      what: "key file",
      mode: 0o600,
    });
    writeFileAtomic(`${dir}/state.json`, "three", { what: "state file", mode: 0o644 });
    assert.equal(Deno.readTextFileSync(`${dir}/state.json`), "three");
    assert.equal(Deno.statSync(`${dir}/state.json`).mode! & 0o7777, 0o644);
    assert.equal(Deno.statSync(`${dir}/key.pem`).mode! & 0o7777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "key.pem",
      "state.json",
    ]);
  });
});

Deno.test("writeFileAtomic() refuses to replace a symbolic link or a hard-linked file", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/target`, "keep");
    Deno.symlinkSync(`${dir}/target`, `${dir}/link`);
    assert.throws(
      () => writeFileAtomic(`${dir}/link`, "x", { what: "state file" }),
      (err: unknown) =>
        err instanceof UnsafeFileError &&
        err.message ===
          `Refusing to replace state file "${dir}/link": it is a symbolic link, which netkit ` +
            "never follows; remove it or give another path",
    );
    Deno.linkSync(`${dir}/target`, `${dir}/hard`);
    assert.throws(
      () => writeFileAtomic(`${dir}/hard`, "x", { what: "state file" }),
      /it has 2 hard links/,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/target`), "keep");
    assert.ok(Deno.lstatSync(`${dir}/link`).isSymlink);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "hard",
      "link",
      "target",
    ]);
  });
});

Deno.test("ensurePrivateDir() creates a 0700 directory and refuses a link or a group-writable one", () => {
  withDir((dir) => {
    ensurePrivateDir(`${dir}/new/certs`, "certificate directory");
    assert.equal(Deno.statSync(`${dir}/new/certs`).mode! & 0o7777, 0o700);
    ensurePrivateDir(`${dir}/new/certs`, "certificate directory");

    Deno.symlinkSync(`${dir}/new/certs`, `${dir}/link`);
    assert.throws(
      () => ensurePrivateDir(`${dir}/link`, "certificate directory"),
      /^UnsafeFileError: Refusing to use certificate directory ".*\/link": it is a symbolic link/,
    );
    Deno.mkdirSync(`${dir}/shared`);
    Deno.chmodSync(`${dir}/shared`, 0o775);
    assert.throws(
      () => ensurePrivateDir(`${dir}/shared`, "certificate directory"),
      new RegExp(
        `^UnsafeFileError: Refusing to use certificate directory "${dir}/shared": its mode 0775 ` +
          `lets its group write it; run "chmod go-w ${dir}/shared", or give another path$`,
      ),
    );
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(
      () => ensurePrivateDir(`${dir}/file`, "certificate directory"),
      /it is a regular file, not a directory; remove it or give another path$/,
    );
  });
});
