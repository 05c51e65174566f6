import assert from "node:assert/strict";
import { MAX_REQUEST_BYTES } from "../../lib/mroute/apply_file.ts";
import { request, subscribe } from "../../lib/ipc/mod.ts";
import { DEFAULT_TABLE } from "../../lib/net/mroute_structs.ts";
import { ip, ipJson } from "../../lib/lab/namespace_lab.ts";
import { ADDR, MrouteDaemonProcess, MrouteLab } from "./_mroute.ts";
import { netkit, waitUntil } from "./_lacp.ts";
import { needs } from "../skip.ts";

function stateFile(): string {
  return Deno.makeTempFileSync({ prefix: "netkit-mroute-", suffix: ".json" });
}

/** The groups of the kernel's multicast routes of `family` in table `table` (ip mroute). */
function tableRoutes(lab: MrouteLab, family: 4 | 6, table: number): string[] {
  return ipJson<{ dst: string }[]>(
    "-n",
    lab.router,
    `-${family}`,
    "mroute",
    "show",
    "table",
    String(table),
  ).map((r) => r.dst);
}

/** The groups `netkit mroute show` lists for the daemon of table `table`. */
function shownGroups(lab: MrouteLab, table: number): string[] {
  const shown = lab.mroute("show", "--table", String(table), "-s", "-j");
  assert.equal(shown.code, 0, shown.err);
  return (JSON.parse(shown.out).routes as { group: string }[]).map((r) => r.group);
}

/** The route for `group` in a `show -j` or kernel listing. */
function find(routes: Record<string, unknown>[], group: string, field = "group") {
  return routes.find((r) => r[field] === group);
}

