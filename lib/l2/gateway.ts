/**
 * The gateway: bridges a wired LAN interface (AF_PACKET, promiscuous membership) and the
 * relay. LAN frames for remote MACs, broadcast and multicast go to the relay; frames from the
 * relay go onto the LAN; a CAM-refresh frame per remote MAC keeps the LAN switch pointing
 * those MACs at the gateway's port. Requires `--allow-ffi`, `--unstable-net`, CAP_NET_RAW.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage, NetkitError } from "../errors.ts";
import { FrameBatch } from "../net/frame_batch.ts";
import { getInterface, requireEthernet } from "../net/interfaces.ts";
import { PacketSocket, PacketType } from "../net/packet_socket.ts";
import { Poller } from "../net/poller.ts";
import { ETH_MIN_FRAME } from "../packet/ethernet.ts";
import { formatMac, isMulticastMac, macKey, parseMac } from "../packet/mac.ts";
import { completeChecksumAt } from "../packet/transport_checksum.ts";
import { GsoType, segmentFrame, VNET_HDR_LEN } from "../packet/gso.ts";
import { VLAN_HEADROOM } from "../net/frame_batch.ts";
import type { DisconnectReason, PeerJoined, PeerLeft, Welcome } from "./control.ts";
import { logFrame } from "./frame_log.ts";
import { RemoteMacTable } from "./mac_table.ts";
import { clampMss } from "./mss_clamp.ts";
import { requirePrivilege } from "../doctor/privileges.ts";
import { parseCredential } from "./credentials.ts";
import { type RelayAddress, RelaySession } from "./relay_session.ts";
import { classifyFrame } from "./safety.ts";

const log = getLogger(["netkit", "gateway"]);

/** IEEE 802 local experimental EtherType 1, carried by CAM-refresh frames. */
export const CAM_REFRESH_ETHERTYPE = 0x88b5;
const CAM_REFRESH_TEXT = new TextEncoder().encode("netkit-cam-refresh");
const BATCH_SLOTS = 64;
/**
 * A slot holds the largest frame GRO merges by default (64 KiB of IP packet, `gro_max_size`)
 * with its Ethernet header, a VLAN tag and the vnet header; anything larger (BIG TCP) arrives
 * truncated and is dropped as such. 64 slots take 4 MiB.
 */
const SLOT_SIZE = VLAN_HEADROOM + VNET_HDR_LEN + 18 + 65536;
const LAN_RCVBUF = 4 << 20;

/** Options for {@linkcode Gateway.start}. */
export interface GatewayOptions {
  /** Where the relay is and the certificate pin it must present. */
  relay: RelayAddress;
  /** `nk1:ROOM:NAME:SECRET`, from `netkit relay room`. */
  credential: string;
  /** The LAN interface. */
  iface: string;
  /** Largest datagram to advertise to the relay. */
  budget?: number;
  /** How long a silent relay connection lives (default 2 s). */
  idleTimeoutMs?: number;
  /** CAM-refresh period in ms (default: the relay's `cam_refresh_ms`). */
  camRefreshMs?: number;
  /** Rewrite the MSS of TCP SYNs to fit the room MTU. */
  clampMss?: boolean;
}

/** Gateway counters (besides the session's). */
export interface GatewayCounters {
  /** Frames received from the LAN (not counting the host's own). */
  lanFrames: number;
  /** Frames sent on to the relay. */
  lanToRelay: number;
  /** Frames from the relay put on the LAN. */
  relayToLan: number;
  /** CAM-refresh frames sent for remote MACs. */
  camRefreshes: number;
  /** TCP SYNs whose MSS was lowered to fit the room MTU. */
  mssClamped: number;
  /** LAN frames whose TCP/UDP checksum the sender had left to offload. */
  checksumsCompleted: number;
  /** LAN frames the kernel had merged (GRO, or TSO from a local, VM or veth sender). */
  gsoFrames: number;
  /** The frames those were cut into for the room (counted in `lanToRelay` once sent). */
  gsoSegments: number;
}

/** Opens the LAN socket: every frame on `iface`, through a promiscuous membership. */
function openLan(iface: string): PacketSocket {
  // vnet headers: merged frames arrive with what it takes to cut them back into segments.
  const socket = PacketSocket.open({ interface: iface, rcvbuf: LAN_RCVBUF, vnetHeader: true });
  try {
    // Each frame sent to the LAN would otherwise come back and wake the LAN loop to be dropped.
    socket.ignoreOutgoing();
    socket.addPromisc();
  } catch (err) {
    socket.close();
    throw new NetkitError(
      `The gateway needs a promiscuous membership on "${iface}" to receive frames for remote MACs: ${
        errorMessage(err)
      }`,
    );
  }
  return socket;
}

