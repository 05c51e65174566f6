/**
 * Open vSwitch as a real LACP peer for tests: `ovsdb-server` and `ovs-vswitchd` run in userspace
 * (`--disable-system`, netdev datapath, no kernel module) inside one network namespace, with every
 * database, pid file, log and control socket in a private temporary directory, so several peers in
 * different namespaces run side by side and nothing touches `/var/run/openvswitch`. The parsers
 * turn what `ovs-appctl lacp/show`, `lacp/show-stats` and `bond/show` print (Open vSwitch 3.1)
 * into typed objects; they are pure and exported for unit tests.
 *
 * ```ts ignore
 * await using peer = await OvsPeer.start("nk1a-peer");
 * await peer.addBond({ members: ["p1", "p2"], lacp: "active", time: "fast" });
 * const status = await peer.waitFor(
 *   () => peer.lacpShow(),
 *   (s) => s.negotiated,
 *   10_000,
 *   "LACP to negotiate",
 * );
 * ```
 *
 * Requires root, `--allow-run` (`ip`, `ovsdb-tool`, `ovsdb-server`, `ovs-vswitchd`, `ovs-vsctl`,
 * `ovs-appctl`), `--allow-read`/`--allow-write` (the temporary directory and `/proc`) and
 * `--allow-env`.
 *
 * @module
 */

import { delay, TimeoutError, waitFor } from "../lib/async.ts";
import { NetkitError } from "../lib/errors.ts";

const decoder = new TextDecoder();

/** How long one OVS command may take; `ovs-appctl` can take seconds on a loaded machine. */
const COMMAND_TIMEOUT_MS = 15_000;
/** The `--timeout` given to `ovs-vsctl` and `ovs-appctl` themselves, in seconds. */
const OVS_TOOL_TIMEOUT_S = 10;
/** How long `start()` waits for both daemons to answer on their control sockets. */
const ANSWER_TIMEOUT_MS = 10_000;
/** Interval between polls in {@linkcode OvsPeer.waitFor}. */
const POLL_INTERVAL_MS = 100;

/** LACP actor/partner state bits (802.1AX §6.4.2.3) by the words OVS prints for them. */
export const LACP_STATE_BITS: Readonly<Record<string, number>> = {
  activity: 0x01,
  timeout: 0x02,
  aggregation: 0x04,
  synchronized: 0x08,
  collecting: 0x10,
  distributing: 0x20,
  defaulted: 0x40,
  expired: 0x80,
};

/** Per-member LACP settings (Interface `other_config` in the OVS database). */
export interface OvsMemberOptions {
  /** `lacp-port-id`, 1..65535 (OVS picks one by default). */
  portId?: number;
  /** `lacp-port-priority`, 1..65535 (default 65535). */
  portPriority?: number;
  /** `lacp-aggregation-key`, 1..65535 (default: the bond's key). */
  aggregationKey?: number;
}

/** A bond to create with {@linkcode OvsPeer.addBond}. */
export interface OvsBondOptions {
  /** Bridge to create (or reuse) with `datapath_type=netdev`; default "br0". */
  bridge?: string;
  /** Port (bond) name; default "bond0". */
  bond?: string;
  /** Interfaces in the peer's namespace; one member gives an LACP port that is not an OVS bond. */
  members: string[];
  /** LACP mode; default "active". */
  lacp?: "active" | "passive";
  /** `lacp-time`: "fast" (1 s PDUs, 3 s timeout) or "slow" (30 s, 90 s); default "slow". */
  time?: "fast" | "slow";
  /** `lacp-system-id`, a MAC address; default the bridge's MAC. */
  systemId?: string;
  /** `lacp-system-priority`, 1..65535. */
  systemPriority?: number;
  /** `lacp-fallback-ab`: fall back to active-backup when the partner is not heard. */
  fallbackAb?: boolean;
  /** `bond_mode` (only for two or more members); default "balance-tcp". */
  bondMode?: "active-backup" | "balance-slb" | "balance-tcp";
  /** Per-member settings, by member name. */
  memberOptions?: Record<string, OvsMemberOptions>;
}

