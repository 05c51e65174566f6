/**
 * netkit lsoe against the reference implementation, Arrcus's `lsoed` (lsoe-python), on the wire
 * with its EtherType 0x8885. lsoed is BSD-licensed Python that netkit never ships, builds or
 * downloads: this test runs only where an operator points `NETKIT_LSOED` at a copy of the
 * `lsoed` script (and `NETKIT_LSOED_PYTHON` at a Python 3 with tornado and pyroute2, default
 * /usr/bin/python3 with Debian's python3-tornado and python3-pyroute2).
 *
 * Both directions are checked: netkit reads lsoed's session and lists, and lsoed's log shows it
 * read netkit's (its "RFC-7752 data" lines print every list it accepted).
 */

import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs, skipUnless } from "../skip.ts";
import { LsoeProcess } from "../../testing/lsoe_process.ts";

const LSOED = Deno.env.get("NETKIT_LSOED");
const PYTHON = Deno.env.get("NETKIT_LSOED_PYTHON") ?? "/usr/bin/python3";
const LSOED_ID = "6e6b2d612d30303030aa";
const NETKIT_ID = "6e6b2d622d30303030bb";
const TIMEOUT_S = 4;

const NO_LSOED =
  "no lsoed: set NETKIT_LSOED to Arrcus lsoe-python's lsoed script to run the interop test";

/** lsoed in `netns` with a configuration of the test's; its log lines collected. */
function startLsoed(netns: string, dir: string): { daemon: ChildDaemon; log: () => string } {
  const config = `${dir}/lsoed.ini`;
  Deno.writeTextFileSync(
    config,
    `[lsoed]\nlocal-id = ${LSOED_ID}\nhello-interval = 1\n` +
      `keepalive-receive-timeout = ${TIMEOUT_S}\n`,
  );
  const log = `${dir}/lsoed.log`;
  const daemon = ChildDaemon.spawn("lsoed", "sh", [
    "-c",
    `exec ip netns exec "$1" "$2" "$3" -c "$4" >"$5" 2>&1`,
    "sh",
    netns,
    PYTHON,
    LSOED!,
    config,
    log,
  ]);
  return { daemon, log: () => Deno.readTextFileSync(log) };
}

/** The lists lsoed accepted from netkit, in its log's words, the latest of each kind. */
function lsoedAccepted(log: string, kind: "IPv4" | "IPv6"): string | null {
  const lines = log.split("\n").filter((l) =>
    l.includes(`RFC-7752 data: <${kind}EncapsulationPDU`)
  );
  return lines.at(-1) ?? null;
}

Deno.test({
  name:
    "netkit lsoe and lsoed open a session on 0x8885, read each other's lists, follow a change and a death",
  ignore: skipUnless(LSOED !== undefined, NO_LSOED) || needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("lsoed");
    const b = lab.netns("netkit");
    lab.veth({ netns: a, name: "va" }, { netns: b, name: "vb" });
    ip("-n", a, "addr", "add", "192.0.2.1/30", "dev", "va");
    ip("-n", b, "addr", "add", "192.0.2.2/30", "dev", "vb");
    ip("-n", b, "-6", "addr", "add", "2001:db8::2/64", "dev", "vb", "nodad");
    const dir = Deno.makeTempDirSync({ prefix: "netkit-lsoed-" });
    const lsoed = startLsoed(a, dir);
    try {
      await using netkit = await LsoeProcess.start(b, [
        ...["--ethertype", "0x8885", "--local-id", NETKIT_ID, "--hello-interval", "1"],
        ...["--keepalive-receive-timeout", String(TIMEOUT_S)],
      ]);
      // netkit's view: lsoed's session open, its Local ID, its lists (lsoed flags loopback only).
      const session = await waitFor(
        async () => (await netkit.sessions()).find((s) => s.state === "open"),
        (s) => s !== undefined && s.encapsulations.ipv4.length > 0,
        { timeoutMs: 10_000, what: "a session with lsoed and its IPv4 list" },
      );
      assert.equal(session!.peer_local_id, LSOED_ID);
      assert.deepEqual(
        session!.encapsulations.ipv4.map((e) => `${e.address}/${e.prefix_length}`).sort(),
        ["127.0.0.1/8", "192.0.2.1/30"],
      );
      assert.ok(session!.encapsulations.ipv4.find((e) => e.address === "127.0.0.1")!.loopback);

      // lsoed's view: it ACKed and reported netkit's lists, Primary flags included.
      const v4 = await waitFor(
        () => lsoedAccepted(lsoed.log(), "IPv4"),
        (line) => line !== null,
        { timeoutMs: 5000, what: "lsoed reporting netkit's IPv4 list" },
      );
      assert.match(v4!, /<L> 127\.0\.0\.1\/8/);
      assert.match(v4!, /<P> 192\.0\.2\.2\/30/);
      assert.match(lsoedAccepted(lsoed.log(), "IPv6") ?? "", /<P> 2001:db8::2\/64/);
      assert.deepEqual((await netkit.sessions())[0]!.outstanding, [], "lsoed ACKed everything");

      // An address added on netkit's side reaches lsoed.
      ip("-n", b, "addr", "add", "198.51.100.9/32", "dev", "vb");
      await waitFor(
        () => lsoedAccepted(lsoed.log(), "IPv4") ?? "",
        (line) => line.includes("198.51.100.9/32"),
        { timeoutMs: 2000, what: "lsoed reporting the new address" },
      );

      // lsoed killed: netkit closes after the timeout.
      const from = netkit.events.length;
      const killed = performance.now();
      await lsoed.daemon.stop();
      const closed = await netkit.waitForEvent(
        "the close after lsoed died",
        (e) => e.event === "session_close",
        (TIMEOUT_S + 3) * 1000,
        from,
      );
      assert.equal(
        closed.event.event === "session_close" && closed.event.reason,
        "keepalive_timeout",
      );
      assert.ok(closed.at - killed <= TIMEOUT_S * 1100, `closed ${closed.at - killed} ms after`);
      await delay(100);
      assert.doesNotMatch(lsoed.log(), /Traceback/, "lsoed met nothing it crashed on");
    } finally {
      await lsoed.daemon.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
