import assert from "node:assert/strict";
import { NetkitError } from "../errors.ts";
import { parseMac } from "../packet/mac.ts";
import { writeFileAtomic } from "../net/safe_file.ts";
import {
  certificateHash,
  DEV_SERVER_NAME,
  loadServerIdentity,
  type ServerIdentity,
  writeDevCerts,
} from "./certs.ts";
import {
  ALPN,
  CloseCode,
  type ControlMessage,
  ControlReader,
  ControlWriter,
  type Hello,
  type PeerJoined,
  type PeerLeft,
  type Welcome,
} from "./control.ts";
import { DATAGRAM_HEADER_LEN, DatagramKind, writeDatagramHeader } from "./datagram.ts";
import { FragmentFlag, splitFrame } from "./fragments.ts";
import { Relay, type RelayOptions, type RelayStatus } from "./relay.ts";
import {
  pinnedConnectOptions,
  type RelayAddress,
  RelaySession,
  type SessionHandlers,
} from "./relay_session.ts";
import {
  addClient,
  addRoom,
  editRoomsFile,
  emptyRooms,
  removeClient,
  type RoomsConfig,
  rotateCredential,
} from "./rooms_file.ts";
import { withTimeout } from "../async.ts";

const ROOM = "LAN42";
/** Datagram budget every peer advertises: under loopback's path MTU, so no PMTU wait. */
const BUDGET = 1400;
const GATEWAY_MAC = "02:00:00:00:00:0a";
const CLIENT_A_MAC = "02:00:00:00:00:01";
const CLIENT_B_MAC = "02:00:00:00:00:02";
const LAN_HOST_MAC = "02:00:00:00:00:99";
const BROADCAST = "ff:ff:ff:ff:ff:ff";
/** IEEE local experimental EtherType: no safety rule matches it. */
const EXPERIMENTAL = 0x88b5;

/** Polls `condition` every 10 ms; fails with `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An Ethernet frame padded to 60 bytes; `tag` (the first payload byte) identifies it. */
function ethernet(
  dst: string,
  src: string,
  etherType: number,
  payload: ArrayLike<number> = [],
): Uint8Array {
  const frame = new Uint8Array(Math.max(60, 14 + payload.length));
  frame.set(parseMac(dst), 0);
  frame.set(parseMac(src), 6);
  frame[12] = etherType >> 8;
  frame[13] = etherType & 0xff;
  frame.set(payload, 14);
  return frame;
}

/** A frame nothing filters, told apart from others by `tag`. */
function plain(dst: string, src: string, tag: number): Uint8Array {
  return ethernet(dst, src, EXPERIMENTAL, [tag]);
}

/** A DHCPv4 server reply (IPv4 UDP 67 → 68) broadcast by `src`. */
function dhcpOffer(src: string): Uint8Array {
  const ip = [
    0x45,
    0,
    0,
    28 + 8,
    0,
    1,
    0,
    0,
    64,
    17,
    0,
    0, // version/IHL ... protocol UDP, checksum
    10,
    0,
    0,
    5,
    255,
    255,
    255,
    255, // 10.0.0.5 → 255.255.255.255
  ];
  const udp = [0, 67, 0, 68, 0, 16, 0, 0, 2, 1, 6, 0, 0, 0, 0, 1]; // ports 67 → 68, BOOTREPLY
  return ethernet(BROADCAST, src, 0x0800, [...ip, ...udp]);
}