Deno.test({
  name:
    "netkit mroute forwards IPv4 (S,G) and (*,G) only while the route exists, and agrees with ip mroute",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      using rx = await lab.listen("239.10.20.30");
      lab.send("239.10.20.30", { count: 3, tag: "before" });
      assert.deepEqual(await rx.collect(0, 400), [], "nothing is routed before the route exists");

      assert.equal(
        lab.mroute(
          "add",
          "--source",
          ADDR.sender4,
          "--group",
          "239.10.20.30",
          "--iif",
          "r1",
          "--oif",
          "r2",
        ).code,
        0,
      );
      lab.send("239.10.20.30", { count: 5, tag: "sg" });
      assert.deepEqual((await rx.collect(5)).sort(), ["sg-0", "sg-1", "sg-2", "sg-3", "sg-4"]);

      const ours = find(lab.show().routes, "239.10.20.30")!;
      const kernel = find(lab.kernelRoutes(4), "239.10.20.30", "dst")!;
      assert.equal(ours.iif, kernel.iif);
      assert.deepEqual(
        (ours.oifs as { name: string }[]).map((o) => o.name),
        (kernel.multipath as { oif: string }[]).map((o) => o.oif),
      );
      assert.equal(ours.packets, kernel.packets);
      assert.equal(ours.packets, 5);
      assert.equal(ours.bytes, kernel.bytes);

      assert.equal(lab.mroute("del", "--source", ADDR.sender4, "--group", "239.10.20.30").code, 0);
      lab.send("239.10.20.30", { count: 3, tag: "after" });
      assert.deepEqual(await rx.collect(0, 400), [], "nothing is routed after del");

      // (*,G): every source, natively in the kernel.
      using any = await lab.listen("239.20.0.1", 5001);
      assert.equal(
        lab.mroute("add", "--group", "239.20.0.1", "--iif", "r1", "--oifs", "r2").code,
        0,
      );
      lab.send("239.20.0.1", { port: 5001, count: 2, tag: "a", source: ADDR.sender4 });
      lab.send("239.20.0.1", { port: 5001, count: 2, tag: "b", source: "192.0.2.77" });
      assert.deepEqual((await any.collect(4)).sort(), ["a-0", "a-1", "b-0", "b-1"]);
      const star = find(lab.show().routes, "239.20.0.1")!;
      assert.equal(star.source, "*");
      assert.equal(star.packets, 4);
      // TTL 1 is never routed: the router would have to decrement it to 0.
      lab.send("239.20.0.1", { port: 5001, count: 2, tag: "ttl1", ttl: 1 });
      assert.deepEqual(await any.collect(0, 400), []);
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name: "netkit mroute forwards IPv6 (S,G) and (*,G)",
  ignore: needs("root", "netns", "veth", "ipv4_mroute", "ipv6_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      using rx = await lab.listen("ff0e::1:2:3");
      assert.equal(
        lab.mroute(
          "add",
          "--source",
          ADDR.sender6,
          "--group",
          "ff0e::1:2:3",
          "--iif",
          "r1",
          "--oif",
          "r2",
        ).code,
        0,
      );
      lab.send("ff0e::1:2:3", { count: 3, tag: "v6" });
      assert.deepEqual((await rx.collect(3)).sort(), ["v6-0", "v6-1", "v6-2"]);
      using star = await lab.listen("ff0e::7", 5002);
      assert.equal(lab.mroute("add", "--group", "ff0e::7", "--iif", "r1", "--oif", "r2").code, 0);
      lab.send("ff0e::7", { port: 5002, count: 2, tag: "star6", source: "2001:db8:1::99" });
      assert.deepEqual((await star.collect(2)).sort(), ["star6-0", "star6-1"]);
      const kernel = find(lab.kernelRoutes(6), "ff0e::1:2:3", "dst")!;
      const ours = find(lab.show().routes, "ff0e::1:2:3")!;
      assert.equal(ours.family, 6);
      assert.equal(ours.packets, kernel.packets);
      assert.equal(ours.packets, 3);
      assert.equal(lab.mroute("del", "--source", ADDR.sender6, "--group", "ff0e::1:2:3").code, 0);
      lab.send("ff0e::1:2:3", { count: 2, tag: "gone" });
      assert.deepEqual(await rx.collect(0, 400), []);
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name: "netkit mroute restores its routes from the state file after a restart",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      {
        await using _first = await MrouteDaemonProcess.start(lab, ["--state", state]);
        assert.equal(
          lab.mroute("add", "--group", "239.30.0.1", "--iif", "r1", "--oif", "r2:3").code,
          0,
        );
        assert.equal(lab.mroute("vif", "add", "lo").code, 1, "lo cannot do multicast routing");
      }
      // Stopped: the kernel removed everything it had installed.
      assert.equal(ip("-n", lab.router, "mroute", "show").trim(), "");
      await using _second = await MrouteDaemonProcess.start(lab, ["--state", state]);
      const route = find(lab.show().routes, "239.30.0.1")!;
      assert.deepEqual(route.oifs, [{ name: "r2", ttl: 3 }]);
      assert.equal(route.state, "installed");
      using rx = await lab.listen("239.30.0.1");
      lab.send("239.30.0.1", { count: 2, tag: "restored" });
      assert.deepEqual((await rx.collect(2)).sort(), ["restored-0", "restored-1"]);
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name:
    "netkit mroute apply prints its plan, changes all or nothing, and takes the daemon's state file",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    const desired = stateFile();
    const write = (routes: unknown[]) =>
      Deno.writeTextFileSync(desired, JSON.stringify({ routes }));
    // A kernel-native (*,G) entry lists its input among its outputs.
    const groups = () =>
      lab.kernelRoutes(4).map((r) =>
        `${r.dst} ${(r.multipath as { oif: string }[]).map((o) => o.oif).sort().join(",")}`
      ).sort();
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      const sg = { source: ADDR.sender4, group: "239.40.0.1", iif: "r1", oifs: ["r2"] };
      const star = { group: "239.40.0.2", iif: "r1", oifs: [{ name: "r2", ttl: 3 }] };
      write([sg, star]);

      const dry = lab.mroute("apply", desired, "--dry-run");
      assert.equal(dry.code, 0, dry.err);
      assert.equal(
        dry.out,
        "Dry run: 2 routes added, 0 changed, 0 removed.\n" +
          `+ (${ADDR.sender4}, 239.40.0.1) iif r1 oifs r2\n` +
          "+ (*, 239.40.0.2) iif r1 oifs r2:3\n",
      );
      assert.deepEqual(groups(), [], "a dry run changes nothing");

      const applied = lab.mroute("apply", desired);
      assert.equal(applied.code, 0, applied.err);
      assert.match(applied.out, /^Applied: 2 routes added, 0 changed, 0 removed\.\n/);
      assert.deepEqual(groups(), ["239.40.0.1 r2", "239.40.0.2 r1,r2"]);
      using rx = await lab.listen("239.40.0.1");
      lab.send("239.40.0.1", { count: 2, tag: "applied" });
      assert.deepEqual((await rx.collect(2)).sort(), ["applied-0", "applied-1"]);

      // One bad route refuses the whole state: nothing changes.
      write([{ ...star, oifs: ["r2"] }, { group: "239.40.0.3", iif: "r1", oifs: ["eth99"] }]);
      const refused = lab.mroute("apply", desired);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /Interface 'eth99' not found/);
      assert.deepEqual(groups(), ["239.40.0.1 r2", "239.40.0.2 r1,r2"]);
      assert.deepEqual(find(lab.show().routes, "239.40.0.2")!.oifs, [{ name: "r2", ttl: 3 }]);

      write([{ ...star, oifs: ["r2"] }]);
      const changed = lab.mroute("apply", desired);
      assert.equal(changed.code, 0, changed.err);
      assert.equal(
        changed.out,
        "Applied: 0 routes added, 1 changed, 1 removed.\n" +
          "~ (*, 239.40.0.2) iif r1 oifs r2 (was iif r1 oifs r2:3)\n" +
          `- (${ADDR.sender4}, 239.40.0.1) iif r1 oifs r2\n`,
      );
      assert.deepEqual(groups(), ["239.40.0.2 r1,r2"]);

      // The daemon's own state file is a desired state: applying it changes nothing.
      const same = lab.mroute("apply", state, "-j");
      assert.equal(same.code, 0, same.err);
      assert.deepEqual(JSON.parse(same.out).plan, {
        add: [],
        change: [],
        remove: [],
        pin: [],
        unpin: [],
      });
    } finally {
      Deno.removeSync(state);
      Deno.removeSync(desired);
    }
  },
});

