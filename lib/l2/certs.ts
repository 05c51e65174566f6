/**
 * Certificates for the relay's QUIC endpoint: a development CA and relay certificate made with
 * WebCrypto and a small DER encoder (no openssl needed), loading the certificate a peer pins
 * (`--relay-cert`, PEM or DER), and loading the relay's own `--cert`/`--key`.
 *
 * Pinning with Deno's QUIC client: `caCerts` only adds trust anchors to the default roots
 * (Mozilla's, or the system's with `DENO_TLS_CA_STORE`, plus `DENO_CERT`), so a publicly
 * trusted certificate for the same name would pass. Peers therefore pin the relay's own
 * certificate by its SHA-256 ({@linkcode certificateHash}) through `serverCertificateHashes`,
 * which Deno honours for `connectQuic` too: with it rustls asks no certificate store at all,
 * only whether the relay's end-entity certificate has that hash and is within its validity
 * (the handshake signature still proves the relay holds the key). Tested on Deno 2.9.6 in
 * `relay_test.ts`: a relay presenting another certificate for the same name is refused even
 * when that certificate's CA is in the trusted store.
 *
 * @example Development certificates for a relay, and what a peer gives `connectQuic`
 * ```ts ignore
 * const dev = await writeDevCerts("/var/lib/netkit/relay");
 * // relay:  loadServerIdentity(dev.cert, dev.key) -> endpoint.listen({ cert, key, ... })
 * // peer:   serverCertificateHashes: [{ algorithm: "sha-256",
 * //           value: await certificateHash(await loadPinnedCert(dev.pin)) }]
 * ```
 *
 * @module
 */

import { errorMessage, InvalidInputError, NetkitError } from "../errors.ts";
import {
  ensurePrivateDir,
  readCheckedFile,
  UnsafeFileError,
  writeFileAtomic,
} from "../net/safe_file.ts";

// In the relay's contract (the --server-name default), so `status` need not load this module.
import { DEV_SERVER_NAME } from "./relay_client.ts";

export { DEV_SERVER_NAME };

/** The files {@linkcode writeDevCerts} wrote, and the relay certificate's fingerprint. */
export interface DevCerts {
  /** Path of the private CA's certificate (`ca.pem`); its private key was never stored. */
  caCert: string;
  /** Path of the relay's certificate (`relay.pem`, signed by the CA): the relay's `--cert`. */
  cert: string;
  /** Path of the relay's private key (`relay-key.pem`, PKCS#8, mode 0600): the relay's `--key`. */
  key: string;
  /** Path of the certificate a peer pins with `--relay-cert`: the relay's own, `relay.pem`. */
  pin: string;
  /** SHA-256 of the relay certificate's DER, upper-case hex with colons (as openssl prints it). */
  fingerprint: string;
}

/** The relay's certificate chain and private key, PEM, as `QuicEndpoint.listen()` takes them. */
export interface ServerIdentity {
  /** One or more PEM certificates, the relay's first. */
  cert: string;
  /** The PEM private key. */
  key: string;
}

