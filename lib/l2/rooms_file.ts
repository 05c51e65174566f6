/**
 * The relay's rooms file: which rooms exist, each room's MTU and address guard, and the hashes
 * of its credentials (one gateway credential, any number of named client credentials, each
 * revocable). The operator edits it with `netkit relay room ...`; a running relay rereads it
 * when it changes, so a revoked credential ends its session within a second.
 *
 * The file is JSON, written atomically with mode 0600. It decides who may reach a LAN, so a
 * relay refuses one that others could have written (see {@linkcode readRoomsFile}).
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import { errorMessage, InvalidInputError, NetkitError } from "../errors.ts";
import { summarizeIssues } from "../ipc/mod.ts";
import {
  ensurePrivateDir,
  isNotFound,
  readCheckedFile,
  writeFileAtomic,
} from "../net/safe_file.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";
import { exactly } from "../zod_exact.ts";
import { CREDENTIAL_NAME, GATEWAY_CREDENTIAL, newCredential, ROOM_CODE } from "./credentials.ts";

// In the relay's contract (the --rooms default), so `relay status` need not load this module.
export { DEFAULT_ROOMS_FILE } from "./relay_client.ts";
/** The TAP MTU of a room whose operator did not choose one: 1392 fits a 1500-byte IPv4 path. */
export const DEFAULT_TAP_MTU = 1392;
/** Smallest room TAP MTU: IPv4's minimum datagram. */
export const MIN_TAP_MTU = 576;
/** Largest room TAP MTU: a QUIC datagram cannot exceed 65,535 bytes with our header. */
export const MAX_TAP_MTU = 65535 - 8 - 14;
/** Most credentials (gateway included) in one room. */
export const MAX_ROOM_CREDENTIALS = 1024;
/** Most addresses configured for one client. */
export const MAX_CLIENT_ADDRESSES = 16;
/**
 * The most a rooms file may hold: every room's credentials at their limit, each a name, a hash
 * and addresses, stay far below it. The relay rereads the file as root every second.
 */
export const MAX_ROOMS_FILE_BYTES = 16 * 1024 * 1024;

const Address = z.string().refine((text) => isIpAddress(text), {
  message: "Expected an IPv4 or IPv6 address",
});

/** One credential as the rooms file keeps it: never the secret, only its hash. */
export interface CredentialConfig {
  /** Unique in the room; `"gateway"` is the gateway's, every other name a client's. */
  name: string;
  /** Whose it is: follows from the name. */
  role: "gateway" | "client";
  /** `sha256:` and 64 lowercase hex digits: the hash of the credential's secret. */
  hash: string;
  /** Addresses the client may claim besides DHCP leases (the address guard), at most 16. */
  addresses: string[];
  /** When it was issued or last rotated (ISO 8601, UTC). */
  created: string;
}
const CredentialConfigSchema = exactly<CredentialConfig>()(z.object({
  name: z.string().regex(CREDENTIAL_NAME),
  role: z.enum(["gateway", "client"]),
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  addresses: z.array(Address).max(MAX_CLIENT_ADDRESSES),
  created: z.string(),
}));

/** One room as the rooms file keeps it. */
export interface RoomConfig {
  /** The room's code (what credentials start with after `nk1:`). */
  room: string;
  /** MTU of the TAP devices of its clients, {@linkcode MIN_TAP_MTU} to {@linkcode MAX_TAP_MTU}. */
  tap_mtu: number;
  /** Whether the relay checks the addresses its peers claim (ARP, NDP, DHCP). */
  address_guard: boolean;
  /** Its credentials, names unique, at most {@linkcode MAX_ROOM_CREDENTIALS}. */
  credentials: CredentialConfig[];
}
const RoomConfigSchema = exactly<RoomConfig>()(
  z.object({
    room: z.string().regex(ROOM_CODE),
    tap_mtu: z.number().int().min(MIN_TAP_MTU).max(MAX_TAP_MTU),
    address_guard: z.boolean(),
    credentials: z.array(CredentialConfigSchema).max(MAX_ROOM_CREDENTIALS),
  }).superRefine((room, ctx) => {
    const names = new Set<string>();
    for (const [i, credential] of room.credentials.entries()) {
      if (names.has(credential.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["credentials", i, "name"],
          message: `Duplicate credential "${credential.name}"`,
          input: credential.name,
        });
      }
      names.add(credential.name);
      if ((credential.name === GATEWAY_CREDENTIAL) !== (credential.role === "gateway")) {
        ctx.addIssue({
          code: "custom",
          path: ["credentials", i, "role"],
          message: `Only the credential named "${GATEWAY_CREDENTIAL}" is a gateway's`,
          input: credential.role,
        });
      }
    }
  }),
);

