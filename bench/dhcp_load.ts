/**
 * A DHCPv4 load driver for bench/vnet.ts: many clients, each one MAC, each doing one whole
 * DORA exchange (DISCOVER → OFFER → REQUEST → ACK) through packet sockets, with a bounded
 * number in flight. A client whose answer does not come within the retransmission time sends
 * its message again (counted). The same driver runs against every server: only the links
 * differ (one socket per TAP for netkit vnet, one socket for all MACs towards dnsmasq).
 *
 * Clients ask for broadcast replies (the flag udhcpc sets): a server then answers without
 * needing the client's address in its neighbour table, which dnsmasq would otherwise fill
 * through an ioctl per reply.
 *
 * @module
 */

import { FrameBatch } from "../lib/net/frame_batch.ts";
import type { PacketSocket } from "../lib/net/packet_socket.ts";
import { Poller } from "../lib/net/poller.ts";
import {
  BootpOp,
  createDhcpDiscover,
  createDhcpRequest,
  decodeDhcp,
  type DhcpMessage,
  DhcpMessageType,
  isDhcpv4Frame,
} from "../lib/packet/dhcpv4.ts";
import { ethernetHeaderLengthAt } from "../lib/packet/ethernet.ts";
import { UDP_HEADER_LEN } from "../lib/packet/udp.ts";
import { MalformedPacketError } from "../lib/packet/errors.ts";
import { formatIpv4 } from "../lib/packet/ipv4.ts";
import { cpuMs } from "./_shared.ts";

/** One link the driver sends on and hears from: a packet socket and the MACs behind it. */
export interface DhcpLink {
  /** Bound to IPv4 (0x0800), ignoring its own outgoing frames. */
  socket: PacketSocket;
  /** The clients on this link. */
  macs: readonly Uint8Array[];
}

