// The daemon's JSON is snake_case by house rule.
// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import "../ffi/native.ts";
import { z } from "zod";
import { cli } from "./_cli.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { currentNetnsId } from "../lib/net/netns_names.ts";
import { type LsoeEvent, lsoeSocketName, StatusReply } from "../lib/lsoe/client.ts";
import {
  formatAge,
  formatEncapsulations,
  formatLsoeEvent,
  formatLsoeStatus,
  type LsoeCliOptions,
  parseLsoeOptions,
} from "../lib/cli/lsoe.ts";
import type { GlobalOptions } from "../lib/cli/global_options.ts";

const NO_ENCAPSULATIONS = { ipv4: [], ipv6: [], mpls_ipv4: [], mpls_ipv6: [] };

const STATUS: StatusReply = {
  status: "success",
  pid: 4242,
  local_id: "6e6b2d612d30303030aa",
  ethertype: 0x8885,
  timers: {
    hello_interval: 60,
    keepalive_send_interval: 1,
    keepalive_receive_timeout: 60,
    retransmit_initial_interval: 1,
    retransmit_exponential_backoff: true,
    retransmit_max_drop: 3,
    reassembly_timeout: 1,
    mac_address_cache_timeout: 300,
  },
  interfaces: [
    {
      name: "veth0",
      ifindex: 2,
      mac: "4a:ea:00:00:00:01",
      state: "up",
      hellos_sent: 12,
      mpls_label: null,
    },
    {
      name: "veth1",
      ifindex: 3,
      mac: "4a:ea:00:00:00:02",
      state: "down",
      hellos_sent: 0,
      mpls_label: 16,
    },
  ],
  sessions: [
    {
      interface: "veth0",
      ifindex: 2,
      peer_mac: "36:94:00:00:00:02",
      peer_local_id: "6e6b2d622d30303030bb",
      state: "open",
      our_open_acked: true,
      local_nonce: "01020304",
      peer_nonce: "fe7d3a34",
      peer_attributes: "",
      open_since: "2026-11-21T10:00:00.000Z",
      last_keepalive: "2026-11-21T10:05:11.600Z",
      encapsulations: {
        ipv4: [
          { address: "127.0.0.1", prefix_length: 8, primary: false, loopback: true },
          { address: "192.0.2.2", prefix_length: 30, primary: true, loopback: false },
        ],
        ipv6: [{ address: "2001:db8::2", prefix_length: 64, primary: true, loopback: false }],
        mpls_ipv4: [
          { address: "192.0.2.2", prefix_length: 30, primary: true, loopback: false, labels: [16] },
        ],
        mpls_ipv6: [],
      },
      outstanding: [],
      counters: {
        pdus_received: 40,
        pdus_sent: 41,
        retransmissions: 0,
        keepalives_received: 30,
        error_acks_received: 0,
        vendor_received: 0,
      },
    },
    {
      interface: "veth0",
      ifindex: 2,
      peer_mac: "36:94:00:00:00:03",
      peer_local_id: null,
      state: "opening",
      our_open_acked: false,
      local_nonce: "05060708",
      peer_nonce: null,
      peer_attributes: null,
      open_since: null,
      last_keepalive: null,
      encapsulations: NO_ENCAPSULATIONS,
      outstanding: [{ type: "open", retransmissions: 1, next_retransmit_in: 1.5, deferred: false }],
      counters: {
        pdus_received: 1,
        pdus_sent: 2,
        retransmissions: 1,
        keepalives_received: 0,
        error_acks_received: 0,
        vendor_received: 0,
      },
    },
  ],
  drops: { bad_checksum: 3, runt: 0 },
};

