/**
 * Options shared by `netkit gateway` and `netkit client`: where the relay is, how it is
 * trusted, and the room.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { errorMessage, NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import { parseCredential } from "../l2/credentials.ts";
import { DEV_SERVER_NAME } from "../l2/relay_client.ts";
import type { readCheckedFile } from "../net/safe_file.ts";
import type { RelayAddress } from "../l2/relay_session.ts";
import { parseIntegerOption } from "./options.ts";

/** The options as commander gives them. */
export interface PeerCliOptions {
  /** `--relay HOST:PORT`: the relay's address. */
  relay?: string;
  /** `--server-name`: the TLS server name sent (SNI). */
  serverName: string;
  /** `--relay-cert`: the relay's own certificate, the only one accepted (by its SHA-256). */
  relayCert?: string;
  /** `--credential-file`: this peer's room credential (mode 0600), else the environment's. */
  credentialFile?: string;
  /** `--budget`: the largest datagram to send or be sent, in bytes, as typed. */
  budget?: string;
  /** `--idle-timeout`: milliseconds of silence before the relay is taken for gone, as typed. */
  idleTimeout: string;
}

/** The environment variable a peer's credential may come in instead of a file. */
export const CREDENTIAL_ENV = "NETKIT_CREDENTIAL";

/** `HOST:PORT`, `[IPv6]:PORT`: the hostname and port, or a usage error naming `option`. */
export function parseHostPort(value: string, option: string): { hostname: string; port: number } {
  const match = /^\[([0-9a-fA-F:.]+)\]:([0-9]+)$/.exec(value) ?? /^([^:\s]+):([0-9]+)$/.exec(value);
  if (match === null) {
    throw new UsageError(
      `Invalid value "${value}" for ${option}: expected HOST:PORT (or [IPv6]:PORT)`,
    );
  }
  return { hostname: match[1]!, port: parseIntegerOption(match[2]!, option, 1, 65535) };
}

/**
 * Adds the options every relay peer takes. `--relay` and `--relay-cert` are required by
 * {@linkcode parsePeerOptions}, not by commander, which would ask for them in `status` too.
 */
export function addPeerOptions(command: Command): Command {
  return command
    .option("--relay <host:port>", "the relay's address (required)")
    .option(
      "--relay-cert <file>",
      "the relay's own certificate (PEM or DER): the only one accepted, by its SHA-256 (required)",
    )
    .option(
      "--credential-file <file>",
      `this peer's room credential (mode 0600; or in $${CREDENTIAL_ENV})`,
    )
    .option("--server-name <name>", "TLS server name to send (SNI)", DEV_SERVER_NAME)
    .option("--idle-timeout <ms>", "how soon a silent relay is taken for gone", "2000")
    .option(
      "--budget <bytes>",
      "largest datagram to send or be sent (default 65535: the path decides); bigger frames go in two",
    );
}

/** Validates the shared options and reads the pinned certificate. */
export async function parsePeerOptions(
  options: PeerCliOptions,
): Promise<{ relay: RelayAddress; credential: string; budget?: number; idleTimeoutMs: number }> {
  if (options.relay === undefined) {
    throw new UsageError("Give the relay's address with --relay HOST:PORT");
  }
  if (options.relayCert === undefined) {
    throw new UsageError("Give the relay's certificate with --relay-cert FILE");
  }
  // Loaded here, for the daemons: files are read through lib/net (libnetkit), which the
  // `status` subcommands never need.
  const { readCheckedFile } = await import("../net/safe_file.ts");
  const { loadPinnedCert } = await import("../l2/certs.ts");
  const address = parseHostPort(options.relay, "--relay");
  const credential = readCredential(options.credentialFile, readCheckedFile);
  const budget = options.budget === undefined
    ? undefined
    : parseIntegerOption(options.budget, "--budget", 1200, 65535);
  const pin = await loadPinnedCert(options.relayCert);
  return {
    relay: { ...address, serverName: options.serverName, pin },
    credential,
    idleTimeoutMs: parseIntegerOption(options.idleTimeout, "--idle-timeout", 400, 600_000),
    ...(budget === undefined ? {} : { budget }),
  };
}

/**
 * The credential from `--credential-file` or the environment: never from an argument, which
 * every local user could read in `ps`. A file others may read is refused, as ssh refuses keys.
 */
function readCredential(path: string | undefined, read: typeof readCheckedFile): string {
  let text: string;
  if (path === undefined) {
    const env = Deno.env.get(CREDENTIAL_ENV);
    if (env === undefined) {
      throw new UsageError(
        `Give this peer's credential with --credential-file FILE or in $${CREDENTIAL_ENV} ` +
          `(netkit relay room prints it)`,
      );
    }
    text = env;
  } else {
    try {
      // A credential is a secret: a file others may read, or not ours, is refused.
      text = new TextDecoder().decode(
        read(path, { what: "credential file", forbiddenModeBits: 0o077, maxBytes: 4096 }),
      );
    } catch (err) {
      if (err instanceof NetkitError) throw err;
      throw new NetkitError(`Cannot read credential file "${path}": ${errorMessage(err)}`);
    }
  }
  parseCredential(text);
  return text.trim();
}
