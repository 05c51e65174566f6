import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { InvalidInputError, NetkitError } from "../errors.ts";
import {
  certFingerprint,
  certificateHash,
  derToPem,
  DEV_SERVER_NAME,
  type DevCerts,
  ecdsaSignatureToDer,
  loadPinnedCert,
  loadServerIdentity,
  writeDevCerts,
} from "./certs.ts";
import { ALPN } from "./control.ts";
import { pinnedConnectOptions } from "./relay_session.ts";
import { needs } from "../../tests/skip.ts";

/** Runs `body` with a fresh temporary directory, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-certs-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function der(pem: string): Uint8Array {
  const body = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/.exec(pem)?.[1];
  assert.ok(body !== undefined, "a PEM certificate");
  return Uint8Array.fromBase64(body);
}

/**
 * A relay on 127.0.0.1 with `identity`, and a peer that pins `pin` and connects for
 * `serverName`. Resolves with the server name the relay saw (SNI) once the handshake is done;
 * rejects with the peer's handshake error. Closes both connections and the endpoint either way.
 */
async function handshake(
  identity: { cert: string; key: string },
  pin: string,
  serverName = DEV_SERVER_NAME,
): Promise<string | null> {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({ alpnProtocols: [ALPN], ...identity });
  const accepted = (async () => {
    for await (const incoming of listener) {
      try {
        const conn = await incoming.accept();
        conn.closed.catch(() => {});
        return conn;
      } catch {
        return undefined; // the peer refused our certificate
      }
    }
    return undefined;
  })();
  let relaySide: Deno.QuicConn | undefined;
  try {
    const relay = { hostname: "127.0.0.1", port: endpoint.addr.port, serverName, pin };
    const conn = await Deno.connectQuic(pinnedConnectOptions(relay, await certificateHash(pin)));
    conn.closed.catch(() => {});
    try {
      await conn.handshake;
      assert.equal(conn.protocol, ALPN);
      relaySide = await accepted;
      assert.ok(relaySide !== undefined, "the relay accepted the connection");
      return relaySide.serverName ?? null;
    } finally {
      conn.close({ closeCode: 0, reason: "" });
    }
  } finally {
    relaySide?.close({ closeCode: 0, reason: "" });
    endpoint.close();
    (await accepted)?.close({ closeCode: 0, reason: "" });
  }
}

async function identityOf(dev: DevCerts): Promise<{ cert: string; key: string }> {
  return await loadServerIdentity(dev.cert, dev.key);
}

async function rejectsWith(
  promise: Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof NetkitError, `a NetkitError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\.$/, "no trailing period");
    return true;
  });
}

/** The UTCTime/GeneralizedTime values in a DER certificate, in order (notBefore, notAfter). */
function certificateTimes(bytes: Uint8Array): Date[] {
  const times: Date[] = [];
  // Tag 0x17 (UTCTime) length 13, or tag 0x18 (GeneralizedTime) length 15.
  const marks: Record<number, string> = { 0x17: "U", 0x0d: "u", 0x18: "G", 0x0f: "g" };
  const text = [...bytes].map((b) => marks[b] ?? String.fromCharCode(b)).join("");
  for (const m of text.matchAll(/Uu(\d{12})Z|Gg(\d{14})Z/g)) {
    const digits = m[1] !== undefined
      ? `${Number(m[1].slice(0, 2)) < 50 ? "20" : "19"}${m[1]}`
      : m[2]!;
    const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((at, i) =>
      Number(digits.slice(at, i === 0 ? 4 : at + 2))
    );
    times.push(new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)));
  }
  return times;
}

Deno.test("writeDevCerts() creates a 0700 directory with ca.pem, relay.pem and a 0600 key, and no CA key", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/relay/dev`;
    const dev = await writeDevCerts(dir);
    assert.deepEqual(dev, {
      caCert: `${dir}/ca.pem`,
      cert: `${dir}/relay.pem`,
      key: `${dir}/relay-key.pem`,
      pin: `${dir}/relay.pem`,
      fingerprint: dev.fingerprint,
    });
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["ca.pem", "relay-key.pem", "relay.pem"]);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(dev.key)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(dev.key), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(await Deno.readTextFile(dev.cert), /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(dev.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(dev.fingerprint, await certFingerprint(await Deno.readTextFile(dev.cert)));
  });
});

