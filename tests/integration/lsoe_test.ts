/**
 * Two `netkit lsoe` speakers in two namespaces joined by a veth pair: they open, each sees the
 * other's addresses as `ip -j addr` shows them there, address changes arrive within a second,
 * link down closes and up reopens, a killed peer is closed after the receive timeout, and a
 * restarted one reopens with a new nonce (seen on the wire).
 */

import assert from "node:assert/strict";
import { delay } from "../../lib/async.ts";
import type { EncapsulationJson, SessionJson } from "../../lib/lsoe/client.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { isMalformed } from "../../lib/packet/errors.ts";
import { decodeDatagram, decodePdu, PduType } from "../../lib/packet/lsoe.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { needs } from "../skip.ts";
import { Capture } from "./_l2.ts";
import { LsoeProcess, QUICK } from "../../testing/lsoe_process.ts";

const NEEDS = ["root", "netns", "veth"] as const;
const ID_A = "6e6b2d612d30303030aa";
const ID_B = "6e6b2d622d30303030bb";
/** keepalive-receive-timeout in QUICK, ms. */
const RECEIVE_TIMEOUT_MS = 3000;

interface IpAddr {
  ifname: string;
  "addr_info": {
    family: string;
    local: string;
    prefixlen: number;
    secondary?: boolean;
    tentative?: boolean;
    dadfailed?: boolean;
  }[];
}

/** `ip -j addr` of `netns` as the encapsulation lists a speaker there announces. */
function announced(netns: string, sessionInterface: string): Record<"ipv4" | "ipv6", string[]> {
  const lists = { ipv4: [] as string[], ipv6: [] as string[] };
  for (const link of ipJson<IpAddr[]>("-n", netns, "addr", "show")) {
    for (const a of link.addr_info) {
      // Not usable yet (or ever): not announced.
      if (a.tentative === true || a.dadfailed === true) continue;
      const family = a.family === "inet" ? "ipv4" : "ipv6";
      const flags = [
        link.ifname === "lo" ? "L" : "",
        link.ifname === sessionInterface && a.secondary !== true ? "P" : "",
      ].join("");
      lists[family].push(`${a.local}/${a.prefixlen}${flags}`);
    }
  }
  lists.ipv4.sort();
  lists.ipv6.sort();
  return lists;
}

function seen(entries: EncapsulationJson[]): string[] {
  return entries.map((e) =>
    `${e.address}/${e.prefix_length}${e.loopback ? "L" : ""}${e.primary ? "P" : ""}`
  ).sort();
}

/** The one open session of `speaker`, waited for. */
async function openSession(speaker: LsoeProcess, timeoutMs = 8000): Promise<SessionJson> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const open = (await speaker.sessions()).filter((s) => s.state === "open");
    if (open.length === 1) return open[0]!;
    if (performance.now() > deadline) {
      throw new Error(`no open session in ${speaker.netns}: ${JSON.stringify(open)}`);
    }
    await delay(50);
  }
}

/** Two namespaces a, b with a veth va–vb and addresses. */
function pair(lab: NamespaceLab): { a: string; b: string } {
  const a = lab.netns("a");
  const b = lab.netns("b");
  lab.veth({ netns: a, name: "va" }, { netns: b, name: "vb" });
  ip("-n", a, "addr", "add", "192.0.2.1/31", "dev", "va");
  ip("-n", b, "addr", "add", "192.0.2.0/31", "dev", "vb");
  ip("-n", b, "addr", "add", "203.0.113.7/24", "dev", "vb");
  ip("-n", b, "addr", "add", "203.0.113.8/24", "dev", "vb"); // a secondary
  ip("-n", b, "-6", "addr", "add", "2001:db8:1::2/64", "dev", "vb", "nodad");
  return { a, b };
}

