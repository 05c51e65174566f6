import assert from "node:assert/strict";
import process from "node:process";
import { z } from "zod";
import { NetkitError } from "../errors.ts";
import { RawClient, withRunDir } from "../../testing/ipc.ts";
import { delay, withTimeout } from "../async.ts";
import { DaemonUnreachableError, request, subscribe } from "./control_client.ts";
import { ControlServer, type RequestContext, summarizeIssues } from "./control_server.ts";

const schema = z.discriminatedUnion("cmd", [
  z.object({ cmd: z.literal("echo"), value: z.unknown() }),
  z.object({ cmd: z.literal("port"), port: z.object({ priority: z.number().int().max(65535) }) }),
  z.object({ cmd: z.literal("fail"), internal: z.boolean() }),
]);
type TestRequest = z.infer<typeof schema>;

/** Echoes `value`, and fails on request the way a daemon's handlers fail. */
function handle(request: TestRequest): unknown {
  switch (request.cmd) {
    case "echo":
      return { echo: request.value };
    case "port":
      return { priority: request.port.priority };
    case "fail":
      if (request.internal) throw new TypeError("boom");
      throw new NetkitError('No such port "eth9"; list ports with "netkit lacp show"');
  }
}

function listenEcho(
  path: string,
  extra: { maxMessageBytes?: number; idleTimeoutMs?: number } = {},
): Promise<ControlServer> {
  return ControlServer.listen({ path, schema, handle, ...extra });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test("ControlServer answers a request with the handler's reply", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/echo.sock`);
    assert.equal(server.path, `${dir}/echo.sock`);
    assert.deepEqual(await request(server.path, { cmd: "echo", value: [1, "two"] }), {
      echo: [1, "two"],
    });
  });
});

Deno.test("ControlServer replies {status: ok} for a handler that returns nothing", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/ok.sock`,
      schema: z.object({}),
      handle: () => undefined,
    });
    assert.deepEqual(await request(server.path, {}), { status: "ok" });
  });
});

Deno.test("ControlServer answers pipelined requests on one connection in order, one at a time", async () => {
  await withRunDir(async (dir) => {
    let running = 0;
    let mostAtOnce = 0;
    await using server = await ControlServer.listen({
      path: `${dir}/pipe.sock`,
      schema: z.object({ seq: z.number() }),
      async handle({ seq }) {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        // Early requests take longest, so answering out of order would show.
        await delay((5 - seq) * 3);
        running--;
        return { seq };
      },
    });
    using client = await RawClient.connect(server.path);
    await client.send([0, 1, 2, 3, 4].map((seq) => JSON.stringify({ seq }) + "\n").join(""));
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await client.readJson());
    assert.deepEqual(replies, [0, 1, 2, 3, 4].map((seq) => ({ seq })));
    assert.equal(mostAtOnce, 1);
  });
});

Deno.test("ControlServer refuses an over-long request and closes only that connection", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/cap.sock`, { maxMessageBytes: 1024 });
    using bystander = await RawClient.connect(server.path);
    using flooder = await RawClient.connect(server.path);
    await flooder.send(JSON.stringify({ cmd: "echo", value: "x".repeat(2000) }) + "\n");
    assert.deepEqual(await flooder.readJson(), {
      status: "error",
      message: "Request exceeds 1024 bytes; send smaller requests",
    });
    assert.equal(await flooder.readLine(), null, "the connection is closed after the error");
    await bystander.send(JSON.stringify({ cmd: "echo", value: "still here" }) + "\n");
    assert.deepEqual(await bystander.readJson(), { echo: "still here" });
  });
});

Deno.test("ControlServer refuses an unterminated over-long request without waiting for its end", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/cap.sock`, { maxMessageBytes: 64 });
    using client = await RawClient.connect(server.path);
    await client.send(`{"cmd":"echo","value":"${"y".repeat(100)}`);
    const reply = await withTimeout(client.readJson(), 2000, "the error reply");
    assert.deepEqual(reply, {
      status: "error",
      message: "Request exceeds 64 bytes; send smaller requests",
    });
  });
});

