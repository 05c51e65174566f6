/**
 * A stand-in for the vnet daemon in tests of the IPv4 responders against real clients: one NIC
 * as a TAP device whose kernel side is moved into a client namespace (where udhcpc, dhclient,
 * the kernel's ARP and ping run), served by `respondArp`, `respondIcmpv4Echo` and
 * `respondDhcpv4` on the frames read from the TAP. Every frame read and written can be recorded
 * in a capture, for tshark.
 *
 * Requires root (`--allow-ffi`, `--allow-run=ip`, CAP_NET_ADMIN) and the namespaces given.
 *
 * @module
 */

import { ReasonCounts } from "../lib/l2/reason_counts.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { Poller } from "../lib/net/poller.ts";
import { TapDevice } from "../lib/net/tap.ts";
import { ip } from "../lib/lab/namespace_lab.ts";
import { PcapWriter } from "../lib/packet/mod.ts";
import { respondArp } from "../lib/vnet/responders/arp.ts";
import { respondDhcpv4 } from "../lib/vnet/responders/dhcpv4.ts";
import { respondIcmpv4Echo } from "../lib/vnet/responders/icmpv4.ts";
import type {
  Ipv4NicView,
  Ipv4Responder,
  Ipv4ResponderEvent,
} from "../lib/vnet/responders/nic_view.ts";

/** Where {@linkcode VnetTapHarness.open} puts the NIC. */
export interface VnetTapHarnessOptions {
  /** The NIC; its guest MAC becomes the TAP interface's MAC (the guest's side). */
  view: Ipv4NicView;
  /** The namespace the TAP is made in (the harness's side). */
  serverNetns: string;
  /** The namespace its interface is moved into, where the guest's tools run. */
  clientNetns: string;
  /** The interface name (default `nkvnet0`). */
  name?: string;
  /** Record every frame read and written in this capture file. */
  pcapPath?: string;
}

/** The responders in the order the vnet daemon asks them. */
const RESPONDERS: readonly Ipv4Responder[] = [respondArp, respondIcmpv4Echo, respondDhcpv4];

/** One NIC served by the IPv4 responders until disposed. */
export class VnetTapHarness implements AsyncDisposable {
  /** The interface's name in the client namespace. */
  readonly name: string;
  /** Each responder result's reason, and `"unanswered"` for frames no responder took. */
  readonly counts: ReasonCounts = new ReasonCounts();
  /** The responders' events, in order. */
  readonly events: Ipv4ResponderEvent[] = [];
  readonly #view: Ipv4NicView;
  readonly #tap: TapDevice;
  readonly #poller = new Poller();
  readonly #pcap: PcapWriter | undefined;
  readonly #loop: Promise<void>;
  #stopped = false;

  private constructor(options: VnetTapHarnessOptions, tap: TapDevice) {
    this.name = tap.name;
    this.#view = options.view;
    this.#tap = tap;
    this.#pcap = options.pcapPath === undefined ? undefined : PcapWriter.create(
      Deno.openSync(options.pcapPath, { write: true, create: true, truncate: true }),
    );
    this.#loop = this.#serve();
  }

  /**
   * Makes the TAP in `serverNetns`, moves its interface into `clientNetns` (down, as a move
   * leaves it: the client brings it up) and starts serving it.
   */
  static open(options: VnetTapHarnessOptions): VnetTapHarness {
    const name = options.name ?? "nkvnet0";
    const tap = runInNetns(
      options.serverNetns,
      () => TapDevice.open({ name, mac: options.view.guestMac, up: false }),
    );
    try {
      ip("-n", options.serverNetns, "link", "set", name, "netns", options.clientNetns);
      return new VnetTapHarness(options, tap);
    } catch (err) {
      tap.close();
      throw err;
    }
  }

  async #serve(): Promise<void> {
    const buffer = new Uint8Array(65_536);
    while (!this.#stopped) {
      await this.#poller.wait([this.#tap.fd], -1);
      for (
        let n = this.#tap.read(buffer);
        n !== null && !this.#stopped;
        n = this.#tap.read(buffer)
      ) {
        this.#answer(buffer.subarray(0, n));
      }
    }
  }

  #answer(frame: Uint8Array): void {
    this.#record(frame);
    for (const respond of RESPONDERS) {
      const result = respond(this.#view, frame, performance.now());
      if (result === undefined) continue;
      this.counts.add(result.reason);
      if (result.event !== undefined) this.events.push(result.event);
      for (const reply of result.frames) {
        this.#tap.write(reply);
        this.#record(reply);
      }
      return;
    }
    this.counts.add("unanswered");
  }

  #record(frame: Uint8Array): void {
    this.#pcap?.write(frame, BigInt(Date.now()) * 1_000_000n);
  }

  /** Stops serving, closes the TAP (its interface goes) and the capture; safe to repeat. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#poller.wake();
    await this.#loop;
    await this.#poller[Symbol.asyncDispose]();
    this.#tap.close();
    this.#pcap?.[Symbol.dispose]();
  }
}