const CERT_BEGIN = "-----BEGIN CERTIFICATE-----";
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;
const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;
const KEY_LABELS = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Validity of development certificates (Apple's limit for TLS server certificates). */
const DEV_CERT_DAYS = 825;
/** Bytes this module makes (never a view of a shared buffer), as WebCrypto takes them. */
type Bytes = Uint8Array<ArrayBuffer>;

/**
 * Writes a development CA and a relay certificate it signs to `dir` (created with mode 0700 if
 * missing; an existing one must be ours, not a symbolic link, and unwritable by group and
 * others), replacing earlier files of the same names, each written atomically and never through
 * a symbolic link (lib/net/safe_file.ts):
 *
 * - `ca.pem`: the CA certificate (ECDSA P-256, `CA:TRUE`). The CA's private key is generated
 *   in memory, signs the relay certificate and is dropped, so the CA can never sign anything
 *   else.
 * - `relay.pem`: the relay's certificate for `serverName` (`CA:FALSE`, serverAuth). This is
 *   the file to pin: give it to peers as `--relay-cert` (see {@linkcode DevCerts.pin}).
 * - `relay-key.pem`: its PKCS#8 private key, mode 0600 from the moment it exists (written to a
 *   temporary file in `dir`, then renamed), written last.
 *
 * Both certificates are valid from an hour ago (clock skew) for 825 days.
 *
 * Needs `--allow-ffi`, and `--allow-write` (and `--allow-read`) for `dir`.
 */
export async function writeDevCerts(dir: string, serverName = DEV_SERVER_NAME): Promise<DevCerts> {
  const dnsName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;
  if (
    !dnsName.test(serverName) || /^[0-9]+$/.test(serverName.slice(serverName.lastIndexOf(".") + 1))
  ) {
    throw new InvalidInputError(
      `Invalid server name "${serverName}": use a DNS name such as "${DEV_SERVER_NAME}"`,
    );
  }
  const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
  const caKeys = await crypto.subtle.generateKey(ecdsa, false, ["sign", "verify"]);
  const relayKeys = await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const caSpki = new Uint8Array(await crypto.subtle.exportKey("spki", caKeys.publicKey));
  const relaySpki = new Uint8Array(await crypto.subtle.exportKey("spki", relayKeys.publicKey));
  const caKeyId = await keyIdentifier(caSpki);
  const now = Date.now();
  const validity = {
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + DEV_CERT_DAYS * DAY_MS),
  };
  const caName = distinguishedName(`netkit dev CA ${hex(caKeyId.subarray(0, 4), "")}`);

  const caDer = await signCertificate(caKeys.privateKey, {
    issuer: caName,
    subject: caName,
    ...validity,
    spki: caSpki,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true))),
      extension(OID.keyUsage, true, keyUsage(KEY_CERT_SIGN | CRL_SIGN)),
      extension(OID.subjectKeyIdentifier, false, octetString(caKeyId)),
    ],
  });
  const relayDer = await signCertificate(caKeys.privateKey, {
    issuer: caName,
    subject: distinguishedName(serverName),
    ...validity,
    spki: relaySpki,
    extensions: [
      extension(OID.basicConstraints, false, sequence()),
      extension(OID.keyUsage, true, keyUsage(DIGITAL_SIGNATURE)),
      extension(OID.extKeyUsage, false, sequence(objectId(OID.serverAuth))),
      extension(OID.subjectAltName, false, sequence(tlv(0x82, utf8(serverName)))),
      extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, caKeyId))),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", relayKeys.privateKey));

  const paths = devCertPaths(dir);
  try {
    ensurePrivateDir(dir, DEV_CERT_DIR);
    // The key last: a directory with a key holds a whole set (see devCertIdentity).
    writeFileAtomic(paths.caCert, derToPem(caDer), { what: "certificate file", mode: 0o644 });
    writeFileAtomic(paths.cert, derToPem(relayDer), { what: "certificate file", mode: 0o644 });
    writeFileAtomic(paths.key, pemBlock("PRIVATE KEY", pkcs8), { what: "key file", mode: 0o600 });
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new NetkitError(
      `Cannot write development certificates to "${dir}": ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return { ...paths, pin: paths.cert, fingerprint: await fingerprintOf(relayDer) };
}

/** What messages call a `--dev-cert` directory. */
const DEV_CERT_DIR = "development certificate directory";
/** The most a development key or certificate file may hold (ours are under 2 KiB). */
const MAX_DEV_CERT_FILE_BYTES = 64 * 1024;

function devCertPaths(dir: string): Pick<DevCerts, "caCert" | "cert" | "key"> {
  return { caCert: `${dir}/ca.pem`, cert: `${dir}/relay.pem`, key: `${dir}/relay-key.pem` };
}

/** The relay's identity from a `--dev-cert` directory, and what a peer pins. */
export interface DevCertIdentity extends ServerIdentity {
  /** Path of the certificate peers pin: the relay's own, `relay.pem`. */
  pin: string;
  /** SHA-256 of the pinned certificate, as openssl prints it. */
  pinFingerprint: string;
  /** Whether the files were there already (false: {@linkcode writeDevCerts} just wrote them). */
  reused: boolean;
}

/**
 * The relay's identity for `--dev-cert DIR`: the certificates and key in `dir`, written first by
 * {@linkcode writeDevCerts} when `dir` has no key. Since the relay runs as root and `dir` may be
 * any path, nothing is used that someone else could have planted: `dir` must be a directory (not
 * a symbolic link) owned by the effective uid that group and others cannot write (it is created
 * with mode 0700 when absent), and each file a regular file of ours, never through a link, the key
 * unreadable by group and others, the certificates unwritable by them. Anything else is refused
 * with an {@linkcode UnsafeFileError} naming the path and what to do.
 *
 * Needs `--allow-ffi`, and `--allow-read` and `--allow-write` for `dir`.
 */
export async function devCertIdentity(dir: string): Promise<DevCertIdentity> {
  ensurePrivateDir(dir, DEV_CERT_DIR);
  const paths = devCertPaths(dir);
  let reused = true;
  try {
    await Deno.lstat(paths.key);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    reused = false;
    await writeDevCerts(dir);
  }
  const read = (path: string, what: string, forbiddenModeBits: number) =>
    new TextDecoder().decode(
      readCheckedFile(path, { what, forbiddenModeBits, maxBytes: MAX_DEV_CERT_FILE_BYTES }),
    );
  const key = read(paths.key, "key file", 0o077);
  const cert = read(paths.cert, "certificate file", 0o022);
  const identity = parseServerIdentity(cert, key, paths.cert, paths.key);
  return {
    ...identity,
    pin: paths.cert,
    pinFingerprint: await certFingerprint(cert),
    reused,
  };
}

/**
 * Reads the certificate a peer pins (`--relay-cert`): PEM (one `CERTIFICATE` block) or DER,
 * and returns it as one PEM certificate for `Deno.connectQuic({ caCerts })`. A PEM file and
 * the DER file of the same certificate give the same string. Throws a {@linkcode NetkitError}
 * naming the problem when the file is missing, empty, holds no or several certificates, or is
 * neither.
 *
 * Needs `--allow-read` for `path`.
 */
export async function loadPinnedCert(path: string): Promise<string> {
  const bytes = await readInput(path, "certificate file");
  if (bytes.length === 0) {
    throw new NetkitError(`Certificate file "${path}" is empty: give the relay's own certificate`);
  }
  const text = new TextDecoder().decode(bytes);
  if (text.includes(CERT_BEGIN)) {
    const ders = pemCertificates(text, path);
    if (ders.length !== 1) {
      throw new NetkitError(
        `Certificate file "${path}" holds ${ders.length} certificates: give a file with only ` +
          `the one to pin`,
      );
    }
    return derToPem(ders[0]!);
  }
  const label = PEM_LABEL.exec(text)?.[1];
  if (label !== undefined) {
    throw new NetkitError(
      `File "${path}" holds no certificate (found a PEM "${label}"): give the relay's own ` +
        `certificate`,
    );
  }
  if (!isDerCertificate(bytes)) {
    throw new NetkitError(
      `File "${path}" is not a certificate (neither PEM nor DER): give the relay's own ` +
        `certificate`,
    );
  }
  return derToPem(bytes);
}