const EVENTS: LsoeEvent[] = [
  {
    event: "session_open",
    time: "2026-11-21T10:00:00.000Z",
    interface: "veth0",
    peer_mac: "36:94:00:00:00:02",
    peer_local_id: "6e6b2d622d30303030bb",
    peer_nonce: "fe7d3a34",
  },
  {
    event: "encapsulations",
    time: "2026-11-21T10:00:00.010Z",
    interface: "veth0",
    peer_mac: "36:94:00:00:00:02",
    peer_local_id: "6e6b2d622d30303030bb",
    family: "mpls_ipv4",
    entries: [{
      address: "192.0.2.2",
      prefix_length: 30,
      primary: true,
      loopback: false,
      labels: [16, 17],
    }],
  },
  {
    event: "encapsulations",
    time: "2026-11-21T10:01:00.000Z",
    interface: "veth0",
    peer_mac: "36:94:00:00:00:02",
    peer_local_id: "6e6b2d622d30303030bb",
    family: "mpls_ipv4",
    entries: [],
  },
  {
    event: "session_close",
    time: "2026-11-21T10:01:00.000Z",
    interface: "veth0",
    peer_mac: "36:94:00:00:00:02",
    peer_local_id: "6e6b2d622d30303030bb",
    reason: "keepalive_timeout",
  },
];

const ACK = { status: "success", message: "Subscribed" };

/**
 * A fake lsoe daemon where `netkit lsoe` looks (NETKIT_RUN_DIR), answering STATUS with
 * `status` and SUBSCRIBE with `lines`.
 */