Deno.test({
  name:
    "two netkit lsoe speakers open; each sees the other's `ip -j addr`; a new address arrives within 1 s",
  ignore: needs(...NEEDS),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = pair(lab);
    await using A = await LsoeProcess.start(a, [
      ...["-i", "va", "--local-id", ID_A, ...QUICK],
    ]);
    await using B = await LsoeProcess.start(b, [
      ...["--local-id", ID_B, ...QUICK], // no -i: every Ethernet interface that is up
    ]);
    const atA = await openSession(A);
    const atB = await openSession(B);
    assert.equal(atA.peer_local_id, ID_B);
    assert.equal(atB.peer_local_id, ID_A);
    assert.equal(atA.interface, "va");
    assert.equal(atB.interface, "vb");
    assert.equal(atA.peer_mac, formatMac(lab.link(b, "vb").mac));
    // The lists arrive just after the open: wait for them.
    const want = announced(b, "vb");
    const lists = async () => (await openSession(A)).encapsulations;
    const deadline = performance.now() + 3000;
    while (seen((await lists()).ipv6).length !== want.ipv6.length) {
      if (performance.now() > deadline) break;
      await delay(50);
    }
    const got = await lists();
    assert.deepEqual(seen(got.ipv4), want.ipv4);
    assert.deepEqual(seen(got.ipv6), want.ipv6);
    assert.deepEqual(got.mpls_ipv4, []);
    assert.deepEqual(got.mpls_ipv6, []);
    assert.deepEqual(seen((await openSession(B)).encapsulations.ipv4), announced(a, "va").ipv4);

    // An address added on B reaches A within a second.
    const from = A.events.length;
    const added = performance.now();
    ip("-n", b, "addr", "add", "198.51.100.9/32", "dev", "vb");
    const event = await A.waitForEvent(
      "the new IPv4 list",
      (e) =>
        e.event === "encapsulations" && e.family === "ipv4" &&
        e.entries.some((x) => x.address === "198.51.100.9"),
      2000,
      from,
    );
    const ms = event.at - added;
    assert.ok(ms < 1000, `the new address took ${ms.toFixed(0)} ms`);
    assert.deepEqual(seen((await openSession(A)).encapsulations.ipv4), announced(b, "vb").ipv4);
  },
});

Deno.test({
  name: "lsoe: link down closes on both sides (withdrawals first), link up reopens",
  ignore: needs(...NEEDS),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = pair(lab);
    await using A = await LsoeProcess.start(a, ["--local-id", ID_A, ...QUICK]);
    await using B = await LsoeProcess.start(b, ["--local-id", ID_B, ...QUICK]);
    await openSession(A);
    await openSession(B);
    const fromA = A.events.length;
    const fromB = B.events.length;
    ip("-n", b, "link", "set", "vb", "down");
    const closedB = await B.waitForEvent(
      "B's close",
      (e) => e.event === "session_close",
      2000,
      fromB,
    );
    const closedA = await A.waitForEvent(
      "A's close",
      (e) => e.event === "session_close",
      2000,
      fromA,
    );
    assert.equal(
      closedB.event.event === "session_close" && closedB.event.reason,
      "interface_down",
    );
    // A's veth lost its carrier with B's end down.
    assert.equal(
      closedA.event.event === "session_close" && closedA.event.reason,
      "interface_down",
    );
    // B may still announce a shorter list as its addresses on vb go with the link; what must
    // hold is that each family's last word before the close is the withdrawal.
    const beforeClose = A.events.slice(fromA, A.events.indexOf(closedA));
    const last = new Map<string, number>();
    for (const { event } of beforeClose) {
      if (event.event === "encapsulations") last.set(event.family, event.entries.length);
    }
    assert.ok(last.size >= 2, "the non-empty lists are withdrawn");
    for (const [family, entries] of last) {
      assert.equal(entries, 0, `${family} withdrawn before the close`);
    }
    assert.deepEqual(await A.sessions(), []);
    const down = await A.status();
    assert.equal(down.interfaces.find((i) => i.name === "va")?.state ?? "down", "down");

    const reopened = A.events.length;
    ip("-n", b, "link", "set", "vb", "up");
    await A.waitForEvent("A's reopen", (e) => e.event === "session_open", 5000, reopened);
    await openSession(B);
  },
});