/**
 * Runs `fn` with two daemons in one router: one for the default tables, one for table 7. `add`
 * adds a (*,G) route r1 -> r2 through the daemon of `table` ("0" for the default one).
 */
async function withTableSeven(
  fn: (lab: MrouteLab, add: (table: string, group: string) => void) => Promise<void> | void,
): Promise<void> {
  using lab = new MrouteLab();
  const state = stateFile();
  const state7 = stateFile();
  try {
    await using _default = await MrouteDaemonProcess.start(lab, ["--state", state]);
    await using _seven = await MrouteDaemonProcess.start(lab, ["--state", state7], 7);
    await fn(lab, (table, group) => {
      const added = lab.mroute(
        "add",
        "--table",
        table,
        "--group",
        group,
        "--iif",
        "r1",
        "--oif",
        "r2",
      );
      assert.equal(added.code, 0, added.err);
    });
  } finally {
    await Deno.remove(state);
    await Deno.remove(state7);
  }
}

Deno.test({
  name:
    "netkit mroute --table runs a second router beside the default one, each owning its own table",
  ignore: needs("root", "netns", "veth", "ipv4_mroute_tables"),
  async fn() {
    await withTableSeven(async (lab, add) => {
      const again = netkit(["-n", lab.router, "mroute", "daemon", "--table", "7"]);
      assert.equal(again.code, 1);
      assert.match(again.err, /already owns IPv4 table 7 .*\(EADDRINUSE\)/);

      add("7", "239.70.0.1");
      add("0", "239.70.0.2");
      assert.deepEqual(tableRoutes(lab, 4, 7), ["239.70.0.1"]);
      assert.deepEqual(lab.kernelRoutes(4).map((r) => r.dst), ["239.70.0.2"]);
      assert.deepEqual(shownGroups(lab, 7), ["239.70.0.1"]);

      // Traffic from r1 is looked up in table 7 once a rule says so.
      ip("-n", lab.router, "mrule", "add", "iif", "r1", "lookup", "7");
      using rx = await lab.listen("239.70.0.1");
      lab.send("239.70.0.1", { count: 2, tag: "t7" });
      assert.deepEqual((await rx.collect(2)).sort(), ["t7-0", "t7-1"]);
    });
  },
});

