/**
 * The relay's rooms: who is in each, admission (one gateway, a client limit, unique client
 * MACs, a room MTU fixed by its first peer), resume of a lost peer, and the switching decision
 * for one frame. Pure: the connection of a peer is an opaque `L` the relay attaches.
 *
 * @module
 */

import { isMulticastMac, macKey } from "../packet/mac.ts";
import type { RejectCode, Role } from "./control.ts";
import { DATAGRAM_HEADER_LEN } from "./datagram.ts";

/** The smallest room frame a peer may bring: an IPv4 minimum MTU (576) plus the header. */
export const MIN_FRAME_MAX = 576 + 14;
/** Largest peer id; 0 means "none" (the relay) and 0xffff is reserved. */
const MAX_PEER_ID = 0xfffe;

/** One peer of a room; `link` is the relay's connection to it while it is connected. */
export interface RoomPeer<L> {
  readonly peerId: number;
  readonly role: Role;
  readonly mac: Uint8Array;
  /** {@linkcode macKey} of `mac`. */
  readonly macKey: number;
  readonly room: Room<L>;
  /** The connection, or null while the peer is away (lost, inside its resume window). */
  link: L | null;
  /** When the peer went away (ms), for the resume window. */
  awaySince: number;
  readonly resumeToken: string;
}

/** A room: the peers that share one Ethernet segment. */
export class Room<L> {
  readonly code: string;
  /** Relay-wide id; its low 16 bits are the datagram room tag. */
  readonly id: number;
  readonly tag: number;
  /** Largest Ethernet frame, fixed by the first peer. */
  readonly frameMax: number;
  gateway: RoomPeer<L> | null = null;
  /** Clients by MAC key. */
  readonly clients = new Map<number, RoomPeer<L>>();
  /** Every peer, gateway first: the flooding order. */
  members: RoomPeer<L>[] = [];

  constructor(code: string, id: number, frameMax: number) {
    this.code = code;
    this.id = id;
    this.tag = id & 0xffff;
    this.frameMax = frameMax;
  }

  /** Peers other than `except`, for `welcome.peers`. */
  others(except: RoomPeer<L>): RoomPeer<L>[] {
    return this.members.filter((p) => p !== except);
  }

  rebuildMembers(): void {
    this.members = this.gateway === null
      ? [...this.clients.values()]
      : [this.gateway, ...this.clients.values()];
  }
}

/** What a hello asks of the registry. */
export interface JoinRequest {
  role: Role;
  room: string;
  mac: Uint8Array;
  /** The datagram size both the peer (its `budget`) and the relay's connection allow. */
  budget: number;
  resume?: string | undefined;
}

