/**
 * The control server's limits against clients that hold on: connections at the cap, stalled
 * requests and handlers, clients that do not read, subscriptions and the shared buffer budget.
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { RawClient, withRunDir } from "../../testing/ipc.ts";
import { delay, waitFor, withTimeout } from "../async.ts";
import { request } from "./control_client.ts";
import { ControlServer, type ControlServerOptions, type RequestContext } from "./control_server.ts";
import { EventHub } from "./event_hub.ts";

const schema = z.discriminatedUnion("cmd", [
  z.object({ cmd: z.literal("status") }),
  z.object({ cmd: z.literal("watch") }),
  z.object({ cmd: z.literal("big"), bytes: z.number().int().max(16 * 1024 * 1024) }),
  z.object({ cmd: z.literal("hang") }),
]);
type LimitRequest = z.infer<typeof schema>;

/** What the handlers below saw, for the tests to check. */
interface Seen {
  /** Signals of subscriptions that ended (source stopped) and of hung handlers. */
  stopped: AbortSignal[];
  hub: EventHub<number>;
}

/** A status request, a subscription that waits for events, a large reply, a handler that hangs. */
function handler(seen: Seen) {
  return (req: LimitRequest, { signal }: RequestContext): unknown => {
    switch (req.cmd) {
      case "status":
        return { ok: true };
      case "watch": {
        const events = seen.hub.subscribe(signal);
        return (async function* () {
          try {
            yield "subscribed";
            yield* events;
          } finally {
            seen.stopped.push(signal);
          }
        })();
      }
      case "big":
        return { pad: "x".repeat(req.bytes) };
      case "hang":
        signal.addEventListener("abort", () => seen.stopped.push(signal));
        return new Promise(() => {});
    }
  };
}

async function withServer(
  options: Partial<ControlServerOptions<LimitRequest>>,
  fn: (server: ControlServer, seen: Seen) => Promise<void>,
): Promise<void> {
  await withRunDir(async (dir) => {
    const seen: Seen = { stopped: [], hub: new EventHub() };
    await using server = await ControlServer.listen({
      path: `${dir}/limits.sock`,
      schema,
      handle: handler(seen),
      ...options,
    });
    await fn(server, seen);
  });
}

/** `count` raw clients, all closed after `fn`. */
async function withClients(
  path: string,
  count: number,
  fn: (clients: RawClient[]) => Promise<void>,
): Promise<void> {
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < count; i++) clients.push(await RawClient.connect(path));
    await fn(clients);
  } finally {
    for (const client of clients) client.close();
  }
}

async function subscribeRaw(client: RawClient): Promise<void> {
  await client.send('{"cmd":"watch"}\n');
  assert.equal(await client.readJson(), "subscribed");
}

function status(path: string): Promise<unknown> {
  return withTimeout(request(path, { cmd: "status" }), 5000, "the status reply");
}

Deno.test("ControlServer answers a status request while 256 connections each hold half a request", async () => {
  await withServer({}, async (server) => {
    await withClients(server.path, 256, async (clients) => {
      for (const client of clients) await client.send('{"cmd":"big","bytes":');
      assert.deepEqual(await status(server.path), { ok: true });
    });
  });
});

Deno.test("ControlServer answers a status request while 256 connections are subscribed", async () => {
  await withServer({ maxSubscriptions: 256 }, async (server, seen) => {
    await withClients(server.path, 256, async (clients) => {
      for (const client of clients) await subscribeRaw(client);
      assert.equal(server.subscriptions, 256);
      assert.deepEqual(await status(server.path), { ok: true });
      // The oldest subscription made room; its source was stopped and its stream ended.
      assert.equal(await withTimeout(clients[0]!.readLine(), 2000, "the oldest to end"), null);
      await waitFor(() => seen.stopped.length, (n) => n === 1, { timeoutMs: 2000, what: "stop" });
      seen.hub.publish(7);
      assert.equal(await clients[1]!.readJson(), 7, "the other subscriptions go on");
    });
  });
});

Deno.test("ControlServer refuses subscriptions beyond maxSubscriptions and stops the refused source", async () => {
  await withServer({ maxSubscriptions: 2 }, async (server, seen) => {
    await withClients(server.path, 3, async ([a, b, c]) => {
      await subscribeRaw(a!);
      await subscribeRaw(b!);
      await c!.send('{"cmd":"watch"}\n');
      assert.deepEqual(await c!.readJson(), {
        status: "error",
        message: `Too many subscriptions to "${server.path}" (2); try again later`,
      });
      assert.equal(await c!.readLine(), null);
      assert.equal(seen.hub.size, 2, "the refused subscriber is not left in the hub");
      assert.equal(server.subscriptions, 2);
      a!.close();
      await waitFor(() => server.subscriptions, (n) => n === 1, { timeoutMs: 2000, what: "a" });
      using d = await RawClient.connect(server.path);
      await subscribeRaw(d);
    });
  });
});

