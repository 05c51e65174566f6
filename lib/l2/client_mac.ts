/**
 * The client's stable MAC: the first start derives one (from the machine id and TAP name, so
 * a reinstall gets the same one) and keeps it in the state directory, so DHCP leases and
 * switch tables survive restarts even if the machine id changes.
 *
 * @module
 */

import { errorMessage, NetkitError, NetkitOsError } from "../errors.ts";
import { isNotFound, readCheckedFile, writeFileAtomic } from "../net/safe_file.ts";
import { formatMac, isMulticastMac, parseMac } from "../packet/mac.ts";

/** Default TAP name: a fixed name keeps the derived MAC (and DHCP leases) stable. */
export const DEFAULT_TAP = "netkit0";

/** `NETKIT_STATE_DIR`, or `/var/lib/netkit`. Reads the environment with `--allow-env`. */
export function stateDir(): string {
  return Deno.env.get("NETKIT_STATE_DIR") || "/var/lib/netkit";
}

/** The file keeping the MAC of TAP `tap`. */
export function clientMacPath(tap: string, dir: string = stateDir()): string {
  return `${dir}/client-${tap}.mac`;
}

/** A locally administered unicast MAC from `seed` (SHA-256). */
export async function deriveMac(seed: string): Promise<Uint8Array> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed)),
  );
  const mac = digest.slice(0, 6);
  mac[0] = (mac[0]! & 0xfc) | 0x02; // unicast, locally administered
  return mac;
}

/**
 * The kept MAC of `tap`, created on first use. The file is read and written as netkit treats
 * every file it writes as root (lib/net/safe_file.ts): a symbolic link or a file that is not ours
 * is refused, and the first one is written atomically. Requires read/write access to `dir`.
 */
export async function stableClientMac(tap: string, dir: string = stateDir()): Promise<Uint8Array> {
  const path = clientMacPath(tap, dir);
  let text: string | null = null;
  try {
    text = new TextDecoder().decode(
      readCheckedFile(path, { what: "client MAC file", maxBytes: 64 }),
    ).trim();
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (text !== null) {
    try {
      const mac = parseMac(text);
      if (isMulticastMac(mac)) throw new Error("multicast");
      return mac;
    } catch (err) {
      throw new NetkitError(
        `The kept client MAC in "${path}" is unusable (${
          errorMessage(err)
        }): fix or delete the file, or give --mac`,
      );
    }
  }
  let machine = "";
  try {
    machine = (await Deno.readTextFile("/etc/machine-id")).trim();
  } catch {
    machine = crypto.randomUUID();
  }
  const mac = await deriveMac(`netkit-client ${machine} ${tap}`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    writeFileAtomic(path, formatMac(mac) + "\n", { what: "client MAC file", mode: 0o644 });
  } catch (err) {
    const denied = err instanceof Deno.errors.PermissionDenied ||
      (err instanceof NetkitOsError && ["EACCES", "EPERM", "EROFS"].includes(err.code));
    if (!denied) throw err;
    throw new NetkitError(
      `Cannot keep the client's MAC in "${dir}" (${errorMessage(err)}): give the TAP a MAC ` +
        "with --mac, or run as root",
    );
  }
  return mac;
}