Deno.test("writeDevCerts() replaces a world-readable key file with a 0600 one", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/relay-key.pem`, "old", { mode: 0o644 });
    await Deno.chmod(`${dir}/relay-key.pem`, 0o644);
    const dev = await writeDevCerts(dir);
    assert.equal((await Deno.stat(dev.key)).mode! & 0o777, 0o600);
    assert.notEqual(await Deno.readTextFile(dev.key), "old");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["ca.pem", "relay-key.pem", "relay.pem"], "no temporary file");
  });
});

Deno.test("writeDevCerts() makes certificates valid from an hour ago for 825 days", async () => {
  await withTempDir(async (dir) => {
    const before = Date.now();
    const dev = await writeDevCerts(dir);
    const after = Date.now();
    for (const path of [dev.caCert, dev.cert]) {
      const [notBefore, notAfter, ...rest] = certificateTimes(der(await Deno.readTextFile(path)));
      assert.equal(rest.length, 0, `${path}: two times`);
      const hour = 3_600_000;
      const seconds = (t: number) => Math.floor(t / 1000) * 1000;
      assert.ok(notBefore!.getTime() >= seconds(before - hour), `${path} notBefore`);
      assert.ok(notBefore!.getTime() <= after - hour, `${path} notBefore`);
      assert.ok(notAfter!.getTime() >= seconds(before + 825 * 24 * hour), `${path} notAfter`);
      assert.ok(notAfter!.getTime() <= after + 825 * 24 * hour, `${path} notAfter`);
    }
  });
});

Deno.test({
  name: "openssl reads the development certificates as a CA and a server certificate it signed",
  ignore: needs("openssl"),
  async fn() {
    await withTempDir(async (dir) => {
      const dev = await writeDevCerts(dir, "relay.example.invalid");
      const openssl = async (...args: string[]) => {
        const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
          .output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.ok(out.success, `openssl ${args.join(" ")}: ${text}`);
        return text;
      };
      const ca = await openssl("x509", "-noout", "-text", "-in", dev.caCert);
      assert.match(ca, /Version: 3 \(0x2\)/);
      assert.match(ca, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(ca, /NIST CURVE: P-256/);
      assert.match(ca, /Basic Constraints: critical\s+CA:TRUE/);
      assert.match(ca, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
      const caKeyId = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(ca)?.[1];
      assert.ok(caKeyId !== undefined, "the CA has a subject key identifier");

      const relay = await openssl("x509", "-noout", "-text", "-in", dev.cert);
      assert.match(relay, /Subject: CN = relay\.example\.invalid/);
      assert.match(relay, /Basic Constraints: \n\s+CA:FALSE/);
      assert.match(relay, /Key Usage: critical\s+Digital Signature\n/);
      assert.match(relay, /Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
      assert.match(relay, /Subject Alternative Name: \n\s+DNS:relay\.example\.invalid\n/);
      assert.match(relay, new RegExp(`Authority Key Identifier: \\n\\s+${caKeyId}\\n`));
      assert.equal(
        /Issuer: (.*)/.exec(relay)?.[1],
        /Subject: (.*)/.exec(ca)?.[1],
        "the relay certificate is issued by the CA",
      );

      assert.match(
        await openssl(
          "verify",
          "-x509_strict",
          "-purpose",
          "sslserver",
          "-CAfile",
          dev.caCert,
          dev.cert,
        ),
        /relay\.pem: OK/,
      );
      assert.match(
        await openssl("pkey", "-in", dev.key, "-noout", "-text"),
        /Private-Key: \(256 bit\)/,
      );
      const printed = await openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", dev.cert);
      assert.equal(printed.trim(), `sha256 Fingerprint=${dev.fingerprint}`);
    });
  },
});

Deno.test("a QUIC handshake on 127.0.0.1 succeeds when the peer pins DevCerts.pin, the relay's own certificate", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(dir);
    assert.equal(dev.pin, dev.cert);
    const sni = await handshake(await identityOf(dev), await loadPinnedCert(dev.pin));
    assert.equal(sni, DEV_SERVER_NAME);
  });
});

Deno.test("a QUIC handshake fails when the peer pins the certificate of another writeDevCerts() run, or the CA", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(`${dir}/a`);
    const other = await writeDevCerts(`${dir}/b`);
    for (const pin of [other.pin, dev.caCert]) {
      await assert.rejects(
        handshake(await identityOf(dev), await loadPinnedCert(pin)),
        /certificate/,
      );
    }
  });
});

Deno.test("writeDevCerts() refuses a server name that is not a DNS name", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["", "relay..invalid", "-relay.invalid", "relay_1.invalid", "127.0.0.1"]) {
      await assert.rejects(writeDevCerts(dir, name), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, `"${name}": an InvalidInputError`);
        assert.match(
          err.message,
          new RegExp(`Invalid server name "${name.replaceAll(".", "\\.")}"`),
        );
        return true;
      });
    }
    for await (const _ of Deno.readDir(dir)) assert.fail("nothing written");
  });
});

Deno.test("loadPinnedCert() returns the same PEM for the DER and the PEM (CRLF too) of a certificate", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(dir);
    const pem = await Deno.readTextFile(dev.pin);
    await Deno.writeFile(`${dir}/ca.der`, der(pem));
    await Deno.writeTextFile(`${dir}/ca-crlf.pem`, `# pinned\r\n${pem.replaceAll("\n", "\r\n")}`);
    assert.equal(await loadPinnedCert(dev.pin), pem);
    assert.equal(await loadPinnedCert(`${dir}/ca.der`), pem);
    assert.equal(await loadPinnedCert(`${dir}/ca-crlf.pem`), pem);
  });
});