/**
 * Reads the relay's own certificate chain and private key (`--cert`/`--key`, both PEM) for
 * `QuicEndpoint.listen()`. Checks that the certificate file holds at least one certificate and
 * the key file an unencrypted private key; whether they belong together is checked by
 * `listen()` itself. Throws a {@linkcode NetkitError} naming the file and the problem.
 *
 * Needs `--allow-read` for both paths.
 */
export async function loadServerIdentity(
  certPath: string,
  keyPath: string,
): Promise<ServerIdentity> {
  const cert = new TextDecoder().decode(await readInput(certPath, "certificate file"));
  const key = new TextDecoder().decode(await readInput(keyPath, "key file"));
  return parseServerIdentity(cert, key, certPath, keyPath);
}

/** Checks the PEM texts of a relay's certificate chain and key (read from the paths named). */
function parseServerIdentity(
  cert: string,
  key: string,
  certPath: string,
  keyPath: string,
): ServerIdentity {
  if (!cert.includes(CERT_BEGIN)) {
    const found = PEM_LABEL.exec(cert)?.[1];
    throw new NetkitError(
      `Certificate file "${certPath}" holds no PEM certificate` +
        (found === undefined ? "" : ` (found a PEM "${found}")`) +
        `: give a PEM file ("${CERT_BEGIN}"); convert DER with "openssl x509 -inform der"`,
    );
  }
  pemCertificates(cert, certPath);

  const label = PEM_LABEL.exec(key)?.[1];
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw new NetkitError(
      `Key file "${keyPath}" is encrypted: decrypt it first ("openssl pkey -in KEY -out ` +
        `PLAIN.pem"), and keep the result mode 0600`,
    );
  }
  if (label === undefined || !KEY_LABELS.includes(label)) {
    throw new NetkitError(
      `Key file "${keyPath}" holds no PEM private key` +
        (label === undefined ? "" : ` (found a PEM "${label}")`) +
        `: give a PEM file ("-----BEGIN PRIVATE KEY-----")`,
    );
  }
  return { cert, key };
}

