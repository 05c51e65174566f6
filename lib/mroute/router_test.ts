import assert from "node:assert/strict";
import { NetkitError } from "../errors.ts";
import { MAX_VIFS } from "../net/mroute_structs.ts";
import { parseRoute, type RouteInput, routeKey } from "./route.ts";
import {
  type InterfaceState,
  type KernelOps,
  type MfcEntry,
  MulticastRouter,
  type RouterEvent,
} from "./router.ts";

const EADDRINUSE = 98;
const EADDRNOTAVAIL = 99;
const ENOENT = 2;
const ENFILE = 23;

function keyOf(e: Pick<MfcEntry, "source" | "group">): string {
  return `${[...e.source]}|${[...e.group]}`;
}

/** A kernel with the real one's rules for VIFs and MFC entries, and failures on demand. */
class FakeKernel implements KernelOps {
  readonly vifs = new Map<number, Map<number, number>>([[4, new Map()], [6, new Map()]]);
  readonly mfcs = new Map<number, Map<string, MfcEntry>>([[4, new Map()], [6, new Map()]]);
  readonly calls: string[] = [];
  /** Fail the add of the entry with this group's last byte. */
  failGroupByte: number | null = null;

  addVif(family: 4 | 6, vif: number, ifindex: number): void {
    this.calls.push(`addVif ${family} ${vif} ${ifindex}`);
    const table = this.vifs.get(family)!;
    if (table.has(vif)) throw Object.assign(new NetkitError("busy"), { errno: EADDRINUSE });
    table.set(vif, ifindex);
  }

  delVif(family: 4 | 6, vif: number): void {
    this.calls.push(`delVif ${family} ${vif}`);
    if (!this.vifs.get(family)!.delete(vif)) {
      throw Object.assign(new NetkitError("missing"), { errno: EADDRNOTAVAIL });
    }
  }

  addMfcs(family: 4 | 6, entries: readonly MfcEntry[]): { index: number; errno: number }[] {
    this.calls.push(`addMfcs ${family} ${entries.length}`);
    const failures: { index: number; errno: number }[] = [];
    entries.forEach((e, index) => {
      if (e.parent >= MAX_VIFS) return failures.push({ index, errno: ENFILE });
      if (this.failGroupByte !== null && e.group.at(-1) === this.failGroupByte) {
        return failures.push({ index, errno: EADDRINUSE });
      }
      this.mfcs.get(family)!.set(keyOf(e), { ...e, ttls: e.ttls.slice() });
    });
    return failures;
  }

  delMfcs(family: 4 | 6, entries: readonly MfcEntry[]): { index: number; errno: number }[] {
    this.calls.push(`delMfcs ${family} ${entries.length}`);
    const failures: { index: number; errno: number }[] = [];
    entries.forEach((e, index) => {
      if (!this.mfcs.get(family)!.delete(keyOf(e))) failures.push({ index, errno: ENOENT });
    });
    return failures;
  }

  snapshot(): string {
    return JSON.stringify({
      vifs: [...this.vifs].map(([f, t]) => [f, [...t].sort()]),
      mfcs: [...this.mfcs].map((
        [f, t],
      ) => [f, [...t.values()].map((e) => [keyOf(e), e.parent, [...e.ttls]]).sort()]),
    });
  }
}

const interfaces = new Map<string, InterfaceState>(
  ["r1", "r2", "r3", "r4"].map((name, i) => [name, { ifindex: 10 + i, multicast: true }]),
);
interfaces.set("nomc", { ifindex: 99, multicast: false });

function setup() {
  const kernel = new FakeKernel();
  const router = new MulticastRouter(kernel, (name) => interfaces.get(name));
  const events: RouterEvent[] = [];
  router.onEvent((e) => events.push(e));
  return { kernel, router, events };
}

function route(input: Partial<RouteInput> & { group: string }) {
  return parseRoute({ iif: "r1", oifs: ["r2"], ...input });
}

