/**
 * The relay's rooms: the rooms the operator configured (lib/l2/rooms_file.ts), who is in each,
 * admission (a credential per peer, one session per credential, unique client MACs, the room's
 * MTU and client limit), resume of a lost peer, and the switching decision for one frame. Pure:
 * the connection of a peer is an opaque `L` the relay attaches.
 *
 * @module
 */

import { isMulticastMac, macKey } from "../packet/mac.ts";
import type { RejectCode, Role } from "./control.ts";
import { base64url, type Credential, secretMatches, UNMATCHABLE_HASH } from "./credentials.ts";
import { DATAGRAM_HEADER_LEN } from "./datagram.ts";
import { largestFrameInTwo } from "./fragments.ts";
import type { CredentialConfig, RoomConfig, RoomsConfig } from "./rooms_file.ts";

/** Largest peer id; 0 means "none" (the relay) and 0xffff is reserved. */
const MAX_PEER_ID = 0xfffe;

/** One peer of a room; `link` is the relay's connection to it while it is connected. */
export interface RoomPeer<L> {
  /** 1..0xfffe, unique in the room: the source and destination ids of its datagrams. */
  readonly peerId: number;
  /** Gateway (the room's LAN) or client. */
  readonly role: Role;
  /** A client's TAP MAC or the gateway's NIC MAC, from its hello. */
  readonly mac: Uint8Array;
  /** {@linkcode macKey} of `mac`. */
  readonly macKey: number;
  /** The room the peer joined. */
  readonly room: Room<L>;
  /** The name of the credential it joined with: one session per credential. */
  readonly credential: string;
  /** The connection, or null while the peer is away (lost, inside its resume window). */
  link: L | null;
  /** When the peer went away (ms), for the resume window. */
  awaySince: number;
  /** The secret a reconnecting peer shows in `hello.resume` to keep its id and MAC. */
  readonly resumeToken: string;
}

/** A room: the peers that share one Ethernet segment. */
export class Room<L> {
  /** The room code, as in `hello.room`. */
  readonly code: string;
  /** Relay-wide id; its low 16 bits are the datagram room tag. */
  readonly id: number;
  /** `id & 0xffff`: the room tag every datagram of the room carries. */
  readonly tag: number;
  /** The operator's settings and credentials (replaced when the rooms file changes). */
  config: RoomConfig;
  /** The room's gateway, or null when none is in the room (an away gateway stays in it). */
  gateway: RoomPeer<L> | null = null;
  /** Clients by MAC key. */
  readonly clients = new Map<number, RoomPeer<L>>();
  /** Peers by credential name. */
  readonly byCredential = new Map<string, RoomPeer<L>>();
  /** Every peer, gateway first: the flooding order. */
  members: RoomPeer<L>[] = [];
  #nextPeerId = 1;

  /** An empty room for `config`; `id` is relay-wide and must not be reused. */
  constructor(config: RoomConfig, id: number) {
    this.code = config.room;
    this.id = id;
    this.tag = id & 0xffff;
    this.config = config;
  }

  /** Largest Ethernet frame, header included: set by the operator's TAP MTU. */
  get frameMax(): number {
    return this.config.tap_mtu + 14;
  }

  /** Peers other than `except`, for `welcome.peers`. */
  others(except: RoomPeer<L>): RoomPeer<L>[] {
    return this.members.filter((p) => p !== except);
  }

  /** The credential named `name`, if the room has it. */
  credential(name: string): CredentialConfig | undefined {
    return this.config.credentials.find((c) => c.name === name);
  }

  /**
   * Puts `peer` in (a gateway takes the gateway's place). Admission is not checked here:
   * {@linkcode RoomRegistry.join} checks it and takes the credential's earlier session out first.
   */
  add(peer: RoomPeer<L>): void {
    if (peer.role === "gateway") this.gateway = peer;
    else this.clients.set(peer.macKey, peer);
    this.byCredential.set(peer.credential, peer);
    this.#rebuildMembers();
  }

  /** Takes `peer` out; false when it was not (or no longer) here. */
  delete(peer: RoomPeer<L>): boolean {
    if (this.byCredential.get(peer.credential) !== peer) return false;
    this.byCredential.delete(peer.credential);
    if (this.gateway === peer) this.gateway = null;
    else this.clients.delete(peer.macKey);
    this.#rebuildMembers();
    return true;
  }

  /** A peer id no member holds (ids are per room: the room tag tells rooms apart). */
  allocatePeerId(): number {
    const inUse = new Set(this.members.map((p) => p.peerId));
    for (let i = 0; i < MAX_PEER_ID; i++) {
      const id = this.#nextPeerId;
      this.#nextPeerId = id >= MAX_PEER_ID ? 1 : id + 1;
      if (!inUse.has(id)) return id;
    }
    return -1;
  }

