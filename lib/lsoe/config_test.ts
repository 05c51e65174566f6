import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { LSOE_ETHERTYPE, LSOE_HELLO_GROUP } from "../packet/lsoe.ts";
import {
  type LsoeCommandLine,
  parseLocalId,
  parseLsoedOption,
  parseLsoeIni,
  parseMplsLabel,
  resolveLsoeConfig,
} from "./config.ts";
import { DEFAULT_TIMERS } from "./timers.ts";

/** lsoed's default configuration, as its source writes it (comments, blank lines and all). */
const LSOED_DEFAULTS = `
# Default configuration values
[lsoed]

# How long to wait before first retransmission
retransmit-initial-interval = 1.0
retransmit-exponential-backoff = yes
retransmit-max-drop = 3
keepalive-send-interval = 1.0
; 0.0 = never
keepalive-receive-timeout = 60.0
hello-interval = 60.0
reassembly-timeout = 1.0
mac-address-cache-timeout = 300.0
hello-multicast-macaddr = 01-80-C2-00-00-0E
`;

const NO_COMMAND_LINE: LsoeCommandLine = {
  interfaces: [],
  etherType: null,
  mplsLabels: [],
  pcap: null,
  settings: {},
};
const FIXED_ID = () => new Uint8Array(10).fill(7);

function invalidInput(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, String(err));
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

Deno.test("parseLsoeIni reads lsoed's own default file to exactly lsoed's defaults", () => {
  const { settings, ignored } = parseLsoeIni(LSOED_DEFAULTS, "lsoed.conf");
  assert.deepEqual(ignored, []);
  const config = resolveLsoeConfig(settings, NO_COMMAND_LINE, FIXED_ID);
  assert.deepEqual(config.timers, DEFAULT_TIMERS);
  assert.equal(config.reassemblyTimeoutMs, 1000);
  assert.equal(config.macCacheTimeoutMs, 300_000);
  assert.deepEqual(config.helloGroup, new Uint8Array(LSOE_HELLO_GROUP));
  // The same as with no file at all.
  assert.deepEqual(config, resolveLsoeConfig({}, NO_COMMAND_LINE, FIXED_ID));
});

Deno.test("parseLsoeIni takes ':' and '=', any case in names, configparser booleans", () => {
  const { settings } = parseLsoeIni(
    "[lsoed]\nHello-Interval: 2.5\nretransmit-exponential-backoff=OFF\nlocal-id = 6e-6b-2d-61-2d-30-30-30-30-aa\r\n",
    "a.conf",
  );
  assert.deepEqual(settings, {
    helloIntervalMs: 2500,
    retransmitExponentialBackoff: false,
    localId: new Uint8Array([0x6e, 0x6b, 0x2d, 0x61, 0x2d, 0x30, 0x30, 0x30, 0x30, 0xaa]),
  });
  for (const [text, value] of [["1", true], ["no", false], ["True", true], ["0", false]] as const) {
    assert.equal(
      parseLsoeIni(`[lsoed]\nretransmit-exponential-backoff = ${text}`, "b").settings
        .retransmitExponentialBackoff,
      value,
    );
  }
});

Deno.test("parseLsoeIni: [DEFAULT] is inherited and [lsoed] wins; other sections are ignored", () => {
  const { settings, ignored } = parseLsoeIni(
    "[DEFAULT]\nhello-interval = 5\nreassembly-timeout = 2\n[lsoed]\nhello-interval = 7\n[demo]\nx = 1\n",
    "c.conf",
  );
  assert.deepEqual(settings, { helloIntervalMs: 7000, reassemblyTimeoutMs: 2000 });
  assert.deepEqual(ignored, [
    "c.conf:6: Section [demo] is ignored: lsoed and netkit read [lsoed] only",
  ]);
});

Deno.test("parseLsoeIni accepts lsoed's report-rfc7752-url and reports it ignored", () => {
  const { settings, ignored } = parseLsoeIni(
    "[lsoed]\nreport-rfc7752-url = http://kriek:8080/report\n",
    "d.conf",
  );
  assert.deepEqual(settings, {});
  assert.equal(ignored.length, 1);
  assert.match(ignored[0]!, /^d\.conf:2: "report-rfc7752-url" is ignored: /);
});