function installed(
  kernel: FakeKernel,
  family: 4 | 6,
  group: number[],
  source: number[] = [0, 0, 0, 0],
) {
  return kernel.mfcs.get(family)!.get(`${source}|${group}`);
}

Deno.test("MulticastRouter allocates VIFs lazily, lowest index first, and installs the entry", () => {
  const { kernel, router } = setup();
  assert.equal(
    router.addRoute(route({ source: "10.1.1.5", group: "239.10.20.30", oifs: ["r2", "r3:5"] })),
    "added",
  );
  assert.deepEqual(kernel.calls.slice(0, 3), ["addVif 4 0 10", "addVif 4 1 11", "addVif 4 2 12"]);
  const entry = installed(kernel, 4, [239, 10, 20, 30], [10, 1, 1, 5])!;
  assert.equal(entry.parent, 0);
  assert.deepEqual(entry.ttls, [0, 1, 5]);
  // A second route reuses the VIFs it shares.
  router.addRoute(route({ group: "239.10.20.31", iif: "r2", oifs: ["r4"] }));
  assert.deepEqual(router.vifs().map((v) => [v.name, v.vif]), [["r1", 0], ["r2", 1], ["r3", 2], [
    "r4",
    3,
  ]]);
});

Deno.test("MulticastRouter installs (*,G) natively: the input listed among the outputs", () => {
  const { kernel, router } = setup();
  router.addRoute(route({ group: "239.1.1.1", iif: "r2", oifs: ["r1"] }));
  const entry = installed(kernel, 4, [239, 1, 1, 1])!;
  assert.equal(entry.parent, 1);
  assert.deepEqual([...entry.ttls.slice(0, 2)], [1, 1]);
});

Deno.test("MulticastRouter releases VIFs no route uses any more, and keeps shared ones", () => {
  const { kernel, router } = setup();
  router.addRoute(route({ group: "239.1.1.1", oifs: ["r2", "r3"] }));
  router.addRoute(route({ group: "239.1.1.2", oifs: ["r2"] }));
  kernel.calls.length = 0;
  router.deleteRoute(routeKey(route({ group: "239.1.1.1" })));
  assert.deepEqual(kernel.calls, ["delMfcs 4 1", "delVif 4 2"]);
  assert.deepEqual(router.vifs().map((v) => v.name), ["r1", "r2"]);
  assert.throws(() => router.deleteRoute(routeKey(route({ group: "239.1.1.9" }))), {
    message: "Invalid argument: No MFC entry for *, 239.1.1.9.",
  });
});

Deno.test("MulticastRouter never silently re-parents: merge, replace and create are explicit", () => {
  const { kernel, router } = setup();
  router.addRoute(route({ source: "10.0.0.1", group: "239.2.2.2", oifs: ["r2"] }));
  assert.throws(
    () =>
      router.addRoute(route({ source: "10.0.0.1", group: "239.2.2.2", iif: "r3", oifs: ["r2"] })),
    {
      message:
        "Invalid argument: MFC entry for (10.0.0.1, 239.2.2.2) already exists with input interface 'r1'; replace it to change the input.",
    },
  );
  assert.equal(
    router.addRoute(route({ source: "10.0.0.1", group: "239.2.2.2", oifs: ["r3"] })),
    "updated",
  );
  assert.deepEqual(router.routes()[0]!.oifs.map((o) => o.name), ["r2", "r3"], "merged");
  assert.equal(
    router.addRoute(route({ source: "10.0.0.1", group: "239.2.2.2", oifs: ["r3"] })),
    "unchanged",
  );
  router.addRoute(
    route({ source: "10.0.0.1", group: "239.2.2.2", iif: "r4", oifs: ["r2"] }),
    "replace",
  );
  assert.deepEqual([router.routes()[0]!.iif, router.routes()[0]!.oifs.map((o) => o.name)], ["r4", [
    "r2",
  ]]);
  assert.equal(
    installed(kernel, 4, [239, 2, 2, 2], [10, 0, 0, 1])!.parent,
    router.vif(4, "r4")!.vif,
  );
  assert.throws(
    () => router.addRoute(route({ source: "10.0.0.1", group: "239.2.2.2" }), "create"),
    /already exists/,
  );
});

