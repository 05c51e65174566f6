/**
 * Room credentials (docs/l2-protocol.md §2.1): what a gateway or client presents in `hello` to
 * prove it belongs to a room. A credential is `nk1:<ROOM>:<name>:<secret>`, where the secret
 * is 32 random bytes in base64url. The relay keeps only the SHA-256 of the secret: with 256 bits
 * of entropy a fast hash is as good as a slow one, and a leaked rooms file reveals no secret.
 *
 * @example
 * ```ts
 * import { hashSecret, newCredential, parseCredential, secretMatches } from "./credentials.ts";
 *
 * const { text, hash } = await newCredential("LAN1", "alice");
 * const parsed = parseCredential(text);
 * await secretMatches(parsed.secret, hash); // true
 * ```
 *
 * @module
 */

import { NetkitError } from "../errors.ts";

/** Credential names: lower-case letters, digits, `-` and `_`; `gateway` names the gateway's. */
export const CREDENTIAL_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** The name of a room's one gateway credential. */
export const GATEWAY_CREDENTIAL = "gateway";
/** Room codes, as in `hello.room`. */
export const ROOM_CODE = /^[A-Z0-9]{4,16}$/;
/** The whole credential text; the secret is 43 base64url characters (32 bytes). */
export const CREDENTIAL_TEXT =
  /^nk1:([A-Z0-9]{4,16}):([a-z0-9][a-z0-9_-]{0,31}):([A-Za-z0-9_-]{43})$/;

const SECRET_BYTES = 32;

/** A credential taken apart. */
export interface Credential {
  /** The room code (matches {@linkcode ROOM_CODE}). */
  room: string;
  /** The credential's name in the room (matches {@linkcode CREDENTIAL_NAME}). */
  name: string;
  /** The secret, base64url. */
  secret: string;
}

/** Splits a credential; throws a NetkitError (that never contains the secret) if malformed. */
export function parseCredential(text: string): Credential {
  const match = CREDENTIAL_TEXT.exec(text.trim());
  if (match === null) {
    throw new NetkitError(
      "Malformed credential: expected nk1:ROOM:NAME:SECRET as `netkit relay room` prints it",
    );
  }
  return { room: match[1]!, name: match[2]!, secret: match[3]! };
}

/** A new credential for `name` in `room`: the text to hand out and the hash to keep. */
export async function newCredential(
  room: string,
  name: string,
): Promise<{ text: string; hash: string }> {
  const secret = base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
  return { text: `nk1:${room}:${name}:${secret}`, hash: await hashSecret(secret) };
}

/** The stored form of a secret: `sha256:` and the hex digest. */
export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return `sha256:${new Uint8Array(digest).toHex()}`;
}

/** A stored hash no secret matches: compared against when the credential is unknown. */
export const UNMATCHABLE_HASH = `sha256:${"0".repeat(64)}`;

/**
 * Whether `secret` hashes to `hash`, compared in constant time (the digests are always the same
 * length, and every byte is looked at).
 */
export async function secretMatches(secret: string, hash: string): Promise<boolean> {
  const computed = await hashSecret(secret);
  if (computed.length !== hash.length) return false;
  let difference = 0;
  for (let i = 0; i < computed.length; i++) {
    difference |= computed.charCodeAt(i) ^ hash.charCodeAt(i);
  }
  return difference === 0;
}

/** Bytes as unpadded base64url. */
export function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}