/** A DER certificate as PEM: base64 in 64-column lines between the `CERTIFICATE` markers. */
export function derToPem(der: Uint8Array): string {
  return pemBlock("CERTIFICATE", der);
}

/**
 * SHA-256 fingerprint of the (first) certificate in `pem`, over its DER bytes: upper-case hex
 * with colons, the form `openssl x509 -fingerprint -sha256` prints. Throws a
 * {@linkcode NetkitError} when `pem` holds no certificate.
 */
export async function certFingerprint(pem: string): Promise<string> {
  const der = pemCertificates(pem, "the given PEM text")[0];
  if (der === undefined) throw new NetkitError("The given PEM text holds no certificate");
  return await fingerprintOf(der);
}

// ---------------------------------------------------------------------------------------------
// Reading files

async function readInput(path: string, what: string): Promise<Bytes> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    const name = what[0]!.toUpperCase() + what.slice(1);
    if (err instanceof Deno.errors.NotFound) {
      throw new NetkitError(`${name} "${path}" does not exist`, { cause: err });
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new NetkitError(`${name} "${path}" is a directory: give the file in it`, {
        cause: err,
      });
    }
    throw new NetkitError(`Cannot read ${what} "${path}": ${errorMessage(err)}`, { cause: err });
  }
}

/** The DER of every `CERTIFICATE` block in `text`; throws when one of them is not valid. */
function pemCertificates(text: string, source: string): Bytes[] {
  const ders: Bytes[] = [];
  for (const match of text.matchAll(CERT_BLOCK)) {
    let der: Bytes | undefined;
    try {
      der = Uint8Array.fromBase64(match[1]!);
    } catch {
      der = undefined;
    }
    if (der === undefined || !isDerCertificate(der)) {
      const n = ders.length + 1;
      throw new NetkitError(
        `${source === "the given PEM text" ? "The given PEM text" : `File "${source}"`} has a ` +
          `damaged certificate (PEM block ${n} is not a DER certificate)`,
      );
    }
    ders.push(der);
  }
  return ders;
}

/**
 * Whether `der` is one DER SEQUENCE exactly as long as its header says, whose content starts
 * with another SEQUENCE (TBSCertificate): enough to tell a certificate from garbage, a private
 * key (SEQUENCE { INTEGER ... }) or a truncated file.
 */
function isDerCertificate(der: Uint8Array): boolean {
  const outer = derHeader(der, 0);
  if (outer === undefined || outer.tag !== 0x30 || outer.end !== der.length) return false;
  const inner = derHeader(der, outer.contentStart);
  return inner !== undefined && inner.tag === 0x30 && inner.end <= der.length;
}

function derHeader(
  der: Uint8Array,
  at: number,
): { tag: number; contentStart: number; end: number } | undefined {
  const tag = der[at];
  const first = der[at + 1];
  if (tag === undefined || first === undefined) return undefined;
  if (first < 0x80) return { tag, contentStart: at + 2, end: at + 2 + first };
  const count = first & 0x7f;
  if (count === 0 || count > 4 || at + 2 + count > der.length) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[at + 2 + i]!;
  if (length < 0x80 || (count > 1 && der[at + 2] === 0)) return undefined; // not minimal: not DER
  return { tag, contentStart: at + 2 + count, end: at + 2 + count + length };
}

// ---------------------------------------------------------------------------------------------
// X.509 v3 (RFC 5280) in DER

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

// KeyUsage bits (RFC 5280 §4.2.1.3), numbered from the most significant bit of the first byte.
const DIGITAL_SIGNATURE = 1 << 0;
const KEY_CERT_SIGN = 1 << 5;
const CRL_SIGN = 1 << 6;

interface CertificateFields {
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Bytes;
  extensions: Uint8Array[];
}