/** An ICMPv6 router advertisement from `src` to all nodes (ff02::1). */
function routerAdvertisement(src: string): Uint8Array {
  const ip = new Uint8Array(40);
  ip.set([0x60, 0, 0, 0, 0, 16, 58, 255]); // payload 16 bytes, next header ICMPv6, hop limit 255
  ip.set([0xfe, 0x80], 8);
  ip[23] = 1; // fe80::1
  ip.set([0xff, 0x02], 24);
  ip[39] = 1; // ff02::1
  const ra = [134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
  return ethernet("33:33:00:00:00:01", src, 0x86dd, [...ip, ...ra]);
}

/** A spanning-tree BPDU: an 802.3 length and LLC header, so only its address marks it. */
function stpBpdu(src: string): Uint8Array {
  return ethernet("01:80:c2:00:00:00", src, 38, [0x42, 0x42, 0x03, 0, 0, 0]);
}

/** An LLDP frame to the nearest-bridge group address. */
function lldp(src: string): Uint8Array {
  return ethernet("01:80:c2:00:00:0e", src, 0x88cc, [0x02, 0x07, 0x04]);
}

/** Records what a RelaySession tells its owner; `order` is shared to compare peers. */
class Recorder implements SessionHandlers {
  readonly welcomes: Welcome[] = [];
  readonly joined: PeerJoined[] = [];
  readonly left: PeerLeft[] = [];
  readonly frames: { frame: Uint8Array; from: number }[] = [];
  readonly lostReasons: string[] = [];
  readonly #name: string;
  readonly #order: string[];

  constructor(name: string, order: string[] = []) {
    this.#name = name;
    this.#order = order;
  }

  welcome(welcome: Welcome): void {
    this.welcomes.push(welcome);
  }
  peerJoined(event: PeerJoined): void {
    this.joined.push(event);
    this.#order.push(`${this.#name} saw peer_joined ${event.mac}`);
  }
  peerLeft(event: PeerLeft): void {
    this.left.push(event);
  }
  frame(frame: Uint8Array, from: number): void {
    this.frames.push({ frame: frame.slice(), from });
  }
  lost(reason: string): void {
    this.lostReasons.push(reason);
  }

  /** Frames received whose tag (first payload byte) is `tag`. */
  tagged(tag: number): { frame: Uint8Array; from: number }[] {
    return this.frames.filter((f) => f.frame[14] === tag);
  }
}

/** A hand-made peer: hello on the control stream, datagrams written byte by byte. */
class RawPeer {
  readonly conn: Deno.QuicConn;
  readonly reader: ControlReader;
  readonly writer: ControlWriter;
  /** The relay's answer to hello: welcome or reject. */
  readonly answer: ControlMessage;
  /** Relay messages after the answer. */
  readonly messages: ControlMessage[] = [];
  closeInfo: Deno.QuicCloseInfo | null = null;
  readonly #reading: Promise<void>;
  #seq = 0;

  private constructor(
    conn: Deno.QuicConn,
    reader: ControlReader,
    writer: ControlWriter,
    answer: ControlMessage,
  ) {
    this.conn = conn;
    this.reader = reader;
    this.writer = writer;
    this.answer = answer;
    conn.closed.then((info) => this.closeInfo = info, () => {});
    this.#reading = this.#readLoop();
  }

  static async join(address: RelayAddress, hello: Partial<Hello>): Promise<RawPeer> {
    const conn = await connectRaw(address);
    try {
      const { reader, writer } = await sayHello(conn, hello);
      const answer = await reader.read();
      assert.ok(answer !== null, "the relay answers hello");
      return new RawPeer(conn, reader, writer, answer);
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  get welcome(): Welcome {
    assert.equal(this.answer.type, "welcome", `welcomed, not ${JSON.stringify(this.answer)}`);
    return this.answer as Welcome;
  }

  /** Sends `frame` behind a header: by default a correct one (own peer id, room tag). */
  sendFrame(frame: Uint8Array, header: { peerId?: number; roomTag?: number } = {}): void {
    const welcome = this.welcome;
    const datagram = new Uint8Array(DATAGRAM_HEADER_LEN + frame.length);
    writeDatagramHeader(
      datagram,
      header.peerId ?? welcome.peer_id,
      this.#seq++,
      header.roomTag ?? welcome.room_id & 0xffff,
    );
    datagram.set(frame, DATAGRAM_HEADER_LEN);
    this.sendDatagram(datagram);
  }

  sendDatagram(datagram: Uint8Array): void {
    this.conn.sendDatagram(datagram).catch(() => {});
  }

  /** Sends `frame` as two fragments with the next two sequence numbers. */
  sendInTwo(frame: Uint8Array): void {
    const welcome = this.welcome;
    const out = new Uint8Array(frame.length + 2 * DATAGRAM_HEADER_LEN);
    const tag = welcome.room_id & 0xffff;
    for (const part of splitFrame(frame, out, welcome.peer_id, this.#seq, tag)) {
      this.sendDatagram(part);
    }
    this.#seq += 2;
  }

  async #readLoop(): Promise<void> {
    try {
      while (true) {
        const message = await this.reader.read();
        if (message === null) return;
        this.messages.push(message);
      }
    } catch {
      // The connection closed.
    }
  }

  /** Closes the connection with `code` (no disconnect message); safe to call twice. */
  async close(code: number = CloseCode.NORMAL, reason = "test"): Promise<void> {
    try {
      this.conn.close({ closeCode: code, reason });
    } catch {
      // Already closed.
    }
    await this.conn.closed.catch(() => {});
    await this.#reading;
  }
}

/** Counts `Deno.connectQuic` calls (and runs `onCall` at each) until disposed. */
function spyConnectQuic(onCall: () => void = () => {}): Disposable & { calls: number } {
  const original = Deno.connectQuic;
  const spy = {
    calls: 0,
    [Symbol.dispose]() {
      Deno.connectQuic = original;
    },
  };
  Deno.connectQuic = ((options: Parameters<typeof original>[0]) => {
    spy.calls++;
    onCall();
    return original(options);
  }) as typeof original;
  return spy;
}

/** A QUIC connection to the relay, pinned as a peer pins it. */
async function connectRaw(address: RelayAddress): Promise<Deno.QuicConn> {
  return await Deno.connectQuic(
    pinnedConnectOptions(address, await certificateHash(address.pin)),
  );
}

interface RelayTest {
  relay: Relay;
  address: RelayAddress;
  identity: ServerIdentity;
  /** The test room's rooms file (written only when the test asked for one). */
  roomsFile: string;
  /** The test room's credentials, by name: `gateway`, `a`, `b`, `c`. */
  credentials: Record<string, string>;
  /**
   * A RelaySession with credential `name` (`gateway` joins as the gateway), closed at the end
   * of the test; `budget` defaults to {@linkcode BUDGET}.
   */
  session(
    name: string,
    mac: string,
    handlers: SessionHandlers,
    budget?: number,
  ): Promise<RelaySession>;
  /** A raw peer (by default client `a`), closed at the end of the test. */
  raw(hello?: Partial<Hello>): Promise<RawPeer>;
}

/** Room {@linkcode ROOM} and its credentials: the gateway's and clients `a`, `b`, `c`. */
async function testRooms(
  addresses: Record<string, string[]> = {},
): Promise<{ rooms: RoomsConfig; credentials: Record<string, string> }> {
  const rooms = emptyRooms();
  // The room's frames fit the budget every test peer offers.
  const credentials: Record<string, string> = {
    gateway: await addRoom(rooms, ROOM, { tapMtu: BUDGET - 8 - 14 }),
  };
  for (const name of ["a", "b", "c"]) {
    credentials[name] = await addClient(rooms, ROOM, name, addresses[name] ?? []);
  }
  return { rooms, credentials };
}

/**
 * Runs `body` against an in-process relay on 127.0.0.1 with fresh dev certificates and the
 * rooms of {@linkcode testRooms} (from a rooms file when `roomsFile` is true); closes every
 * peer it made, the relay and the temporary directory afterwards.
 */
async function withRelay(
  options: Partial<Omit<RelayOptions, "hostname" | "port" | "cert" | "key" | "roomsFile">> & {
    roomsFile?: boolean;
  },
  body: (t: RelayTest) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-relay-test-" });
  const sessions: RelaySession[] = [];
  const raws: RawPeer[] = [];
  let relay: Relay | undefined;
  try {
    const dev = await writeDevCerts(`${dir}/certs`);
    const identity = await loadServerIdentity(dev.cert, dev.key);
    const pin = await Deno.readTextFile(dev.pin);
    const { rooms, credentials } = await testRooms();
    const roomsFile = `${dir}/rooms.json`;
    const { roomsFile: fromFile, ...relayOptions } = options;
    if (fromFile === true) {
      writeFileAtomic(roomsFile, JSON.stringify(rooms), { what: "rooms file", mode: 0o600 });
    }
    relay = await Relay.start({
      hostname: "127.0.0.1",
      port: 0,
      ...identity,
      rooms,
      ...(fromFile === true ? { roomsFile } : {}),
      ...relayOptions,
    });
    const address = {
      hostname: "127.0.0.1",
      port: relay.addr.port,
      serverName: DEV_SERVER_NAME,
      pin,
    };
    await body({
      relay,
      address,
      identity,
      roomsFile,
      credentials,
      async session(name, mac, handlers, budget = BUDGET) {
        const session = await RelaySession.connect(
          {
            relay: address,
            role: name === "gateway" ? "gateway" : "client",
            credential: credentials[name]!,
            mac: parseMac(mac),
            budget,
          },
          handlers,
        );
        sessions.push(session);
        return session;
      },
      async raw(hello = {}) {
        const peer = await RawPeer.join(address, { credential: credentials.a!, ...hello });
        raws.push(peer);
        return peer;
      },
    });
  } finally {
    await Promise.all([...sessions.map((s) => s.close()), ...raws.map((r) => r.close())]);
    await relay?.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function peersOf(status: RelayStatus): RelayStatus["rooms"][number]["peers"] {
  return status.rooms.find((room) => room.room === ROOM)?.peers ?? [];
}

function framesOut(relay: Relay, peerId: number): number {
  return peersOf(relay.status()).find((p) => p.peer_id === peerId)?.frames_out ?? -1;
}

Deno.test("Relay announces a client to the gateway before welcoming it, and lists the gateway in the welcome", async () => {
  await withRelay({}, async (t) => {
    const order: string[] = [];
    const gateway = new Recorder("gateway", order);
    await t.session("gateway", GATEWAY_MAC, gateway);
    const gatewayWelcome = gateway.welcomes[0]!;
    assert.equal(gatewayWelcome.gateway.present, true);
    assert.equal(gatewayWelcome.gateway.peer_id, gatewayWelcome.peer_id);
    assert.deepEqual(gatewayWelcome.peers, []);

    const client = new Recorder("client", order);
    const session = await t.session("a", CLIENT_A_MAC, client);
    order.push("client connected");

    assert.deepEqual(order, [`gateway saw peer_joined ${CLIENT_A_MAC}`, "client connected"]);
    const welcome = session.welcome!;
    assert.equal(client.welcomes.length, 1);
    assert.equal(welcome.resumed, false);
    assert.deepEqual(welcome.gateway, {
      present: true,
      peer_id: gatewayWelcome.peer_id,
      mac: GATEWAY_MAC,
    });
    assert.deepEqual(welcome.peers, [
      { peer_id: gatewayWelcome.peer_id, role: "gateway", mac: GATEWAY_MAC },
    ]);
    assert.deepEqual(gateway.joined.map((e) => [e.peer_id, e.role, e.mac]), [
      [welcome.peer_id, "client", CLIENT_A_MAC],
    ]);
    assert.notEqual(welcome.peer_id, gatewayWelcome.peer_id);
    assert.equal(welcome.room_id, gatewayWelcome.room_id);
    assert.equal(welcome.frame_max, BUDGET - 8);
    assert.equal(welcome.tap_mtu, welcome.frame_max - 14);
    const [room] = t.relay.status().rooms;
    assert.equal(room?.frame_max, BUDGET - 8);
    assert.deepEqual(room?.peers.map((p) => [p.role, p.mac, p.state]), [
      ["gateway", GATEWAY_MAC, "active"],
      ["client", CLIENT_A_MAC, "active"],
    ]);
  });
});

Deno.test("Relay switches frames: broadcast to every other peer, unicast to its client, unknown unicast from a client to the gateway", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    const a = new Recorder("a");
    const b = new Recorder("b");
    const gatewaySession = await t.session("gateway", GATEWAY_MAC, gateway);
    const aSession = await t.session("a", CLIENT_A_MAC, a);
    const bSession = await t.session("b", CLIENT_B_MAC, b);
    const gatewayId = gatewaySession.welcome!.peer_id;
    const aId = aSession.welcome!.peer_id;
    const bId = bSession.welcome!.peer_id;

    // Broadcast from A: the gateway and B, never back to A.
    aSession.sendFrame(plain(BROADCAST, CLIENT_A_MAC, 1));
    await until(
      () => gateway.tagged(1).length === 1 && b.tagged(1).length === 1,
      "the broadcast at the gateway and B",
    );
    assert.deepEqual(gateway.tagged(1).map((f) => f.from), [aId]);
    assert.deepEqual(b.tagged(1).map((f) => f.from), [aId]);
    assert.deepEqual(gateway.tagged(1)[0]!.frame, plain(BROADCAST, CLIENT_A_MAC, 1));
    assert.equal(framesOut(t.relay, aId), 0);

    // Unicast from A to B's MAC: only B.
    const gatewayOut = framesOut(t.relay, gatewayId);
    aSession.sendFrame(plain(CLIENT_B_MAC, CLIENT_A_MAC, 2));
    await until(() => b.tagged(2).length === 1, "the unicast at B");
    assert.equal(b.tagged(2)[0]!.from, aId);
    assert.equal(framesOut(t.relay, gatewayId), gatewayOut);

    // Unicast from A to a MAC the relay does not know: the LAN, so only the gateway.
    const bOut = framesOut(t.relay, bId);
    aSession.sendFrame(plain(LAN_HOST_MAC, CLIENT_A_MAC, 3));
    await until(() => gateway.tagged(3).length === 1, "the LAN unicast at the gateway");
    assert.equal(gateway.tagged(3)[0]!.from, aId);
    assert.equal(framesOut(t.relay, bId), bOut);

    // Unicast from the gateway to a MAC the relay does not know: dropped.
    gatewaySession.sendFrame(plain(LAN_HOST_MAC, GATEWAY_MAC, 4));
    await until(
      () => t.relay.status().drops.unknown_destination === 1,
      "the unknown_destination drop",
    );
    // The gateway's unicast to A reaches A with the gateway's peer id.
    gatewaySession.sendFrame(plain(CLIENT_A_MAC, GATEWAY_MAC, 5));
    await until(() => a.tagged(5).length === 1, "the gateway's unicast at A");
    assert.equal(a.tagged(5)[0]!.from, gatewayId);
    assert.equal(framesOut(t.relay, aId), 1);
    assert.deepEqual(a.frames.map((f) => f.frame[14]), [5]);
    assert.deepEqual(b.frames.map((f) => f.frame[14]), [1, 2]);
    assert.deepEqual(gateway.frames.map((f) => f.frame[14]), [1, 3]);
  });
});

Deno.test("RelaySession is congested after a burst sent without yielding, drain() waits until QUIC took it, and it drops beyond 256 in flight", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    assert.equal(client.congested, false);
    for (let i = 0; i < 200; i++) {
      assert.equal(client.sendFrame(plain(LAN_HOST_MAC, CLIENT_A_MAC, 7)), true);
    }
    // Sends complete only when the event loop turns: a reader that does not wait floods.
    assert.equal(client.congested, true);
    await client.drain();
    assert.equal(client.congested, false);
    await until(() => gateway.tagged(7).length === 200, "200 frames at the gateway");

    let refused = 0;
    for (let i = 0; i < 300; i++) {
      if (!client.sendFrame(plain(LAN_HOST_MAC, CLIENT_A_MAC, 8))) refused++;
    }
    assert.equal(refused, 300 - 256);
    assert.equal(client.drops.get("congested"), 300 - 256);
    await client.drain();
    await until(() => gateway.tagged(8).length === 256, "the 256 frames in flight at the gateway");
  });
});