  #rebuildMembers(): void {
    this.members = this.gateway === null
      ? [...this.clients.values()]
      : [this.gateway, ...this.clients.values()];
  }
}

/** What an authenticated hello asks of the registry. */
export interface JoinRequest {
  /** The role the hello claims; the credential must be of this role. */
  role: Role;
  /** The room code from the hello. */
  room: string;
  /** The credential name {@linkcode RoomRegistry.authenticate} accepted. */
  credential: string;
  /** The peer's MAC from the hello; a client's must be unicast and unique in the room. */
  mac: Uint8Array;
  /** The datagram size both the peer (its `budget`) and the relay's connection allow. */
  budget: number;
  /** Both ends split a frame too big for one datagram in two (lib/l2/fragments.ts). */
  fragments?: boolean;
  /** The resume token of an earlier session, to keep its identity. */
  resume?: string | undefined;
}

/** The registry's answer to a {@linkcode JoinRequest}. */
export type JoinResult<L> =
  | {
    ok: true;
    peer: RoomPeer<L>;
    /** The peer kept its identity from an earlier connection (its resume token). */
    resumed: boolean;
    /** A connection the resumed peer had, which the relay must close (`replaced`). */
    replaced: L | null;
    /**
     * An earlier session of the same credential that did not resume (a restarted peer): it
     * is out of the room now; the relay closes its connection and tells the others.
     */
    evicted: RoomPeer<L> | null;
  }
  | { ok: false; code: RejectCode; reason: string };

/** Options for {@linkcode RoomRegistry}. */
export interface RoomRegistryOptions {
  /** Most clients per room. */
  maxClients: number;
  /** Source of resume tokens (tests inject a deterministic one). */
  newToken?: () => string;
}

/** Every room of a relay. */
export class RoomRegistry<L> {
  readonly #rooms = new Map<string, Room<L>>();
  readonly #maxClients: number;
  readonly #newToken: () => string;
  #nextRoomId = 1;

  /** A registry with no rooms until {@linkcode RoomRegistry.configure} is called. */
  constructor(options: RoomRegistryOptions) {
    this.#maxClients = options.maxClients;
    this.#newToken = options.newToken ?? randomToken;
  }

  /** The rooms, in creation order. */
  rooms(): IterableIterator<Room<L>> {
    return this.#rooms.values();
  }

  /** Room `code`, if configured. */
  room(code: string): Room<L> | undefined {
    return this.#rooms.get(code);
  }