/** Builds the TBSCertificate, signs it with ECDSA P-256/SHA-256, returns the certificate DER. */
async function signCertificate(
  signer: CryptoKey,
  fields: CertificateFields,
): Promise<Bytes> {
  const algorithm = sequence(objectId(OID.ecdsaWithSha256));
  const tbs = sequence(
    tlv(0xa0, integer(new Uint8Array([2]))), // [0] EXPLICIT version: v3
    integer(randomSerial()),
    algorithm,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    tlv(0xa3, sequence(...fields.extensions)), // [3] EXPLICIT extensions
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signer, tbs),
  );
  return sequence(tbs, algorithm, bitString(ecdsaSignatureToDer(raw)));
}

/** A positive 16-byte serial number whose DER needs no leading zero (RFC 5280: ≤ 20 bytes). */
function randomSerial(): Bytes {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

/**
 * A WebCrypto ECDSA signature (raw `r || s`, both halves the curve's size, e.g. 64 bytes for
 * P-256) in the form X.509 and TLS use: `SEQUENCE { r INTEGER, s INTEGER }` in DER, each
 * integer minimal (leading zero bytes dropped, one 0x00 added when the high bit is set).
 */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(
      `An ECDSA signature has two halves of equal size, got ${raw.length} bytes`,
    );
  }
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

/** `Name` with one RDN: CN = `commonName`. */
function distinguishedName(commonName: string): Bytes {
  return sequence(tlv(0x31, sequence(objectId(OID.commonName), tlv(0x0c, utf8(commonName)))));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Bytes {
  return critical
    ? sequence(objectId(oid), boolean(true), octetString(value))
    : sequence(objectId(oid), octetString(value)); // critical DEFAULT FALSE is omitted in DER
}

/** KeyUsage BIT STRING from bits numbered as in RFC 5280, without trailing zero bits. */
function keyUsage(bits: number): Bytes {
  let byte = 0;
  let last = 0;
  for (let bit = 0; bit < 8; bit++) {
    if (bits & (1 << bit)) {
      byte |= 0x80 >> bit;
      last = bit;
    }
  }
  return tlv(0x03, new Uint8Array([7 - last, byte]));
}

/** Key identifier (RFC 5280 §4.2.1.2 method 1): SHA-1 of the subjectPublicKey bits. */
async function keyIdentifier(spki: Bytes): Promise<Bytes> {
  // For P-256 the SPKI is SEQUENCE { AlgorithmIdentifier, BIT STRING (0x00 + 65-byte point) }.
  const point = spki.subarray(spki.length - 65);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", point));
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
function time(date: Date): Bytes {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "") + "Z";
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, utf8(digits.slice(2))) : tlv(0x18, utf8(digits));
}

function tlv(tag: number, content: Uint8Array): Bytes {
  const n = content.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

function sequence(...items: Uint8Array[]): Bytes {
  return tlv(0x30, concat(items));
}

/** A non-negative INTEGER from big-endian magnitude bytes, in its minimal DER form. */
function integer(magnitude: Uint8Array): Bytes {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return tlv(0x02, bytes[0]! & 0x80 ? concat([new Uint8Array([0]), bytes]) : bytes);
}

function boolean(value: boolean): Bytes {
  return tlv(0x01, new Uint8Array([value ? 0xff : 0x00]));
}

function octetString(content: Uint8Array): Bytes {
  return tlv(0x04, content);
}

function bitString(content: Uint8Array): Bytes {
  return tlv(0x03, concat([new Uint8Array([0]), content]));
}

function objectId(dotted: string): Bytes {
  const arcs = dotted.split(".").map(Number);
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let rest = arc >>> 7; rest > 0; rest >>>= 7) base128.unshift((rest & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

function utf8(text: string): Bytes {
  return new TextEncoder().encode(text);
}

function concat(parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function pemBlock(label: string, der: Uint8Array): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

async function fingerprintOf(der: Bytes): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", der)), ":");
}

function hex(bytes: Uint8Array, separator: string): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(separator);
}

/**
 * SHA-256 of the one certificate in `pem` (as {@linkcode loadPinnedCert} returns it), over its
 * DER bytes: what a peer pins the relay by.
 */
export async function certificateHash(pem: string): Promise<ArrayBuffer> {
  const der = pemCertificates(pem, "the given PEM text")[0];
  if (der === undefined) throw new NetkitError("The given PEM text holds no certificate");
  return await crypto.subtle.digest("SHA-256", der);
}