/** One side (actor or partner) of a member as `lacp/show` prints it. */
export interface OvsLacpParty {
  /** System id (MAC), e.g. "ba:a0:00:d6:30:41"; "00:00:00:00:00:00" for no partner. */
  sysId: string;
  /** System priority. */
  sysPriority: number;
  /** Port number. */
  portId: number;
  /** Port priority. */
  portPriority: number;
  /** Aggregation key. */
  key: number;
  /** State flags as words, e.g. ["activity", "timeout", "aggregation", "synchronized", ...]. */
  state: string[];
  /** The same flags as the LACPDU state octet (see {@linkcode LACP_STATE_BITS}). */
  stateBits: number;
}

/** One member of a LACP port as `lacp/show` prints it. */
export interface OvsLacpMember {
  /** e.g. "current attached", "expired attached", "defaulted detached". */
  status: string;
  /** The receive state: the first word of `status`. */
  rxState: "current" | "expired" | "defaulted";
  /** Whether OVS attached the member to the aggregator: the second word of `status`. */
  attached: boolean;
  /** The actor port number OVS uses for this member. */
  portId: number;
  /** The actor port priority. */
  portPriority: number;
  /** Attached with an in-sync partner (or defaulted with `lacp-fallback-ab`). */
  mayEnable: boolean;
  /** What OVS sends about itself. */
  actor: OvsLacpParty;
  /** What OVS last heard from the partner (all zero when defaulted). */
  partner: OvsLacpParty;
}

/** One LACP port as `lacp/show` prints it. */
export interface OvsLacpStatus {
  /** e.g. "active negotiated", "passive", "active". */
  status: string;
  /** `status` starts with "active" (else passive). */
  active: boolean;
  /** `status` says "negotiated". */
  negotiated: boolean;
  /** The actor system id (MAC). */
  sysId: string;
  /** The actor system priority. */
  sysPriority: number;
  /** The port's aggregation key, when printed. */
  aggregationKey?: number;
  /** "fast" or "slow", when printed. */
  lacpTime?: string;
  /** Members by interface name. */
  members: Record<string, OvsLacpMember>;
}

/** LACP counters of one member (`lacp/show-stats`). */
export interface OvsLacpMemberStats {
  /** "TX PDUs": LACPDUs sent. */
  txPdus: number;
  /** "RX PDUs": LACPDUs received. */
  rxPdus: number;
  /** "RX Bad PDUs": received slow-protocol frames OVS rejected. */
  rxBadPdus: number;
  /** "RX Marker Request PDUs": Marker Requests received. */
  rxMarkerRequestPdus: number;
  /** "Link Expired": current -> expired transitions (partner silent for 3 periods). */
  linkExpired: number;
  /** "Link Defaulted": expired -> defaulted transitions. */
  linkDefaulted: number;
  /** "Carrier Status Changed": carrier transitions of the member. */
  carrierStatusChanged: number;
}

/** One bond member as `bond/show` prints it. */
export interface OvsBondMember {
  /** "enabled" (else "disabled"). */
  enabled: boolean;
  /** `may_enable`: LACP allows the member to carry traffic. */
  mayEnable: boolean;
  /** Marked "active member" (the one active-backup uses, or the bond's current choice). */
  active: boolean;
}

/** One bond as `bond/show` prints it. */
export interface OvsBondStatus {
  /** e.g. "balance-tcp". */
  bondMode: string;
  /** "negotiated", "configured" or "off". */
  lacpStatus: string;
  /** `lacp_fallback_ab`. */
  lacpFallbackAb: boolean;
  /** Members by interface name. */
  members: Record<string, OvsBondMember>;
  /** Every top-level "key: value" line, verbatim, for fields not modelled above. */
  fields: Record<string, string>;
}

/** The process ids of a peer's daemons, once known. */
export interface OvsPeerPids {
  /** `ovsdb-server`. */
  ovsdbServer?: number;
  /** `ovs-vswitchd`. */
  vswitchd?: number;
}

/** Parse failure: names the command and carries the raw text on one line. */
function parseError(command: string, problem: string, text: string): NetkitError {
  return new NetkitError(
    `Cannot parse "ovs-appctl ${command}" output: ${problem}; raw text: ${JSON.stringify(text)}`,
  );
}