/** The whole rooms file. */
export interface RoomsConfig {
  /** The file format's version. */
  version: 1;
  /** Every room, codes unique. */
  rooms: RoomConfig[];
}
const RoomsConfigSchema = exactly<RoomsConfig>()(
  z.object({
    version: z.literal(1),
    rooms: z.array(RoomConfigSchema),
  }).superRefine((config, ctx) => {
    const codes = new Set<string>();
    for (const [i, room] of config.rooms.entries()) {
      if (codes.has(room.room)) {
        ctx.addIssue({
          code: "custom",
          path: ["rooms", i, "room"],
          message: `Duplicate room "${room.room}"`,
          input: room.room,
        });
      }
      codes.add(room.room);
    }
  }),
);

function isIpAddress(text: string): boolean {
  for (const parse of [parseIpv4, parseIpv6]) {
    try {
      parse(text);
      return true;
    } catch {
      // try the other family
    }
  }
  return false;
}

/** An empty rooms file. */
export function emptyRooms(): RoomsConfig {
  return { version: 1, rooms: [] };
}

/**
 * Reads and validates the rooms file; a missing file is an empty one. Refuses (NetkitError) a
 * symbolic link, a file owned by another user than netkit's, or one that group or others may
 * write: whoever can write it decides who joins the LAN.
 */