Deno.test("loadPinnedCert() names the file and the problem for a missing, empty, key, garbage or truncated file", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(dir);
    const pem = await Deno.readTextFile(dev.pin);
    const bytes = der(pem);
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    await Deno.writeTextFile(`${dir}/garbage`, "not a certificate\n");
    await Deno.writeFile(`${dir}/truncated.der`, bytes.subarray(0, bytes.length - 1));
    await Deno.writeFile(`${dir}/long.der`, Uint8Array.of(...bytes, 0));
    await Deno.writeFile(`${dir}/sequence.der`, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00));
    await Deno.writeTextFile(`${dir}/two.pem`, pem + (await Deno.readTextFile(dev.cert)));
    await Deno.writeTextFile(`${dir}/damaged.pem`, pem.replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!!!!!"));

    await rejectsWith(
      loadPinnedCert(`${dir}/missing.pem`),
      /^Certificate file ".*\/missing\.pem" does not exist$/,
    );
    await rejectsWith(loadPinnedCert(dir), /^Certificate file ".*" is a directory/);
    await rejectsWith(
      loadPinnedCert(`${dir}/empty`),
      /^Certificate file ".*\/empty" is empty: give/,
    );
    await rejectsWith(
      loadPinnedCert(dev.key),
      /holds no certificate \(found a PEM "PRIVATE KEY"\)/,
    );
    await rejectsWith(loadPinnedCert(`${dir}/garbage`), /"\S*\/garbage" is not a certificate/);
    await rejectsWith(loadPinnedCert(`${dir}/truncated.der`), /is not a certificate/);
    await rejectsWith(loadPinnedCert(`${dir}/long.der`), /is not a certificate/);
    await rejectsWith(loadPinnedCert(`${dir}/sequence.der`), /is not a certificate/);
    await rejectsWith(
      loadPinnedCert(`${dir}/two.pem`),
      /holds 2 certificates: give a file with only/,
    );
    await rejectsWith(loadPinnedCert(`${dir}/damaged.pem`), /has a damaged certificate/);
  });
});

Deno.test("derToPem() wraps base64 at 64 columns between CERTIFICATE markers", () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
  const pem = derToPem(bytes);
  const lines = pem.split("\n");
  assert.equal(lines[0], "-----BEGIN CERTIFICATE-----");
  assert.deepEqual(lines.slice(1, -2).map((l) => l.length), [64, 64, 8]);
  assert.equal(lines.at(-2), "-----END CERTIFICATE-----");
  assert.equal(lines.at(-1), "", "ends with a newline");
  assert.deepEqual(Uint8Array.fromBase64(lines.slice(1, -2).join("")), bytes);
});