Deno.test("Relay rejects a client whose MAC another client of the room uses with duplicate_mac", async () => {
  await withRelay({}, async (t) => {
    await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    await assert.rejects(
      t.session("b", CLIENT_A_MAC, new Recorder("copy")),
      (err) => err instanceof NetkitError && /\(duplicate_mac\)/.test(err.message),
    );
    assert.deepEqual(t.relay.status().rejected, { duplicate_mac: 1 });
  });
});

Deno.test("Relay rejects a client beyond roomClients with room_full", async () => {
  await withRelay({ roomClients: 1 }, async (t) => {
    await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    await assert.rejects(
      t.session("b", CLIENT_B_MAC, new Recorder("b")),
      (err) => err instanceof NetkitError && /\(room_full\)/.test(err.message),
    );
    assert.deepEqual(t.relay.status().rejected, { room_full: 1 });
    assert.equal(peersOf(t.relay.status()).length, 2);
  });
});

Deno.test("Relay rejects a hello whose budget cannot carry the room's frames with mtu_too_small", async () => {
  await withRelay({}, async (t) => {
    await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    const small = await t.raw({ budget: 1000 });
    assert.equal(small.answer.type, "reject");
    assert.equal(small.answer.type === "reject" && small.answer.code, "mtu_too_small");
    await until(() => small.closeInfo !== null, "the rejected connection to close");
    assert.equal(small.closeInfo!.closeCode, CloseCode.REJECTED);
    assert.deepEqual(t.relay.status().rejected, { mtu_too_small: 1 });
  });
});

