/**
 * The machine checks behind `netkit doctor`: each probes the real kernel facility netkit
 * uses (it opens a packet socket rather than trusting a config file) and says how to fix a
 * failure in one line.
 *
 * @module
 */

/** Outcome of one check: `warn` means netkit works with a limitation. */
export type CheckStatus = "ok" | "warn" | "fail";

/** One check's result (JSON field names are stable). */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or failure. */
  hint?: string;
}

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;

function result(check: string, status: CheckStatus, detail: string, hint?: string): CheckResult {
  return hint === undefined ? { check, status, detail } : { check, status, detail, hint };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Effective capabilities and uid from `/proc/self/status`. */
export function processPrivileges(status = Deno.readTextFileSync("/proc/self/status")): {
  uid: number;
  capabilities: bigint;
} {
  const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const capabilities = BigInt("0x" + (/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  return { uid, capabilities };
}

function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/** Checks root or the capabilities netkit needs. */
export function checkPrivileges(status?: string): CheckResult {
  const { uid, capabilities } = processPrivileges(status);
  const missing = [[CAP_NET_RAW, "CAP_NET_RAW"], [CAP_NET_ADMIN, "CAP_NET_ADMIN"]]
    .filter(([cap]) => !hasCap(capabilities, cap as number))
    .map(([, name]) => name as string);
  const who = uid === 0 ? "root" : `uid ${uid}`;
  if (missing.length > 0) {
    return result(
      "privileges",
      "fail",
      `${who} without ${missing.join(" and ")}`,
      "run as root, or grant them: setcap cap_net_raw,cap_net_admin+ep dist/netkit",
    );
  }
  if (!hasCap(capabilities, CAP_SYS_ADMIN)) {
    return result(
      "privileges",
      "warn",
      `${who} with CAP_NET_RAW and CAP_NET_ADMIN, without CAP_SYS_ADMIN`,
      "-n/--netns needs CAP_SYS_ADMIN to enter a namespace; run as root for it",
    );
  }
  return result("privileges", "ok", `${who} with CAP_NET_RAW, CAP_NET_ADMIN and CAP_SYS_ADMIN`);
}

async function checkLibrary(): Promise<CheckResult> {
  try {
    const { library } = await import("../../ffi/native.ts");
    return result(
      "library",
      "ok",
      `libnetkit ${library.version()} from ${library.location.path} (${library.location.source})`,
    );
  } catch (err) {
    return result("library", "fail", message(err), "run make, or set NETKIT_LIB to libnetkit.so");
  }
}

async function checkPacketSocket(): Promise<CheckResult> {
  try {
    const { PacketSocket } = await import("../net/packet_socket.ts");
    using socket = PacketSocket.open({ interface: "lo" });
    return result("af_packet", "ok", `raw packet socket opened on "${socket.ifname}"`);
  } catch (err) {
    return result(
      "af_packet",
      "fail",
      message(err),
      "needs CAP_NET_RAW and a kernel with CONFIG_PACKET",
    );
  }
}

async function checkRtnetlink(): Promise<CheckResult> {
  try {
    const { dumpLinks } = await import("../net/rtnetlink.ts");
    return result("rtnetlink", "ok", `${dumpLinks().length} interfaces in this namespace`);
  } catch (err) {
    return result("rtnetlink", "fail", message(err));
  }
}

async function checkTun(): Promise<CheckResult> {
  try {
    const { probeTun } = await import("../net/tap.ts");
    probeTun();
    return result("tun", "ok", "/dev/net/tun opens: TAP devices can be created");
  } catch (err) {
    return result(
      "tun",
      "fail",
      message(err),
      "load the tun module (modprobe tun) and run with CAP_NET_ADMIN",
    );
  }
}

function checkProcFile(check: string, path: string, what: string, hint: string): CheckResult {
  try {
    Deno.statSync(path);
    return result(check, "ok", `${what} supported (${path})`);
  } catch {
    return result(check, "fail", `${what} not supported: no ${path}`, hint);
  }
}

async function checkHugepages(): Promise<CheckResult> {
  const { hugepageStatus } = await import("../net/buffer_arena.ts");
  const pages = hugepageStatus();
  if (pages.total === 0) {
    return result(
      "hugepages",
      "warn",
      `none reserved (${pages.sizeKiB} KiB pages); arenas use normal pages, transparent huge pages: ${pages.thp}`,
      "reserve some for the fast paths: sysctl vm.nr_hugepages=64",
    );
  }
  return result(
    "hugepages",
    "ok",
    `${pages.free} of ${pages.total} free (${pages.sizeKiB} KiB pages)`,
  );
}

function checkNetns(): CheckResult {
  try {
    Deno.statSync("/proc/self/ns/net");
  } catch {
    return result("netns", "fail", "no /proc/self/ns/net: kernel without network namespaces");
  }
  let named = 0;
  try {
    for (const _ of Deno.readDirSync("/run/netns")) named++;
  } catch {
    // No namespace has been created with ip netns yet.
  }
  return result("netns", "ok", `network namespaces supported, ${named} named in /run/netns`);
}

function checkQuic(): CheckResult {
  if (typeof Deno.QuicEndpoint !== "function") {
    return result(
      "quic",
      "fail",
      "Deno.QuicEndpoint is missing",
      "run with --unstable-net (./netkit does)",
    );
  }
  try {
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const port = endpoint.addr.port;
    endpoint.close();
    return result("quic", "ok", `QUIC endpoint bound on 127.0.0.1:${port}`);
  } catch (err) {
    return result("quic", "fail", message(err));
  }
}

/** Runs every check, in the order users read them. */
export async function runChecks(): Promise<CheckResult[]> {
  const library = await checkLibrary();
  const needsLibrary = async (check: string, run: () => Promise<CheckResult>) =>
    library.status === "ok"
      ? await run()
      : result(check, "fail", "skipped: libnetkit is not loaded");
  return [
    library,
    checkPrivileges(),
    await needsLibrary("af_packet", checkPacketSocket),
    await needsLibrary("rtnetlink", checkRtnetlink),
    await needsLibrary("tun", checkTun),
    checkProcFile(
      "ipv4_mroute",
      "/proc/net/ip_mr_vif",
      "IPv4 multicast routing",
      "needs a kernel with CONFIG_IP_MROUTE",
    ),
    checkProcFile(
      "ipv6_mroute",
      "/proc/net/ip6_mr_vif",
      "IPv6 multicast routing",
      "needs a kernel with CONFIG_IPV6_MROUTE",
    ),
    await needsLibrary("hugepages", checkHugepages),
    checkNetns(),
    checkQuic(),
  ];
}