async function withFakeDaemon(
  replies: { status?: unknown; lines?: readonly unknown[] },
  fn: () => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-lsoe-cli-" });
  const before = Deno.env.get("NETKIT_RUN_DIR");
  Deno.env.set("NETKIT_RUN_DIR", dir);
  try {
    await using _fake = await ControlServer.listen({
      path: `${dir}/${lsoeSocketName(currentNetnsId())}.sock`,
      schema: z.object({ action: z.enum(["STATUS", "SUBSCRIBE"]) }),
      handle: (request) =>
        request.action === "STATUS" ? replies.status : (async function* () {
          yield* replies.lines ?? [];
        })(),
    });
    await fn();
  } finally {
    if (before === undefined) Deno.env.delete("NETKIT_RUN_DIR");
    else Deno.env.set("NETKIT_RUN_DIR", before);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with NETKIT_RUN_DIR naming an empty directory: no daemon anywhere. */
async function withNoDaemon(fn: () => Promise<void>): Promise<void> {
  await withFakeDaemon({}, async () => {
    await Deno.remove(`${Deno.env.get("NETKIT_RUN_DIR")}/${lsoeSocketName(currentNetnsId())}.sock`);
    await fn();
  });
}

Deno.test("the canned STATUS reply and events match the contract (else these tests prove nothing)", () => {
  StatusReply.parse(STATUS);
});

Deno.test("netkit lsoe refuses bad options before anything starts: one line, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["-s", "-k"], /-s\/--status and -k\/--kill cannot be used together/],
    [
      ["-s", "-i", "eth0"],
      /-i\/--interface starts the daemon and cannot be used with -s\/--status/,
    ],
    [["-k", "--hello-interval", "2"], /--hello-interval starts the daemon .* -k\/--kill/],
    [["-k", "-j"], /-j\/--json and -p\/--pretty can only be used with -s\/--status/],
    [["-j", "-i", "eth0"], /-j\/--json and -p\/--pretty can only be used with -s/],
    [["-d", "-k"], /-d\/--daemon starts the daemon and cannot be used with -k/],
    [["-i", "eth0", "-i", "eth0"], /Interface "eth0" is given twice with -i/],
    [["-i", "a/b"], /Invalid interface name "a\/b"/],
    [
      ["--ethertype", "0x5ff"],
      /Invalid value "0x5ff" for --ethertype: expected an integer from 1536/,
    ],
    [["--ethertype", "ip"], /Invalid value "ip" for --ethertype/],
    [["--local-id", "00"], /Invalid value "00" for --local-id: expected 10 bytes in hex/],
    [["--hello-interval", "0"], /for --hello-interval: expected seconds from 0\.01 to 3600\n/],
    [["--keepalive-send-interval", "x"], /Invalid value "x" for --keepalive-send-interval/],
    [["--keepalive-receive-timeout", "-1"], /for --keepalive-receive-timeout: .*or 0 for never/],
    [["--retransmit-initial-interval", "1h"], /for --retransmit-initial-interval/],
    [["--retransmit-max-drop", "0"], /for --retransmit-max-drop: expected an integer from 1 to 32/],
    [["--mpls-label", "eth0=15"], /for --mpls-label: expected IFACE=LABEL with a label from 16/],
    [["-i", "e0", "--mpls-label", "e1=16"], /--mpls-label names "e1", which is not one of the -i/],
    [
      ["--keepalive-receive-timeout", "2", "--keepalive-send-interval", "2"],
      /keepalive-receive-timeout \(2 s\) must be longer than keepalive-send-interval \(2 s\)/,
    ],
    [["--bogus"], /unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    const { code, out, err } = await cli("lsoe", ...args);
    assert.equal(code, 2, `${args.join(" ")}: ${err}`);
    assert.equal(out, "");
    assert.match(err, new RegExp(`^netkit: (error: )?.*${pattern.source}`), args.join(" "));
    assert.equal(err.split("\n").filter((l) => l.startsWith("netkit:")).length, 1, err);
  }
});

Deno.test("netkit lsoe -i names an interface that does not exist: one line, exit 1", async () => {
  const { code, out, err } = await cli(
    "lsoe",
    "-i",
    "nk-absent0",
    "--local-id",
    "6e6b2d612d30303030aa",
  );
  assert.equal(code, 1);
  assert.equal(out, "");
  assert.equal(err, 'netkit: error: No interface named "nk-absent0"\n');
});

Deno.test("netkit lsoe -c reads an lsoed file: ignored options are warnings, bad ones FILE:LINE exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-lsoe-conf-" });
  try {
    const good = `${dir}/lsoed.conf`;
    await Deno.writeTextFile(
      good,
      "[lsoed]\nlocal-id = 6e:6b:2d:61:2d:30:30:30:30:aa\nreport-rfc7752-url = http://kriek/\n",
      { mode: 0o600 },
    );
    const ok = await cli("lsoe", "-c", good, "--hello-interval", "2", "-i", "nk-absent0");
    assert.equal(ok.code, 1);
    assert.match(
      ok.err,
      /^netkit: warning: .*lsoed\.conf:3: "report-rfc7752-url" is ignored: netkit does not post RFC 7752 reports.*\nnetkit: error: No interface named "nk-absent0"\n$/,
    );
    const bad = `${dir}/bad.conf`;
    await Deno.writeTextFile(bad, "[lsoed]\n\nhello-interval = soon\n", { mode: 0o600 });
    const refused = await cli("lsoe", "-c", bad);
    assert.equal(refused.code, 2);
    assert.equal(
      refused.err,
      `netkit: error: ${bad}:3: Invalid value "soon" for hello-interval: expected seconds from 0.01 to 3600\n`,
    );
    // Root reads no file others may write: they would choose its Local ID and timers.
    await Deno.chmod(good, 0o666);
    const unsafe = await cli("lsoe", "-c", good);
    assert.equal(unsafe.code, 1);
    assert.match(unsafe.err, /^netkit: error: Refusing to read lsoe configuration file .*\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit lsoe -s and monitor without a daemon say how to start it (exit 1)", async () => {
  await withNoDaemon(async () => {
    for (const args of [["-s"], ["monitor"]]) {
      const { code, out, err } = await cli("lsoe", ...args);
      assert.equal(code, 1);
      assert.equal(out, "");
      assert.match(
        err,
        /^netkit: error: Cannot reach .*lsoe-ns\d+\.sock.*; start it with "netkit lsoe -d"\n$/,
      );
    }
    const kill = await cli("lsoe", "-k");
    assert.equal(kill.code, 0, kill.err);
    assert.equal(kill.out, "No netkit lsoe daemon is running in this network namespace\n");
  });
});

