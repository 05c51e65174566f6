/**
 * Throwaway network labs: uniquely named namespaces joined by veth pairs, built with iproute2
 * and removed on dispose. Every name starts with "nk" and a random part, so concurrent labs
 * never collide and anything left behind is easy to spot (`ip netns | grep ^nk`).
 * Requires `--allow-run=ip` and root.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";

const decoder = new TextDecoder();
let counter = 0;

/** Runs a command to completion; throws with its stderr when it fails. */
export function sh(cmd: string, ...args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new NetkitError(
      `Command "${cmd} ${args.join(" ")}" failed (exit ${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout);
}

/**
 * Throws the one-line error every `netkit lab` gives without root; `what` says what the lab
 * creates ("network namespaces and veth pairs").
 */
export function requireLabRoot(what = "network namespaces and veth pairs"): void {
  if (Deno.uid() !== 0) {
    throw new NetkitError(`netkit lab needs root: it creates ${what} (run it with sudo)`);
  }
}

/** `err` from building a lab, with a missing `ip` command turned into a one-line error. */
export function labBuildError(err: unknown): unknown {
  return err instanceof Deno.errors.NotFound
    ? new NetkitError(
      'netkit lab needs iproute2: the "ip" command was not found (install iproute2)',
    )
    : err;
}

/** Runs `ip ...` and returns stdout. */
export function ip(...args: string[]): string {
  return sh("ip", ...args);
}

/** Runs `ip -j ...` and returns the parsed JSON. */
export function ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
  return JSON.parse(ip("-j", ...args)) as T;
}

/** The 64-bit counters `ip -s link` shows for `dev` in namespace `netns`. */
export function linkStats(
  netns: string,
  dev: string,
): { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } } {
  const [link] = ipJson<{ stats64: ReturnType<typeof linkStats> }[]>(
    "-s",
    "-n",
    netns,
    "link",
    "show",
    dev,
  );
  return link!.stats64;
}

/** One veth end: its namespace, name, index and MAC. */
export interface VethEnd {
  /** The namespace it is in. */
  netns: string;
  /** Its interface name there. */
  name: string;
  /** Its interface index there. */
  ifindex: number;
  /** Its MAC address (6 bytes). */
  mac: Uint8Array;
}

/** A set of namespaces that lives as long as one test, bench or demo: `using lab = new NamespaceLab()`. */
export class NamespaceLab implements Disposable {
  readonly #namespaces: string[] = [];
  /** Prefix of every name in this lab, e.g. "nk1234a". */
  readonly prefix: string;

  /** Reserves a unique prefix; nothing is created yet. */
  constructor() {
    // Test files run as workers of one process (same pid, own counters), so the pid is not
    // enough: a random part keeps concurrent labs apart.
    const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36).padStart(7, "0");
    this.prefix = `nk${random}${(counter++).toString(36)}`;
  }

  /** Creates namespace `<prefix>-<short>` with loopback up and returns its name. */
  netns(short: string): string {
    const name = `${this.prefix}-${short}`;
    ip("netns", "add", name);
    this.#namespaces.push(name);
    ip("-n", name, "link", "set", "lo", "up");
    return name;
  }

  /** Creates a veth pair between two of the lab's namespaces, both ends up. */
  veth(a: { netns: string; name: string }, b: { netns: string; name: string }): [VethEnd, VethEnd] {
    ip(
      "-n",
      a.netns,
      "link",
      "add",
      a.name,
      "type",
      "veth",
      "peer",
      "name",
      b.name,
      "netns",
      b.netns,
    );
    ip("-n", a.netns, "link", "set", a.name, "up");
    ip("-n", b.netns, "link", "set", b.name, "up");
    return [this.link(a.netns, a.name), this.link(b.netns, b.name)];
  }

  /** Index and MAC of an existing link. */
  link(netns: string, name: string): VethEnd {
    const [info] = ipJson<{ ifindex: number; address: string }[]>(
      "-n",
      netns,
      "link",
      "show",
      name,
    );
    if (info === undefined) {
      throw new NetkitError(`No link "${name}" in network namespace "${netns}"`);
    }
    const mac = new Uint8Array(info.address.split(":").map((h) => parseInt(h, 16)));
    return { netns, name, ifindex: info.ifindex, mac };
  }

  /** Deletes every namespace (and with it their links). */
  [Symbol.dispose](): void {
    for (const name of this.#namespaces.splice(0).reverse()) {
      try {
        ip("netns", "del", name);
      } catch {
        // Already gone: nothing to restore.
      }
    }
  }
}
