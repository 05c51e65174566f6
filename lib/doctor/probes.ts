/**
 * What this machine's kernel and privileges let netkit do, found by trying it: each probe uses
 * the real facility (it opens the socket, creates the device, becomes the multicast router)
 * rather than trusting a config file. Probes that create anything do it in a new network
 * namespace of their own, which takes it away when they finish, so they never disturb the real
 * one (a probe must not, say, briefly own the multicast routing table a daemon is starting on).
 *
 * `netkit doctor` prints them; the tests skip on them (`tests/skip.ts`), so a test that needs,
 * say, IPv4 multicast routing is skipped with the same reason doctor gives. Results are cached
 * for the process. Requires `--allow-ffi`, `--allow-read=/proc`, `--allow-run` (iproute2).
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { errorMessage, NetkitOsError } from "../errors.ts";
import { MrouteSocket } from "../net/mroute_socket.ts";
import type { IpFamily } from "../net/mroute_structs.ts";
import { hugepageStatus } from "../net/buffer_arena.ts";
import { runInNewNetns } from "../net/netns.ts";
import { PacketSocket } from "../net/packet_socket.ts";
import { dumpLinks } from "../net/rtnetlink.ts";
import { TapDevice } from "../net/tap.ts";
import { checkPrivileges } from "./privileges.ts";
import {
  type CheckResult,
  checkResult,
  type CheckStatus,
  probeGroup,
  type ProbeKey,
} from "./result.ts";

const ROOT_HINT = "run as root";

function isPermissionError(err: unknown): boolean {
  return err instanceof NetkitOsError &&
    (err.errno === Errno.EPERM || err.errno === Errno.EACCES);
}

/**
 * Turns an exception from a probe into a result: a permission error says nothing about the
 * kernel, so it is a `fail` with the root hint; anything else is `missing` with `hint`.
 */
function failure(key: ProbeKey, err: unknown, detail: string, hint: string): CheckResult {
  const group = probeGroup(key);
  if (isPermissionError(err)) {
    return checkResult(key, group, "fail", `cannot tell: ${errorMessage(err)}`, ROOT_HINT);
  }
  return checkResult(key, group, "missing", detail, hint);
}

function checkPacketSocket(): CheckResult {
  try {
    using socket = PacketSocket.open({ interface: "lo" });
    return checkResult(
      "af_packet",
      "netkit",
      "ok",
      `raw packet socket opened on "${socket.ifname}"`,
    );
  } catch (err) {
    return checkResult(
      "af_packet",
      "netkit",
      "fail",
      errorMessage(err),
      "needs CAP_NET_RAW and a kernel with CONFIG_PACKET",
    );
  }
}

function checkRtnetlink(): CheckResult {
  try {
    return checkResult(
      "rtnetlink",
      "netkit",
      "ok",
      `${dumpLinks().length} interfaces in this namespace`,
    );
  } catch (err) {
    return checkResult("rtnetlink", "netkit", "fail", errorMessage(err));
  }
}

function checkQuic(): CheckResult {
  const hint = "`netkit relay`, `gateway` and `client` cannot run here";
  if (typeof Deno.QuicEndpoint !== "function") {
    return checkResult(
      "quic",
      "netkit",
      "missing",
      "Deno.QuicEndpoint is missing: run with --unstable-net (./netkit does)",
      hint,
    );
  }
  try {
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const port = endpoint.addr.port;
    endpoint.close();
    return checkResult("quic", "netkit", "ok", `QUIC endpoint bound on 127.0.0.1:${port}`);
  } catch (err) {
    return checkResult("quic", "netkit", "missing", `no QUIC: ${errorMessage(err)}`, hint);
  }
}

function checkNetns(): CheckResult {
  try {
    runInNewNetns(() => {});
    return checkResult("netns", "kernel", "ok", "a new network namespace can be created");
  } catch (err) {
    const kernel = err instanceof NetkitOsError && err.errno === Errno.EINVAL;
    return failure(
      "netns",
      err,
      kernel
        ? "no network namespaces: the kernel lacks CONFIG_NET_NS (unshare: EINVAL)"
        : `no network namespaces: ${errorMessage(err)}`,
      "`-n NETNS`, `netkit lab` and the integration tests cannot run here",
    );
  }
}

/**
 * Creates a link of `kind` with iproute2 inside a namespace that `unshare` makes for the one
 * command, so the link goes with it. `script` (a shell command) replaces `ip link add ipArgs`
 * when the probe needs more than one command.
 */
