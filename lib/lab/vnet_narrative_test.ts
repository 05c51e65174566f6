import assert from "node:assert/strict";
import type { VnetLabEvent, VnetLabReport } from "./vnet_events.ts";
import { describeVnetLabEvent, explainVnetLab, formatVnetTimelineLine } from "./vnet_narrative.ts";
import { readRecordedReport, readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded run, kept running for 0.5 s after the counters. */
function recordedReport(): VnetLabReport {
  return readRecordedReport<VnetLabEvent>("vnet");
}

Deno.test("explainVnetLab tells a recorded run exactly as the run itself did", () => {
  const { summary } = readRecordedRun<VnetLabEvent>("vnet");
  assert.deepEqual(explainVnetLab(recordedReport(), { netkit: "./netkit" }), summary.explanation);
});

Deno.test("explainVnetLab of a recorded run: the router, both VMs' addresses, the pings, the counters, the removal", () => {
  const text = explainVnetLab(recordedReport()).join("\n");
  assert.match(text, /^ {2}- A virtual router: netkit vnet gives each VM a NIC, a TAP device/m);
  assert.match(
    text,
    /vm1 asked by DHCPv4 .* got 192\.0\.2\.5\/32 from 169\.254\.0\.1 with the routes 169\.254\.0\.1\/32 on-link and default via 169\.254\.0\.1/,
  );
  assert.match(text, /asked DHCPv6 \(dhclient -6\) and got 2001:db8::5\/128/);
  assert.match(
    text,
    /vm2 got 198\.51\.100\.5\/24 by DHCPv4 with router 198\.51\.100\.1 \(option 3\)/,
  );
  assert.match(text, /formed 2001:db8:1:0:5054:ff:fe12:3402 from it and its MAC, and took fe80::1/);
  assert.match(text, /Pings to the gateway: vm1 → 169\.254\.0\.1: 3 of 3 \(TTL 64\)/);
  assert.match(text, /Pings between the VMs: vm1 → 198\.51\.100\.5: 3 of 3 \(TTL 63\)/);
  assert.match(text, /Pings to the host: vm1 → 203\.0\.113\.1: 3 of 3 \(TTL 63\)/);
  assert.match(text, /The counters \(netkit vnet show -s\): vm1 sent netkit [0-9]+ frames/);
  assert.match(text, /Then the 3 namespaces were deleted; nothing is left\./);
  assert.match(text, /^ {2}netkit -n vl-host vnet daemon -d --uplink up0$/m);
});

Deno.test("formatVnetTimelineLine renders a recorded run line by line", () => {
  const lines = recordedReport().events.map(formatVnetTimelineLine);
  assert.deepEqual(lines, readRecordedTimeline("vnet"));
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}ping {6}vm2 → 192\.0\.2\.5 \(vm1\): 3\/3 replies, ttl 63/.test(l)
    ),
  );
  assert.ok(lines.some((l) => /^ +[0-9.]+s {2}vnet {6}monitor: lease nic vm1 /.test(l)));
});

Deno.test("describeVnetLabEvent: a ping without replies has no TTL or RTT, a failed removal names what is left", () => {
  assert.deepEqual(
    describeVnetLabEvent({
      t: 1,
      event: "ping",
      from: "vm1",
      target: "host",
      to: "203.0.113.1",
      family: 4,
      sent: 3,
      received: 0,
      ttl: null,
      rtt_min: null,
      rtt_avg: null,
      rtt_max: null,
    }),
    { subject: "ping", text: "vm1 → 203.0.113.1 (host): 0/3 replies" },
  );
  assert.equal(
    describeVnetLabEvent({
      t: 2,
      event: "removed",
      netns: ["x-host", "x-vm1"],
      left: ["x-vm1"],
      processes_left: [42],
      files_left: true,
    }).text,
    "not all removed: x-vm1, pid 42, files left",
  );
});

Deno.test("explainVnetLab of an interrupted run that built nothing says only that", () => {
  const text = explainVnetLab({
    reason: "signal",
    duration: 0.1,
    prefix: null,
    events: [{ t: 0.1, event: "stopped", reason: "signal" }],
  });
  assert.deepEqual(text.slice(0, 2), [
    "What happened:",
    "  The lab stopped before it built anything.",
  ]);
});
