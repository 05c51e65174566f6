import assert from "node:assert/strict";
import "../ffi/native.ts";
import { cli } from "./_cli.ts";
import { readApplyInput } from "../lib/cli/mroute_apply.ts";
import { z } from "zod";
import { UsageError } from "../lib/cli/errors.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { MAX_APPLY_FILE_BYTES } from "../lib/mroute/apply_file.ts";

/** A socket path where no daemon listens. */
const NOWHERE = "/nonexistent/netkit-test/mroute.sock";

Deno.test("netkit mroute add without an output interface is a usage error (exit 2)", async () => {
  const { code, err } = await cli(
    "mroute",
    "add",
    "--socket",
    NOWHERE,
    "--group",
    "239.1.1.1",
    "--iif",
    "eth1",
  );
  assert.equal(code, 2);
  assert.equal(
    err,
    "netkit: error: At least one output interface is needed: --oif IF[:TTL] or --oifs A,B\n",
  );
});

Deno.test("netkit mroute refuses a bad --table and a missing required option with exit 2", async () => {
  const table = await cli("mroute", "show", "--table", "seven");
  assert.equal(table.code, 2);
  assert.equal(
    table.err,
    'netkit: error: Invalid value "seven" for --table: expected a table id from 0 to 999999999\n',
  );
  const group = await cli("mroute", "del", "--socket", NOWHERE);
  assert.equal(group.code, 2);
  assert.match(group.err, /^netkit: error: required option '--group <address>' not specified\n$/);
});

Deno.test("netkit mroute without a daemon says so and how to start it, with the same options", async () => {
  const { code, err } = await cli("mroute", "show", "--socket", NOWHERE);
  assert.equal(code, 1);
  assert.match(
    err,
    new RegExp(
      `^netkit: error: Cannot reach the netkit daemon at "${NOWHERE}": .*; ` +
        `start it with "netkit mroute daemon -d --socket ${NOWHERE}"\\n$`,
    ),
  );
});