Deno.test({
  name:
    "lsoe: a killed peer is closed after the receive timeout ±10 %; restarted, it reopens with a new nonce seen on the wire",
  ignore: needs(...NEEDS, "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = pair(lab);
    await using capture = await Capture.start(a, "va");
    await using A = await LsoeProcess.start(a, ["--local-id", ID_A, ...QUICK]);
    let B = await LsoeProcess.start(b, ["--local-id", ID_B, ...QUICK]);
    try {
      const first = await openSession(A);
      const from = A.events.length;
      Deno.kill(B.pid, "SIGKILL");
      await B.stop();
      const closed = await A.waitForEvent(
        "the close after the timeout",
        (e) => e.event === "session_close",
        RECEIVE_TIMEOUT_MS * 2,
        from,
      );
      assert.equal(
        closed.event.event === "session_close" && closed.event.reason,
        "keepalive_timeout",
      );
      // Measured from the last frame B sent, in A's capture below.
      const closedAt = Date.parse(closed.event.time);

      B = await LsoeProcess.start(b, ["--local-id", ID_B, ...QUICK]);
      const second = await openSession(A);
      assert.notEqual(second.peer_nonce, first.peer_nonce);

      const { rows } = await capture.rows(
        ["frame.time_epoch", "eth.src", "data.data"],
        "eth.type == 0x88b5",
      );
      const bMac = formatMac(lab.link(b, "vb").mac);
      const fromB = rows.filter((r) => r[1] === bMac);
      const nonces = new Set<string>();
      let lastBeforeClose = 0;
      for (const [time, , data] of fromB) {
        const t = Number(time) * 1000;
        if (t < closedAt) lastBeforeClose = Math.max(lastBeforeClose, t);
        const datagram = decodeDatagram(Uint8Array.fromHex(data!));
        if (isMalformed(datagram)) continue;
        const pdu = decodePdu(datagram.chunk);
        if (!isMalformed(pdu) && pdu.type === PduType.OPEN) nonces.add(pdu.nonce.toHex());
      }
      assert.equal(nonces.size, 2, `two OPEN nonces from B on the wire: ${[...nonces]}`);
      const silence = closedAt - lastBeforeClose;
      assert.ok(
        silence >= RECEIVE_TIMEOUT_MS * 0.9 && silence <= RECEIVE_TIMEOUT_MS * 1.1,
        `closed ${silence.toFixed(0)} ms after B's last frame (timeout ${RECEIVE_TIMEOUT_MS} ms)`,
      );
    } finally {
      await B.stop();
    }
  },
});

Deno.test({
  name:
    "lsoe without -i speaks on an interface created after it started (lsoed's defect 5), and stops when it is deleted",
  ignore: needs(...NEEDS),
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    const b = lab.netns("b");
    await using A = await LsoeProcess.start(a, ["--local-id", ID_A, ...QUICK]);
    // B too starts with nothing to speak on: both find the link when it appears.
    await using _B = await LsoeProcess.start(b, ["--local-id", ID_B, ...QUICK]);
    assert.deepEqual((await A.status()).interfaces, [], "nothing to speak on yet");
    lab.veth({ netns: a, name: "late" }, { netns: b, name: "vb" });
    const open = await openSession(A);
    assert.equal(open.interface, "late");
    assert.equal(open.peer_local_id, ID_B);
    const from = A.events.length;
    ip("-n", a, "link", "del", "late");
    const closed = await A.waitForEvent(
      "the close",
      (e) => e.event === "session_close",
      3000,
      from,
    );
    assert.ok(closed.event.event === "session_close");
    assert.ok(["interface_down", "interface_removed"].includes(closed.event.reason));
    assert.deepEqual((await A.status()).interfaces.filter((i) => i.state === "up"), []);
  },
});