/** Splits `---- NAME ----` sections; text before the first header is ignored. */
function sections(text: string): { name: string; lines: string[] }[] {
  const out: { name: string; lines: string[] }[] = [];
  for (const line of text.split("\n")) {
    const header = /^---- (.+) ----\s*$/.exec(line);
    if (header) out.push({ name: header[1]!, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** "key: value" with the key before the first colon (OVS keys have none; MACs do). */
function keyValue(line: string): [string, string] | undefined {
  const m = /^\s*([^:]+?):(?:\s(.*))?$/.exec(line);
  return m ? [m[1]!, (m[2] ?? "").trim()] : undefined;
}

/** Field reader over one block of "key: value" lines, failing with the raw text. */
class Fields {
  readonly map = new Map<string, string>();
  constructor(readonly command: string, readonly where: string, readonly text: string) {}

  string(key: string): string {
    const value = this.map.get(key);
    if (value === undefined) {
      throw parseError(this.command, `no "${key}" in ${this.where}`, this.text);
    }
    return value;
  }

  int(key: string): number {
    const value = this.string(key);
    if (!/^\d+$/.test(value)) {
      throw parseError(this.command, `"${key}" is "${value}" in ${this.where}`, this.text);
    }
    return Number(value);
  }

  optionalInt(key: string): number | undefined {
    return this.map.has(key) ? this.int(key) : undefined;
  }

  bool(key: string): boolean {
    const value = this.string(key);
    if (value !== "true" && value !== "false") {
      throw parseError(this.command, `"${key}" is "${value}" in ${this.where}`, this.text);
    }
    return value === "true";
  }
}

function party(f: Fields, side: "actor" | "partner"): OvsLacpParty {
  const state = f.string(`${side} state`).split(/\s+/).filter((w) => w !== "");
  return {
    sysId: f.string(`${side} sys_id`),
    sysPriority: f.int(`${side} sys_priority`),
    portId: f.int(`${side} port_id`),
    portPriority: f.int(`${side} port_priority`),
    key: f.int(`${side} key`),
    state,
    stateBits: state.reduce((bits, word) => bits | (LACP_STATE_BITS[word] ?? 0), 0),
  };
}

/**
 * Parses `ovs-appctl lacp/show [port]` (Open vSwitch 3.1) into one {@linkcode OvsLacpStatus} per
 * port. Lines it does not know are ignored; a missing or malformed field throws a
 * {@linkcode NetkitError} that quotes the raw text.
 */
export function parseLacpShow(text: string): Record<string, OvsLacpStatus> {
  const cmd = "lacp/show";
  const result: Record<string, OvsLacpStatus> = {};
  const parts = sections(text);
  if (parts.length === 0) throw parseError(cmd, 'no "---- port ----" header', text);
  for (const { name, lines } of parts) {
    const top = new Fields(cmd, `port "${name}"`, text);
    const members: { name: string; status: string; fields: Fields }[] = [];
    for (const line of lines) {
      const member = /^member: ([^:]+): (.*)$/.exec(line);
      if (member) {
        const where = `member "${member[1]}" of port "${name}"`;
        members.push({
          name: member[1]!,
          status: member[2]!.trim(),
          fields: new Fields(cmd, where, text),
        });
        continue;
      }
      const kv = keyValue(line);
      if (kv) (members.at(-1)?.fields ?? top).map.set(kv[0], kv[1]);
    }
    const status = top.string("status");
    const aggregationKey = top.optionalInt("aggregation key");
    const lacpTime = top.map.get("lacp_time");
    const port: OvsLacpStatus = {
      status,
      active: status.split(" ")[0] === "active",
      negotiated: status.split(" ").includes("negotiated"),
      sysId: top.string("sys_id"),
      sysPriority: top.int("sys_priority"),
      ...(aggregationKey === undefined ? {} : { aggregationKey }),
      ...(lacpTime === undefined ? {} : { lacpTime }),
      members: {},
    };
    for (const m of members) {
      const [rxState, attachment] = m.status.split(/\s+/);
      if (
        (rxState !== "current" && rxState !== "expired" && rxState !== "defaulted") ||
        (attachment !== "attached" && attachment !== "detached")
      ) {
        throw parseError(cmd, `member "${m.name}" has status "${m.status}"`, text);
      }
      port.members[m.name] = {
        status: m.status,
        rxState,
        attached: attachment === "attached",
        portId: m.fields.int("port_id"),
        portPriority: m.fields.int("port_priority"),
        mayEnable: m.fields.bool("may_enable"),
        actor: party(m.fields, "actor"),
        partner: party(m.fields, "partner"),
      };
    }
    result[name] = port;
  }
  return result;
}

/** `lacp/show-stats` labels and the fields they fill. */
const STATS_LABELS: Record<string, keyof OvsLacpMemberStats> = {
  "TX PDUs": "txPdus",
  "RX PDUs": "rxPdus",
  "RX Bad PDUs": "rxBadPdus",
  "RX Marker Request PDUs": "rxMarkerRequestPdus",
  "Link Expired": "linkExpired",
  "Link Defaulted": "linkDefaulted",
  "Carrier Status Changed": "carrierStatusChanged",
};

/**
 * Parses `ovs-appctl lacp/show-stats [port]` into counters per port, then per member. Section
 * headers read `---- bond0 statistics ----`; the port name is the header without " statistics".
 */
export function parseLacpStats(
  text: string,
): Record<string, Record<string, OvsLacpMemberStats>> {
  const cmd = "lacp/show-stats";
  const result: Record<string, Record<string, OvsLacpMemberStats>> = {};
  const parts = sections(text);
  if (parts.length === 0) throw parseError(cmd, 'no "---- port statistics ----" header', text);
  for (const { name: header, lines } of parts) {
    const name = header.replace(/ statistics$/, "");
    const members: { name: string; fields: Fields }[] = [];
    for (const line of lines) {
      const member = /^member: ([^:]+):\s*$/.exec(line);
      if (member) {
        const where = `member "${member[1]}" of port "${name}"`;
        members.push({ name: member[1]!, fields: new Fields(cmd, where, text) });
        continue;
      }
      const kv = keyValue(line);
      if (kv) members.at(-1)?.fields.map.set(kv[0], kv[1]);
    }
    const port: Record<string, OvsLacpMemberStats> = {};
    for (const m of members) {
      const stats: Partial<OvsLacpMemberStats> = {};
      for (const [label, field] of Object.entries(STATS_LABELS)) stats[field] = m.fields.int(label);
      port[m.name] = stats as OvsLacpMemberStats;
    }
    result[name] = port;
  }
  return result;
}

/**
 * Parses `ovs-appctl bond/show [port]` into one {@linkcode OvsBondStatus} per bond. Top-level
 * lines are kept verbatim in `fields`; members come from `member NAME: enabled|disabled` blocks.
 */
export function parseBondShow(text: string): Record<string, OvsBondStatus> {
  const cmd = "bond/show";
  const result: Record<string, OvsBondStatus> = {};
  const parts = sections(text);
  if (parts.length === 0) throw parseError(cmd, 'no "---- bond ----" header', text);
  for (const { name, lines } of parts) {
    const top = new Fields(cmd, `bond "${name}"`, text);
    const members: { name: string; enabled: string; active: boolean; fields: Fields }[] = [];
    for (const line of lines) {
      const member = /^member ([^:]+): (\S+)\s*$/.exec(line);
      if (member) {
        const where = `member "${member[1]}" of bond "${name}"`;
        members.push({
          name: member[1]!,
          enabled: member[2]!,
          active: false,
          fields: new Fields(cmd, where, text),
        });
        continue;
      }
      const current = members.at(-1);
      if (current && line.trim() === "active member") {
        current.active = true;
        continue;
      }
      const kv = keyValue(line);
      if (kv) (current?.fields ?? top).map.set(kv[0], kv[1]);
    }
    const bond: OvsBondStatus = {
      bondMode: top.string("bond_mode"),
      lacpStatus: top.string("lacp_status"),
      lacpFallbackAb: top.bool("lacp_fallback_ab"),
      members: {},
      fields: Object.fromEntries(top.map),
    };
    for (const m of members) {
      if (m.enabled !== "enabled" && m.enabled !== "disabled") {
        throw parseError(cmd, `member "${m.name}" is "${m.enabled}"`, text);
      }
      bond.members[m.name] = {
        enabled: m.enabled === "enabled",
        mayEnable: m.fields.bool("may_enable"),
        active: m.active,
      };
    }
    result[name] = bond;
  }
  return result;
}

/** Output of one finished command. */
interface CommandResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; the child is killed when the deadline passes. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<CommandResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const line = `${cmd} ${args.join(" ")}`;
  try {
    const out = await new Deno.Command(cmd, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    if (abort.signal.aborted) {
      throw new NetkitError(`Command "${line}" did not finish within ${timeoutMs} ms`);
    }
    return {
      success: out.success,
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr).trim(),
    };
  } catch (error) {
    if (error instanceof NetkitError) throw error;
    if (abort.signal.aborted) {
      throw new NetkitError(`Command "${line}" did not finish within ${timeoutMs} ms`);
    }
    const hint = cmd.startsWith("ovs") ? "; is Open vSwitch installed?" : "";
    throw new NetkitError(`Cannot run "${cmd}": ${String(error)}${hint}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command and returns stdout; a non-zero exit throws with its stderr. */
async function runOk(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<string> {
  const out = await run(cmd, args, env, timeoutMs);
  if (!out.success) {
    throw new NetkitError(
      `Command "${cmd} ${args.join(" ")}" failed (exit ${out.code}): ${
        out.stderr.replaceAll("\n", " | ")
      }`,
    );
  }
  return out.stdout;
}

/**
 * Whether process `pid` is alive and is still the program named `comm` (so a recycled pid is
 * never mistaken for an OVS daemon). Zombies count as gone.
 */
async function isAlive(pid: number, comm: string): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    if (stat.slice(open + 1, close) !== comm) return false;
    const state = stat.slice(close + 2, close + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone, up to `ms`; returns whether it is gone. */
async function waitGone(pid: number, comm: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (await isAlive(pid, comm)) {
    if (Date.now() >= deadline) return false;
    await delay(20);
  }
  return true;
}

/** Sends `signal` to `pid` if it is still `comm`; a process that is already gone is fine. */
async function signalIfAlive(pid: number, comm: string, signal: Deno.Signal): Promise<void> {
  if (!(await isAlive(pid, comm))) return;
  try {
    Deno.kill(pid, signal);
  } catch {
    // Exited between the check and the signal.
  }
}

/** Reads a pid file; undefined when it is missing or not a number. */
async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** A name OVS and the shell tools take as one token. */
function checkName(what: string, name: string): void {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(name)) {
    throw new NetkitError(
      `Invalid ${what} "${name}": use 1 to 15 letters, digits, "_", ".", "@" or "-"`,
    );
  }
}

function checkU16(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new NetkitError(`Invalid ${what} "${value}": use an integer from 1 to 65535`);
  }
}

const COMM_OVSDB = "ovsdb-server";
const COMM_VSWITCHD = "ovs-vswitchd";

/**
 * Open vSwitch running in userspace inside one network namespace, as a LACP peer for tests.
 * Create with {@linkcode OvsPeer.start}; always {@linkcode OvsPeer.close} it (or `await using`).
 */
export class OvsPeer implements AsyncDisposable {
  /** Network namespace the daemons run in. */
  readonly netns: string;
  /** Private directory holding the database, pid files, logs and control sockets. */
  readonly dir: string;
  readonly #env: Record<string, string>;
  readonly #pids: OvsPeerPids = {};
  readonly #bridges = new Set<string>();
  #defaultBond = "bond0";
  #closing: Promise<void> | undefined;

  private constructor(netns: string, dir: string) {
    this.netns = netns;
    this.dir = dir;
    this.#env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  }

  /**
   * Creates a database in a new temporary directory, starts `ovsdb-server` and
   * `ovs-vswitchd --disable-system` in network namespace `netns` and waits (bounded) until both
   * answer on their control sockets. On failure everything started so far is stopped and removed.
   */
  static async start(netns: string): Promise<OvsPeer> {
    const dir = await Deno.makeTempDir({ prefix: "netkit-ovs-" });
    const peer = new OvsPeer(netns, dir);
    try {
      await peer.#boot();
    } catch (error) {
      const log = peer.logTail(5).replaceAll("\n", " | ");
      await peer.close().catch(() => {});
      if (error instanceof NetkitError && log !== "") {
        throw new NetkitError(`${error.message}; ovs-vswitchd log: ${log}`, { cause: error });
      }
      throw error;
    }
    return peer;
  }

  /** The daemons' process ids (known once each has started). */
  get pids(): Readonly<OvsPeerPids> {
    return { ...this.#pids };
  }

  get #db(): string {
    return `unix:${this.dir}/db.sock`;
  }

  get #vswitchdCtl(): string {
    return `${this.dir}/ovs-vswitchd.ctl`;
  }

  get #ovsdbCtl(): string {
    return `${this.dir}/ovsdb-server.ctl`;
  }

  async #boot(): Promise<void> {
    const d = this.dir;
    await runOk("ovsdb-tool", ["create", `${d}/conf.db`], this.#env);
    await runOk("ip", [
      "netns",
      "exec",
      this.netns,
      "ovsdb-server",
      `${d}/conf.db`,
      "--detach",
      "--no-chdir",
      `--pidfile=${d}/ovsdb-server.pid`,
      `--log-file=${d}/ovsdb-server.log`,
      `--unixctl=${this.#ovsdbCtl}`,
      `--remote=punix:${d}/db.sock`,
      "-vconsole:err",
    ], this.#env);
    this.#pids.ovsdbServer = await this.#requirePid("ovsdb-server");
    await this.vsctl("--no-wait", "init");
    await runOk("ip", [
      "netns",
      "exec",
      this.netns,
      "ovs-vswitchd",
      this.#db,
      "--disable-system",
      "--detach",
      "--no-chdir",
      `--pidfile=${d}/ovs-vswitchd.pid`,
      `--log-file=${d}/ovs-vswitchd.log`,
      `--unixctl=${this.#vswitchdCtl}`,
      "-vconsole:err",
    ], this.#env);
    this.#pids.vswitchd = await this.#requirePid("ovs-vswitchd");
    const daemons = [
      { name: "ovsdb-server", ctl: this.#ovsdbCtl },
      { name: "ovs-vswitchd", ctl: this.#vswitchdCtl },
    ];
    for (const { name, ctl } of daemons) {
      await this.waitFor(
        () =>
          run("ovs-appctl", [`--timeout=${OVS_TOOL_TIMEOUT_S}`, "-t", ctl, "version"], this.#env),
        (out) => out.success,
        ANSWER_TIMEOUT_MS,
        `${name} in "${this.netns}" to answer on "${ctl}"`,
      );
    }
  }

  async #requirePid(daemon: string): Promise<number> {
    const pid = await readPidFile(`${this.dir}/${daemon}.pid`);
    if (pid === undefined) {
      throw new NetkitError(`${daemon} in "${this.netns}" started but wrote no pid file`);
    }
    return pid;
  }

  /** Runs `ovs-vsctl` against this peer's database (bounded) and returns its stdout. */
  vsctl(...args: string[]): Promise<string> {
    return runOk(
      "ovs-vsctl",
      [`--db=${this.#db}`, `--timeout=${OVS_TOOL_TIMEOUT_S}`, ...args],
      this.#env,
    );
  }

  /** Runs `ovs-appctl` against this peer's `ovs-vswitchd` (bounded) and returns its stdout. */
  appctl(...args: string[]): Promise<string> {
    return runOk(
      "ovs-appctl",
      [`--timeout=${OVS_TOOL_TIMEOUT_S}`, "-t", this.#vswitchdCtl, ...args],
      this.#env,
    );
  }

  /**
   * Adds a netdev bridge (created if missing) and a LACP port over `members`, which must exist
   * in the peer's namespace. Returns once `ovs-vswitchd` has applied the configuration.
   */
  async addBond(options: OvsBondOptions): Promise<void> {
    const bridge = options.bridge ?? "br0";
    const bond = options.bond ?? "bond0";
    checkName("bridge name", bridge);
    checkName("bond name", bond);
    if (options.members.length === 0) {
      throw new NetkitError(`Bond "${bond}" needs at least one member`);
    }
    for (const m of options.members) checkName("member name", m);
    if (
      options.systemId !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(options.systemId)
    ) {
      throw new NetkitError(
        `Invalid LACP system id "${options.systemId}": use a MAC address like "02:00:00:00:00:01"`,
      );
    }
    if (options.systemPriority !== undefined) {
      checkU16("LACP system priority", options.systemPriority);
    }
    const portConfig = [
      `lacp=${options.lacp ?? "active"}`,
      `other_config:lacp-time=${options.time ?? "slow"}`,
    ];
    if (options.members.length > 1) {
      portConfig.push(`bond_mode=${options.bondMode ?? "balance-tcp"}`);
    }
    if (options.systemId !== undefined) {
      portConfig.push(`other_config:lacp-system-id="${options.systemId}"`);
    }
    if (options.systemPriority !== undefined) {
      portConfig.push(`other_config:lacp-system-priority=${options.systemPriority}`);
    }
    if (options.fallbackAb !== undefined) {
      portConfig.push(`other_config:lacp-fallback-ab=${options.fallbackAb}`);
    }
    // One generic form for any member count (`add-bond` refuses fewer than two interfaces).
    const args = [
      "--",
      "--may-exist",
      "add-br",
      bridge,
      "--",
      "set",
      "Bridge",
      bridge,
      "datapath_type=netdev",
    ];
    options.members.forEach((member, i) => {
      const config = [`name=${member}`];
      const m = options.memberOptions?.[member] ?? {};
      if (m.portId !== undefined) {
        checkU16(`LACP port id of "${member}"`, m.portId);
        config.push(`other_config:lacp-port-id=${m.portId}`);
      }
      if (m.portPriority !== undefined) {
        checkU16(`LACP port priority of "${member}"`, m.portPriority);
        config.push(`other_config:lacp-port-priority=${m.portPriority}`);
      }
      if (m.aggregationKey !== undefined) {
        checkU16(`LACP aggregation key of "${member}"`, m.aggregationKey);
        config.push(`other_config:lacp-aggregation-key=${m.aggregationKey}`);
      }
      args.push("--", `--id=@i${i}`, "create", "Interface", ...config);
    });
    for (const name of Object.keys(options.memberOptions ?? {})) {
      if (!options.members.includes(name)) {
        throw new NetkitError(`Member options for "${name}", which is not a member of "${bond}"`);
      }
    }
    const ifaces = options.members.map((_, i) => `@i${i}`).join(",");
    args.push(
      "--",
      "--id=@p",
      "create",
      "Port",
      `name=${bond}`,
      `interfaces=[${ifaces}]`,
      ...portConfig,
      "--",
      "add",
      "Bridge",
      bridge,
      "ports",
      "@p",
    );
    this.#bridges.add(bridge);
    await this.vsctl(...args);
    // OVS accepts a missing device and only records the failure in the Interface row.
    const errors = (await this.vsctl(
      ...options.members.flatMap((m) => ["--", "get", "Interface", m, "error"]),
    )).trim().split("\n");
    const failed = options.members.findIndex((_, i) => (errors[i] ?? "[]") !== "[]");
    if (failed >= 0) {
      await this.vsctl("--", "--if-exists", "del-port", bridge, bond).catch(() => {});
      throw new NetkitError(
        `Open vSwitch in "${this.netns}" cannot use member "${options.members[failed]}": ${
          errors[failed]!.replace(/^"|"$/g, "")
        }`,
      );
    }
    this.#defaultBond = bond;
  }

  /** Parsed `ovs-appctl lacp/show` for `bond` (default: the last bond added). */
  async lacpShow(bond: string = this.#defaultBond): Promise<OvsLacpStatus> {
    const text = await this.appctl("lacp/show", bond);
    const status = parseLacpShow(text)[bond];
    if (status === undefined) throw parseError("lacp/show", `no port "${bond}"`, text);
    return status;
  }

  /** Parsed `ovs-appctl lacp/show-stats` for `bond` (default: the last bond added), by member. */
  async lacpStats(bond: string = this.#defaultBond): Promise<Record<string, OvsLacpMemberStats>> {
    const text = await this.appctl("lacp/show-stats", bond);
    const stats = parseLacpStats(text)[bond];
    if (stats === undefined) throw parseError("lacp/show-stats", `no port "${bond}"`, text);
    return stats;
  }

  /** Parsed `ovs-appctl bond/show` for `bond` (default: the last bond added). */
  async bondShow(bond: string = this.#defaultBond): Promise<OvsBondStatus> {
    const text = await this.appctl("bond/show", bond);
    const status = parseBondShow(text)[bond];
    if (status === undefined) throw parseError("bond/show", `no bond "${bond}"`, text);
    return status;
  }

  /**
   * Calls `probe` until `accept` approves its value or `timeoutMs` pass (polling every 100 ms
   * after each answer), and returns the accepted value. A probe that throws counts as "not yet".
   * On timeout throws a {@linkcode NetkitError} naming `what`, with the last value (or error)
   * and the tail of the `ovs-vswitchd` log.
   */
  async waitFor<T>(
    probe: () => Promise<T>,
    accept: (value: T) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    try {
      return await waitFor(probe, accept, { timeoutMs, intervalMs: POLL_INTERVAL_MS, what });
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      const log = this.logTail(5).replaceAll("\n", " | ");
      throw new NetkitError(`${error.message}${log === "" ? "" : `; ovs-vswitchd log: ${log}`}`);
    }
  }

  /** The last `lines` lines of the `ovs-vswitchd` log ("" when there is none yet). */
  logTail(lines = 20): string {
    try {
      const text = Deno.readTextFileSync(`${this.dir}/ovs-vswitchd.log`).trimEnd();
      return text.split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /**
   * Stops both daemons and removes the directory. `ovs-vswitchd` is first asked to exit with
   * `--cleanup` (which deletes its tap devices and restores the members' flags), then each
   * daemon is signalled by pid (SIGTERM, then SIGKILL) until it is gone, waiting a bounded time.
   * Safe to call twice and after a failed start; throws if a daemon survived SIGKILL.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const vswitchd = this.#pids.vswitchd ?? await readPidFile(`${this.dir}/ovs-vswitchd.pid`);
    const ovsdb = this.#pids.ovsdbServer ?? await readPidFile(`${this.dir}/ovsdb-server.pid`);
    const survivors: string[] = [];
    let graceful = false;
    if (vswitchd !== undefined && await isAlive(vswitchd, COMM_VSWITCHD)) {
      const exit = await run(
        "ovs-appctl",
        ["--timeout=5", "-t", this.#vswitchdCtl, "exit", "--cleanup"],
        this.#env,
        7_000,
      ).catch(() => undefined);
      graceful = exit?.success === true && await waitGone(vswitchd, COMM_VSWITCHD, 5_000);
      if (!graceful && !(await this.#stop(vswitchd, COMM_VSWITCHD))) {
        survivors.push(`ovs-vswitchd (pid ${vswitchd})`);
      }
    }
    if (ovsdb !== undefined && !(await this.#stop(ovsdb, COMM_OVSDB))) {
      survivors.push(`ovsdb-server (pid ${ovsdb})`);
    }
    if (!graceful) await this.#removeTaps();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (survivors.length > 0) {
      throw new NetkitError(
        `Open vSwitch in "${this.netns}" did not stop: ${survivors.join(", ")} survived SIGKILL`,
      );
    }
  }

  /** SIGTERM, then SIGKILL; returns whether the process is gone. */
  async #stop(pid: number, comm: string): Promise<boolean> {
    await signalIfAlive(pid, comm, "SIGTERM");
    if (await waitGone(pid, comm, 5_000)) return true;
    await signalIfAlive(pid, comm, "SIGKILL");
    return await waitGone(pid, comm, 2_000);
  }

  /** Deletes the persistent tap devices the netdev datapath leaves when not exited cleanly. */
  async #removeTaps(): Promise<void> {
    for (const name of [...this.#bridges, "ovs-netdev"]) {
      const shown = await run("ip", ["-j", "-d", "-n", this.netns, "link", "show", name], {})
        .catch(() => undefined);
      if (!shown?.success) continue;
      try {
        const [link] = JSON.parse(shown.stdout) as { linkinfo?: { info_kind?: string } }[];
        if (link?.linkinfo?.info_kind !== "tun") continue;
      } catch {
        continue;
      }
      await run("ip", ["-n", this.netns, "link", "del", name], {}).catch(() => undefined);
    }
  }

  /** Same as {@linkcode OvsPeer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
