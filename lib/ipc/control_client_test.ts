import assert from "node:assert/strict";
import { z } from "zod";
import { NetkitError } from "../errors.ts";
import { withRunDir } from "../../testing/ipc.ts";
import { withTimeout } from "../async.ts";
import {
  DaemonReplyError,
  DaemonTimeoutError,
  DaemonUnreachableError,
  request,
  subscribe,
} from "./control_client.ts";
import { ControlServer } from "./control_server.ts";

const encoder = new TextEncoder();

/**
 * Runs a bare listener that sends `reply()` on each connection (nothing when it returns null),
 * without reading, and keeps the connections open until `fn` is done.
 */
async function withFakeDaemon(
  path: string,
  reply: () => string | null,
  fn: () => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.UnixConn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const text = reply();
      if (text !== null) await conn.write(encoder.encode(text));
    }
  })();
  try {
    await fn();
  } finally {
    listener.close();
    await serving.catch(() => {});
    for (const conn of conns) conn.close();
  }
}

Deno.test("request() fails with DaemonUnreachableError when no socket exists", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/missing.sock`;
    const err = await request(path, {}).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof DaemonUnreachableError);
    assert.ok(err instanceof NetkitError);
    assert.equal(err.path, path);
    assert.equal(err.reason, "no such socket");
    assert.equal(err.message, `Cannot reach the netkit daemon at "${path}": no such socket`);
  });
});

Deno.test("request() fails with DaemonUnreachableError when nothing listens on the socket", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/dead.sock`;
    // Deno removes a socket file when its listener closes; a hard link to it survives with
    // nobody listening, like the socket of a killed daemon.
    const listener = Deno.listen({ transport: "unix", path: `${dir}/live.sock` });
    await Deno.link(`${dir}/live.sock`, path);
    listener.close();
    await assert.rejects(request(path, {}), {
      name: "DaemonUnreachableError",
      message: `Cannot reach the netkit daemon at "${path}": connection refused`,
    });
  });
});

Deno.test("request() times out naming the path and the time when the daemon never answers", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/silent.sock`;
    await withFakeDaemon(path, () => null, async () => {
      const started = performance.now();
      const err = await request(path, { cmd: "show" }, { timeoutMs: 100 }).then(
        () => null,
        (e: unknown) => e,
      );
      const elapsed = performance.now() - started;
      assert.ok(err instanceof DaemonTimeoutError, String(err));
      assert.equal(
        err.message,
        `No reply from the netkit daemon at "${path}" within 100 ms; check that it is running and not stuck`,
      );
      assert.equal(err.timeoutMs, 100);
      assert.ok(elapsed >= 95 && elapsed < 1000, `took ${elapsed} ms`);
    });
  });
});

Deno.test("request() rejects a reply that is not JSON", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/garbage.sock`;
    await withFakeDaemon(path, () => "220 smtp ready\n", async () => {
      await assert.rejects(request(path, {}), {
        name: "NetkitError",
        message: /^The daemon at ".*garbage\.sock" sent a reply that is not JSON \(.+\); check/,
      });
    });
  });
});

Deno.test("request() rejects a reply longer than maxReplyBytes", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/huge.sock`;
    await withFakeDaemon(path, () => JSON.stringify("x".repeat(5000)) + "\n", async () => {
      await assert.rejects(request(path, {}, { maxReplyBytes: 1000 }), {
        message: /exceeds 1000 bytes/,
      });
      assert.equal(await request(path, {}, { maxReplyBytes: 5002 }), "x".repeat(5000));
    });
  });
});

Deno.test("request() accepts a final reply without a newline before end of input", async () => {
  await withRunDir(async (dir) => {
    const path = `${dir}/nonl.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    const serving = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(100));
      await conn.write(encoder.encode('{"legacy":true}'));
      conn.close();
    })();
    try {
      assert.deepEqual(await request(path, {}), { legacy: true });
    } finally {
      await serving;
      listener.close();
    }
  });
});

Deno.test("request() turns an error reply into a DaemonReplyError with the daemon's message", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/err.sock`,
      schema: z.object({ port: z.string() }),
      handle: ({ port }) => {
        throw new NetkitError(`No such port "${port}"`);
      },
    });
    const err = await request(server.path, { port: "eth9" }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof DaemonReplyError);
    assert.equal(err.message, 'No such port "eth9"');
    assert.equal(err.path, server.path);
  });
});

Deno.test("request() refuses a message that has no JSON form before connecting", async () => {
  await assert.rejects(request("/nonexistent/x.sock", { n: 1n }), {
    name: "NetkitError",
    message: /^Cannot encode the request as JSON/,
  });
});

Deno.test("subscribe() ends quietly when its signal aborts while waiting for an item", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/sub.sock`,
      schema: z.object({}),
      handle: (_req, { signal }) =>
        (async function* () {
          yield 1;
          // Sends nothing more until the client leaves.
          await new Promise((resolve) => signal.addEventListener("abort", resolve));
        })(),
    });
    const controller = new AbortController();
    const items: unknown[] = [];
    const iterate = async () => {
      for await (const item of subscribe(server.path, {}, { signal: controller.signal })) {
        items.push(item);
        setTimeout(() => controller.abort(), 5);
      }
    };
    await withTimeout(iterate(), 2000, "the aborted subscription to end");
    assert.deepEqual(items, [1]);
    assert.ok(controller.signal.aborted);
  });
});

Deno.test("subscribe() throws the daemon's error when the subscription request is refused", async () => {
  await withRunDir(async (dir) => {
    await using server = await ControlServer.listen({
      path: `${dir}/bad.sock`,
      schema: z.object({ topic: z.enum(["ports"]) }),
      handle: async function* () {
        yield "never";
      },
    });
    const iterate = async () => {
      for await (const _ of subscribe(server.path, { topic: "routes" })) {
        assert.fail("no item is expected");
      }
    };
    await assert.rejects(iterate(), {
      name: "DaemonReplyError",
      message: /^Invalid request: "topic": /,
    });
  });
});

Deno.test("subscribe() fails with DaemonUnreachableError on its first iteration", async () => {
  await withRunDir(async (dir) => {
    const iterator = subscribe(`${dir}/none.sock`, {});
    await assert.rejects(iterator.next(), DaemonUnreachableError);
  });
});
