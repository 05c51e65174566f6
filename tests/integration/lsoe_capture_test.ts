/**
 * The Wireshark dissector tools/lsoe.lua on netkit's own captures: two `netkit lsoe` speakers in
 * namespaces, one recording with `--pcap`, run until open and a few keepalives; tshark then
 * reads the daemon's file with the dissector loaded. Every frame has a good checksum and no
 * expert info or Lua error; HELLO, OPEN, ACK, KEEPALIVE and all four encapsulations are there;
 * the OPEN carries the daemon's Local ID and the lists decode as each peer's STATUS reports them.
 */

import assert from "node:assert/strict";
import { delay, waitFor } from "../../lib/async.ts";
import type {
  EncapsulationJson,
  EncapsulationsJson,
  MplsEncapsulationJson,
} from "../../lib/lsoe/client.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { PduType } from "../../lib/packet/lsoe.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { needs } from "../skip.ts";
import { LsoeProcess, QUICK } from "../../testing/lsoe_process.ts";

const DISSECTOR = new URL("../../tools/lsoe.lua", import.meta.url).pathname;
const ID_A = "6e6b2d612d30303030aa";
const ID_B = "6e6b2d622d30303030bb";
const LABEL = 100;

/** What the test reads of each frame; the last two must stay empty. */
const FIELDS = [
  "frame.time_epoch",
  "eth.src",
  "eth.type",
  "lsoe.checksum.status",
  "lsoe.pdu.type",
  "lsoe.open.local_id",
  "lsoe.encap.ipv4",
  "lsoe.encap.ipv6",
  "lsoe.encap.prefix_length",
  "lsoe.encap.primary",
  "lsoe.encap.loopback",
  "lsoe.mpls.label",
  "_ws.expert.message",
  "_ws.lua.error",
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/** tshark's reading of the capture at `path` with the dissector loaded: one row per frame. */
function dissect(path: string): Row[] {
  const args = ["-X", `lua_script:${DISSECTOR}`, "-r", path, "-T", "fields"];
  args.push("-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;");
  for (const field of FIELDS) args.push("-e", field);
  const out = new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).outputSync();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `tshark failed: ${stderr}`);
  // tshark warns when run as root; anything else (a Lua load or run error) fails the test.
  const complaints = stderr.split("\n").filter((l) => l !== "" && !/Running as user/.test(l));
  assert.deepEqual(complaints, [], "tshark wrote to stderr");
  return new TextDecoder().decode(out.stdout).trimEnd().split("\n").map((line) => {
    const values = line.split("|");
    assert.equal(values.length, FIELDS.length, line);
    return Object.fromEntries(FIELDS.map((field, i) => [field, values[i]!])) as Row;
  });
}

/** A field's occurrences (`;`-joined by tshark). */
function all(value: string): string[] {
  return value === "" ? [] : value.split(";");
}

/**
 * An encapsulation entry as `address/prefix`, `P` primary, `L` loopback, `[labels]` for MPLS,
 * for comparing.
 */
function entryText(e: EncapsulationJson | MplsEncapsulationJson): string {
  return `${e.address}/${e.prefix_length}${e.primary ? "P" : ""}${e.loopback ? "L" : ""}${
    "labels" in e ? `[${e.labels.join(",")}]` : ""
  }`;
}

/** The same text from a dissected encapsulation frame of `type`. */
function rowEntries(row: Row, type: number): string[] {
  const addresses = all(
    row[
      type === PduType.IPV4 || type === PduType.MPLS_IPV4 ? "lsoe.encap.ipv4" : "lsoe.encap.ipv6"
    ],
  );
  const prefixes = all(row["lsoe.encap.prefix_length"]);
  const primary = all(row["lsoe.encap.primary"]);
  const loopback = all(row["lsoe.encap.loopback"]);
  // Each MPLS entry here has the one label --mpls-label gives.
  const labels = all(row["lsoe.mpls.label"]);
  const mpls = type === PduType.MPLS_IPV4 || type === PduType.MPLS_IPV6;
  const flags = (i: number) => `${primary[i] === "1" ? "P" : ""}${loopback[i] === "1" ? "L" : ""}`;
  return addresses.map((a, i) => `${a}/${prefixes[i]}${flags(i)}${mpls ? `[${labels[i]}]` : ""}`);
}

const FAMILIES: readonly [keyof EncapsulationsJson, number][] = [
  ["ipv4", PduType.IPV4],
  ["ipv6", PduType.IPV6],
  ["mpls_ipv4", PduType.MPLS_IPV4],
  ["mpls_ipv6", PduType.MPLS_IPV6],
];

/**
 * Each family's list in the last frame `mac` sent of it before `before` (ms since the epoch)
 * equals `view`, what the receiving speaker's STATUS says the sender announced.
 */