Deno.test({
  name: "netkit mroute --table keeps IPv6 routes in that table too, apart from the default one",
  ignore: needs("root", "netns", "veth", "ipv4_mroute_tables", "ipv6_mroute_tables"),
  async fn() {
    await withTableSeven((lab, add) => {
      add("7", "ff0e::70");
      add("0", "ff0e::71");
      assert.deepEqual(tableRoutes(lab, 6, 7), ["ff0e::70"]);
      // Unfiltered, ip -6 mroute lists every table: ask for the default one by id.
      assert.deepEqual(tableRoutes(lab, 6, DEFAULT_TABLE[6]), ["ff0e::71"]);
      assert.deepEqual(shownGroups(lab, 7), ["ff0e::70"]);
    });
  },
});

Deno.test({
  name:
    "netkit mroute --keep-kernel-state leaves routes in the kernel and forwards again at once after a restart",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      {
        await using _first = await MrouteDaemonProcess.start(lab, [
          "--state",
          state,
          "--keep-kernel-state",
        ]);
        assert.equal(
          lab.mroute("add", "--group", "239.40.0.1", "--iif", "r1", "--oif", "r2").code,
          0,
        );
      }
      // The entries outlive the daemon (but nothing forwards without an MRT_INIT owner).
      assert.match(
        ip("-n", lab.router, "mroute", "show"),
        /239\.40\.0\.1\)\s+Iif: r1\s+Oifs: r1 r2/,
      );
      await using _second = await MrouteDaemonProcess.start(lab, [
        "--state",
        state,
        "--keep-kernel-state",
      ]);
      using rx = await lab.listen("239.40.0.1");
      lab.send("239.40.0.1", { count: 2, tag: "kept" });
      assert.deepEqual((await rx.collect(2)).sort(), ["kept-0", "kept-1"]);
      // Adopted, not duplicated: one route, two VIFs with their old indexes.
      const show = lab.show();
      assert.equal(show.routes.length, 1);
      assert.deepEqual(show.vifs.filter((v) => v.family === 4).map((v) => [v.name, v.vif]), [[
        "r1",
        0,
      ], ["r2", 1]]);
      assert.equal(lab.kernelRoutes(4).length, 1);
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name: "netkit mroute loses none of 50 routes added by concurrent CLI processes",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      const adds = Array.from({ length: 50 }, (_, i) =>
        new Deno.Command("./netkit", {
          args: [
            "-n",
            lab.router,
            "mroute",
            "add",
            "--group",
            `239.50.0.${i + 1}`,
            "--iif",
            "r1",
            "--oif",
            "r2",
          ],
          stdout: "null",
          stderr: "piped",
        }).output());
      const results = await Promise.all(adds);
      assert.deepEqual(
        results.map((r) => r.code),
        results.map(() => 0),
        new TextDecoder().decode(results.find((r) => r.code)?.stderr),
      );
      assert.equal(lab.show().routes.length, 50);
      assert.equal(lab.kernelRoutes(4).length, 50);
      assert.equal(JSON.parse(Deno.readTextFileSync(state)).routes.length, 50);
    } finally {
      Deno.removeSync(state);
    }
  },
});

