/**
 * bench/lsoe's baseline: the bare transport a speaker stands on, with no LSoE in it. One packet
 * socket bound to the LSoE EtherType on one interface (as the speaker's), waited on with the
 * same `Poller` (epoll on a worker thread), read and written in batches; each frame received is
 * sent back with its MACs swapped. Driven by the same generator at the same frame rate, it costs
 * what receiving and sending those frames costs a Deno process; the speaker's CPU is read
 * against it.
 *
 * `deno run -A bench/lsoe_echo.ts NETNS INTERFACE ETHERTYPE` echoes until SIGTERM; it prints
 * `ready` once its socket is open.
 *
 * @module
 */

import { FrameBatch } from "../lib/net/frame_batch.ts";
import { enterNetns } from "../lib/net/netns.ts";
import { PacketSocket, PacketType } from "../lib/net/packet_socket.ts";
import { Poller } from "../lib/net/poller.ts";

/** Echoes LSoE frames on `ifname` in `netns` until `signal` aborts. */
export async function echoFrames(
  netns: string,
  ifname: string,
  etherType: number,
  signal: AbortSignal,
  ready: () => void,
): Promise<void> {
  enterNetns(netns);
  using socket = PacketSocket.open({ interface: ifname, etherType, rcvbuf: 4 << 20 });
  socket.ignoreOutgoing();
  await using poller = new Poller();
  signal.addEventListener("abort", () => poller.wake(), { once: true });
  const batch = new FrameBatch({ slots: 64 });
  const out = new FrameBatch({ slots: 64 });
  ready();
  while (!signal.aborted) {
    await poller.wait([socket.fd], 1000);
    for (;;) {
      const count = socket.receiveBatch(batch);
      if (count === 0) break;
      let n = 0;
      for (let i = 0; i < count; i++) {
        if (batch.pktType(i) === PacketType.OUTGOING) continue;
        const frame = batch.frame(i);
        const slot = out.slot(n);
        slot.set(frame.subarray(6, 12), 0); // back to its source
        slot.set(frame.subarray(0, 6), 6);
        slot.set(frame.subarray(12), 12);
        out.setLength(n++, frame.length);
      }
      socket.sendBatch(out, n);
      if (count < batch.slots) break;
    }
  }
}

if (import.meta.main) {
  const [netns, ifname, etherType] = Deno.args;
  const stop = new AbortController();
  Deno.addSignalListener("SIGTERM", () => stop.abort());
  const ready = () => Deno.stdout.writeSync(new TextEncoder().encode("ready\n"));
  await echoFrames(netns!, ifname!, Number(etherType), stop.signal, ready);
}