Deno.test("MulticastRouter checks interfaces exist and can do multicast", () => {
  const { router } = setup();
  assert.throws(() => router.addRoute(route({ group: "239.3.3.3", oifs: ["eth99"] })), {
    message: "Invalid argument: Interface 'eth99' not found.",
  });
  assert.throws(() => router.addRoute(route({ group: "239.3.3.3", oifs: ["nomc"] })), {
    message: "Invalid argument: Interface 'nomc' is not multicast-capable (no MULTICAST flag).",
  });
  assert.deepEqual(router.routes(), []);
  assert.deepEqual(router.vifs(), []);
});

Deno.test("MulticastRouter reports the 33rd VIF clearly and changes nothing", () => {
  const kernel = new FakeKernel();
  const many = (name: string) =>
    name.startsWith("i") ? { ifindex: 100 + Number(name.slice(1)), multicast: true } : undefined;
  const router = new MulticastRouter(kernel, many);
  for (let i = 0; i < MAX_VIFS; i++) router.addVif(`i${i}`);
  const before = kernel.snapshot();
  assert.throws(() => router.addVif("i32"), {
    message:
      "Invalid argument: No free VIF for interface 'i32': IPv4 allows 32 interfaces per table, all in use.",
  });
  assert.equal(kernel.snapshot(), before);
});

Deno.test("MulticastRouter.apply is all or nothing: a kernel failure undoes every change", () => {
  const { kernel, router } = setup();
  router.apply({
    vifs: [],
    routes: [route({ group: "239.4.4.1" }), route({ group: "239.4.4.2", oifs: ["r3"] })],
  });
  const before = kernel.snapshot();
  const model = JSON.stringify([router.routes(), router.vifs()]);
  kernel.failGroupByte = 9;
  assert.throws(
    () =>
      router.apply({
        vifs: ["r4"],
        routes: [
          route({ group: "239.4.4.1", oifs: ["r2", "r4"] }), // changed
          route({ group: "239.4.4.5" }), // added
          route({ group: "239.4.4.9" }), // added, refused by the kernel
        ], // 239.4.4.2 removed
      }),
    { message: /^Kernel refused to install \(\*, 239\.4\.4\.9\): EADDRINUSE/ },
  );
  assert.equal(kernel.snapshot(), before, "kernel back to where it was");
  assert.equal(JSON.stringify([router.routes(), router.vifs()]), model, "model unchanged");
});

Deno.test("MulticastRouter.plan lists additions, changes, removals and pins", () => {
  const { router } = setup();
  router.apply({
    vifs: ["r4"],
    routes: [route({ group: "239.5.5.1" }), route({ group: "239.5.5.2" })],
  });
  const plan = router.plan({
    vifs: ["r3"],
    routes: [route({ group: "239.5.5.1", oifs: ["r3"] }), route({ group: "239.5.5.3" })],
  });
  assert.deepEqual(plan.add.map((r) => r.group), ["239.5.5.3"]);
  assert.deepEqual(plan.change.map((c) => [c.from.oifs[0]!.name, c.to.oifs[0]!.name]), [[
    "r2",
    "r3",
  ]]);
  assert.deepEqual(plan.remove.map((r) => r.group), ["239.5.5.2"]);
  assert.deepEqual([plan.pin, plan.unpin], [["r3"], ["r4"]]);
});

Deno.test("MulticastRouter keeps routes of a vanished interface waiting and reinstalls them when it returns", () => {
  const { kernel, router, events } = setup();
  router.addRoute(route({ source: "10.9.9.9", group: "239.6.6.6", oifs: ["r2", "r3"] }));
  // The kernel drops the VIF of a vanished netdev by itself.
  kernel.vifs.get(4)!.delete(router.vif(4, "r3")!.vif);
  const affected = router.interfaceGone("r3");
  assert.deepEqual(affected.map((r) => r.group), ["239.6.6.6"]);
  assert.equal(router.routeState(router.routes()[0]!), "partial");
  assert.ok(events.some((e) => e.event === "interface_gone" && e.name === "r3"));
  kernel.calls.length = 0;
  router.interfaceBack("r3", 77);
  assert.deepEqual(kernel.calls, ["addVif 4 2 77", "addMfcs 4 1"]);
  assert.equal(router.routeState(router.routes()[0]!), "installed");
  assert.equal(router.vif(4, "r3")!.ifindex, 77);
});