async function raw(path: string, text: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    const buffer = new Uint8Array(65536);
    let reply = "";
    while (!reply.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      reply += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return reply;
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "netkit mroute answers every bad request with its error and keeps serving",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    // 33 interfaces that could be VIFs.
    const batch = Array.from({ length: 17 }, (_, i) => `link add x${i}a type veth peer name x${i}b`)
      .join("\n");
    const file = Deno.makeTempFileSync();
    Deno.writeTextFileSync(file, batch + "\n");
    ip("-n", lab.router, "-batch", file);
    Deno.removeSync(file);
    const state = stateFile();
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      const cli = (...args: string[]) => lab.mroute(...args);
      // What the CLI can tell from the arguments alone it refuses as a usage error (exit 2)
      // before the daemon hears of it; what only the daemon knows is a runtime error (exit 1).
      const cases: [string[], string, number][] = [
        [
          ["add", "--group", "239.1.1.1", "--iif", "r1", "--oif", "eth99"],
          "Invalid argument: Interface 'eth99' not found.",
          1,
        ],
        [
          ["add", "--group", "10.1.1.1", "--iif", "r1", "--oif", "r2"],
          "Invalid argument: Group '10.1.1.1' is not a multicast address (224.0.0.0/4).",
          2,
        ],
        [
          ["add", "--group", "224.0.0.251", "--iif", "r1", "--oif", "r2"],
          "Invalid argument: Group '224.0.0.251' is link-local (224.0.0.0/24); the kernel never routes it.",
          2,
        ],
        [
          ["add", "--group", "239.1.1.1", "--iif", "r1", "--oif", "r1"],
          "Invalid argument: Output interface 'r1' is also the input interface.",
          2,
        ],
        [
          ["add", "--source", "239.9.9.9", "--group", "239.1.1.1", "--iif", "r1", "--oif", "r2"],
          "Invalid argument: Source '239.9.9.9' must be a unicast address.",
          2,
        ],
        [
          ["add", "--group", "ff02::fb", "--iif", "r1", "--oif", "r2"],
          "Invalid argument: Group 'ff02::fb' has interface- or link-local scope (ff01::/16, ff02::/16); the kernel never routes it.",
          2,
        ],
      ];
      for (const [args, message, code] of cases) {
        const out = cli(...args);
        assert.equal(out.code, code, args.join(" "));
        assert.equal(out.err, `netkit: error: ${message}\n`);
      }
      // The 33rd VIF.
      const names = [
        "r1",
        "r2",
        ...Array.from({ length: 17 }, (_, i) => [`x${i}a`, `x${i}b`]).flat(),
      ];
      for (const name of names.slice(0, 32)) assert.equal(cli("vif", "add", name).code, 0, name);
      const full = cli("vif", "add", names[32]!);
      assert.equal(
        full.err,
        `netkit: error: Invalid argument: No free VIF for interface '${
          names[32]
        }': IPv4 allows 32 interfaces per table, all in use.\n`,
      );
      // Malformed, unknown and oversized requests over the socket itself.
      assert.match(
        await raw(lab.socketPath, "{not json\n"),
        /^\{"status":"error","message":"Invalid JSON: /,
      );
      assert.match(
        await raw(lab.socketPath, '{"action":"REBOOT"}\n'),
        /^\{"status":"error","message":"Invalid request: /,
      );
      assert.match(
        await raw(lab.socketPath, `{"action":"SHOW","pad":"${"x".repeat(MAX_REQUEST_BYTES)}"}\n`),
        /"status":"error".*exceeds/i,
      );
      // Still serving, state intact; the Python service's one-shot form (no newline) works too.
      const reply = JSON.parse(
        await raw(
          lab.socketPath,
          '{"action": "ADD_MFC", "payload": {"source": "192.0.2.2", "group": "239.10.20.30", "iif": "r1", "oifs": ["r2"]}}',
        ),
      );
      assert.deepEqual(reply, {
        status: "success",
        message: "MFC entry for (192.0.2.2, 239.10.20.30) added.",
      });
      assert.equal(
        (await request(lab.socketPath, { action: "SHOW" }) as { routes: unknown[] }).routes.length,
        1,
      );
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name:
    "netkit mroute reports upcalls and interface churn, and reinstalls routes when the interface returns",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    try {
      await using daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      const controller = new AbortController();
      const events: Record<string, unknown>[] = [];
      const watching = (async () => {
        for await (
          const e of subscribe(daemon.socketPath, { action: "SUBSCRIBE" }, {
            signal: controller.signal,
          })
        ) {
          events.push(e as Record<string, unknown>);
        }
      })();
      try {
        const waitFor = async (what: (e: Record<string, unknown>) => boolean, label: string) => {
          const deadline = Date.now() + 4000;
          while (!events.some(what) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.ok(
            events.some(what),
            `${label}; events: ${JSON.stringify(events)}; log: ${daemon.log()}`,
          );
        };
        await waitFor((e) => e.status === "success", "the subscription's acknowledgement");
        assert.equal(
          lab.mroute("add", "--group", "239.60.0.1", "--iif", "r1", "--oif", "r2").code,
          0,
        );
        await waitFor((e) => e.event === "route_added", "route_added");
        // Traffic for a group without a route: the kernel asks (NOCACHE), the daemon reports it.
        lab.send("239.99.0.1", { count: 1 });
        await waitFor(
          (e) =>
            e.event === "upcall" && e.kind === "nocache" && e.group === "239.99.0.1" &&
            e.iif === "r1",
          "nocache upcall",
        );
        // The output interface disappears, then comes back with a new index.
        ip("-n", lab.router, "link", "del", "r2");
        await waitFor((e) => e.event === "interface_gone" && e.name === "r2", "interface_gone");
        assert.equal(find(lab.show().routes, "239.60.0.1")!.state, "partial");
        lab.lab.veth({ netns: lab.router, name: "r2" }, { netns: lab.receiver, name: "c0" });
        ip("-n", lab.receiver, "addr", "add", `${ADDR.receiver4}/24`, "dev", "c0");
        await waitFor((e) => e.event === "interface_back" && e.name === "r2", "interface_back");
        assert.equal(find(lab.show().routes, "239.60.0.1")!.state, "installed");
        using rx = await lab.listen("239.60.0.1");
        lab.send("239.60.0.1", { count: 2, tag: "back" });
        assert.deepEqual((await rx.collect(2)).sort(), ["back-0", "back-1"]);
      } finally {
        controller.abort();
        await watching;
      }
    } finally {
      Deno.removeSync(state);
    }
  },
});

Deno.test({
  name: "SIGHUP leaves netkit mroute daemon serving its routes; it reopens a renamed log file",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const state = stateFile();
    const rotated = `${state}.log.1`;
    try {
      await using daemon = await MrouteDaemonProcess.start(lab, ["--state", state]);
      assert.equal(
        lab.mroute("add", "--group", "239.40.0.1", "--iif", "r1", "--oif", "r2").code,
        0,
      );
      // As logrotate does: rename, then SIGHUP.
      await Deno.rename(daemon.logFile, rotated);
      Deno.kill(daemon.pid, "SIGHUP");
      await waitUntil(
        () => Deno.readTextFile(daemon.logFile),
        (text) => text.includes(`SIGHUP: reopened log file ${daemon.logFile}`),
        5000,
        "the daemon to reopen its log file",
      );
      assert.doesNotMatch(await Deno.readTextFile(rotated), /SIGHUP/);
      assert.deepEqual(lab.show().routes.map((r) => r.group), ["239.40.0.1"]);
      assert.deepEqual(tableRoutes(lab, 4, DEFAULT_TABLE[4]), ["239.40.0.1"]);
      assert.equal((await daemon.stop()).code, 0, "SIGTERM still ends it cleanly");
    } finally {
      Deno.removeSync(state);
      await Deno.remove(rotated).catch(() => {});
    }
  },
});
