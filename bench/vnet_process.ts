/**
 * A `netkit vnet daemon` run by bench/vnet.ts: started in a namespace on a socket, state file
 * and log of the bench's, NICs added through its control socket (not one `./netkit` process
 * per NIC: a thousand of them would take minutes).
 *
 * @module
 */

import { requestChecked } from "../lib/daemon/client.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import { MessageReply, ShowReply, vnetReply } from "../lib/vnet/client.ts";
import type { NicSpec } from "../lib/vnet/config.ts";

const NETKIT = new URL("../netkit", import.meta.url).pathname;
const START_TIMEOUT_MS = 15_000;

/** A running vnet daemon, stopped when disposed of. */
export class VnetProcess implements AsyncDisposable {
  private constructor(readonly daemon: ChildDaemon, readonly socket: string) {}

  /**
   * Starts `netkit -n NETNS vnet daemon` with its files in `dir` (logging warnings only: a
   * debug log would cost more per frame than the routing) and waits until it serves.
   */
  static async start(netns: string, dir: string, signal?: AbortSignal): Promise<VnetProcess> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const socket = `${dir}/vnet.sock`;
    const daemon = ChildDaemon.spawn("netkit vnet daemon", NETKIT, [
      ...["-n", netns, "--log-level", "warning", "--log-file", `${dir}/vnet.log`],
      ...["vnet", "daemon", "--socket", socket, "--state", `${dir}/vnet.json`],
    ]);
    const vnet = new VnetProcess(daemon, socket);
    try {
      await daemon.waitUntil(async () => {
        await vnet.show(false);
        return true;
      }, { timeoutMs: START_TIMEOUT_MS, signal });
      return vnet;
    } catch (err) {
      await daemon.stop();
      throw err;
    }
  }

  /** Its process id. */
  get pid(): number {
    return this.daemon.pid;
  }

  /** Adds (or replaces) a NIC. */
  async addNic(spec: NicSpec): Promise<void> {
    await requestChecked(
      this.socket,
      { action: "NIC_ADD", payload: spec },
      MessageReply,
      vnetReply("NIC_ADD"),
      { timeoutMs: 10_000 },
    );
  }

  /** SHOW, with counters when `stats`. */
  show(stats: boolean): Promise<ShowReply> {
    return requestChecked(
      this.socket,
      { action: "SHOW", payload: { stats } },
      ShowReply,
      vnetReply("SHOW"),
      { timeoutMs: 10_000 },
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.daemon.stop();
  }
}

/** The resident memory of process `pid` in KiB (`VmRSS`), or NaN when unknown. */
export function residentKib(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1] ?? NaN);
}