Deno.test("ControlServer accepts a request of exactly maxMessageBytes", async () => {
  await withRunDir(async (dir) => {
    const line = JSON.stringify({ cmd: "echo", value: "z".repeat(100) });
    await using server = await listenEcho(`${dir}/cap.sock`, { maxMessageBytes: line.length });
    using client = await RawClient.connect(server.path);
    await client.send(line + "\n");
    assert.deepEqual(await client.readJson(), { echo: "z".repeat(100) });
  });
});

Deno.test("ControlServer answers malformed JSON with an error and keeps the connection", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/json.sock`);
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd": echo}\n');
    const reply = await client.readJson() as { status: string; message: string };
    assert.equal(reply.status, "error");
    assert.match(reply.message, /^Invalid JSON: \S/);
    await client.send(new Uint8Array([0x22, 0xff, 0x22, 0x0a]));
    assert.deepEqual(await client.readJson(), {
      status: "error",
      message: "Invalid JSON: the message is not valid UTF-8",
    });
    await client.send('{"cmd":"echo","value":true}\n');
    assert.deepEqual(await client.readJson(), { echo: true });
  });
});

Deno.test("ControlServer names the failing field of a schema-invalid request and keeps serving", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/schema.sock`);
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"port","port":{"priority":70000}}\n');
    const reply = await client.readJson() as { status: string; message: string };
    assert.equal(reply.status, "error");
    assert.match(reply.message, /^Invalid request: "port\.priority": /);
    assert.doesNotMatch(reply.message, /\n/);
    await client.send('{"cmd":"port","port":{"priority":7}}\n');
    assert.deepEqual(await client.readJson(), { priority: 7 });
  });
});

Deno.test("summarizeIssues() names nested and indexed fields and caps the list", () => {
  const issues = [
    { path: ["ports", 0, "name"], message: "Required" },
    { path: [], message: "Too\nmany keys" },
    { path: ["a"], message: "x" },
    { path: ["b"], message: "y" },
  ];
  assert.equal(
    summarizeIssues(issues),
    '"ports[0].name": Required; request: Too many keys; "a": x; and 1 more',
  );
});

Deno.test("ControlServer reports handler failures as error replies and keeps serving", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/fail.sock`);
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"fail","internal":false}\n{"cmd":"fail","internal":true}\n');
    assert.deepEqual(await client.readJson(), {
      status: "error",
      message: 'No such port "eth9"; list ports with "netkit lacp show"',
    });
    assert.deepEqual(await client.readJson(), { status: "error", message: "Internal error: boom" });
    await client.send('{"cmd":"echo","value":1}\n');
    assert.deepEqual(await client.readJson(), { echo: 1 });
    assert.deepEqual(await request(server.path, { cmd: "echo", value: 2 }), { echo: 2 });
  });
});

Deno.test("ControlServer reports a reply that has no JSON form as an internal error", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/bigint.sock`,
      schema: z.object({ big: z.boolean() }),
      handle: ({ big }) => (big ? { n: 1n } : { n: 1 }),
    });
    using client = await RawClient.connect(server.path);
    await client.send('{"big":true}\n{"big":false}\n');
    const reply = await client.readJson() as { status: string; message: string };
    assert.equal(reply.status, "error");
    assert.match(reply.message, /^Internal error: .*BigInt/);
    assert.deepEqual(await client.readJson(), { n: 1 });
  });
});

Deno.test("ControlServer gives 50 concurrent clients each their own reply", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/many.sock`,
      schema: z.object({ id: z.number() }),
      async handle({ id }) {
        // Varying delays interleave the handlers.
        await delay(id % 7);
        return { id, square: id * id };
      },
    });
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const replies = await Promise.all(ids.map((id) => request(server.path, { id })));
    assert.deepEqual(replies, ids.map((id) => ({ id, square: id * id })));
  });
});

Deno.test("ControlServer answers a one-shot request sent without a newline", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/oneshot.sock`);
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"echo","value":"once"}');
    assert.deepEqual(await withTimeout(client.readJson(), 2000, "the one-shot reply"), {
      echo: "once",
    });
    // A newline sent late is a blank line, not a second request.
    await client.send('\n{"cmd":"echo",');
    await delay(10);
    await client.send('"value":2}\n');
    assert.deepEqual(await client.readJson(), { echo: 2 });
  });
});