/** The CAM-refresh frame for remote MAC `remote` towards the gateway NIC `nic`. */
export function camRefreshFrame(remote: Uint8Array, nic: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETH_MIN_FRAME);
  frame.set(nic, 0);
  frame.set(remote, 6);
  frame[12] = CAM_REFRESH_ETHERTYPE >> 8;
  frame[13] = CAM_REFRESH_ETHERTYPE & 0xff;
  frame.set(CAM_REFRESH_TEXT, 14);
  return frame;
}

/** A running gateway. */
export class Gateway implements AsyncDisposable {
  /** The LAN interface. */
  readonly iface: string;
  /** The LAN interface's MAC: the destination of CAM-refresh frames. */
  readonly nicMac: Uint8Array;
  /** Live counters, read by `gateway status`. */
  readonly counters: GatewayCounters = {
    lanFrames: 0,
    lanToRelay: 0,
    relayToLan: 0,
    camRefreshes: 0,
    mssClamped: 0,
    checksumsCompleted: 0,
    gsoFrames: 0,
    gsoSegments: 0,
  };
  /** The clients' MACs the relay announced, by peer: what CAM refreshes keep on the switch. */
  readonly remotes: RemoteMacTable = new RemoteMacTable();
  /** Resolves when the gateway has stopped. */
  readonly done: Promise<void>;
  readonly #options: GatewayOptions;
  readonly #poller = new Poller();
  readonly #debug = log.isEnabledFor("debug");
  #session!: RelaySession;
  #socket: PacketSocket | null = null;
  #frameMax = 0;
  /** Where segments of a merged frame are built: one room frame. */
  #segment = new Uint8Array(0);
  readonly #forwardSegment = (segment: Uint8Array) => this.#forward(segment);
  #tapMtu = 0;
  #camTimer: ReturnType<typeof setInterval> | undefined;
  #camPeriod = 0;
  #stopping = false;
  #started = false;
  #closing: Promise<void> | null = null;
  #resolveDone!: () => void;