/** A frame of the room's largest size (BUDGET − 8 bytes), told apart by `tag`. */
function fullSize(dst: string, src: string, tag: number): Uint8Array {
  const payload = new Uint8Array(BUDGET - DATAGRAM_HEADER_LEN - 14);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + tag) & 0xff;
  payload[0] = tag;
  return ethernet(dst, src, EXPERIMENTAL, payload);
}

Deno.test("Relay and a session whose datagrams are small split full-size frames in two and join them, both ways", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    const a = new Recorder("a");
    const gatewaySession = await t.session("gateway", GATEWAY_MAC, gateway);
    // 800-byte datagrams: the room's 1392-byte frames fit only in two; a v1 peer is refused.
    const aSession = await t.session("a", CLIENT_A_MAC, a, 800);
    assert.equal(aSession.welcome!.fragments, true);
    const aId = aSession.welcome!.peer_id;

    const up = fullSize(LAN_HOST_MAC, CLIENT_A_MAC, 1);
    assert.ok(aSession.sendFrame(up));
    await until(() => gateway.tagged(1).length === 1, "the client's frame at the gateway");
    assert.deepEqual(gateway.tagged(1)[0]!.frame, up);
    assert.equal(gateway.tagged(1)[0]!.from, aId);

    const down = fullSize(CLIENT_A_MAC, GATEWAY_MAC, 2);
    assert.ok(gatewaySession.sendFrame(down));
    await until(() => a.tagged(2).length === 1, "the gateway's frame at the client");
    assert.deepEqual(a.tagged(2)[0]!.frame, down);

    // A frame that fits one datagram goes whole.
    aSession.sendFrame(plain(LAN_HOST_MAC, CLIENT_A_MAC, 3));
    await until(() => gateway.tagged(3).length === 1, "the small frame at the gateway");

    const peer = peersOf(t.relay.status()).find((p) => p.peer_id === aId)!;
    assert.equal(peer.fragments, true);
    assert.equal(peer.datagram_max, 800);
    assert.equal(peer.fragments_reassembled, 1);
    assert.equal(peer.frames_fragmented, 1);
    assert.equal(peer.datagrams_in, 3, "two fragments and one whole frame");
    assert.equal(aSession.counters.framesFragmented, 1);
    assert.equal(aSession.counters.fragmentsReassembled, 1);
    assert.equal(aSession.counters.framesFromRelay, 1);
    assert.equal(aSession.seqGaps, 0);
    // (The gateway's frames may have been split too: it joined before path MTU discovery
    // raised its connection's datagrams from 1162 to what loopback carries.)
    assert.deepEqual(t.relay.status().drops, {});
  });
});

Deno.test("Relay admits a peer that splits frames whatever its datagram size, and refuses a v1 peer that would need it", async () => {
  await withRelay({}, async (t) => {
    const v1 = await helloOutcome(t.address, { credential: t.credentials.b, budget: 1000 });
    assert.match(v1, /^mtu_too_small: .*carries 992 and this peer cannot split frames: update it/);
    const splits = await t.raw({ budget: 1000, fragments: true });
    assert.equal(splits.welcome.fragments, true);
    // Two datagrams of 704 bytes carry 1392: the least a peer may offer for this room.
    const tooSmall = await helloOutcome(t.address, {
      credential: t.credentials.c,
      mac: CLIENT_B_MAC,
      budget: 703,
      fragments: true,
    });
    assert.match(tooSmall, /^mtu_too_small: .*carries 1390 in two fragments: lower the room's MTU/);
    const whole = await t.raw({ credential: t.credentials.c!, mac: CLIENT_B_MAC });
    assert.equal(whole.welcome.fragments, false);
  });
});

Deno.test("Relay bounds what a peer's fragments make it hold and never joins a frame over the room's size", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.raw({ mac: CLIENT_A_MAC, budget: 1000, fragments: true });
    const id = client.welcome.peer_id;
    const tag = client.welcome.room_id & 0xffff;
    const fragment = (seq: number, flag: number, bytes: number, peer = id) => {
      const d = new Uint8Array(DATAGRAM_HEADER_LEN + bytes);
      writeDatagramHeader(d, peer, seq, tag, DatagramKind.FRAGMENT, flag);
      d.set(parseMac(LAN_HOST_MAC), DATAGRAM_HEADER_LEN);
      d.set(parseMac(CLIENT_A_MAC), DATAGRAM_HEADER_LEN + 6);
      return d;
    };
    // Endless first halves: four held at most, nothing forwarded, not a violation.
    for (let seq = 0; seq < 200; seq += 2) {
      client.sendDatagram(fragment(seq, FragmentFlag.FIRST, 900));
    }
    await until(
      () => (t.relay.status().drops.fragment_overflow ?? 0) === 96,
      "96 first halves evicted",
    );
    // Two halves adding up to more than the room's 1392 bytes: malformed, never joined.
    client.sendDatagram(fragment(1000, FragmentFlag.FIRST, 700));
    client.sendDatagram(fragment(1001, FragmentFlag.SECOND, 700));
    // A half claiming another peer's id.
    client.sendDatagram(fragment(1002, FragmentFlag.FIRST, 700, id + 1));
    await until(() => t.relay.status().drops.wrong_source_peer === 1, "the spoofed fragment");
    const peer = peersOf(t.relay.status()).find((p) => p.peer_id === id)!;
    assert.equal(peer.drops.fragment_oversize, 1);
    assert.equal(peer.malformed, 2);
    assert.equal(peer.fragments_reassembled, 0);
    assert.equal(peer.frames_forwarded, 0);
    assert.equal(gateway.frames.length, 0);
    assert.equal(client.closeInfo, null, "still connected: loss is no violation");
    // A real frame still gets through.
    client.sendInTwo(fullSize(LAN_HOST_MAC, CLIENT_A_MAC, 9));
    await until(() => gateway.tagged(9).length === 1, "the real frame at the gateway");
    assert.deepEqual(gateway.tagged(9)[0]!.frame, fullSize(LAN_HOST_MAC, CLIENT_A_MAC, 9));
  });
});

Deno.test("Relay treats a fragment from a peer that did not ask for them as malformed", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const v1 = await t.raw({ mac: CLIENT_A_MAC });
    v1.sendInTwo(fullSize(LAN_HOST_MAC, CLIENT_A_MAC, 1));
    await until(() => t.relay.status().drops.bad_kind === 2, "both halves malformed");
    assert.equal(gateway.frames.length, 0);
  });
});