Deno.test("ControlServer answers an unterminated request when the client half-closes", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/eof.sock`,
      schema: z.number(),
      handle: (n) => n * 2,
    });
    using client = await RawClient.connect(server.path);
    // A trailing digit might be followed by more, so only the end of input completes it.
    await client.send("21");
    await client.closeWrite();
    assert.equal(await client.readJson(), 42);
    assert.equal(await client.readLine(), null);
  });
});

Deno.test("ControlServer refuses a second server on a live socket, naming the owner's pid", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/single.sock`;
    await using first = await listenEcho(path);
    await assert.rejects(listenEcho(path), {
      name: "NetkitError",
      message: `Another netkit daemon (pid ${Deno.pid}) is already serving "${path}"; ` +
        "stop it before starting another",
    });
    assert.equal((await Deno.readTextFile(`${path}.lock`)).trim(), String(Deno.pid));
    assert.deepEqual(await request(first.path, { cmd: "echo", value: "first" }), { echo: "first" });
  });
});

Deno.test("ControlServer lets exactly one of two simultaneous starts win", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/race.sock`;
    const results = await Promise.allSettled([listenEcho(path), listenEcho(path)]);
    const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    try {
      assert.equal(started.length, 1);
      const failure = results.find((r) => r.status === "rejected");
      assert.match(String(failure?.reason), /already serving/);
      assert.deepEqual(await request(path, { cmd: "echo", value: 1 }), { echo: 1 });
    } finally {
      for (const server of started) await server.close();
    }
  });
});

const CHILD_SERVER = `
import { z } from "zod";
import { ControlServer } from ${
  JSON.stringify(new URL("./control_server.ts", import.meta.url).href)
};
await ControlServer.listen({ path: Deno.args[0], schema: z.unknown(), handle: () => "child" });
console.log("ready");
`;

Deno.test("ControlServer replaces the stale socket of a daemon killed with SIGKILL", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/stale.sock`;
    const script = `${dir}/child_server.ts`;
    await Deno.writeTextFile(script, CHILD_SERVER);
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--cached-only", "-A", "--config", config, script, path],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const output = child.stdout.getReader();
    try {
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await withTimeout(output.read(), 10_000, "the child server");
        assert.ok(!done, "the child server exited before listening");
        seen += new TextDecoder().decode(value);
      }
      assert.equal(await request(path, {}), "child");
      assert.equal((await Deno.readTextFile(`${path}.lock`)).trim(), String(child.pid));
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await output.cancel();
    }
    assert.ok((await Deno.lstat(path)).isSocket, "SIGKILL leaves the socket behind");
    await using server = await listenEcho(path);
    assert.deepEqual(await request(path, { cmd: "echo", value: "new" }), { echo: "new" });
    assert.equal((await Deno.readTextFile(`${path}.lock`)).trim(), String(Deno.pid));
    assert.equal(server.path, path);
  });
});

Deno.test("ControlServer never removes a socket that another process listens on without the lock", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/foreign.sock`;
    using foreign = Deno.listen({ transport: "unix", path });
    const before = await Deno.lstat(path);
    await assert.rejects(listenEcho(path), {
      name: "NetkitError",
      message: `Another process is listening on "${path}" without holding "${path}.lock"; ` +
        "stop it or choose another socket name",
    });
    assert.equal((await Deno.lstat(path)).ino, before.ino, "the foreign socket is untouched");
    assert.equal(await exists(`${path}.lock`), false, "the failed start leaves no lock file");
    // The foreign listener still gets new connections.
    const accepting = foreign.accept();
    const conn = await Deno.connect({ transport: "unix", path });
    (await accepting).close();
    conn.close();
  });
});

Deno.test("ControlServer refuses to replace a file that is not a socket", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/file.sock`;
    await Deno.writeTextFile(path, "precious");
    await assert.rejects(listenEcho(path), {
      message: `"${path}" exists and is not a socket; move it away before starting the daemon`,
    });
    assert.equal(await Deno.readTextFile(path), "precious");
  });
});

