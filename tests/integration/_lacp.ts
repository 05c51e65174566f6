/**
 * Running `./netkit lacp` daemons as real processes inside test namespaces, and reading their
 * status from their control sockets.
 *
 * @module
 */

import { LacpProcess } from "../../testing/lacp_process.ts";

const decoder = new TextDecoder();

export { netkit } from "../_cli.ts";
export { waitUntil } from "../../testing/wait_until.ts";

/** A `./netkit -n NETNS lacp ...` daemon logging at debug level, as the tests run it. */
export function startLacp(netns: string, args: string[]): LacpProcess {
  return LacpProcess.start(netns, args, { logLevel: "debug" });
}

/** What about an interface must be the same before netkit runs and after it exits. */
export function interfaceState(netns: string, name: string): unknown {
  const out = new Deno.Command("ip", {
    args: ["-j", "-d", "-n", netns, "link", "show", name],
    stdout: "piped",
  }).outputSync();
  const [link] = JSON.parse(decoder.decode(out.stdout)) as Record<string, unknown>[];
  const maddr = new Deno.Command("ip", {
    args: ["-n", netns, "maddr", "show", "dev", name],
    stdout: "piped",
  }).outputSync();
  return {
    flags: link?.flags,
    promiscuity: link?.promiscuity,
    allmulti: link?.allmulti,
    mtu: link?.mtu,
    address: link?.address,
    multicast: decoder.decode(maddr.stdout).split("\n").filter((l) => l.includes("link")).map((l) =>
      l.trim()
    ).sort(),
  };
}

/**
 * Runs tshark over a capture: one line of `fields` per frame (of those matching display
 * filter `filter`, when given), and any expert messages of those frames. `preferences` are
 * `-o` settings, e.g. `tcp.check_checksum:TRUE`.
 */
export function tshark(
  pcap: string,
  fields: string[],
  filter?: string,
  preferences: string[] = [],
): { rows: string[][]; expert: string[] } {
  const only = [
    ...(filter === undefined ? [] : ["-Y", filter]),
    ...preferences.flatMap((p) => ["-o", p]),
  ];
  const run = (args: string[]) =>
    decoder.decode(
      new Deno.Command("tshark", { args, stdout: "piped", stderr: "null" }).outputSync().stdout,
    );
  const rows = run([
    "-r",
    pcap,
    ...only,
    "-T",
    "fields",
    "-E",
    "separator=,",
    ...fields.flatMap((f) => ["-e", f]),
  ])
    .split("\n").filter(Boolean).map((l) => l.split(","));
  const expert = run(["-r", pcap, ...only, "-T", "fields", "-e", "_ws.expert.message"]).split("\n")
    .filter(
      Boolean,
    );
  return { rows, expert };
}