  private constructor(options: GatewayOptions, nicMac: Uint8Array) {
    this.#options = options;
    this.iface = options.iface;
    this.nicMac = nicMac;
    this.done = new Promise((resolve) => this.#resolveDone = resolve);
  }

  /**
   * Checks the interface, joins the relay, and only then opens the LAN socket: a wrong
   * certificate or a refused join leaves the LAN untouched.
   */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const info = getInterface(options.iface);
    requireEthernet(info, "the gateway");
    if (!info.carrier) {
      throw new NetkitError(
        `Interface "${info.name}" has no carrier: connect it to the LAN (and bring it up) first`,
      );
    }
    // Checked before the relay hears of us: a gateway that cannot open its LAN socket must not
    // take the room's gateway place.
    requirePrivilege("CAP_NET_RAW", "netkit gateway", `for its packet socket on "${info.name}"`);
    const gateway = new Gateway(options, info.mac);
    gateway.#session = await RelaySession.connect(
      {
        relay: options.relay,
        role: "gateway",
        credential: options.credential,
        mac: info.mac,
        ...(options.budget === undefined ? {} : { budget: options.budget }),
        ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      },
      {
        welcome: (w) => gateway.#onWelcome(w),
        peerJoined: (e) => gateway.#onPeerJoined(e),
        peerLeft: (e) => gateway.#onPeerLeft(e),
        frame: (frame, from) => gateway.#fromRelay(frame, from),
        lost: () => {},
      },
    );
    try {
      gateway.#socket = openLan(info.name);
    } catch (err) {
      await gateway.close("error", errorMessage(err));
      throw err;
    }
    log.info("Gateway on {iface} ({mac}) bridging to room {room}", {
      iface: info.name,
      mac: formatMac(info.mac),
      room: parseCredential(options.credential).room,
    });
    gateway.#refreshAll();
    gateway.#started = true;
    gateway.#lanLoop().then(() => gateway.#resolveDone());
    return gateway;
  }

  /** The session with the relay (counters, drops). */
  get session(): RelaySession {
    return this.#session;
  }

  #onWelcome(welcome: Welcome): void {
    this.#frameMax = welcome.frame_max;
    if (this.#segment.length !== welcome.frame_max) {
      this.#segment = new Uint8Array(welcome.frame_max);
    }
    this.#tapMtu = welcome.tap_mtu;
    if (!welcome.resumed) this.remotes.clear();
    const now = performance.now();
    for (const peer of welcome.peers) {
      if (peer.role === "client") this.remotes.add(peer.peer_id, parseMac(peer.mac), now);
    }
    const period = this.#options.camRefreshMs ?? welcome.cam_refresh_ms;
    if (period !== this.#camPeriod) {
      clearInterval(this.#camTimer);
      this.#camPeriod = period;
      this.#camTimer = setInterval(() => this.#refreshAll(), period);
    }
    this.#refreshAll();
  }

  #onPeerJoined(event: PeerJoined): void {
    if (event.role !== "client") return;
    const mac = parseMac(event.mac);
    this.remotes.add(event.peer_id, mac, performance.now());
    this.#refresh(mac);
  }

  #onPeerLeft(event: PeerLeft): void {
    this.remotes.removePeer(event.peer_id);
  }

  #refreshAll(): void {
    for (const entry of this.remotes.entries()) this.#refresh(entry.mac);
  }

  /** Sends the CAM-refresh frame for one remote MAC. */
  #refresh(mac: Uint8Array): void {
    if (this.#socket === null) return;
    try {
      if (this.#socket.send(camRefreshFrame(mac, this.nicMac))) this.counters.camRefreshes++;
    } catch (err) {
      log.warning("CAM refresh for {mac} failed: {error}", {
        mac: formatMac(mac),
        error: errorMessage(err),
      });
    }
  }

  /** A frame from the relay, onto the LAN. */
  #fromRelay(frame: Uint8Array, from: number): void {
    const socket = this.#socket;
    if (socket === null) return this.#drop(frame, "relay_to_lan", from, "lan_down");
    // The relay vouches for a client's source MAC: learning it keeps the table right even
    // if a peer_joined was missed.
    if (from !== 0 && !this.remotes.has(frame, 6) && !isMulticastMac(frame, 6)) {
      this.remotes.add(from, frame.slice(6, 12), performance.now());
    }
    if (this.#options.clampMss && clampMss(frame, this.#tapMtu)) this.counters.mssClamped++;
    try {
      if (!socket.send(frame)) return this.#drop(frame, "relay_to_lan", from, "lan_busy");
    } catch (err) {
      log.warning("Sending to {iface} failed: {error}", {
        iface: this.iface,
        error: errorMessage(err),
      });
      return this.#drop(frame, "relay_to_lan", from, "lan_error");
    }
    this.counters.relayToLan++;
    if (this.#debug) {
      logFrame(log, {
        where: this.iface,
        direction: "relay_to_lan",
        peer: from,
        frame,
        action: "forward",
        reason: null,
      });
    }
  }

  async #lanLoop(): Promise<void> {
    const batch = new FrameBatch({ slots: BATCH_SLOTS, slotSize: SLOT_SIZE });
    while (!this.#stopping) {
      const socket = this.#socket;
      if (socket === null) break;
      if (this.#session.congested) await this.#session.drain();
      let n: number;
      try {
        n = socket.receiveBatch(batch);
      } catch (err) {
        await this.#reopen(err);
        continue;
      }
      if (n === 0) {
        await this.#poller.wait([socket.fd], 1000);
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (batch.pktType(i) === PacketType.OUTGOING) continue; // our own, or the host's
        // A merged frame can make dozens of datagrams: wait for room rather than drop them.
        if (this.#session.congested) await this.#session.drain();
        const gsoType = batch.gsoType(i);
        if (batch.undescribed(i)) {
          this.counters.lanFrames++;
          this.#drop(batch.frame(i), "lan_to_relay", null, "gso_unsupported");
        } else if (gsoType === GsoType.NONE) {
          this.#fromLan(batch.frame(i), batch.truncated(i), batch, i);
        } else {
          this.#fromLanMerged(batch.frame(i), batch.truncated(i), gsoType, batch.gsoSize(i));
        }
      }
      // After a full batch, a zero-timeout poll is the turn the event loop needs.
      if (n === BATCH_SLOTS) await this.#poller.wait([socket.fd], 0);
    }
  }

  /**
   * The LAN interface went down or away (the socket reports ENETDOWN once): opens a new
   * socket on the interface of that name every second until it is back, keeping the relay
   * session and the remote MAC table meanwhile. A re-created interface has a new index.
   */
  async #reopen(cause: unknown): Promise<void> {
    log.warning("Lost {iface}: {error}; reopening it every second", {
      iface: this.iface,
      error: errorMessage(cause),
    });
    this.#socket?.close();
    this.#socket = null;
    while (!this.#stopping) {
      await this.#poller.wait([], 1000); // a wait close() can end early
      if (this.#stopping) break;
      try {
        // A socket opens on a link that is down too, and fails again at once: wait for it to
        // be up, so loss and recovery are logged once each.
        if (!getInterface(this.iface).up) continue;
        this.#socket = openLan(this.iface);
      } catch {
        continue;
      }
      log.info("Bridging {iface} again", { iface: this.iface });
      this.#refreshAll();
      return;
    }
  }

  /** A LAN frame: to the relay, or dropped with a reason. */
  #fromLan(frame: Uint8Array, truncated: boolean, batch: FrameBatch, i: number): void {
    this.counters.lanFrames++;
    if (truncated || frame.length > this.#frameMax) {
      return this.#drop(frame, "lan_to_relay", null, "mtu_exceeded");
    }
    if (!this.#admits(frame)) return;
    // Sent with checksum offload (by this host, or a VM or veth peer): complete it, or the
    // client's kernel drops the segment as corrupt.
    if (
      batch.checksumPending(i) &&
      completeChecksumAt(frame, batch.checksumStart(i), batch.checksumOffset(i))
    ) {
      this.counters.checksumsCompleted++;
    }
    this.#forward(frame);
  }

  /**
   * A frame the kernel merged (GRO, or TSO by a sender on this host or beyond a veth or VM
   * link): cut back into segments that fit the room, as the sender's NIC would have sent them.
   */
  #fromLanMerged(frame: Uint8Array, truncated: boolean, type: number, size: number): void {
    this.counters.lanFrames++;
    this.counters.gsoFrames++;
    if (truncated) return this.#drop(frame, "lan_to_relay", null, "mtu_exceeded");
    if (!this.#admits(frame)) return;
    const made = segmentFrame(frame, type, size, this.#segment, this.#forwardSegment);
    if (typeof made === "string") return this.#drop(frame, "lan_to_relay", null, made);
    this.counters.gsoSegments += made;
  }

  /** Whether a LAN frame's MACs let it into the room (otherwise it is counted as dropped). */
  #admits(frame: Uint8Array): boolean {
    if (isMulticastMac(frame, 6) || macKey(frame, 6) === 0) {
      this.#drop(frame, "lan_to_relay", null, "invalid_source_mac");
      return false;
    }
    if (!isMulticastMac(frame, 0) && !this.remotes.has(frame, 0)) {
      this.#drop(frame, "lan_to_relay", null, "unknown_destination");
      return false;
    }
    return true;
  }

  /** A LAN frame of the room's size with a complete checksum: checked, clamped and sent. */
  #forward(frame: Uint8Array): void {
    const unsafe = classifyFrame(frame, false, this.#frameMax);
    if (unsafe !== null) return this.#drop(frame, "lan_to_relay", null, unsafe);
    if (this.#options.clampMss && clampMss(frame, this.#tapMtu)) this.counters.mssClamped++;
    if (!this.#session.sendFrame(frame)) return; // the session counted why
    this.counters.lanToRelay++;
    if (this.#debug) {
      logFrame(log, {
        where: this.iface,
        direction: "lan_to_relay",
        peer: null,
        frame,
        action: "forward",
        reason: null,
      });
    }
  }

  #drop(frame: Uint8Array, direction: string, peer: number | null, reason: string): void {
    this.#session.drops.add(reason);
    if (this.#debug) {
      logFrame(log, { where: this.iface, direction, peer, frame, action: "drop", reason });
    }
  }

  /** Disconnects from the relay (with `reason`), stops the LAN loop and closes the socket. */
  close(
    reason: DisconnectReason = "shutdown",
    text = "shutting down",
  ): Promise<void> {
    this.#closing ??= this.#close(reason, text);
    return this.#closing;
  }

  async #close(reason: DisconnectReason, text: string): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#camTimer);
    await this.#session?.close(reason, text);
    this.#poller.wake();
    if (this.#started) await this.done;
    await this.#poller.close();
    this.#socket?.close();
    this.#socket = null;
    this.#resolveDone();
  }

  /** {@linkcode close}: `await using` stops the gateway. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