Deno.test("ControlServer tells a client that stalls mid-request so within requestTimeoutMs", async () => {
  await withServer({ requestTimeoutMs: 100 }, async (server) => {
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"sta');
    assert.deepEqual(await withTimeout(client.readJson(), 2000, "the error reply"), {
      status: "error",
      message: "Request incomplete: nothing more arrived for 100 ms; " +
        "send each request at once, ended by a newline",
    });
    assert.equal(await client.readLine(), null);
  });
});

Deno.test("ControlServer answers a handler that hangs past requestTimeoutMs with an error and aborts it", async () => {
  await withServer({ requestTimeoutMs: 100 }, async (server, seen) => {
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"hang"}\n');
    assert.deepEqual(await withTimeout(client.readJson(), 2000, "the error reply"), {
      status: "error",
      message: "Request not answered within 100 ms",
    });
    assert.equal(await client.readLine(), null);
    assert.equal(seen.stopped.length, 1, "the handler's signal is aborted");
    assert.deepEqual(await status(server.path), { ok: true });
  });
});

Deno.test("ControlServer cuts off a client that does not read its reply within writeTimeoutMs", async () => {
  await withServer({ writeTimeoutMs: 200 }, async (server) => {
    using client = await RawClient.connect(server.path);
    await client.send('{"cmd":"big","bytes":4000000}\n');
    await waitFor(() => server.connections, (n) => n === 0, {
      timeoutMs: 3000,
      what: "the non-reading client to be cut off",
    });
    assert.equal(server.bufferedBytes, 0, "its reply no longer holds the budget");
  });
});

Deno.test("ControlServer stops the subscription of a client that does not read within writeTimeoutMs", async () => {
  await withServer({ writeTimeoutMs: 200 }, async (server, seen) => {
    using client = await RawClient.connect(server.path);
    await subscribeRaw(client);
    // Events pile up in the socket, then in the hub's bounded queue; the write times out.
    const publishing = (async () => {
      while (seen.stopped.length === 0) {
        for (let i = 0; i < 100; i++) seen.hub.publish(i);
        await delay(5);
      }
    })();
    await withTimeout(publishing, 3000, "the subscription to be stopped");
    await waitFor(() => server.connections, (n) => n === 0, { timeoutMs: 2000, what: "close" });
    assert.equal(server.subscriptions, 0);
  });
});

Deno.test("ControlServer keeps the bytes buffered by all connections within maxBufferedBytes", async () => {
  const limit = 1024 * 1024;
  const options = { maxBufferedBytes: limit, maxMessageBytes: 4 * limit, requestTimeoutMs: 300 };
  await withServer(options, async (server) => {
    await withClients(server.path, 6, async (clients) => {
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, server.bufferedBytes);
          await delay(1);
        }
      })();
      // Six unfinished 400 kB requests: at most two fit in 1 MiB.
      const part = `{"cmd":"big","bytes":1,"pad":"${"p".repeat(400_000)}`;
      for (const client of clients) await client.send(part).catch(() => {});
      const replies = await Promise.all(
        clients.map(async (client) => {
          const reply = await withTimeout(client.readJson(), 5000, "a reply");
          return (reply as { message: string }).message;
        }),
      );
      sampling = false;
      await sampler;
      const refused = replies.filter((m) => m.includes("is short of buffer space"));
      const stalled = replies.filter((m) => m.startsWith("Request incomplete"));
      assert.ok(refused.length >= 4, replies.join("\n"));
      assert.equal(refused.length + stalled.length, 6, replies.join("\n"));
      assert.ok(most <= limit + 1024, `${most} bytes buffered (error replies may add a few)`);
    });
    await waitFor(() => server.bufferedBytes, (n) => n === 0, { timeoutMs: 2000, what: "0" });
    assert.deepEqual(await status(server.path), { ok: true });
  });
});

Deno.test("ControlServer refuses new requests while unread replies overdraw the buffer budget", async () => {
  await withServer({ maxBufferedBytes: 1024 * 1024 }, async (server) => {
    await withClients(server.path, 2, async ([a, b]) => {
      // Neither reads its 900 kB reply: together they hold more than the budget.
      for (const client of [a!, b!]) await client.send('{"cmd":"big","bytes":900000}\n');
      await waitFor(() => server.bufferedBytes, (n) => n > 1024 * 1024, {
        timeoutMs: 2000,
        what: "the replies to be written",
      });
      await assert.rejects(request(server.path, { cmd: "status" }), /short of buffer space/);
    });
    await waitFor(() => server.bufferedBytes, (n) => n === 0, { timeoutMs: 2000, what: "0" });
    assert.deepEqual(await status(server.path), { ok: true });
  });
});

Deno.test("ControlServer rejects limits that are not positive integers, and timeouts past 2^31-1 ms", async () => {
  await withRunDir(async (dir) => {
    const bad: [keyof ControlServerOptions<unknown>, number][] = [
      ["requestTimeoutMs", 0],
      ["writeTimeoutMs", 2 ** 31],
      ["maxSubscriptions", 1.5],
      ["maxBufferedBytes", -1],
    ];
    for (const [key, value] of bad) {
      await assert.rejects(
        ControlServer.listen({ path: `${dir}/bad.sock`, schema, handle: () => 1, [key]: value }),
        { message: new RegExp(`option ${key} "${value}" must be`) },
      );
    }
  });
});