Deno.test("MulticastRouter at start lets routes wait for interfaces that do not exist yet", () => {
  const { kernel, router } = setup();
  router.apply({ vifs: [], routes: [route({ group: "239.7.7.7", iif: "late0", oifs: ["r2"] })] }, {
    atStart: true,
  });
  assert.equal(router.routeState(router.routes()[0]!), "waiting");
  assert.equal(kernel.mfcs.get(4)!.size, 0);
  assert.deepEqual(kernel.calls, ["addVif 4 1 11"]);
});

Deno.test("MulticastRouter pins VIFs, refuses to delete one in use, and keeps families apart", () => {
  const { kernel, router } = setup();
  router.addVif("r4");
  assert.deepEqual(router.vifs().map((v) => [v.family, v.name, v.pinned]), [[4, "r4", true], [
    6,
    "r4",
    true,
  ]]);
  router.addRoute(
    parseRoute({ source: "2001:db8::1", group: "ff0e::1:2:3", iif: "r1", oifs: ["r4"] }),
  );
  assert.equal(router.vif(6, "r4")!.vif, 0, "IPv6 has its own table");
  const v6 = [...kernel.mfcs.get(6)!.values()];
  assert.equal(v6.length, 1);
  assert.equal(v6[0]!.ttls[router.vif(6, "r4")!.vif], 1);
  assert.equal(kernel.mfcs.get(4)!.size, 0);
  assert.throws(
    () => router.deleteVif("r4"),
    /is used by 1 route, e\.g\. \(2001:db8::1, ff0e::1:2:3\); delete them first/,
  );
  router.flush();
  assert.deepEqual([router.routes(), router.vifs()], [[], []]);
  assert.equal(kernel.snapshot(), new FakeKernel().snapshot());
});

Deno.test("MulticastRouter.presetVifs adopts the VIF indexes of a previous run", () => {
  const { kernel, router } = setup();
  router.presetVifs({ "4": { r2: 5, r1: 3 } }, []);
  kernel.vifs.get(4)!.set(5, 11).set(3, 10); // what the previous run left in the kernel
  router.apply({ vifs: [], routes: [route({ group: "239.8.8.8" })] });
  assert.deepEqual(router.vifIndexes()["4"], { r1: 3, r2: 5 });
  assert.equal(installed(kernel, 4, [239, 8, 8, 8])!.parent, 3);
  assert.ok(!kernel.calls.some((c) => c.startsWith("addVif")), "adopted VIFs are not added again");
});

Deno.test("MulticastRouter changes only what a request names, even with another route's interface gone", () => {
  const links = new Map(interfaces);
  const kernel = new FakeKernel();
  const router = new MulticastRouter(kernel, (name) => links.get(name));
  router.apply({
    vifs: [],
    routes: Array.from({ length: 300 }, (_, i) => route({ group: `239.6.${i >> 8}.${i & 255}` })),
  });
  router.addRoute(route({ group: "239.6.9.9", iif: "r3", oifs: ["r4"] }));
  links.delete("r4");
  router.interfaceGone("r4");
  kernel.calls.length = 0;
  assert.equal(router.addRoute(route({ group: "239.6.9.10" })), "added");
  assert.deepEqual(kernel.calls, ["addMfcs 4 1"], "one entry, nothing else touched");
  assert.deepEqual(router.routes().map((r) => r.group).slice(254, 258), [
    "239.6.0.254",
    "239.6.0.255",
    "239.6.1.0",
    "239.6.1.1",
  ], "sorted by address, not as text");
});