Deno.test("Relay drops rogue DHCP servers, router advertisements, LLDP and STP from a client", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.raw({ mac: CLIENT_A_MAC });
    client.sendFrame(dhcpOffer(CLIENT_A_MAC));
    client.sendFrame(routerAdvertisement(CLIENT_A_MAC));
    client.sendFrame(lldp(CLIENT_A_MAC));
    client.sendFrame(stpBpdu(CLIENT_A_MAC));
    client.sendFrame(plain(BROADCAST, CLIENT_A_MAC, 7));
    await until(() => {
      const drops = t.relay.status().drops;
      return drops.rogue_dhcp_server === 1 && drops.rogue_router_advertisement === 1 &&
        drops.l2_control === 2 && gateway.tagged(7).length === 1;
    }, "four safety drops and the harmless frame");
    assert.equal(gateway.frames.length, 1);
    const [gatewayStatus, clientStatus] = peersOf(t.relay.status());
    assert.equal(gatewayStatus?.frames_out, 1);
    assert.deepEqual(clientStatus?.drops, {
      rogue_dhcp_server: 1,
      rogue_router_advertisement: 1,
      l2_control: 2,
    });
    assert.equal(clientStatus?.malformed, 0);
    assert.equal(client.closeInfo, null, "safety drops do not disconnect");
  });
});

Deno.test("Relay disconnects a client after malformedLimit malformed or spoofed datagrams", async () => {
  await withRelay({ malformedLimit: 5 }, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.raw({ mac: CLIENT_A_MAC });
    const peerId = client.welcome.peer_id;
    const good = plain(BROADCAST, CLIENT_A_MAC, 8);
    client.sendDatagram(new Uint8Array(10)); // runt
    client.sendDatagram(new Uint8Array(DATAGRAM_HEADER_LEN + 13)); // runt by one byte
    client.sendFrame(good, { roomTag: (client.welcome.room_id + 1) & 0xffff });
    client.sendFrame(plain(BROADCAST, "02:00:00:00:00:77", 8)); // spoofed source MAC
    await until(() => {
      const drops = t.relay.status().drops;
      return drops.runt === 2 && drops.wrong_room === 1 && drops.unauthorized_source_mac === 1;
    }, "four violations counted");
    const clientStatus = peersOf(t.relay.status()).find((p) => p.peer_id === peerId);
    assert.equal(clientStatus?.malformed, 3);
    assert.equal(clientStatus?.state, "active");
    assert.equal(client.closeInfo, null, "still connected below the limit");
    assert.equal(gateway.frames.length, 0);

    client.sendFrame(good, { peerId: peerId + 1 }); // the fifth: wrong source peer
    await until(() => client.closeInfo !== null, "the relay to close the connection");
    assert.equal(client.closeInfo!.closeCode, CloseCode.MALFORMED_THRESHOLD);
    await until(() => gateway.left.length === 1, "peer_left at the gateway");
    assert.deepEqual(gateway.left.map((e) => [e.peer_id, e.reason]), [[peerId, "malformed"]]);
    assert.equal(t.relay.status().drops.wrong_source_peer, 1);
    assert.deepEqual(peersOf(t.relay.status()).map((p) => p.role), ["gateway"]);
  });
});

Deno.test("Relay tells the gateway a client left with disconnect when it closes gracefully", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    const peerId = client.welcome!.peer_id;
    assert.equal(peersOf(t.relay.status()).length, 2);
    await client.close("signal", "bye");
    await until(() => gateway.left.length === 1, "peer_left at the gateway");
    assert.deepEqual(gateway.left.map((e) => [e.peer_id, e.reason]), [[peerId, "disconnect"]]);
    assert.deepEqual(peersOf(t.relay.status()).map((p) => p.role), ["gateway"]);
  });
});

Deno.test("Relay resumes a client on a new connection with its token: same peer id, old connection replaced, no peer_left", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const first = await t.raw({ mac: CLIENT_A_MAC });
    await until(() => gateway.joined.length === 1, "peer_joined at the gateway");
    const second = await t.raw({ mac: CLIENT_A_MAC, resume: first.welcome.resume });
    assert.equal(second.welcome.peer_id, first.welcome.peer_id);
    assert.equal(second.welcome.resumed, true);
    assert.equal(second.welcome.room_id, first.welcome.room_id);
    await until(() => first.closeInfo !== null, "the first connection to close");
    assert.equal(first.closeInfo!.closeCode, CloseCode.REPLACED);
    // The resumed connection carries frames.
    second.sendFrame(plain(BROADCAST, CLIENT_A_MAC, 9));
    await until(() => gateway.tagged(9).length === 1, "a frame over the resumed connection");
    assert.equal(gateway.tagged(9)[0]!.from, first.welcome.peer_id);
    assert.equal(gateway.left.length, 0);
    assert.equal(gateway.joined.length, 1);
    assert.deepEqual(peersOf(t.relay.status()).map((p) => [p.role, p.state]), [
      ["gateway", "active"],
      ["client", "active"],
    ]);
  });
});

Deno.test("Relay holds a lost client away for the resume window, then tells the gateway it timed out", async () => {
  await withRelay({ resumeWindowMs: 300 }, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.raw({ mac: CLIENT_A_MAC });
    const peerId = client.welcome.peer_id;
    await client.close(CloseCode.PROTOCOL_VIOLATION, "gone");
    await until(
      () => peersOf(t.relay.status()).find((p) => p.peer_id === peerId)?.state === "away",
      "the client to be away",
    );
    assert.equal(gateway.left.length, 0, "no peer_left while away");
    await until(() => gateway.left.length === 1, "peer_left at the gateway", 3000);
    assert.deepEqual(gateway.left.map((e) => [e.peer_id, e.reason]), [[peerId, "timeout"]]);
    assert.deepEqual(peersOf(t.relay.status()).map((p) => p.role), ["gateway"]);
  });
});

Deno.test("Relay limits a client's broadcasts to its burst and counts broadcast_rate", async () => {
  await withRelay({ bcastPps: 10, bcastBurst: 5 }, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    for (let i = 0; i < 20; i++) client.sendFrame(plain(BROADCAST, CLIENT_A_MAC, 10));
    await until(
      () => gateway.tagged(10).length + (t.relay.status().drops.broadcast_rate ?? 0) === 20,
      "20 broadcasts forwarded or dropped",
    );
    const received = gateway.tagged(10).length;
    assert.ok(received === 5 || received === 6, `the gateway received ${received}`);
    assert.equal(t.relay.status().drops.broadcast_rate, 20 - received);
  });
});