Deno.test("netkit mroute apply names a file that is not JSON, before any daemon is asked (exit 2)", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, "{routes: oops");
    const { code, err } = await cli("mroute", "apply", file, "--socket", NOWHERE);
    assert.equal(code, 2);
    assert.match(err, new RegExp(`^netkit: error: "${file}": not JSON: `));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("netkit mroute apply refuses a FIFO, /dev/zero and a directory at once, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/routes.fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success, "mkfifo failed");
    const cases: [string, string][] = [[fifo, "a FIFO"], ["/dev/zero", "a device"], [
      dir,
      "a directory",
    ]];
    for (const [path, kind] of cases) {
      const { code, err } = await cli("mroute", "apply", path, "--dry-run", "--socket", NOWHERE);
      assert.equal(code, 2, path);
      assert.equal(
        err,
        `netkit: error: Refusing to read apply file "${path}": it is ${kind}, not a regular file\n`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit mroute apply refuses a file over the size bound and a missing one, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const big = `${dir}/big.json`;
    using file = await Deno.open(big, { write: true, create: true });
    await file.truncate(MAX_APPLY_FILE_BYTES + 1); // sparse: costs no disk
    const over = await cli("mroute", "apply", big, "--socket", NOWHERE);
    assert.equal(over.code, 2);
    assert.equal(
      over.err,
      `netkit: error: Refusing to read apply file "${big}": it is larger than ${MAX_APPLY_FILE_BYTES} bytes\n`,
    );
    const missing = await cli("mroute", "apply", `${dir}/none.json`, "--socket", NOWHERE);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^netkit: error: read apply file ".*none.json": ENOENT/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('readApplyInput reads stdin for "-", bounded: an endless stdin is refused', () => {
  const text = '{"routes": []}';
  const once = (bytes: Uint8Array) => {
    let given = false;
    return {
      readSync(p: Uint8Array): number | null {
        if (given) return null;
        given = true;
        p.set(bytes);
        return bytes.length;
      },
    };
  };
  assert.equal(readApplyInput("-", once(new TextEncoder().encode(text))), text);
  let reads = 0;
  const zero = { readSync: (p: Uint8Array) => (reads++, p.fill(0).length) };
  assert.throws(() => readApplyInput("-", zero), (err: Error) => {
    assert.ok(err instanceof UsageError);
    assert.equal(
      err.message,
      `Refusing to read apply file "-" (stdin): it is larger than ${MAX_APPLY_FILE_BYTES} bytes`,
    );
    return true;
  });
  assert.ok(reads <= MAX_APPLY_FILE_BYTES / 65536 + 1, `${reads} reads`);
  assert.throws(() => readApplyInput("-", once(new Uint8Array([0xff]))), /not UTF-8 text/);
});

Deno.test("netkit mroute apply --dry-run checks a file offline when no daemon runs", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      `{"vifs": ["eth9"], "routes": [\n  {"group": "239.1.1.1", "iif": "eth1", "oifs": ["eth2"]}\n]}`,
    );
    const ok = await cli("mroute", "apply", file, "--dry-run", "--socket", NOWHERE);
    assert.equal(ok.err, "");
    assert.equal(ok.code, 0);
    const [first, ...rest] = ok.out.split("\n");
    assert.match(
      first!,
      /^Dry run, offline \(Cannot reach the netkit daemon at .*\): the file is valid/,
    );
    assert.match(first!, /1 route added, 1 VIF pinned\.$/);
    assert.deepEqual(rest, ["+ (*, 239.1.1.1) iif eth1 oifs eth2", "+ vif eth9", ""]);
    const json = await cli("-j", "mroute", "apply", file, "--dry-run", "--socket", NOWHERE);
    const reply = JSON.parse(json.out);
    assert.equal(reply.offline, true);
    assert.deepEqual(reply.plan.add, [{ group: "239.1.1.1", iif: "eth1", oifs: ["eth2"] }]);

    await Deno.writeTextFile(
      file,
      `{"routes": [\n  {"group": "239.1.1.1", "iif": "eth1", "oifs": ["eth2"]},\n` +
        `  {"group": "239.1.1.300", "iif": "eth1", "oifs": ["eth2"]}\n]}`,
    );
    const bad = await cli("mroute", "apply", file, "--dry-run", "--socket", NOWHERE);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.err,
      `netkit: error: "${file}": line 3: route 2: Invalid argument: Group '239.1.1.300' is not an IPv4 or IPv6 address.\n`,
    );
    // Without --dry-run, a valid file still needs the daemon.
    await Deno.writeTextFile(file, `{"routes": []}`);
    const real = await cli("mroute", "apply", file, "--socket", NOWHERE);
    assert.equal(real.code, 1);
    assert.match(real.err, /start it with "netkit mroute daemon -d --socket /);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("netkit mroute apply --dry-run --offline plans the file alone even when a daemon answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-mroute-cli-" });
  try {
    const file = `${dir}/state.json`;
    await Deno.writeTextFile(
      file,
      `{"routes": [{"group": "239.1.1.1", "iif": "eth1", "oifs": ["eth2"]}]}`,
    );
    let asked = 0;
    await using _daemon = await ControlServer.listen({
      path: `${dir}/mroute.sock`,
      schema: z.object({ action: z.string() }).loose(),
      handle: () => {
        asked++;
        return { status: "error", message: "the daemon was asked" };
      },
    });
    const socket = ["--socket", `${dir}/mroute.sock`];
    const ok = await cli("mroute", "apply", file, "--dry-run", "--offline", ...socket);
    assert.equal(ok.err, "");
    assert.equal(ok.code, 0);
    assert.match(ok.out, /^Dry run, offline \(--offline\): the file is valid; .*1 route added/);
    assert.equal(asked, 0);
    const alone = await cli("mroute", "apply", file, "--offline", ...socket);
    assert.equal(alone.code, 2);
    assert.equal(
      alone.err,
      "netkit: error: --offline plans without a daemon, so it needs --dry-run\n",
    );
    assert.equal(asked, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit mroute add, del and vif refuse arguments the daemon would, exit 2, without asking it", async () => {
  const cases: [string[], string][] = [
    [
      ["add", "--group", "239.1.1.999", "--iif", "eth1", "--oif", "eth2"],
      "Invalid argument: Group '239.1.1.999' is not an IPv4 or IPv6 address.",
    ],
    [
      ["add", "--group", "239.1.1.1", "--iif", "eth/1", "--oif", "eth2"],
      "Invalid argument: Input interface 'eth/1' is not a valid interface name.",
    ],
    [
      ["del", "--group", "239.1.1.1", "--source", "ten"],
      "Invalid argument: Source 'ten' is not an IPv4 or IPv6 address.",
    ],
    [
      ["vif", "add", "a-name-far-too-long"],
      "Invalid argument: Interface 'a-name-far-too-long' is not a valid interface name.",
    ],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await cli("mroute", ...args, "--socket", NOWHERE);
    assert.equal(code, 2, args.join(" "));
    assert.equal(err, `netkit: error: ${message}\n`);
  }
});

Deno.test("netkit mroute daemon refuses -j, which has no meaning for it", async () => {
  const { code, err } = await cli("-j", "mroute", "daemon", "--socket", NOWHERE);
  assert.equal(code, 2);
  assert.equal(err, "netkit: error: -j/--json and -p/--pretty do not apply to the daemon\n");
});

Deno.test("netkit mroute show turns a malformed reply into one line, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-mroute-cli-" });
  try {
    await using _fake = await ControlServer.listen({
      path: `${dir}/mroute.sock`,
      schema: z.object({ action: z.string() }).loose(),
      handle: () => ({ status: "success", vifs: [], routes: [{ family: 5 }] }),
    });
    const { code, out, err } = await cli("mroute", "show", "--socket", `${dir}/mroute.sock`);
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(
      err,
      /^netkit: error: The mroute daemon sent a malformed SHOW reply: routes\[0\]\.family: [^\n]+\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit mroute daemon -d under systemd is a usage error of one line, exit 2", async () => {
  // What systemd gives a service: JOURNAL_STREAM naming the stderr it logs to the journal.
  const stderr = await Deno.stat("/proc/self/fd/2");
  const before = Deno.env.get("JOURNAL_STREAM");
  Deno.env.set("JOURNAL_STREAM", `${stderr.dev}:${stderr.ino}`);
  try {
    const { code, out, err } = await cli("mroute", "daemon", "-d");
    assert.equal(code, 2);
    assert.equal(out, "");
    assert.equal(
      err,
      "netkit: error: -d/--daemon cannot be used under systemd (JOURNAL_STREAM names its " +
        "standard error): leave it out of the unit, which keeps the daemon in the foreground " +
        "and its log in the journal\n",
    );
  } finally {
    if (before === undefined) Deno.env.delete("JOURNAL_STREAM");
    else Deno.env.set("JOURNAL_STREAM", before);
  }
});