Deno.test("certFingerprint() is the SHA-256 of the DER in upper-case hex with colons", async () => {
  const bytes = Uint8Array.of(0x30, 0x03, 0x30, 0x01, 0x00);
  const expected = createHash("sha256").update(bytes).digest("hex").toUpperCase()
    .match(/../g)!.join(":");
  assert.equal(await certFingerprint(derToPem(bytes)), expected);
  await rejectsWith(certFingerprint("-----BEGIN PRIVATE KEY-----\n"), /holds no certificate/);
});

Deno.test("ecdsaSignatureToDer() makes minimal INTEGERs: zeros stripped, 0x00 before a high bit", () => {
  const r = new Uint8Array(32);
  r[2] = 0x01; // two leading zero bytes to strip
  const s = new Uint8Array(32).fill(0xff); // high bit set: needs 0x00
  const encoded = ecdsaSignatureToDer(Uint8Array.of(...r, ...s));
  assert.deepEqual(
    encoded,
    Uint8Array.of(0x30, 2 + 30 + 2 + 33, 0x02, 30, ...r.subarray(2), 0x02, 33, 0x00, ...s),
  );
  assert.deepEqual(
    ecdsaSignatureToDer(new Uint8Array(64)),
    Uint8Array.of(0x30, 6, 0x02, 1, 0, 0x02, 1, 0),
    "zero stays one byte",
  );
  assert.throws(() => ecdsaSignatureToDer(new Uint8Array(63)), RangeError);
});

Deno.test("loadServerIdentity() returns the PEM texts of a certificate and its key", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(dir);
    assert.deepEqual(await loadServerIdentity(dev.cert, dev.key), {
      cert: await Deno.readTextFile(dev.cert),
      key: await Deno.readTextFile(dev.key),
    });
  });
});

Deno.test("loadServerIdentity() names the file and the problem for missing, swapped, DER or encrypted files", async () => {
  await withTempDir(async (dir) => {
    const dev = await writeDevCerts(dir);
    await Deno.writeFile(`${dir}/relay.der`, der(await Deno.readTextFile(dev.cert)));
    await Deno.writeTextFile(
      `${dir}/encrypted.pem`,
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    await rejectsWith(
      loadServerIdentity(`${dir}/missing.pem`, dev.key),
      /^Certificate file ".*\/missing\.pem" does not exist$/,
    );
    await rejectsWith(
      loadServerIdentity(dev.cert, `${dir}/missing.pem`),
      /^Key file ".*\/missing\.pem" does not exist$/,
    );
    await rejectsWith(
      loadServerIdentity(dev.key, dev.cert),
      /^Certificate file ".*relay-key\.pem" holds no PEM certificate \(found a PEM "PRIVATE KEY"\)/,
    );
    await rejectsWith(
      loadServerIdentity(dev.cert, dev.cert),
      /^Key file ".*relay\.pem" holds no PEM private key \(found a PEM "CERTIFICATE"\)/,
    );
    await rejectsWith(
      loadServerIdentity(`${dir}/relay.der`, dev.key),
      /holds no PEM certificate: .*openssl x509 -inform der/,
    );
    await rejectsWith(
      loadServerIdentity(dev.cert, `${dir}/encrypted.pem`),
      /^Key file ".*encrypted\.pem" is encrypted: decrypt it first/,
    );
  });
});

Deno.test({
  name:
    "a certificate of your own from plain openssl req -x509 (a CA certificate) is pinned and accepted as it is",
  ignore: needs("openssl"),
  async fn() {
    await withTempDir(async (dir) => {
      // The README's "bring your own certificate" command.
      const made = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-days",
          "30",
          "-subj",
          "/CN=relay.example.net",
          "-addext",
          "subjectAltName=DNS:relay.example.net",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(made.success, new TextDecoder().decode(made.stderr));
      const identity = await loadServerIdentity(`${dir}/cert.pem`, `${dir}/key.pem`);
      // CA:TRUE, which rustls refuses as a server certificate when it is only a trusted root
      // (CaUsedAsEndEntity); pinned by its hash, it is simply the certificate expected.
      const text = await new Deno.Command("openssl", {
        args: ["x509", "-noout", "-text", "-in", `${dir}/cert.pem`],
        stdout: "piped",
      }).output();
      assert.match(new TextDecoder().decode(text.stdout), /CA:TRUE/);
      const sni = await handshake(
        identity,
        await loadPinnedCert(`${dir}/cert.pem`),
        "relay.example.net",
      );
      assert.equal(sni, "relay.example.net");
    });
  },
});