function checkLinkKind(
  key: "veth" | "bridge" | "bonding" | "netem",
  config: string,
  ipArgs: string[],
  options: { hint?: string; script?: string; what?: string } = {},
): CheckResult {
  const hint = options.hint ?? "`netkit lab` and the integration tests cannot run here";
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("unshare", {
      args: options.script === undefined
        ? ["--net", "ip", "link", "add", ...ipArgs]
        : ["--net", "sh", "-c", options.script],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return checkResult(
      key,
      "kernel",
      "missing",
      "cannot tell: unshare (util-linux) is not installed",
      hint,
    );
  }
  const what = options.what ?? `${key} links`;
  if (out.success) {
    const made = options.what === undefined ? `a ${key} link can be created` : `${what} work`;
    return checkResult(key, "kernel", "ok", made);
  }
  const error = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
  if (/unshare failed|Operation not permitted/.test(error)) {
    return checkResult(key, "kernel", "fail", `cannot tell: ${error}`, ROOT_HINT);
  }
  if (/execvp|No such file|not found/.test(error)) {
    return checkResult(
      key,
      "kernel",
      "missing",
      "cannot tell: ip (iproute2) is not installed",
      hint,
    );
  }
  return checkResult(
    key,
    "kernel",
    "missing",
    `no ${what}: the kernel lacks ${config} (${
      options.script === undefined ? "ip: " : ""
    }${error})`,
    hint,
  );
}

function checkTun(): CheckResult {
  try {
    runInNewNetns(() => TapDevice.open({ name: "nkprobe0", up: false }).close());
    return checkResult("tun", "kernel", "ok", "TAP devices can be created (/dev/net/tun)");
  } catch (err) {
    return failure(
      "tun",
      err,
      `no TAP devices: the kernel lacks CONFIG_TUN, or the tun module is not loaded (${
        errorMessage(err)
      })`,
      "`netkit client` cannot run here; try modprobe tun",
    );
  }
}

/** Whether the kernel refused an option it was built without (rather than, say, IPv6 off). */
function kernelLacks(err: unknown): err is NetkitOsError {
  return err instanceof NetkitOsError &&
    (err.errno === Errno.ENOPROTOOPT || err.errno === Errno.EOPNOTSUPP);
}

/** Becomes the multicast router of `table` (default: the family's main one) and lets go. */
function openMrouteOwner(family: IpFamily, table?: number): void {
  runInNewNetns(() => {
    MrouteSocket.open(family, table === undefined ? { owner: true } : { owner: true, table })
      .close();
  });
}

function checkMroute(family: IpFamily): CheckResult {
  const key = family === 4 ? "ipv4_mroute" : "ipv6_mroute";
  const name = family === 4 ? "IPv4" : "IPv6";
  const config = family === 4 ? "CONFIG_IP_MROUTE" : "CONFIG_IPV6_MROUTE";
  try {
    openMrouteOwner(family);
    return checkResult(
      key,
      "kernel",
      "ok",
      `${name} multicast routing (${config}): MRT_INIT works`,
    );
  } catch (err) {
    return failure(
      key,
      err,
      kernelLacks(err)
        ? `no ${name} multicast routing: the kernel lacks ${config} (MRT_INIT: ${err.code})`
        : `no ${name} multicast routing: ${errorMessage(err)}`,
      `\`netkit mroute\` cannot route ${name} here`,
    );
  }
}

/** Probe table id: any id but the default one needs MRT_TABLE. */
const PROBE_TABLE = 7;

function checkMrouteTables(family: IpFamily): CheckResult {
  const key = family === 4 ? "ipv4_mroute_tables" : "ipv6_mroute_tables";
  const name = family === 4 ? "IPv4" : "IPv6";
  const config = `${family === 4 ? "CONFIG_IP_MROUTE" : "CONFIG_IPV6_MROUTE"}_MULTIPLE_TABLES`;
  const hint = `\`netkit mroute --table\` cannot use ${name} tables other than the default here`;
  const base = probe(family === 4 ? "ipv4_mroute" : "ipv6_mroute");
  if (base.status === "fail") return { ...base, check: key };
  if (base.status !== "ok") {
    return checkResult(key, "kernel", base.status, base.detail, hint);
  }
  try {
    openMrouteOwner(family, PROBE_TABLE);
    return checkResult(key, "kernel", "ok", `${name} multicast routing tables (${config})`);
  } catch (err) {
    return failure(
      key,
      err,
      `no ${name} multicast routing tables besides the default: ${
        kernelLacks(err) ? `the kernel lacks ${config} (MRT_TABLE: ${err.code})` : errorMessage(err)
      }`,
      hint,
    );
  }
}

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

function checkHugetlb(): CheckResult {
  const { sizeKiB } = hugepageStatus();
  if (sizeKiB === 0) {
    return checkResult(
      "hugetlb",
      "kernel",
      "missing",
      "no huge pages: the kernel lacks CONFIG_HUGETLBFS (no Hugepagesize in /proc/meminfo)",
      "packet arenas use normal or transparent huge pages",
    );
  }
  try {
    // Opening for writing changes nothing; it shows whether huge pages could be reserved.
    Deno.openSync(NR_HUGEPAGES, { write: true }).close();
  } catch (err) {
    const status: CheckStatus = err instanceof Deno.errors.PermissionDenied ? "fail" : "missing";
    const why = status === "fail" ? "permission denied" : errorMessage(err);
    return checkResult(
      "hugetlb",
      "kernel",
      status,
      `${sizeKiB} KiB huge pages, but ${NR_HUGEPAGES} is not writable (${why})`,
      status === "fail" ? ROOT_HINT : "huge pages cannot be reserved here",
    );
  }
  return checkResult("hugetlb", "kernel", "ok", `${sizeKiB} KiB huge pages can be reserved`);
}

function checkHugepages(): CheckResult {
  const pages = hugepageStatus();
  if (pages.sizeKiB === 0) {
    return checkResult(
      "hugepages",
      "kernel",
      "warn",
      `none: this kernel has no huge pages; arenas use normal pages, transparent huge pages: ${pages.thp}`,
    );
  }
  if (pages.total === 0) {
    return checkResult(
      "hugepages",
      "kernel",
      "warn",
      `none reserved (${pages.sizeKiB} KiB pages); arenas use normal pages, transparent huge pages: ${pages.thp}`,
      "reserve some for the fast paths: sysctl vm.nr_hugepages=64",
    );
  }
  return checkResult(
    "hugepages",
    "kernel",
    "ok",
    `${pages.free} of ${pages.total} free (${pages.sizeKiB} KiB pages)`,
  );
}

const PROBE_FUNCTIONS: Record<ProbeKey, () => CheckResult> = {
  "privileges": () => checkPrivileges(),
  "af_packet": checkPacketSocket,
  "rtnetlink": checkRtnetlink,
  "quic": checkQuic,
  "netns": checkNetns,
  "veth": () =>
    checkLinkKind("veth", "CONFIG_VETH", ["nkprobe0", "type", "veth", "peer", "name", "nkprobe1"]),
  "bridge": () => checkLinkKind("bridge", "CONFIG_BRIDGE", ["nkprobe0", "type", "bridge"]),
  "bonding": () =>
    checkLinkKind("bonding", "CONFIG_BONDING", ["nkprobe0", "type", "bond", "mode", "802.3ad"], {
      hint: "the tests against Linux bonding run in the kernel lane (user-mode Linux) instead",
      what: "802.3ad bonds",
    }),
  "netem": () =>
    checkLinkKind("netem", "CONFIG_NET_SCH_NETEM", [], {
      script: "ip link add nkprobe0 type veth peer name nkprobe1 && " +
        "tc qdisc add dev nkprobe0 root netem delay 1ms",
      hint: "the tests that need delay or loss run in the kernel lane (user-mode Linux) instead",
      what: "netem delay and loss",
    }),
  "tun": checkTun,
  "ipv4_mroute": () => checkMroute(4),
  "ipv6_mroute": () => checkMroute(6),
  "ipv4_mroute_tables": () => checkMrouteTables(4),
  "ipv6_mroute_tables": () => checkMrouteTables(6),
  "hugetlb": checkHugetlb,
  "hugepages": checkHugepages,
};

const cache = new Map<ProbeKey, CheckResult>();

/** The result of probe `key`, run once per process. */
export function probe(key: ProbeKey): CheckResult {
  let found = cache.get(key);
  if (found === undefined) {
    try {
      found = PROBE_FUNCTIONS[key]();
    } catch (err) {
      // A probe that breaks must still give an answer; a wrong "ok" would be worse.
      found = checkResult(key, probeGroup(key), "fail", `probe failed: ${errorMessage(err)}`);
    }
    cache.set(key, found);
  }
  return found;
}