Deno.test("ControlServer creates its socket with mode 0600 by default", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/mode.sock`);
    const info = await Deno.lstat(server.path);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600);
  });
});

Deno.test("ControlServer creates its socket with mode 0660 and the requested group", async () => {
  await withRunDir(async (dir) => {
    const gid = Deno.gid()!;
    await using server = await ControlServer.listen({
      path: `${dir}/group.sock`,
      schema,
      handle,
      mode: 0o660,
      gid,
    });
    const info = await Deno.lstat(server.path);
    assert.equal(info.mode! & 0o777, 0o660);
    assert.equal(info.gid, gid);
  });
});

Deno.test("ControlServer rejects socket modes other than 0600 and 0660", async () => {
  await withRunDir(async (dir) => {
    await assert.rejects(
      ControlServer.listen({
        path: `${dir}/mode.sock`,
        schema,
        handle,
        mode: 0o666 as 0o660,
      }),
      { message: 'Control socket mode "0o666" is not allowed; use 0o600 or 0o660' },
    );
    assert.equal(await exists(`${dir}/mode.sock`), false);
  });
});

Deno.test("ControlServer refuses a socket path too long for a Unix socket address", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/${"n".repeat(120)}.sock`;
    await assert.rejects(listenEcho(path), { message: /bytes long but at most 107 fit/ });
  });
});

Deno.test("ControlServer creates a missing run directory with mode 0755", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/run/netkit/x.sock`);
    const info = await Deno.stat(`${dir}/run/netkit`);
    assert.ok(info.isDirectory);
    // The umask may remove bits but never adds any.
    assert.equal(info.mode! & 0o777 & ~0o755, 0);
    assert.deepEqual(await request(server.path, { cmd: "echo", value: 0 }), { echo: 0 });
  });
});

Deno.test("ControlServer.close() removes the socket and lock file and can be called twice", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/close.sock`;
    const server = await listenEcho(path);
    assert.ok(await exists(path));
    assert.ok(await exists(`${path}.lock`));
    await Promise.all([server.close(), server.close()]);
    await server.close();
    assert.equal(await exists(path), false);
    assert.equal(await exists(`${path}.lock`), false);
    await assert.rejects(request(path, { cmd: "echo", value: 1 }), DaemonUnreachableError);
    await using again = await listenEcho(path);
    assert.deepEqual(await request(again.path, { cmd: "echo", value: 1 }), { echo: 1 });
  });
});

Deno.test("ControlServer.close() ends in-flight requests and aborts their signal", async () => {
  await withRunDir(async (dir) => {
    const started = Promise.withResolvers<AbortSignal>();
    const server = await ControlServer.listen({
      path: `${dir}/inflight.sock`,
      schema: z.object({}),
      handle: (_req, context: RequestContext) => {
        started.resolve(context.signal);
        return new Promise(() => {}); // never answers
      },
    });
    try {
      const pending = request(server.path, {}).then(() => null, (e: unknown) => e);
      const signal = await withTimeout(started.promise, 2000, "the handler to start");
      await server.close();
      assert.ok(signal.aborted);
      assert.match(String(await pending), /closed the connection without replying/);
    } finally {
      await server.close();
    }
  });
});

Deno.test("ControlServer tells connections beyond maxConnections to retry later when none is idle", async () => {
  await withRunDir(async (dir) => {
    const release = Promise.withResolvers<void>();
    await using server = await ControlServer.listen({
      path: `${dir}/limit.sock`,
      schema: z.object({ n: z.number() }),
      handle: async ({ n }) => {
        await release.promise;
        return { n };
      },
      maxConnections: 2,
    });
    using a = await RawClient.connect(server.path);
    using b = await RawClient.connect(server.path);
    // Both connections are busy answering a request, so neither may be closed for a newcomer.
    await a.send('{"n":1}\n');
    await b.send('{"n":2}\n');
    await withTimeout(
      (async () => {
        while (server.connections < 2) await delay(2);
      })(),
      2000,
      "the server to accept both connections",
    );
    await delay(50); // let both requests reach their handler
    using c = await RawClient.connect(server.path);
    assert.deepEqual(await c.readJson(), {
      status: "error",
      message: `Too many connections to "${server.path}"; try again later`,
    });
    assert.equal(await c.readLine(), null);
    release.resolve();
    assert.deepEqual(await a.readJson(), { n: 1 });
    assert.deepEqual(await b.readJson(), { n: 2 });
  });
});