Deno.test("netkit lsoe -s prints the interfaces and one line per session; -j the reply, -p indented", async () => {
  await withFakeDaemon({ status: STATUS }, async () => {
    const human = await cli("lsoe", "-s");
    assert.equal(human.code, 0, human.err);
    assert.match(
      human.out,
      /^LSoE speaker 4242: local ID 6e6b2d612d30303030aa, EtherType 0x8885 \(lsoed's\)\n/,
    );
    assert.match(human.out, /\nveth1\s+4a:ea:00:00:00:02\s+down\s+0\s+16\n/);
    assert.match(
      human.out,
      /\nveth0\s+36:94:00:00:00:02\s+6e6b2d622d30303030bb\s+open\s+\S+ ago\s+\S+ ago\s+127\.0\.0\.1\/8\(lo\), 192\.0\.2\.2\/30\*, 2001:db8::2\/64\*, 192\.0\.2\.2\/30\*\[16\]\n/,
    );
    assert.match(human.out, /\nDropped: bad_checksum 3\n$/);
    const json = await cli("lsoe", "-s", "-j");
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), STATUS);
    assert.equal(json.out.split("\n").length, 2);
    const pretty = await cli("-p", "lsoe", "-s");
    assert.equal(pretty.out, JSON.stringify(STATUS, null, 2) + "\n");
  });
});

Deno.test("netkit lsoe -s turns a malformed STATUS reply into one line, exit 1", async () => {
  const { sessions: _, ...withoutSessions } = STATUS;
  for (
    const [reply, pattern] of [
      [{ ...STATUS, ethertype: 0x100 }, /ethertype: [^\n]+/],
      [withoutSessions, /sessions: [^\n]+/],
      [
        { ...STATUS, sessions: [{ ...STATUS.sessions[0], state: "up" }] },
        /sessions\[0\]\.state: [^\n]+/,
      ],
    ] as const
  ) {
    await withFakeDaemon({ status: reply }, async () => {
      const { code, out, err } = await cli("lsoe", "-s");
      assert.equal(code, 1);
      assert.equal(out, "");
      assert.match(
        err,
        new RegExp(
          `^netkit: error: The lsoe daemon sent a malformed STATUS reply: ${pattern.source}\\n$`,
        ),
      );
    });
  }
});

Deno.test("netkit lsoe monitor prints one line per event, -j the events as JSON", async () => {
  await withFakeDaemon({ lines: [ACK, ...EVENTS] }, async () => {
    const text = await cli("lsoe", "monitor");
    assert.equal(text.code, 0, text.err);
    assert.equal(text.out, EVENTS.map((e) => formatLsoeEvent(e) + "\n").join(""));
    const json = await cli("-j", "lsoe", "monitor");
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(json.out.trimEnd().split("\n").map((l) => JSON.parse(l)), EVENTS);
  });
  await withFakeDaemon({ lines: [ACK, { ...EVENTS[3], reason: "bored" }] }, async () => {
    const { code, err } = await cli("lsoe", "monitor");
    assert.equal(code, 1);
    assert.match(
      err,
      /^netkit: error: The lsoe daemon sent a malformed SUBSCRIBE reply: [^\n]+\n$/,
    );
  });
});