Deno.test("Relay shutdown closes its peers with code shutdown; a session keeps trying to reconnect and still closes cleanly", async () => {
  await withRelay({}, async (t) => {
    const events = new Recorder("client");
    const session = await t.session("a", CLIENT_A_MAC, events);
    const raw = await t.raw({ mac: CLIENT_B_MAC, credential: t.credentials.b! });
    using attempts = spyConnectQuic();
    await t.relay.close();
    await until(() => raw.closeInfo !== null, "the raw peer's connection to close");
    assert.equal(raw.closeInfo!.closeCode, CloseCode.SHUTDOWN);
    // The disconnect message races the close; either tells the session why.
    await until(() => events.lostReasons.length === 1, "the session to notice");
    assert.match(events.lostReasons[0]!, /\(shutdown\)|code 8: shutdown/);
    assert.equal(session.welcome, null);
    assert.equal(session.sendFrame(plain(BROADCAST, CLIENT_A_MAC, 11)), false);
    assert.equal(session.drops.get("relay_down"), 1);
    // The first reconnect comes within the first backoff step (0.5 s) and fails at once: Deno's
    // closed endpoint keeps its UDP port (the port cannot be bound again in this process) and
    // refuses new connections.
    await until(() => attempts.calls >= 1, "a reconnect attempt", 2000);
    const started = performance.now();
    await session.close();
    assert.ok(performance.now() - started < 1000, "close() does not wait for a reconnect");
    assert.equal(session.welcome, null);
    assert.equal(session.counters.reconnects, 0);
    assert.equal(events.welcomes.length, 1);
  });
});

Deno.test("RelaySession closed while it reconnects leaves the room instead of keeping the new connection", async () => {
  await withRelay({ malformedLimit: 1 }, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const events = new Recorder("client");
    const session = await t.session("a", CLIENT_A_MAC, events);
    const firstId = session.welcome!.peer_id;
    let closing: Promise<void> | undefined;
    using _attempts = spyConnectQuic(() => closing ??= session.close());
    // A spoofed source MAC over the limit: the relay cuts the session off, and it reconnects.
    session.sendFrame(plain(BROADCAST, "02:00:00:00:00:77", 12));
    await until(() => events.lostReasons.length === 1, "the session to be cut off");
    assert.match(events.lostReasons[0]!, /code 3/);
    await until(() => closing !== undefined, "a reconnect attempt", 2000);
    await closing;
    assert.equal(session.welcome, null);
    // Whatever the reconnect got, the relay must not keep the client.
    await until(
      () => peersOf(t.relay.status()).every((p) => p.role === "gateway"),
      "the client gone from the relay",
    );
    // If the reconnect was admitted, the client left again with disconnect, not by timing out.
    await until(() => gateway.left.length === gateway.joined.length, "peer_left for every join");
    assert.deepEqual(
      gateway.left.map((e) => [e.peer_id, e.reason]),
      gateway.joined.map((e, i) => [e.peer_id, i === 0 ? "malformed" : "disconnect"]),
    );
    assert.equal(gateway.left[0]!.peer_id, firstId);
  });
});

/**
 * An ARP request (or, with sender = target, a gratuitous ARP) from `mac` claiming `ip`; `sender`
 * is the ARP sender hardware address (default `mac`).
 */
function arp(
  mac: string,
  ip: readonly number[],
  target: readonly number[],
  sender = mac,
): Uint8Array {
  return ethernet(BROADCAST, mac, 0x0806, [
    0,
    1,
    8,
    0,
    6,
    4,
    0,
    1, // Ethernet/IPv4, request
    ...parseMac(sender),
    ...ip,
    0,
    0,
    0,
    0,
    0,
    0,
    ...target,
  ]);
}

/**
 * Opens the control stream of `conn` and sends a hello: client A's unless `hello` says otherwise
 * (its fields may be anything, to test what the relay does with them).
 */
async function sayHello(
  conn: Deno.QuicConn,
  hello: Record<string, unknown>,
): Promise<{ reader: ControlReader; writer: ControlWriter }> {
  conn.closed.catch(() => {});
  const stream = await conn.createBidirectionalStream();
  const reader = new ControlReader(stream.readable);
  const writer = new ControlWriter(stream.writable);
  const message = { v: 1, type: "hello", role: "client", mac: CLIENT_A_MAC, budget: BUDGET };
  await writer.send({ ...message, sw: "netkit/test", ...hello } as unknown as Hello);
  return { reader, writer };
}

/** A hello's answer, or the code the connection closed with when there was none. */
async function helloOutcome(
  address: RelayAddress,
  hello: Record<string, unknown>,
): Promise<string> {
  const conn = await connectRaw(address);
  try {
    const { reader } = await sayHello(conn, hello);
    const answer = await reader.read().catch(() => null);
    if (answer?.type === "reject") return `${answer.code}: ${answer.reason}`;
    if (answer !== null) return answer.type;
    return `closed ${(await conn.closed.catch(() => null))?.closeCode}`;
  } finally {
    conn.close();
  }
}

Deno.test("Relay refuses a stranger alike whether the room, the name or the secret is wrong, and a client credential as the gateway", async () => {
  await withRelay({}, async (t) => {
    const real = t.credentials.a!;
    const secret = real.slice(real.lastIndexOf(":") + 1);
    const other = t.credentials.b!.slice(t.credentials.b!.lastIndexOf(":") + 1);
    const refused = "unauthorized: Unknown room or invalid credential";
    assert.equal(await helloOutcome(t.address, { credential: `nk1:${ROOM}:a:${other}` }), refused);
    assert.equal(await helloOutcome(t.address, { credential: `nk1:NOSUCH:a:${secret}` }), refused);
    assert.equal(
      await helloOutcome(t.address, { credential: `nk1:${ROOM}:zed:${secret}` }),
      refused,
    );
    assert.equal(
      await helloOutcome(t.address, { role: "gateway", mac: GATEWAY_MAC, credential: real }),
      refused,
    );
    // No credential at all is not even a valid hello.
    assert.equal(
      await helloOutcome(t.address, {}),
      `closed ${CloseCode.PROTOCOL_VIOLATION}`,
    );
    const status = t.relay.status();
    assert.equal(status.auth_failures, 4);
    assert.deepEqual(status.rejected, { unauthorized: 4 });
    assert.deepEqual(peersOf(status), []);
    // The real gateway is not squatted: it joins.
    await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    assert.deepEqual(peersOf(t.relay.status()).map((p) => [p.role, p.credential]), [
      ["gateway", "gateway"],
    ]);
  });
});

Deno.test("Relay refuses an address that failed authentication too often, before it says anything", async () => {
  await withRelay({ authFailuresPerMinute: 3 }, async (t) => {
    const wrong = `nk1:${ROOM}:a:${"A".repeat(43)}`;
    for (let i = 0; i < 3; i++) {
      assert.match(await helloOutcome(t.address, { credential: wrong }), /^unauthorized/);
    }
    // Over its budget the address is cut off, even with a good credential.
    assert.equal(
      await helloOutcome(t.address, { credential: t.credentials.a! }),
      `closed ${CloseCode.RATE_LIMITED}`,
    );
    const status = t.relay.status();
    assert.equal(status.auth_failures, 3);
    assert.deepEqual(status.refused, { auth_failures: 1 });
    await until(() => t.relay.status().connections === 0, "every connection closed");
  });
});