Deno.test("ControlServer at maxConnections closes the connection idle the longest for a new client", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/evict.sock`,
      schema,
      handle,
      maxConnections: 2,
    });
    using a = await RawClient.connect(server.path);
    await a.send('{"cmd":"echo","value":"a"}\n');
    assert.deepEqual(await a.readJson(), { echo: "a" });
    using b = await RawClient.connect(server.path);
    await b.send('{"cmd":"echo","value":"b"}\n');
    assert.deepEqual(await b.readJson(), { echo: "b" });
    // a has waited for its next request longer than b.
    assert.deepEqual(await request(server.path, { cmd: "echo", value: "c" }), { echo: "c" });
    assert.equal(await withTimeout(a.readLine(), 2000, "a to be closed"), null);
    await b.send('{"cmd":"echo","value":"b again"}\n');
    assert.deepEqual(await b.readJson(), { echo: "b again" });
  });
});

Deno.test("ControlServer answers a request while 300 idle connections are open", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/crowd.sock`);
    const idle: RawClient[] = [];
    try {
      for (let i = 0; i < 300; i++) idle.push(await RawClient.connect(server.path));
      assert.deepEqual(
        await withTimeout(
          request(server.path, { cmd: "echo", value: "status" }),
          5000,
          "the reply",
        ),
        { echo: "status" },
      );
      assert.ok(server.connections <= 300, `${server.connections} connections`);
    } finally {
      for (const client of idle) client.close();
    }
  });
});

Deno.test("ControlServer closes a connection that completes no request within idleTimeoutMs", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/idle.sock`, { idleTimeoutMs: 100 });
    using silent = await RawClient.connect(server.path);
    using dribbling = await RawClient.connect(server.path);
    using answered = await RawClient.connect(server.path);
    await answered.send('{"cmd":"echo","value":1}\n');
    assert.deepEqual(await answered.readJson(), { echo: 1 });
    // Bytes that never complete a request do not keep a connection open.
    const dribble = (async () => {
      for (const piece of ['{"cmd"', ':"echo"', ',"value"', ":2"]) {
        await dribbling.send(piece).catch(() => {});
        await delay(40);
      }
    })();
    for (const client of [silent, dribbling, answered]) {
      assert.equal(
        await withTimeout(client.readLine(), 3000, "the idle connection to close"),
        null,
      );
    }
    await dribble;
    assert.deepEqual(await request(server.path, { cmd: "echo", value: 3 }), { echo: 3 });
  });
});

Deno.test("ControlServer does not time out a connection whose request or subscription is running", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/busy.sock`,
      schema: z.object({ watch: z.boolean() }),
      idleTimeoutMs: 50,
      handle: ({ watch }, { signal }) => {
        if (!watch) return delay(300).then(() => ({ slow: true }));
        return (async function* () {
          for (let i = 0; i < 3 && !signal.aborted; i++) {
            await delay(150);
            yield i;
          }
        })();
      },
    });
    assert.deepEqual(await request(server.path, { watch: false }), { slow: true });
    const items: unknown[] = [];
    for await (const item of subscribe(server.path, { watch: true })) items.push(item);
    assert.deepEqual(items, [0, 1, 2]);
  });
});

Deno.test("ControlServer rejects an idle timeout that is not a positive integer of at most 2^31-1 ms", async () => {
  await withRunDir(async (dir) => {
    for (const idleTimeoutMs of [0, 1.5, 2 ** 31]) {
      await assert.rejects(
        listenEcho(`${dir}/bad.sock`, { idleTimeoutMs }),
        (err: unknown) => err instanceof NetkitError && err.message.includes("idleTimeoutMs"),
      );
    }
  });
});