/** The registry's answer to a {@linkcode JoinRequest}. */
export type JoinResult<L> =
  | {
    ok: true;
    peer: RoomPeer<L>;
    /** The peer kept its identity from an earlier connection. */
    resumed: boolean;
    /** A connection the resumed peer had, which the relay must close (`replaced`). */
    replaced: L | null;
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
  readonly #byToken = new Map<string, RoomPeer<L>>();
  readonly #maxClients: number;
  readonly #newToken: () => string;
  #nextRoomId = 1;
  #nextPeerId = 1;

  constructor(options: RoomRegistryOptions) {
    this.#maxClients = options.maxClients;
    this.#newToken = options.newToken ?? randomToken;
  }

  /** The rooms, in creation order. */
  rooms(): IterableIterator<Room<L>> {
    return this.#rooms.values();
  }

  /**
   * Admits a peer, or resumes it: a resume token of a peer still held, or a hello of the same
   * role and MAC as an away peer, gives back that peer. An active gateway or client MAC is
   * refused unless the token proves the hello comes from the same peer.
   */
  join(request: JoinRequest, link: L): JoinResult<L> {
    if (request.role === "client" && isMulticastMac(request.mac)) {
      return { ok: false, code: "invalid_mac", reason: "A client MAC must be unicast" };
    }
    const room = this.#rooms.get(request.room);
    const key = macKey(request.mac);
    const held = room === undefined
      ? undefined
      : request.role === "gateway"
      ? room.gateway ?? undefined
      : room.clients.get(key);
    if (held !== undefined) {
      const sameIdentity = held.macKey === key && held.role === request.role;
      const tokenMatches = request.resume !== undefined && request.resume === held.resumeToken;
      if ((held.link === null && sameIdentity) || (tokenMatches && sameIdentity)) {
        const replaced = held.link;
        held.link = link;
        return { ok: true, peer: held, resumed: true, replaced };
      }
      return request.role === "gateway"
        ? {
          ok: false,
          code: "gateway_exists",
          reason: `Room "${request.room}" already has a gateway`,
        }
        : {
          ok: false,
          code: "duplicate_mac",
          reason: `Another client of room "${request.room}" uses this MAC`,
        };
    }
    const frameMax = request.budget - DATAGRAM_HEADER_LEN;
    if (room !== undefined && frameMax < room.frameMax) {
      return {
        ok: false,
        code: "mtu_too_small",
        reason: `Room "${room.code}" carries frames of ${room.frameMax} bytes; ` +
          `this connection carries ${Math.max(0, frameMax)}`,
      };
    }
    if (room === undefined && frameMax < MIN_FRAME_MAX) {
      return {
        ok: false,
        code: "mtu_too_small",
        reason: `A datagram budget of ${request.budget} bytes is below the minimum of ${
          MIN_FRAME_MAX + DATAGRAM_HEADER_LEN
        }`,
      };
    }
    if (
      request.role === "client" && room !== undefined && room.clients.size >= this.#maxClients
    ) {
      return {
        ok: false,
        code: "room_full",
        reason: `Room "${room.code}" is full (${this.#maxClients} clients)`,
      };
    }
    const peerId = this.#allocatePeerId();
    if (peerId < 0) return { ok: false, code: "internal", reason: "No free peer id" };
    const target = room ?? this.#createRoom(request.room, frameMax);
    const peer: RoomPeer<L> = {
      peerId,
      role: request.role,
      mac: request.mac,
      macKey: key,
      room: target,
      link,
      awaySince: 0,
      resumeToken: this.#newToken(),
    };
    if (peer.role === "gateway") target.gateway = peer;
    else target.clients.set(key, peer);
    target.rebuildMembers();
    this.#byToken.set(peer.resumeToken, peer);
    return { ok: true, peer, resumed: false, replaced: null };
  }

  /** Marks a peer whose connection was lost: it keeps its place until {@linkcode expire}. */
  markAway(peer: RoomPeer<L>, now: number): void {
    peer.link = null;
    peer.awaySince = now;
  }

  /** Removes a peer; an empty room goes with its last peer. */
  remove(peer: RoomPeer<L>): void {
    const room = peer.room;
    if (room.gateway === peer) room.gateway = null;
    else if (room.clients.get(peer.macKey) === peer) room.clients.delete(peer.macKey);
    else return;
    room.rebuildMembers();
    this.#byToken.delete(peer.resumeToken);
    if (room.members.length === 0) this.#rooms.delete(room.code);
  }

  /** Removes and returns the peers away for longer than `windowMs`. */
  expire(now: number, windowMs: number): RoomPeer<L>[] {
    const gone: RoomPeer<L>[] = [];
    for (const peer of this.#byToken.values()) {
      if (peer.link === null && now - peer.awaySince >= windowMs) gone.push(peer);
    }
    for (const peer of gone) this.remove(peer);
    return gone;
  }

  #createRoom(code: string, frameMax: number): Room<L> {
    // Room ids only grow, so a datagram from before a reconnect carries a stale tag.
    const room = new Room<L>(code, this.#nextRoomId++ >>> 0, frameMax);
    this.#rooms.set(code, room);
    return room;
  }

  #allocatePeerId(): number {
    const inUse = new Set<number>();
    for (const peer of this.#byToken.values()) inUse.add(peer.peerId);
    for (let i = 0; i < MAX_PEER_ID; i++) {
      const id = this.#nextPeerId;
      this.#nextPeerId = id >= MAX_PEER_ID ? 1 : id + 1;
      if (!inUse.has(id)) return id;
    }
    return -1;
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
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