export function readRoomsFile(path: string): RoomsConfig {
  let text: string;
  try {
    text = new TextDecoder().decode(
      readCheckedFile(path, {
        what: "rooms file",
        forbiddenModeBits: 0o022,
        maxBytes: MAX_ROOMS_FILE_BYTES,
      }),
    );
  } catch (err) {
    if (isNotFound(err)) return emptyRooms();
    if (err instanceof NetkitError) throw err;
    throw new NetkitError(`Cannot read the rooms file "${path}": ${errorMessage(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new NetkitError(`The rooms file "${path}" is not JSON: ${errorMessage(err)}`);
  }
  const parsed = RoomsConfigSchema.safeParse(value);
  if (!parsed.success) {
    throw new NetkitError(
      `The rooms file "${path}" is invalid: ${summarizeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data;
}

/**
 * Applies `edit` to the rooms file under an exclusive lock on its directory (so two edits
 * never lose one another) and writes the result atomically (mode 0600). The directory is made
 * private (0700) when missing, and refused when others could write it. Returns what `edit`
 * returns.
 */
export async function editRoomsFile<T>(
  path: string,
  edit: (config: RoomsConfig) => Promise<T>,
): Promise<T> {
  const slash = path.lastIndexOf("/");
  const dir = slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash);
  ensurePrivateDir(dir, "rooms file directory");
  using lock = await Deno.open(dir, { read: true });
  await lock.lock(true);
  const config = readRoomsFile(path);
  const result = await edit(config);
  writeFileAtomic(path, JSON.stringify(config, null, 2) + "\n", {
    what: "rooms file",
    mode: 0o600,
  });
  return result;
}

/** Options of a new room. */
export interface NewRoomOptions {
  /** TAP MTU of its clients (default {@linkcode DEFAULT_TAP_MTU}). */
  tapMtu?: number;
  /** Check the addresses peers claim (default true). */
  addressGuard?: boolean;
}

function findRoom(config: RoomsConfig, code: string): RoomConfig {
  const room = config.rooms.find((r) => r.room === code);
  if (room === undefined) throw new NetkitError(`No room "${code}" (see netkit relay room list)`);
  return room;
}

function checkName(name: string): void {
  if (!CREDENTIAL_NAME.test(name)) {
    throw new InvalidInputError(
      `Invalid credential name "${name}": expected 1 to 32 lower-case letters, digits, - or _`,
    );
  }
}

/** Adds room `code` with its gateway credential; returns the credential text. */
export async function addRoom(
  config: RoomsConfig,
  code: string,
  options: NewRoomOptions = {},
): Promise<string> {
  if (!ROOM_CODE.test(code)) {
    throw new InvalidInputError(
      `Invalid room "${code}": expected 4 to 16 characters, capital letters and digits`,
    );
  }
  if (config.rooms.some((r) => r.room === code)) {
    throw new NetkitError(
      `Room "${code}" exists: rotate its credentials with netkit relay room rotate`,
    );
  }
  const gateway = await newCredential(code, GATEWAY_CREDENTIAL);
  config.rooms.push({
    room: code,
    tap_mtu: options.tapMtu ?? DEFAULT_TAP_MTU,
    address_guard: options.addressGuard ?? true,
    credentials: [{
      name: GATEWAY_CREDENTIAL,
      role: "gateway",
      hash: gateway.hash,
      addresses: [],
      created: new Date().toISOString(),
    }],
  });
  return gateway.text;
}

/** Removes room `code` and every credential of it. */
export function removeRoom(config: RoomsConfig, code: string): void {
  findRoom(config, code);
  config.rooms = config.rooms.filter((r) => r.room !== code);
}

/** Adds client credential `name` to room `code`; returns the credential text. */
export async function addClient(
  config: RoomsConfig,
  code: string,
  name: string,
  addresses: readonly string[] = [],
): Promise<string> {
  const room = findRoom(config, code);
  checkName(name);
  if (name === GATEWAY_CREDENTIAL) {
    throw new InvalidInputError(`"${GATEWAY_CREDENTIAL}" names the room's gateway credential`);
  }
  if (room.credentials.some((c) => c.name === name)) {
    throw new NetkitError(`Room "${code}" has a client "${name}": rotate it, or remove it first`);
  }
  if (room.credentials.length >= MAX_ROOM_CREDENTIALS) {
    throw new NetkitError(`Room "${code}" has ${MAX_ROOM_CREDENTIALS} credentials, the most`);
  }
  if (addresses.length > MAX_CLIENT_ADDRESSES) {
    throw new InvalidInputError(`At most ${MAX_CLIENT_ADDRESSES} addresses per client`);
  }
  for (const address of addresses) {
    if (!isIpAddress(address)) {
      throw new InvalidInputError(`Invalid address "${address}": expected an IPv4 or IPv6 address`);
    }
  }
  const credential = await newCredential(code, name);
  room.credentials.push({
    name,
    role: "client",
    hash: credential.hash,
    addresses: [...addresses],
    created: new Date().toISOString(),
  });
  return credential.text;
}

/** Revokes client credential `name` of room `code`. */
export function removeClient(config: RoomsConfig, code: string, name: string): void {
  const room = findRoom(config, code);
  if (name === GATEWAY_CREDENTIAL) {
    throw new InvalidInputError(
      "A room keeps its gateway credential: rotate it, or remove the room",
    );
  }
  if (!room.credentials.some((c) => c.name === name)) {
    throw new NetkitError(`Room "${code}" has no client "${name}"`);
  }
  room.credentials = room.credentials.filter((c) => c.name !== name);
}

/**
 * Gives credential `name` (default: the gateway's) of room `code` a new secret; the old one
 * stops working. Returns the new credential text.
 */
export async function rotateCredential(
  config: RoomsConfig,
  code: string,
  name: string = GATEWAY_CREDENTIAL,
): Promise<string> {
  const credential = findRoom(config, code).credentials.find((c) => c.name === name);
  if (credential === undefined) throw new NetkitError(`Room "${code}" has no credential "${name}"`);
  const fresh = await newCredential(code, name);
  credential.hash = fresh.hash;
  credential.created = new Date().toISOString();
  return fresh.text;
}
