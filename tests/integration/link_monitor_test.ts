import assert from "node:assert/strict";
import { delay } from "../../lib/async.ts";
import { type LinkEvent, LinkMonitor } from "../../lib/net/link_monitor.ts";
import type { Link, NetlinkMessage } from "../../lib/net/netlink_messages.ts";
import { type DumpReply, NetlinkMonitor } from "../../lib/net/netlink_monitor.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { MAX_DUMP_ATTEMPTS, type RtnetlinkSocket } from "../../lib/net/rtnetlink.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

/** A short description of an event, for comparing event streams. */
function describe(event: LinkEvent): string {
  switch (event.type) {
    case "resync":
      return "resync";
    case "renamed":
      return `renamed ${event.oldName}->${event.link.name}`;
    case "admin":
    case "carrier":
      return `${event.type} ${event.link.name} ${event.up ? "up" : "down"}`;
    case "mtu":
      return `mtu ${event.link.name} ${event.oldMtu}->${event.link.mtu}`;
    default:
      return `${event.type} ${event.link.name}`;
  }
}

/** Polls until `count` events have come or `ms` pass. */
async function collect(
  monitor: LinkMonitor,
  until: (events: string[]) => boolean,
  ms = 3000,
): Promise<string[]> {
  const events: string[] = [];
  const deadline = Date.now() + ms;
  while (!until(events) && Date.now() < deadline) {
    events.push(...monitor.poll().map(describe));
    if (!until(events)) await delay(20);
  }
  return events;
}

Deno.test({
  name: "LinkMonitor reports veth add, admin and carrier changes, rename, MTU and removal in order",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("mon");
    await using monitor = runInNetns(ns, () => LinkMonitor.open());
    assert.deepEqual(monitor.links().map((l) => l.name), ["lo"]);

    const step = async (cmd: string[], expected: string[]) => {
      ip("-n", ns, ...cmd);
      const got = await collect(monitor, (e) => expected.every((x) => e.includes(x)));
      for (const want of expected) {
        assert.ok(
          got.includes(want),
          `after "${cmd.join(" ")}" expected "${want}", got ${JSON.stringify(got)}`,
        );
      }
      return got;
    };
    await step(["link", "add", "m1", "type", "veth", "peer", "name", "m2"], [
      "added m1",
      "added m2",
    ]);
    // Renamed while down: kernels before 6.2 refuse to rename a link that is up (EBUSY).
    await step(["link", "set", "m1", "name", "w1"], ["renamed m1->w1"]);
    await step(["link", "set", "w1", "up"], ["admin w1 up"]);
    await step(["link", "set", "m2", "up"], ["admin m2 up", "carrier w1 up", "carrier m2 up"]);
    await step(["link", "set", "m2", "down"], ["admin m2 down", "carrier w1 down"]);
    await step(["link", "set", "w1", "mtu", "1400"], ["mtu w1 1500->1400"]);
    await step(["link", "del", "w1"], ["removed w1", "removed m2"]);
    assert.deepEqual(monitor.links().map((l) => l.name), ["lo"]);
  },
});

Deno.test({
  name: "LinkMonitor re-reads the table after the kernel drops notifications (ENOBUFS)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("ovr");
    // The smallest receive buffer the kernel allows: a burst of changes must overrun it.
    await using monitor = runInNetns(ns, () => LinkMonitor.open({ rcvbuf: 1 }));
    const batch = Array.from({ length: 60 }, (_, i) => `link add o${i} type veth peer name p${i}`)
      .join("\n");
    const file = Deno.makeTempFileSync();
    try {
      Deno.writeTextFileSync(file, batch + "\n");
      ip("-n", ns, "-batch", file);
    } finally {
      Deno.removeSync(file);
    }
    const events = monitor.poll().map(describe);
    assert.ok(monitor.resyncs >= 1, "expected an overrun and a resync");
    assert.ok(events.includes("resync"));
    const kernel = ipJson<{ ifname: string }[]>("-n", ns, "link", "show").map((l) => l.ifname)
      .sort();
    assert.deepEqual(monitor.links().map((l) => l.name).sort(), kernel);
    assert.equal(kernel.length, 121);
  },
});

Deno.test({
  name: "LinkMonitor.events() yields changes as they happen and stops on abort",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("evt");
    await using monitor = runInNetns(ns, () => LinkMonitor.open());
    const controller = new AbortController();
    const seen: string[] = [];
    const timer = setTimeout(
      () => ip("-n", ns, "link", "add", "e1", "type", "veth", "peer", "name", "e2"),
      50,
    );
    try {
      for await (const event of monitor.events(controller.signal)) {
        seen.push(describe(event));
        if (seen.includes("added e1") && seen.includes("added e2")) controller.abort();
      }
    } finally {
      clearTimeout(timer);
    }
    assert.ok(seen.includes("added e1") && seen.includes("added e2"), JSON.stringify(seen));
  },
});

/** A monitor of link names whose dumps can be made to fail, as when a table never holds still. */
class FlakyMonitor extends NetlinkMonitor<Link, string> {
  protected readonly names = { table: "test table", entries: "links" };
  /** Dumps still to report as interrupted. */
  failures = 0;
  /** The names of the last dump. */
  linkNames: string[] = [];

  constructor() {
    super(0x1, 1); // RTMGRP_LINK; the smallest receive buffer, so a burst overruns it
    this.start();
  }

  protected readDump(
    socket: RtnetlinkSocket,
    other: (message: NetlinkMessage) => void,
  ): DumpReply<Link> {
    const reply = socket.getLinks({}, other);
    if (this.failures > 0) {
      this.failures--;
      return { entries: [], interrupted: true };
    }
    return { entries: reply.links, interrupted: reply.interrupted };
  }

  protected apply(): void {}

  protected reset(links: Link[]): void {
    this.linkNames = links.map((l) => l.name).sort();
  }

  protected resyncEvent(): string {
    return "resync";
  }
}

Deno.test({
  name:
    "a monitor whose re-read fails stays stale and the next poll reads again (a daemon keeps going)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("stale");
    await using monitor = runInNetns(ns, () => new FlakyMonitor());
    monitor.failures = MAX_DUMP_ATTEMPTS; // every attempt of the next re-read is interrupted
    const file = Deno.makeTempFileSync();
    try {
      Deno.writeTextFileSync(
        file,
        Array.from({ length: 60 }, (_, i) => `link add s${i} type veth peer name t${i}\n`).join(""),
      );
      ip("-n", ns, "-batch", file);
    } finally {
      Deno.removeSync(file);
    }
    assert.equal(monitor.stale, false);
    assert.throws(() => monitor.poll(), /Could not read a consistent test table/);
    assert.equal(monitor.stale, true);
    const events = monitor.poll(); // the descriptor may be quiet now: the poll reads anyway
    assert.equal(monitor.stale, false);
    assert.equal(events[0], "resync");
    const kernel = ipJson<{ ifname: string }[]>("-n", ns, "link", "show").map((l) => l.ifname);
    assert.deepEqual(monitor.linkNames, kernel.sort());
    assert.equal(kernel.length, 121);
  },
});