Deno.test("parseLsoeIni refuses what configparser or lsoed would, naming FILE:LINE", () => {
  const cases: [string, RegExp][] = [
    ["hello-interval = 1\n", /^e\.conf:1: An option before any section/],
    ["[other]\n", /^e\.conf: No \[lsoed\] section/],
    ["[lsoed]\nhello-intervall = 1\n", /^e\.conf:2: Unknown option "hello-intervall": lsoed's/],
    [
      "[lsoed]\nhello-interval = 1\nhello-interval = 2\n",
      /^e\.conf:3: .*twice \(first on line 2\)/,
    ],
    ["[lsoed]\n[lsoed]\n", /^e\.conf:2: Section \[lsoed\] is given twice/],
    ["[lsoed]\nhello-interval\n", /^e\.conf:2: Expected "\[section\]", "name = value"/],
    ["[lsoed]\nhello-interval =\n  60\n", /^e\.conf:3: An indented line continues/],
    // configparser has no inline comments: the whole rest of the line is the value.
    ["[lsoed]\nhello-interval = 60 ; one minute\n", /^e\.conf:2: Invalid value "60 ; one minute"/],
    ["[lsoed]\nhello-interval = 0\n", /^e\.conf:2: .*expected seconds from 0\.01 to 3600$/],
    ["[lsoed]\nhello-interval = inf\n", /^e\.conf:2: Invalid value "inf" for hello-interval/],
    ["[lsoed]\nkeepalive-send-interval = 4000\n", /^e\.conf:2: .*keepalive-send-interval/],
    ["[lsoed]\nretransmit-max-drop = 1.5\n", /^e\.conf:2: .*an integer from 1 to 32/],
    ["[lsoed]\nretransmit-max-drop = 33\n", /an integer from 1 to 32/],
    ["[lsoed]\nretransmit-exponential-backoff = maybe\n", /yes, no, true, false, on, off, 1 or 0/],
    ["[lsoed]\nhello-multicast-macaddr = 02-00-00-00-00-01\n", /expected a multicast MAC/],
    ["[lsoed]\nlocal-id = 6e6b2d612d30303030\n", /^e\.conf:2: .*for local-id: expected 10 bytes/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseLsoeIni(text, "e.conf"), invalidInput(pattern), text);
  }
});

Deno.test("keepalive-receive-timeout: 0 means never; otherwise longer than the send interval", () => {
  assert.equal(
    parseLsoeIni("[lsoed]\nkeepalive-receive-timeout = 0.0\n", "f").settings
      .keepaliveReceiveTimeoutMs,
    0,
  );
  const settings = parseLsoeIni("[lsoed]\nkeepalive-receive-timeout = 1\n", "f").settings;
  assert.throws(
    () => resolveLsoeConfig(settings, NO_COMMAND_LINE, FIXED_ID),
    invalidInput(/keepalive-receive-timeout \(1 s\) must be longer than keepalive-send-interval/),
  );
});

Deno.test("parseLocalId takes lsoed's forms: plain hex, ':' or '-' or spaces between bytes", () => {
  const id = [0x6e, 0x6b, 0x2d, 0x61, 0x2d, 0x30, 0x30, 0x30, 0x30, 0xaa];
  for (
    const text of [
      "6e6b2d612d30303030aa",
      "6e:6b:2d:61:2d:30:30:30:30:aa",
      "6E 6B 2D 61 2D 30 30 30 30 AA",
      "6e6b-2d61-2d30-3030-30aa",
    ]
  ) {
    assert.deepEqual([...parseLocalId(text)], id, text);
  }
  for (
    const text of ["", "6e6b2d612d30303030aa00", "6e6b2d612d30303030a", "g e6b2d612d30303030aa"]
  ) {
    assert.throws(
      () => parseLocalId(text, "--local-id"),
      invalidInput(/for --local-id: expected 10/),
    );
  }
});

Deno.test("the command line overrides the file, option by option", () => {
  const file = parseLsoeIni("[lsoed]\nhello-interval = 5\nkeepalive-send-interval = 2\n", "g")
    .settings;
  const config = resolveLsoeConfig(file, {
    ...NO_COMMAND_LINE,
    settings: parseLsoedOption("hello-interval", "0.5", "--hello-interval"),
  }, FIXED_ID);
  assert.equal(config.timers.helloIntervalMs, 500);
  assert.equal(config.timers.keepaliveSendIntervalMs, 2000);
  assert.deepEqual(config.localId, FIXED_ID());
});

Deno.test("resolveLsoeConfig: no -i means every interface; the default Local ID only when needed", () => {
  let asked = 0;
  const make = () => {
    asked++;
    return FIXED_ID();
  };
  const all = resolveLsoeConfig({}, NO_COMMAND_LINE, make);
  assert.equal(all.interfaces, null);
  assert.equal(all.etherType, LSOE_ETHERTYPE);
  assert.equal(all.pcap, null);
  assert.equal(asked, 1);
  const given = resolveLsoeConfig({ localId: new Uint8Array(10) }, {
    ...NO_COMMAND_LINE,
    interfaces: ["eth0", "eth1"],
    etherType: 0x8885,
    mplsLabels: [parseMplsLabel("eth1=16")],
  }, make);
  assert.equal(asked, 1);
  assert.deepEqual(given.interfaces, ["eth0", "eth1"]);
  assert.equal(given.etherType, 0x8885);
  assert.deepEqual([...given.mplsLabels], [["eth1", 16]]);
});

Deno.test("resolveLsoeConfig refuses repeated or stray interfaces and a bad EtherType", () => {
  const cases: [Partial<LsoeCommandLine>, RegExp][] = [
    [{ interfaces: ["eth0", "eth0"] }, /Interface "eth0" is given twice with -i/],
    [{ interfaces: ["bad/name"] }, /Invalid interface name "bad\/name"/],
    [{ mplsLabels: [["e1", 16], ["e1", 17]] }, /"e1" is given twice with --mpls-label/],
    [
      { interfaces: ["e0"], mplsLabels: [["e1", 16]] },
      /--mpls-label names "e1", which is not one of the -i interfaces/,
    ],
    [{ etherType: 0x5ff }, /Invalid EtherType 1535: expected 0x0600 to 0xffff/],
  ];
  for (const [commandLine, pattern] of cases) {
    assert.throws(
      () => resolveLsoeConfig({}, { ...NO_COMMAND_LINE, ...commandLine }, FIXED_ID),
      invalidInput(pattern),
    );
  }
});

Deno.test("parseMplsLabel takes IFACE=LABEL with a label from 16 to 1048575", () => {
  assert.deepEqual(parseMplsLabel("eth0=1048575"), ["eth0", 1048575]);
  assert.deepEqual(parseMplsLabel("eth0=16"), ["eth0", 16]);
  for (const text of ["eth0=15", "eth0=1048576", "eth0", "=16", "eth0=0x10", "eth0=-1"]) {
    assert.throws(
      () => parseMplsLabel(text),
      invalidInput(/for --mpls-label: expected IFACE=LABEL/),
    );
  }
  assert.throws(() => parseMplsLabel("a/b=16"), invalidInput(/Invalid interface name "a\/b"/));
});