Deno.test("Relay bounds connections per address and in total, and closes one that never says hello", async () => {
  await withRelay(
    { maxConnectionsPerSource: 2, maxConnections: 3, handshakeTimeoutMs: 400 },
    async (t) => {
      const first = await connectRaw(t.address);
      const second = await connectRaw(t.address);
      first.closed.catch(() => {});
      second.closed.catch(() => {});
      const third = await connectRaw(t.address);
      const thirdClosed = await third.closed.catch(() => null);
      assert.equal(thirdClosed?.closeCode, CloseCode.RATE_LIMITED);
      assert.deepEqual(t.relay.status().refused, { connections_per_source: 1 });
      // Neither of the first two ever opens its control stream: both are closed in time.
      const started = performance.now();
      await Promise.all([first.closed.catch(() => {}), second.closed.catch(() => {})]);
      assert.ok(performance.now() - started < 2000, "closed after the handshake timeout");
      await until(() => t.relay.status().connections === 0, "no connection left");
      // A legitimate peer is unaffected afterwards.
      await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    },
  );
});

Deno.test("Relay refuses connections over its total before their handshake", async () => {
  await withRelay({ maxConnections: 1 }, async (t) => {
    const held = await connectRaw(t.address);
    held.closed.catch(() => {});
    await assert.rejects(connectRaw(t.address), /refused/);
    assert.deepEqual(t.relay.status().refused, { connections: 1 });
    held.close();
  });
});

Deno.test("Relay lets a restarted client's new session replace its old one at once, and a MAC alone resumes nothing", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    const first = await t.raw({ mac: CLIENT_A_MAC });
    // Another client's credential with the first one's MAC and token gets nothing of it.
    const thief = await t.raw({
      mac: CLIENT_A_MAC,
      credential: t.credentials.b!,
      resume: first.welcome.resume,
    });
    assert.equal(thief.answer.type === "reject" && thief.answer.code, "duplicate_mac");
    // The same client, restarted without its token: welcomed at once, the old session closed.
    const again = await t.raw({ mac: CLIENT_A_MAC });
    assert.equal(again.welcome.resumed, false);
    await until(() => first.closeInfo !== null, "the old connection to close");
    assert.equal(first.closeInfo!.closeCode, CloseCode.REPLACED);
    await until(() => gateway.left.length === 1 && gateway.joined.length === 2, "the handover");
    assert.deepEqual(gateway.left.map((e) => [e.peer_id, e.reason]), [
      [first.welcome.peer_id, "replaced"],
    ]);
    assert.equal(gateway.joined[1]!.peer_id, again.welcome.peer_id);
    assert.deepEqual(peersOf(t.relay.status()).map((p) => [p.credential, p.state]), [
      ["gateway", "active"],
      ["a", "active"],
    ]);
  });
});

Deno.test("Relay disconnects a peer whose credential the operator revokes or rotates, within a second or two", async () => {
  await withRelay({ roomsFile: true }, async (t) => {
    const gateway = new Recorder("gateway");
    const gatewaySession = await t.session("gateway", GATEWAY_MAC, gateway);
    const client = await t.raw({ mac: CLIENT_A_MAC });
    await editRoomsFile(t.roomsFile, (config) => {
      removeClient(config, ROOM, "a");
      return Promise.resolve();
    });
    await until(() => client.closeInfo !== null, "the revoked client to be closed", 4000);
    assert.equal(client.closeInfo!.closeCode, CloseCode.REVOKED);
    await until(() => gateway.left.length === 1, "peer_left at the gateway");
    assert.equal(gateway.left[0]!.reason, "revoked");
    assert.match(
      await helloOutcome(t.address, { credential: t.credentials.a! }),
      /^unauthorized/,
    );
    // Rotating the gateway's credential ends its session for good.
    await editRoomsFile(t.roomsFile, (config) => rotateCredential(config, ROOM));
    const reason = await withTimeout(gatewaySession.ended, 8000, "the session to give up");
    assert.match(reason, /refused our credential/);
    assert.deepEqual(peersOf(t.relay.status()), []);
    assert.equal(t.relay.status().rooms_file?.error, null);
    // A rooms file that vanishes is a mistake: the relay keeps its rooms and says why.
    const b = await t.session("b", CLIENT_B_MAC, new Recorder("b"));
    await Deno.remove(t.roomsFile);
    await until(() => t.relay.status().rooms_file?.error !== null, "the reload error", 4000);
    assert.match(t.relay.status().rooms_file!.error!, /is gone/);
    assert.equal(b.welcome?.peer_id, peersOf(t.relay.status())[0]?.peer_id);
  });
});

Deno.test("Relay drops ARP from a client claiming an address not configured or leased for it", async () => {
  await withRelay({}, async (t) => {
    const gateway = new Recorder("gateway");
    await t.session("gateway", GATEWAY_MAC, gateway);
    // Client b has no address configured and no lease.
    const client = await t.raw({ mac: CLIENT_B_MAC, credential: t.credentials.b! });
    client.sendFrame(arp(CLIENT_B_MAC, [10, 0, 0, 9], [10, 0, 0, 9])); // gratuitous, poisoning
    client.sendFrame(arp(CLIENT_B_MAC, [0, 0, 0, 0], [10, 0, 0, 1], CLIENT_A_MAC)); // forged
    client.sendFrame(arp(CLIENT_B_MAC, [0, 0, 0, 0], [10, 0, 0, 1])); // a probe is fine
    await until(() => {
      const drops = t.relay.status().drops;
      return drops.arp_sender_ip === 1 && drops.arp_sender_mac === 1 && gateway.frames.length === 1;
    }, "two ARP drops and the probe forwarded");
    assert.deepEqual([...gateway.frames[0]!.frame.subarray(28, 32)], [0, 0, 0, 0]);
    assert.equal(client.closeInfo, null, "ARP drops do not disconnect");
  });
});