/** How a run goes. */
export interface DoraOptions {
  /** Exchanges in flight at once. */
  concurrency: number;
  /** A message unanswered this long is sent again (ms). */
  retransmitMs: number;
  /** The run gives up after this long (ms). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** What a run did. */
export interface DoraResult {
  /** Clients (MACs). */
  clients: number;
  /** Exchanges that ended in an ACK. */
  completed: number;
  /** From the first DISCOVER to the last ACK (or the timeout), s. */
  seconds: number;
  /** Completed exchanges per second. */
  exchangesPerSecond: number;
  /** Messages sent again after {@linkcode DoraOptions.retransmitMs}. */
  retransmits: number;
  /** NAKs received (the client then starts over). */
  naks: number;
  /** CPU the driver (this process) used, ms. */
  driverCpuMs: number;
  /** The address each MAC was given, by MAC (`aa:bb:...` → `a.b.c.d`). */
  leases: Map<string, string>;
}

const IDLE = 0;
const SELECTING = 1;
const REQUESTING = 2;
const BOUND = 3;

interface Client {
  readonly mac: Uint8Array;
  readonly socket: PacketSocket;
  readonly xid: number;
  state: number;
  /** The message to send again when it is not answered. */
  message: Uint8Array;
  sentAt: number;
}

/**
 * The DHCP message of `frame`, or null. The UDP checksum is not checked: a reply sent over a
 * veth reaches a packet socket with the checksum still to be completed by the offload.
 */
function dhcpPayload(frame: Uint8Array): DhcpMessage | null {
  if (!isDhcpv4Frame(frame)) return null;
  const ip = ethernetHeaderLengthAt(frame);
  const udp = ip + (frame[ip]! & 0x0f) * 4;
  const end = Math.min(frame.length, udp + ((frame[udp + 4]! << 8) | frame[udp + 5]!));
  const dhcp = decodeDhcp(frame.subarray(udp + UDP_HEADER_LEN, end));
  return dhcp instanceof MalformedPacketError ? null : dhcp;
}

function macKey(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Runs one DORA exchange per MAC of `links`; resolves when all are bound or at the timeout. */
export async function runDora(
  links: readonly DhcpLink[],
  options: DoraOptions,
): Promise<DoraResult> {
  // Random transaction IDs per run, consecutive so one lookup finds the client.
  const base = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fff_0000;
  const clients: Client[] = links.flatMap((link) =>
    link.macs.map((mac) => ({
      mac,
      socket: link.socket,
      xid: 0,
      state: IDLE,
      message: new Uint8Array(0),
      sentAt: 0,
    }))
  ).map((c, i) => ({ ...c, xid: base + i }));
  const bySocketFd = new Map(links.map((l) => [l.socket.fd, l.socket]));
  const fds = [...bySocketFd.keys()];
  const batch = new FrameBatch({ slots: 64, slotSize: 2048 });
  const leases = new Map<string, string>();
  let next = 0;
  let inFlight = 0;
  let completed = 0;
  let retransmits = 0;
  let naks = 0;

  const send = (client: Client, message: Uint8Array, now: number) => {
    client.message = message;
    client.sentAt = now;
    client.socket.send(message);
  };
  const discover = (client: Client, now: number) => {
    client.state = SELECTING;
    send(
      client,
      createDhcpDiscover({ clientMac: client.mac, xid: client.xid, broadcast: true }),
      now,
    );
  };
  const receive = (frame: Uint8Array, now: number) => {
    const dhcp = dhcpPayload(frame);
    if (dhcp === null) return;
    const client = clients[dhcp.xid - base];
    if (dhcp.op !== BootpOp.REPLY || client === undefined || client.xid !== dhcp.xid) return;
    if (macKey(dhcp.chaddr) !== macKey(client.mac)) return;
    const type = dhcp.options.messageType;
    if (type === DhcpMessageType.OFFER && client.state === SELECTING) {
      client.state = REQUESTING;
      send(
        client,
        createDhcpRequest({
          clientMac: client.mac,
          xid: client.xid,
          broadcast: true,
          requestedIp: dhcp.yiaddr.slice(),
          ...(dhcp.options.serverId === undefined
            ? {}
            : { serverId: dhcp.options.serverId.slice() }),
        }),
        now,
      );
    } else if (type === DhcpMessageType.ACK && client.state === REQUESTING) {
      client.state = BOUND;
      leases.set(macKey(client.mac), formatIpv4(dhcp.yiaddr));
      completed++;
      inFlight--;
    } else if (type === DhcpMessageType.NAK && client.state === REQUESTING) {
      naks++;
      discover(client, now);
    }
  };

  await using poller = new Poller();
  const cpuBefore = cpuMs();
  const start = performance.now();
  const deadline = start + options.timeoutMs;
  let last = start;
  while (completed < clients.length) {
    options.signal?.throwIfAborted();
    let now = performance.now();
    if (now >= deadline) break;
    while (inFlight < options.concurrency && next < clients.length) {
      discover(clients[next++]!, now);
      inFlight++;
    }
    let earliest = Infinity;
    for (const c of clients) {
      if (c.state !== SELECTING && c.state !== REQUESTING) continue;
      if (now - c.sentAt >= options.retransmitMs) {
        retransmits++;
        send(c, c.message, now);
      }
      earliest = Math.min(earliest, c.sentAt + options.retransmitMs);
    }
    const { ready } = await poller.wait(fds, Math.max(0, Math.min(earliest, deadline) - now));
    now = performance.now();
    for (const fd of ready) {
      const socket = bySocketFd.get(fd)!;
      for (;;) {
        const n = socket.receiveBatch(batch);
        for (let i = 0; i < n; i++) receive(batch.frame(i), now);
        if (n < batch.slots) break;
      }
    }
    if (completed > 0) last = now;
  }
  const seconds = ((completed === clients.length ? last : performance.now()) - start) / 1000;
  return {
    clients: clients.length,
    completed,
    seconds,
    exchangesPerSecond: completed / seconds,
    retransmits,
    naks,
    driverCpuMs: cpuMs() - cpuBefore,
    leases,
  };
}