  /**
   * Applies the operator's rooms (at start and whenever the rooms file changes). Returns the
   * peers that lost their right to be there, already removed: their room is gone, their
   * credential was revoked or rotated, or their room's MTU changed (they must rejoin to learn
   * it). A room that stays keeps its id.
   */
  configure(config: RoomsConfig): RoomPeer<L>[] {
    const removed: RoomPeer<L>[] = [];
    const wanted = new Map(config.rooms.map((r) => [r.room, r]));
    for (const [code, room] of this.#rooms) {
      const next = wanted.get(code);
      for (const peer of room.members) {
        const before = room.credential(peer.credential);
        const after = next?.credentials.find((c) => c.name === peer.credential);
        if (
          next === undefined || after === undefined || after.hash !== before?.hash ||
          next.tap_mtu !== room.config.tap_mtu
        ) {
          room.delete(peer);
          removed.push(peer);
        }
      }
      if (next === undefined) this.#rooms.delete(code);
      else room.config = next;
    }
    for (const [code, roomConfig] of wanted) {
      if (this.#rooms.has(code)) continue;
      // Room ids only grow, so a datagram from before a reconnect carries a stale tag.
      this.#rooms.set(code, new Room<L>(roomConfig, this.#nextRoomId++ >>> 0));
    }
    return removed;
  }

  /**
   * The credential's name when `credential` is a valid one for `role` in its room, else null.
   * Takes the same time whether the room or name is unknown or the secret is wrong: each
   * case compares one hash in constant time.
   */
  async authenticate(credential: Credential, role: Role): Promise<string | null> {
    const stored = this.#rooms.get(credential.room)?.credential(credential.name);
    const matches = await secretMatches(credential.secret, stored?.hash ?? UNMATCHABLE_HASH);
    return matches && stored !== undefined && stored.role === role ? stored.name : null;
  }

  /**
   * Admits an authenticated peer, or resumes it. One session per credential: a hello with the
   * resume token of the credential's session (same role and MAC) resumes it; any other hello
   * of that credential replaces it (the peer restarted). A MAC alone resumes nothing.
   */
  join(request: JoinRequest, link: L): JoinResult<L> {
    if (request.role === "client" && isMulticastMac(request.mac)) {
      return { ok: false, code: "invalid_mac", reason: "A client MAC must be unicast" };
    }
    const room = this.#rooms.get(request.room);
    if (room === undefined) {
      return { ok: false, code: "unauthorized", reason: UNAUTHORIZED_REASON };
    }
    const key = macKey(request.mac);
    const held = room.byCredential.get(request.credential);
    if (
      held !== undefined && request.resume !== undefined &&
      request.resume === held.resumeToken && held.macKey === key && held.role === request.role
    ) {
      const replaced = held.link;
      held.link = link;
      return { ok: true, peer: held, resumed: true, replaced, evicted: null };
    }
    const owner = request.role === "client" ? room.clients.get(key) : undefined;
    if (owner !== undefined && owner !== held) {
      return {
        ok: false,
        code: "duplicate_mac",
        reason: `Another client of room "${room.code}" uses this MAC`,
      };
    }
    const oneDatagram = Math.max(0, request.budget - DATAGRAM_HEADER_LEN);
    const carried = request.fragments === true ? largestFrameInTwo(request.budget) : oneDatagram;
    if (carried < room.frameMax) {
      const carries = request.fragments === true
        ? `${carried} in two fragments:`
        : `${oneDatagram} and this peer cannot split frames: update it,`;
      return {
        ok: false,
        code: "mtu_too_small",
        reason: `Room "${room.code}" carries frames of ${room.frameMax} bytes; this ` +
          `connection carries ${carries} lower the room's MTU (netkit relay room add ` +
          `--tap-mtu) or raise the path's`,
      };
    }
    const clients = room.clients.size - (held?.role === "client" ? 1 : 0);
    if (request.role === "client" && clients >= this.#maxClients) {
      return {
        ok: false,
        code: "room_full",
        reason: `Room "${room.code}" is full (${this.#maxClients} clients)`,
      };
    }
    if (held !== undefined) room.delete(held);
    const peerId = room.allocatePeerId();
    if (peerId < 0) return { ok: false, code: "internal", reason: "No free peer id" };
    const peer: RoomPeer<L> = {
      peerId,
      role: request.role,
      mac: request.mac,
      macKey: key,
      room,
      credential: request.credential,
      link,
      awaySince: 0,
      resumeToken: this.#newToken(),
    };
    room.add(peer);
    return { ok: true, peer, resumed: false, replaced: null, evicted: held ?? null };
  }

  /** Marks a peer whose connection was lost: it keeps its place until {@linkcode expire}. */
  markAway(peer: RoomPeer<L>, now: number): void {
    peer.link = null;
    peer.awaySince = now;
  }

  /** Removes a peer; false when it was already gone. */
  remove(peer: RoomPeer<L>): boolean {
    return peer.room.delete(peer);
  }

  /** Removes and returns the peers away for longer than `windowMs`. */
  expire(now: number, windowMs: number): RoomPeer<L>[] {
    const gone: RoomPeer<L>[] = [];
    for (const room of this.#rooms.values()) {
      for (const peer of room.members) {
        if (peer.link === null && now - peer.awaySince >= windowMs) gone.push(peer);
      }
    }
    for (const peer of gone) this.remove(peer);
    return gone;
  }
}

/** The one answer to an unknown room, an unknown credential and a wrong secret alike. */
export const UNAUTHORIZED_REASON = "Unknown room or invalid credential";

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Why the relay does not forward a frame (safety drops come from the classifier). */
export type SwitchDrop = "unauthorized_source_mac" | "unknown_destination" | "reflection";

/** Forward to every other member. */
export const FLOOD = 0;

/**
 * Where a frame from `from` goes: {@linkcode FLOOD}, one peer, or a drop reason. The frame has
 * passed the datagram checks (its source MAC is unicast). Unicast to a client goes to it;
 * other unicast goes to the gateway when it came from a client (the LAN is behind the
 * gateway) and is dropped when it came from the gateway (the relay does not learn LAN MACs).
 */
export function switchFrame<L>(
  from: RoomPeer<L>,
  frame: Uint8Array,
): RoomPeer<L> | typeof FLOOD | SwitchDrop {
  const room = from.room;
  if (from.role === "client" && macKey(frame, 6) !== from.macKey) return "unauthorized_source_mac";
  if (isMulticastMac(frame, 0)) return FLOOD;
  const client = room.clients.get(macKey(frame, 0));
  if (client !== undefined) return client === from ? "reflection" : client;
  if (from.role === "gateway") return "unknown_destination";
  return room.gateway ?? "unknown_destination";
}