Deno.test("RelaySession accepts only the pinned certificate, even when the system's roots trust another one for the relay's name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-pin-test-" });
  try {
    const pinned = await writeDevCerts(`${dir}/pinned`);
    const evil = await writeDevCerts(`${dir}/evil`);
    const { rooms, credentials } = await testRooms();
    await using relay = await Relay.start({
      hostname: "127.0.0.1",
      port: 0,
      ...(await loadServerIdentity(evil.cert, evil.key)),
      rooms,
    });
    // A child process whose root store is exactly the impostor's CA, as a public CA would be.
    const script = `${dir}/connect.ts`;
    await Deno.writeTextFile(
      script,
      `import { RelaySession } from ${JSON.stringify(import.meta.resolve("./relay_session.ts"))};
const address = { hostname: "127.0.0.1", port: ${relay.addr.port}, serverName: "${DEV_SERVER_NAME}" };
const ca = await Deno.connectQuic({ ...address, alpnProtocols: ["${ALPN}"],
  caCerts: [Deno.readTextFileSync(${JSON.stringify(pinned.pin)})] }).then(
  (c) => { c.close(); return "connected"; }, (e) => "refused: " + e.message);
const pin = await RelaySession.connect({
  relay: { ...address, pin: Deno.readTextFileSync(${JSON.stringify(pinned.pin)}) },
  role: "client", credential: ${JSON.stringify(credentials.a)},
  mac: new Uint8Array([2, 0, 0, 0, 0, 1]), budget: ${BUDGET},
}, { welcome() {}, peerJoined() {}, peerLeft() {}, frame() {}, lost() {} }).then(
  async (s) => { await s.close(); return "connected"; }, (e) => "refused: " + e.message);
console.log(JSON.stringify({ ca, pin }));
Deno.exit(0);
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--cached-only",
        "--frozen",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        script,
      ],
      env: { DENO_TLS_CA_STORE: "system", SSL_CERT_FILE: evil.caCert },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout).trim();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    const result = JSON.parse(text) as { ca: string; pin: string };
    // The control: pinning by caCerts, the impostor passes through the trusted store.
    assert.equal(result.ca, "connected");
    assert.match(result.pin, /^refused: .*does not present the pinned certificate/);
    assert.equal(relay.status().peers_total, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A `stats` message with `frames_to_relay` set and every other counter 0. */
function statsMessage(framesToRelay: number, extra: Record<string, unknown> = {}): ControlMessage {
  return {
    v: 1,
    type: "stats",
    frames_to_relay: framesToRelay,
    frames_from_relay: 0,
    datagrams_in: 0,
    bytes_to_relay: 0,
    bytes_from_relay: 0,
    malformed: 0,
    seq_gaps: 0,
    dropped: {},
    ...extra,
  } as ControlMessage;
}

Deno.test("Relay status asks each peer for its counters: a session answers at once, a peer that ignores the request shows its last report after the bound", async () => {
  await withRelay({}, async (t) => {
    const session = await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    session.ownerCounters = { lanFrames: 7, name: "not a number" };
    // An older peer: it reads stats_request as an unknown type, and answers nothing.
    const silent = await t.raw({ mac: CLIENT_A_MAC });
    const silentId = silent.welcome.peer_id;
    await silent.writer.send(statsMessage(3));
    await until(
      () => peersOf(t.relay.status()).find((p) => p.peer_id === silentId)?.reported !== null,
      "the silent peer's periodic report",
    );
    for (let tag = 1; tag <= 5; tag++) session.sendFrame(plain(BROADCAST, GATEWAY_MAC, tag));

    const started = performance.now();
    const status = await t.relay.freshStatus(300);
    const took = performance.now() - started;
    const [gateway, client] = peersOf(status);
    assert.equal(gateway!.reported_fresh, true);
    assert.equal(gateway!.reported!.frames_to_relay, 5, "the frames sent just before");
    assert.deepEqual(gateway!.reported!.counters, { lan_frames: 7 });
    assert.ok(gateway!.reported_age_ms! <= took + 1, "the answer came during this status");
    assert.equal(client!.reported_fresh, false);
    assert.equal(client!.reported!.frames_to_relay, 3, "its last report");
    assert.ok(client!.reported_age_ms! >= 250, `age ${client!.reported_age_ms}`);
    // Waited for the silent one, but not much longer than the bound.
    assert.ok(took >= 250 && took < 2000, `status took ${Math.round(took)} ms`);
    const request = silent.messages.find((m) => m.type === "stats_request");
    assert.ok(request !== undefined, "the silent peer was asked");
    assert.ok(!("seq" in request), "unnumbered: an older peer sees no gap");
    // The older peer was not disturbed: still connected, still active.
    assert.equal(silent.closeInfo, null);
    assert.equal(peersOf(t.relay.status())[1]!.state, "active");
  });
});

Deno.test("Relay ignores and counts stats that answer no request, and reads a flooding peer's control stream only as fast as its budget", async () => {
  await withRelay({}, async (t) => {
    const raw = await t.raw();
    const peerId = raw.welcome.peer_id;
    const peer = () => peersOf(t.relay.status()).find((p) => p.peer_id === peerId)!;
    await raw.writer.send(statsMessage(99, { id: 12345 }));
    await until(() => peer().control_ignored.unsolicited_stats === 1, "the unsolicited stats");
    assert.equal(peer().reported, null, "an answer to nothing is not kept");
    // 300 pings at once: the relay answers its burst and then about 20 a second, not all.
    const flood = 300;
    await Promise.all(
      Array.from(
        { length: flood },
        (_, nonce) => raw.writer.send({ v: 1, type: "ping", nonce, t: 0 }),
      ),
    );
    await until(() => (peer().control_ignored.rate ?? 0) > 0, "messages over the budget");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pongs = raw.messages.filter((m) => m.type === "pong").length;
    assert.ok(pongs > 0 && pongs < flood, `${pongs} pongs for ${flood} pings`);
    assert.equal(t.relay.status().control_ignored.rate, peer().control_ignored.rate);
    // The flooding peer stays connected, and the relay still answers status for it promptly.
    const status = await t.relay.freshStatus(300);
    assert.equal(peersOf(status)[0]!.state, "active");
    assert.equal(raw.closeInfo, null);
  });
});

Deno.test("Relay status shows an away peer's hold counting down and the counters of the connection it lost", async () => {
  await withRelay({ resumeWindowMs: 10_000 }, async (t) => {
    const client = await t.raw({ mac: CLIENT_A_MAC });
    const peerId = client.welcome.peer_id;
    await client.writer.send(statsMessage(4));
    const peer = (status: RelayStatus) => peersOf(status).find((p) => p.peer_id === peerId)!;
    await until(() => peer(t.relay.status()).reported !== null, "its report");
    const active = peer(t.relay.status());
    assert.equal(active.away_ms, null);
    assert.equal(active.hold_remaining_ms, null);
    await client.close(CloseCode.PROTOCOL_VIOLATION, "gone");
    await until(() => peer(t.relay.status()).state === "away", "the client to be away");
    const first = peer(await t.relay.freshStatus(300));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = peer(t.relay.status());
    assert.equal(first.connected_ms, 0);
    assert.ok(first.hold_remaining_ms! <= 10_000 && first.hold_remaining_ms! > 5000);
    assert.ok(second.hold_remaining_ms! < first.hold_remaining_ms!, "the hold counts down");
    assert.ok(second.away_ms! > first.away_ms!);
    assert.equal(first.reported_fresh, false, "an away peer is not asked");
    assert.equal(first.reported!.frames_to_relay, 4, "its last report stays");
    assert.ok(second.reported_age_ms! > first.reported_age_ms!);
  });
});

Deno.test("RelaySession says whether the room has a gateway, its state and how long it has been connected", async () => {
  await withRelay({}, async (t) => {
    const client = await t.session("a", CLIENT_A_MAC, new Recorder("a"));
    assert.equal(client.state, "connected");
    assert.equal(client.gatewayPeer, null);
    assert.equal(client.room, ROOM);
    assert.equal(client.relayAddress, `127.0.0.1:${t.address.port}`);
    const connected = client.connectedMs!;
    const gateway = await t.session("gateway", GATEWAY_MAC, new Recorder("gateway"));
    await until(() => client.gatewayPeer === gateway.welcome!.peer_id, "the gateway's arrival");
    assert.ok(client.connectedMs! > connected);
    await gateway.close();
    await until(() => client.gatewayPeer === null, "the gateway's departure");
    await client.close();
    assert.equal(client.state, "closed");
    assert.equal(client.connectedMs, null);
  });
});