Deno.test("ControlServer streams a subscription and stops its source when the client leaves", async () => {
  await withRunDir(async (dir) => {
    const stopped = Promise.withResolvers<boolean>();
    await using server = await ControlServer.listen({
      path: `${dir}/watch.sock`,
      schema: z.object({ watch: z.literal(true) }),
      handle: (_req, { signal }) =>
        (async function* () {
          try {
            yield { seq: 1 };
            yield { seq: 2 };
            yield { seq: 3 };
            // Nothing more to send until the client leaves: only the read side can notice.
            await new Promise((resolve) => signal.addEventListener("abort", resolve));
            yield { seq: "after abort" };
            stopped.resolve(false); // reached only if return() was never called
          } finally {
            stopped.resolve(signal.aborted);
          }
        })(),
    });
    const items: unknown[] = [];
    for await (const item of subscribe(server.path, { watch: true })) {
      items.push(item);
      if (items.length === 3) break;
    }
    assert.deepEqual(items, [{ seq: 1 }, { seq: 2 }, { seq: 3 }]);
    assert.equal(await withTimeout(stopped.promise, 2000, "the source to be stopped"), true);
  });
});

Deno.test("ControlServer closes a subscription's connection when its source ends", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/finite.sock`,
      schema: z.object({ n: z.number().int().max(10) }),
      handle: async function* ({ n }) {
        for (let i = 0; i < n; i++) yield i;
      },
    });
    const items: unknown[] = [];
    for await (const item of subscribe(server.path, { n: 4 })) items.push(item);
    assert.deepEqual(items, [0, 1, 2, 3]);
  });
});

Deno.test("ControlServer ends subscriptions when it closes", async () => {
  await withRunDir(async (dir) => {
    const stopped = Promise.withResolvers<void>();
    const server = await ControlServer.listen({
      path: `${dir}/shutdown.sock`,
      schema: z.object({}),
      handle: (_req, { signal }) =>
        (async function* () {
          try {
            yield "hello";
            await new Promise((resolve) => signal.addEventListener("abort", resolve));
          } finally {
            stopped.resolve();
          }
        })(),
    });
    try {
      const items: unknown[] = [];
      for await (const item of subscribe(server.path, {})) {
        items.push(item);
        await server.close();
      }
      assert.deepEqual(items, ["hello"]);
      await withTimeout(stopped.promise, 2000, "the source to be stopped");
    } finally {
      await server.close();
    }
  });
});

/** A ~1 MB echo request in 100-byte chunks, each ending in `}` as a complete value would. */
function chunkedRequest(): { chunks: string[]; items: number } {
  const item = `,{"p":"${"x".repeat(92)}"}`; // 100 bytes
  const items = 10_000;
  const chunks = ['{"cmd":"echo","value":[{"p":""}', ...Array(items).fill(item), "]}\n"];
  return { chunks, items: items + 1 };
}

Deno.test("ControlServer handles 1 MB sent in 100-byte chunks without re-parsing it per chunk", async () => {
  await withRunDir(async (dir) => {
    await using server = await listenEcho(`${dir}/chunks.sock`);
    using client = await RawClient.connect(server.path);
    const { chunks, items } = chunkedRequest();
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (const [i, chunk] of chunks.entries()) {
      await client.send(chunk);
      // Pause now and then, as a slow sender does, so the server reads many small pieces.
      if (i % 10 === 0) await delay(0);
    }
    const reply = await withTimeout(client.readJson(), 30_000, "the reply to the chunked request");
    const used = process.cpuUsage(cpu);
    const ms = performance.now() - started;
    assert.equal((reply as { echo: unknown[] }).echo.length, items);
    const cpuMs = (used.user + used.system) / 1000;
    Deno.stderr.writeSync(new TextEncoder().encode(
      `measured: 1 MB in 100-byte chunks answered in ${ms.toFixed(0)} ms, ` +
        `${cpuMs.toFixed(0)} ms CPU (server and client)\n`,
    ));
  });
});
