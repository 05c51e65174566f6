/**
 * Options shared by `netkit gateway` and `netkit client`: where the relay is, how it is
 * trusted, and the room; plus waiting for SIGINT/SIGTERM while a peer runs.
 *
 * @module
 */

import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { loadPinnedCert } from "../l2/certs.ts";
import type { RelayAddress } from "../l2/relay_session.ts";
import { parseIntegerOption } from "./options.ts";

/** The options as commander gives them. */
export interface PeerCliOptions {
  relay: string;
  serverName: string;
  relayCert: string;
  room: string;
  budget?: string;
}

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

/** A room code, or a usage error. */
export function parseRoom(value: string): string {
  if (!/^[A-Z0-9]{4,16}$/.test(value)) {
    throw new UsageError(
      `Invalid room "${value}": expected 4 to 16 characters, capital letters and digits`,
    );
  }
  return value;
}

/** Adds the options every relay peer takes. */
export function addPeerOptions(command: Command): Command {
  return command
    .requiredOption("--relay <host:port>", "the relay's address")
    .requiredOption("--server-name <name>", "TLS server name of the relay's certificate")
    .requiredOption(
      "--relay-cert <file>",
      "the only certificate (PEM or DER) trusted for the relay",
    )
    .requiredOption("--room <code>", "room code (4 to 16 capital letters and digits)")
    .option("--budget <bytes>", "largest datagram to offer the relay (default: the path's)");
}

/** Validates the shared options and reads the pinned certificate. */
export async function parsePeerOptions(
  options: PeerCliOptions,
): Promise<{ relay: RelayAddress; room: string; budget?: number }> {
  const address = parseHostPort(options.relay, "--relay");
  const room = parseRoom(options.room);
  const budget = options.budget === undefined
    ? undefined
    : parseIntegerOption(options.budget, "--budget", 1200, 65535);
  const pin = await loadPinnedCert(options.relayCert);
  return {
    relay: { ...address, serverName: options.serverName, pin },
    room,
    ...(budget === undefined ? {} : { budget }),
  };
}

/** Resolves with the first SIGINT or SIGTERM, or null when `done` settles first. */
export async function untilSignal(done: Promise<unknown>): Promise<Deno.Signal | null> {
  let onInt = () => {};
  let onTerm = () => {};
  const caught = new Promise<Deno.Signal>((resolve) => {
    onInt = () => resolve("SIGINT");
    onTerm = () => resolve("SIGTERM");
  });
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    return await Promise.race([caught, done.then(() => null, () => null)]);
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}
