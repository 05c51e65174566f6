/**
 * Test helpers for the L2 gateway: labs started for a test, captures with tshark inside a lab
 * namespace.
 *
 * @module
 */

import assert from "node:assert/strict";
import { delay } from "../../lib/async.ts";
import { L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { tshark } from "./_lacp.ts";

/**
 * A lab with its relay, client 1 and, unless `gateway` is null, a gateway started with those
 * extra arguments. Disposed of again if a start fails.
 */
export async function startedLab(gateway: string[] | null = []): Promise<L2Lab> {
  const lab = new L2Lab({ clients: 1 });
  try {
    await lab.startRelay();
    if (gateway !== null) await lab.startGateway(gateway);
    await lab.startClient(1);
    return lab;
  } catch (err) {
    await lab[Symbol.asyncDispose]();
    throw err;
  }
}

/** A lab with relay, gateway and one client whose tunnel carried a ping to h1. */
export async function bridgedLab(): Promise<L2Lab> {
  const lab = await startedLab();
  if (!lab.ping(lab.clientNs[0]!, L2.h1, 2)) {
    await lab[Symbol.asyncDispose]();
    assert.fail("the tunnel carries no ping to h1");
  }
  return lab;
}

/** A tshark capture on one interface of a namespace, written to a pcap file. */
export class Capture implements AsyncDisposable {
  readonly pcap: string;
  readonly #child: Deno.ChildProcess;
  #stopped = false;

  private constructor(pcap: string, child: Deno.ChildProcess) {
    this.pcap = pcap;
    this.#child = child;
  }

  /** Starts capturing and returns once tshark says it captures. */
  static async start(netns: string, iface: string, filter?: string): Promise<Capture> {
    const pcap = Deno.makeTempFileSync({ prefix: "netkit-l2-", suffix: ".pcap" });
    Deno.chmodSync(pcap, 0o666); // tshark's dumpcap may drop privileges
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        netns,
        "tshark",
        "-i",
        iface,
        "-w",
        pcap,
        ...(filter === undefined ? [] : ["-f", filter]),
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const capture = new Capture(pcap, child);
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const deadline = Date.now() + 10_000;
    while (!seen.includes("Capturing on") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    // Keep draining stderr so tshark never blocks on it.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch {
        // closed
      }
    })();
    if (!seen.includes("Capturing on")) {
      await capture.stop();
      throw new Error(`tshark did not start on ${iface} in ${netns}: ${seen.trim()}`);
    }
    // tshark says so a moment before its capture process has the socket open.
    await delay(500);
    return capture;
  }

  /** Stops the capture (SIGINT, so the pcap is complete) after frames in flight arrive. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await delay(300);
    try {
      this.#child.kill("SIGINT");
    } catch {
      // Already exited.
    }
    await this.#child.status;
  }

  /**
   * Stops the capture and decodes `fields` of every frame matching display filter `filter`,
   * with tshark `preferences` (`-o` settings).
   */
  async rows(
    fields: string[],
    filter?: string,
    preferences: string[] = [],
  ): Promise<{ rows: string[][]; expert: string[] }> {
    await this.stop();
    return tshark(this.pcap, fields, filter, preferences);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    try {
      Deno.removeSync(this.pcap);
    } catch {
      // Already gone.
    }
  }
}