Deno.test("formatLsoeEvent: time, event, interface, peer, then what happened", () => {
  assert.deepEqual(EVENTS.map(formatLsoeEvent), [
    "2026-11-21T10:00:00.000Z session_open veth0 36:94:00:00:00:02 id 6e6b2d622d30303030bb nonce fe7d3a34",
    "2026-11-21T10:00:00.010Z encapsulations veth0 36:94:00:00:00:02 id 6e6b2d622d30303030bb mpls_ipv4 192.0.2.2/30*[16,17]",
    "2026-11-21T10:01:00.000Z encapsulations veth0 36:94:00:00:00:02 id 6e6b2d622d30303030bb mpls_ipv4 none",
    "2026-11-21T10:01:00.000Z session_close veth0 36:94:00:00:00:02 id 6e6b2d622d30303030bb reason keepalive_timeout",
  ]);
  assert.match(formatLsoeEvent({ ...EVENTS[3]!, peer_local_id: null }), / id - reason /);
});

Deno.test("formatLsoeStatus at a fixed time: ages, opening sessions, the legend, no drops", () => {
  const now = new Date("2026-11-21T10:05:12.000Z");
  const text = formatLsoeStatus({ ...STATUS, ethertype: 0x88b5, drops: {} }, now);
  assert.equal(
    text,
    [
      "LSoE speaker 4242: local ID 6e6b2d612d30303030aa, EtherType 0x88b5",
      "Timers: hello 60s, keepalive 1s, silence limit 60s, retransmit 1s doubling up to 3 drops, reassembly 1s, MAC cache 300s",
      "",
      "Interface  MAC                State  HELLOs  MPLS label",
      "veth0      4a:ea:00:00:00:01  up     12      -",
      "veth1      4a:ea:00:00:00:02  down   0       16",
      "",
      "Interface  Peer MAC           Peer local ID         State    Open since  Last heard  Addresses",
      "veth0      36:94:00:00:00:02  6e6b2d622d30303030bb  open     5m12s ago   0.4s ago    127.0.0.1/8(lo), 192.0.2.2/30*, 2001:db8::2/64*, 192.0.2.2/30*[16]",
      "veth0      36:94:00:00:00:03  -                     opening  -           -           -",
      "Addresses: * primary (the peer's on this link), (lo) loopback, [n] MPLS labels",
      "Dropped: none",
      "",
    ].join("\n"),
  );
  const empty = formatLsoeStatus({ ...STATUS, interfaces: [], sessions: [] }, now);
  assert.match(empty, /\nNo interfaces\nNo sessions\nDropped: bad_checksum 3\n$/);
});

Deno.test("formatAge and formatEncapsulations read at a glance", () => {
  assert.deepEqual(
    [0, 420, 9999, 12_000, 312_000, 3_600_000 + 300_000, 2 * 86_400_000 + 3 * 3_600_000, -5].map(
      formatAge,
    ),
    ["0s", "0.4s", "9.9s", "12s", "5m12s", "1h05m", "2d03h", "0s"],
  );
  assert.equal(formatEncapsulations(NO_ENCAPSULATIONS), "-");
});

Deno.test("parseLsoeOptions gives the start action: absolute paths, lsoed options as settings", () => {
  const globals: GlobalOptions = { logLevel: "info", logFormat: "text" };
  const options: LsoeCliOptions = {
    interface: ["eth0"],
    config: "lsoed.conf",
    pcap: "/tmp/x.pcap",
    ethertype: "0x8885",
    helloInterval: "2",
    retransmitMaxDrop: "5",
    mplsLabel: ["eth0=100"],
    daemon: true,
  };
  const action = parseLsoeOptions(options, globals);
  assert.deepEqual(action, {
    kind: "start",
    configFile: `${Deno.cwd()}/lsoed.conf`,
    commandLine: {
      interfaces: ["eth0"],
      etherType: 0x8885,
      mplsLabels: [["eth0", 100]],
      pcap: "/tmp/x.pcap",
      settings: { helloIntervalMs: 2000, retransmitMaxDrop: 5 },
    },
    detach: true,
    detachedChild: false,
  });
  assert.deepEqual(parseLsoeOptions({ status: true }, { ...globals, json: true }), {
    kind: "status",
  });
});