function assertListsDecode(rows: Row[], mac: string, before: number, view: EncapsulationsJson) {
  for (const [family, type] of FAMILIES) {
    const sent = rows.filter((r) =>
      r["eth.src"] === mac && r["lsoe.pdu.type"] === String(type) &&
      Number(r["frame.time_epoch"]) * 1000 <= before
    );
    assert.ok(sent.length > 0, `no ${family} PDU from ${mac}`);
    assert.deepEqual(
      rowEntries(sent.at(-1)!, type).sort(),
      view[family].map(entryText).sort(),
      `${family} from ${mac}`,
    );
  }
}

for (const etherType of [null, "0x8885"]) {
  Deno.test({
    name: `tools/lsoe.lua decodes a netkit lsoe --pcap capture${
      etherType === null ? "" : ` at --ethertype ${etherType}`
    }: good checksums, no expert info, every PDU type, the OPEN's Local ID, the lists as STATUS has them`,
    ignore: needs("root", "netns", "veth", "tshark"),
    async fn() {
      using lab = new NamespaceLab();
      const a = lab.netns("a");
      const b = lab.netns("b");
      lab.veth({ netns: a, name: "va" }, { netns: b, name: "vb" });
      ip("-n", a, "addr", "add", "192.0.2.1/31", "dev", "va");
      ip("-n", a, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad");
      ip("-n", b, "addr", "add", "192.0.2.0/31", "dev", "vb");
      ip("-n", b, "-6", "addr", "add", "2001:db8:1::2/64", "dev", "vb", "nodad");
      const dir = await Deno.makeTempDir({ prefix: "netkit-lsoe-pcap-" });
      const pcap = `${dir}/a.pcap`;
      const common = [...QUICK, ...(etherType === null ? [] : ["--ethertype", etherType])];
      try {
        const A = await LsoeProcess.start(a, [
          ...["-i", "va", "--local-id", ID_A, "--mpls-label", `va=${LABEL}`, "--pcap", pcap],
          ...common,
        ]);
        let readAt: number;
        let viewOfA: EncapsulationsJson;
        let viewOfB: EncapsulationsJson;
        let localId: string;
        try {
          await using B = await LsoeProcess.start(b, [
            ...["-i", "vb", "--local-id", ID_B],
            ...common,
          ]);
          // B has A's MPLS lists (the last A sends) and A has B's IPv6 list.
          await waitFor(
            async () => [(await B.sessions())[0], (await A.sessions())[0]] as const,
            ([atB, atA]) =>
              atB?.state === "open" && atB.encapsulations.mpls_ipv6.length > 0 &&
              atA?.state === "open" && atA.encapsulations.ipv6.length > 0,
            { timeoutMs: 10_000, what: "both sessions open with the lists" },
          );
          // A few keepalives (one a second by default) on the wire.
          await delay(2500);
          localId = (await A.status()).local_id;
          viewOfA = (await B.sessions())[0]!.encapsulations;
          viewOfB = (await A.sessions())[0]!.encapsulations;
          readAt = Date.now();
        } finally {
          await A.stop();
        }
        assert.equal(localId, ID_A);
        assert.ok(viewOfA.mpls_ipv4.every((e) => e.labels.join() === String(LABEL)));

        const rows = dissect(pcap);
        const macA = formatMac(lab.link(a, "va").mac);
        const macB = formatMac(lab.link(b, "vb").mac);
        assert.deepEqual([...new Set(rows.map((r) => r["eth.src"]))].sort(), [macA, macB].sort());
        rows.forEach((row, i) => {
          assert.equal(Number(row["eth.type"]), Number(etherType ?? "0x88b5"), `frame ${i + 1}`);
          assert.equal(row["lsoe.checksum.status"], "1", `frame ${i + 1}: checksum not good`);
          assert.equal(row["_ws.expert.message"], "", `frame ${i + 1}`);
          assert.equal(row["_ws.lua.error"], "", `frame ${i + 1}`);
        });
        const types = new Set(rows.flatMap((r) => all(r["lsoe.pdu.type"]).map(Number)));
        for (
          const type of [
            PduType.HELLO,
            PduType.OPEN,
            PduType.KEEPALIVE,
            PduType.ACK,
            ...FAMILIES.map(([, t]) => t),
          ]
        ) {
          assert.ok(types.has(type), `no PDU of type ${type} in ${[...types]}`);
        }
        const opens = rows.filter((r) =>
          r["eth.src"] === macA && r["lsoe.pdu.type"] === String(PduType.OPEN)
        );
        assert.ok(opens.length > 0, "no OPEN from A");
        for (const open of opens) {
          assert.equal(open["lsoe.open.local_id"].replaceAll(":", ""), localId);
        }
        assertListsDecode(rows, macA, readAt, viewOfA);
        assertListsDecode(rows, macB, readAt, viewOfB);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
