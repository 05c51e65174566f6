import assert from "node:assert/strict";
import { z } from "zod";
import "../ffi/native.ts";
import { type LacpCliOptions, parseLacpOptions } from "../lib/cli/lacp.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { controlSocketPrefix } from "../lib/lacp/client.ts";
import { currentNetnsId } from "../lib/net/netns.ts";
import { cli } from "./_cli.ts";

function options(partial: Partial<LacpCliOptions>): LacpCliOptions {
  return { interface: [], inject: [], ...partial };
}

Deno.test("netkit lacp without -i, -s or -k says what it needs and exits 2", async () => {
  const { code, err } = await cli("lacp");
  assert.equal(code, 2);
  assert.equal(
    err,
    "netkit: error: Must specify either -s/--status, -k/--kill, or -i/--interface\n",
  );
});

Deno.test("netkit lacp rejects daemon options with -s and -k, naming the option", async () => {
  for (
    const [flag, extra] of [["--passive", []], ["--rate", ["slow"]], ["--key", ["3"]], ["--pcap", [
      "x.pcap",
    ]]] as const
  ) {
    const { code, err } = await cli("lacp", "-s", flag, ...extra);
    assert.equal(code, 2, flag);
    assert.match(
      err,
      new RegExp(
        `^netkit: error: ${
          flag.replace("-", "\\-")
        }.* starts a daemon and cannot be used with -s/--status\\n$`,
      ),
    );
  }
  const both = await cli("lacp", "-s", "-k");
  assert.equal(both.err, "netkit: error: -s/--status and -k/--kill cannot be used together\n");
});

Deno.test("netkit lacp -j/-p only go with -s", async () => {
  assert.equal(
    (await cli("lacp", "-i", "eth0", "-j")).err,
    "netkit: error: -j/--json and -p/--pretty can only be used with -s/--status\n",
  );
  assert.equal((await cli("lacp", "-k", "-p")).code, 2);
});

Deno.test("netkit lacp reports a bad inject rule with its position before opening anything", async () => {
  const { code, err } = await cli("lacp", "-i", "nkdoesnotexist0", "--inject", "P:ATX -> A:ATG");
  assert.equal(code, 2);
  assert.equal(
    err,
    'netkit: error: Invalid inject rule "P:ATX -> A:ATG": unknown state letter "X" at position 5\n',
  );
});

Deno.test("parseLacpOptions() checks numbers, MACs and combinations", () => {
  const bad: [Partial<LacpCliOptions>, string][] = [
    [
      { interface: ["e1"], key: "70000" },
      'Invalid value "70000" for --key: expected an integer from 0 to 65535',
    ],
    [
      { interface: ["e1"], systemPriority: "-1" },
      'Invalid value "-1" for --system-priority: expected an integer from 0 to 65535',
    ],
    [
      { interface: ["e1"], portPriority: "1.5" },
      'Invalid value "1.5" for --port-priority: expected an integer from 0 to 65535',
    ],
    [
      { interface: ["e1"], systemId: "01:00:5e:00:00:01" },
      'Invalid value "01:00:5e:00:00:01" for --system-id: a system id must be a non-zero unicast MAC',
    ],
    [
      { interface: ["e1"], systemId: "00:00:00:00:00:00" },
      'Invalid value "00:00:00:00:00:00" for --system-id: a system id must be a non-zero unicast MAC',
    ],
    [{ interface: ["e1", "e1"] }, 'Interface "e1" is given twice with -i'],
    [
      { interface: ["e1"], exitAfterInject: true },
      "--exit-after-inject needs at least one --inject rule",
    ],
    [
      { interface: ["bad/name"] },
      'Invalid interface name "bad/name": expected 1 to 15 characters without "/", ":" or spaces',
    ],
  ];
  for (const [partial, message] of bad) {
    assert.throws(
      () => parseLacpOptions(options(partial), {}),
      (err: unknown) => err instanceof InvalidInputError && err.message === message,
    );
  }
});

Deno.test("parseLacpOptions() applies lacpd's defaults and the identity options", () => {
  const start = parseLacpOptions(options({ interface: ["e1", "e2"] }), {});
  assert.equal(start.kind, "start");
  if (start.kind !== "start") return;
  assert.deepEqual({ ...start.daemon, rules: start.daemon.rules.length }, {
    interfaces: ["e1", "e2"],
    active: true,
    fast: true,
    systemPriority: 32768,
    key: 1,
    portPriority: 32768,
    rules: 0,
    exitAfterInject: false,
  });
  const custom = parseLacpOptions(
    options({
      interface: ["e1"],
      passive: true,
      rate: "slow",
      systemId: "02:00:00:00:00:99",
      systemPriority: "0x10",
      key: "7",
      inject: ["-> drop"],
      daemon: true,
    }),
    {},
  );
  assert.ok(
    custom.kind === "start" && !custom.daemon.active && !custom.daemon.fast && custom.detach,
  );
  if (custom.kind !== "start") return;
  assert.equal(custom.daemon.systemPriority, 16);
  assert.equal(custom.daemon.key, 7);
  assert.deepEqual([...custom.daemon.systemId!], [2, 0, 0, 0, 0, 0x99]);
  assert.deepEqual(parseLacpOptions(options({ status: true, interface: ["e1"] }), { json: true }), {
    kind: "status",
    interfaces: ["e1"],
  });
});

Deno.test("netkit lacp --help documents the injection grammar and --exit-after-inject", async () => {
  const { code, out } = await cli("lacp", "--help");
  assert.equal(code, 0);
  assert.match(out, /COND -> TARGET \[#N\]/);
  assert.match(
    out,
    /--exit-after-inject: exit 0 as soon as at least one rule has fired and every port on\nwhich a rule fired has sent its injected LACPDU/,
  );
  assert.doesNotMatch(out, /detached-child/);
});

Deno.test("netkit lacp -s turns a malformed status reply into one line, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-lacp-cli-" });
  const before = Deno.env.get("NETKIT_RUN_DIR");
  Deno.env.set("NETKIT_RUN_DIR", dir);
  try {
    // Where lacp -s looks, a socket answering as an older or fake daemon might.
    await using _fake = await ControlServer.listen({
      path: `${dir}/${controlSocketPrefix(currentNetnsId())}${Deno.pid}.sock`,
      schema: z.object({ action: z.literal("status") }),
      handle: () => ({ pid: Deno.pid, net_ns_id: 1, uptime_seconds: 1, ports: "none" }),
    });
    const { code, out, err } = await cli("lacp", "-s");
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(
      err,
      /^netkit: error: The lacp daemon sent a malformed status reply: configured_rate_mode: [^\n]*; active_mode: [^\n]*; ports: expected array, received string\n$/,
    );
  } finally {
    if (before === undefined) Deno.env.delete("NETKIT_RUN_DIR");
    else Deno.env.set("NETKIT_RUN_DIR", before);
    await Deno.remove(dir, { recursive: true });
  }
});
