/**
 * `netkit lsoe`'s configuration: lsoed's ini file (section `[lsoed]`, lsoed's option names and
 * defaults, so an lsoed configuration works unchanged) and the command line, which overrides
 * it, resolved into the one {@linkcode LsoeConfig} the daemon runs with.
 *
 * Every value is checked and bounded here, once: a bad one is an {@linkcode InvalidInputError}
 * of one line naming the option (and `FILE:LINE` for the file), which the CLI turns into exit 2.
 * Times are seconds in the file and on the command line (decimals allowed, as in lsoed) and
 * milliseconds in {@linkcode LsoeConfig}.
 *
 * Pure apart from {@linkcode readLsoeIni}, which loads lib/net/safe_file.ts only when called.
 *
 * @example
 * ```ts
 * import { parseLsoeIni } from "./config.ts";
 *
 * const ini = parseLsoeIni("[lsoed]\nhello-interval = 2\nreport-rfc7752-url = http://x/\n", "a.conf");
 * ini.settings.helloIntervalMs; // 2000
 * ini.ignored; // ['a.conf:3: "report-rfc7752-url" is ignored: netkit does not post RFC 7752 reports (use "netkit lsoe monitor -j")']
 * ```
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import { LOCAL_ID_LEN, LSOE_ETHERTYPE, LSOE_HELLO_GROUP } from "../packet/lsoe.ts";
import { isMulticastMac, parseMac } from "../packet/mac.ts";
import {
  DEFAULT_MAC_CACHE_TIMEOUT_MS,
  DEFAULT_REASSEMBLY_TIMEOUT_MS,
  DEFAULT_TIMERS,
  type LsoeTimers,
} from "./timers.ts";

/** What the daemon runs with: every option resolved (defaults, then the file, then the command line). */
export interface LsoeConfig {
  /** The interfaces of `-i`, in order; null: every up, Ethernet, non-loopback one, later ones too. */
  interfaces: string[] | null;
  /** The EtherType spoken (`--ethertype`; default {@linkcode LSOE_ETHERTYPE}). */
  etherType: number;
  /** Our Local ID, {@linkcode LOCAL_ID_LEN} bytes (`local-id`, or lib/lsoe/local_id.ts). */
  localId: Uint8Array;
  /** The session timers. */
  timers: LsoeTimers;
  /** `reassembly-timeout`, ms. */
  reassemblyTimeoutMs: number;
  /** `mac-address-cache-timeout`, ms. */
  macCacheTimeoutMs: number;
  /** `hello-multicast-macaddr`: where HELLOs go (6 bytes, a group address). */
  helloGroup: Uint8Array;
  /** `--mpls-label IFACE=LABEL`: the label announced with that interface's addresses. */
  mplsLabels: Map<string, number>;
  /** `--pcap`: where to record the frames sent and received, or null. */
  pcap: string | null;
}

/** The options of the `[lsoed]` section a file or the command line may set; absent: not given. */
export interface LsoeSettings {
  /** `hello-interval`. */
  helloIntervalMs?: number;
  /** `keepalive-send-interval`. */
  keepaliveSendIntervalMs?: number;
  /** `keepalive-receive-timeout` (0: never). */
  keepaliveReceiveTimeoutMs?: number;
  /** `retransmit-initial-interval`. */
  retransmitInitialIntervalMs?: number;
  /** `retransmit-exponential-backoff`. */
  retransmitExponentialBackoff?: boolean;
  /** `retransmit-max-drop`. */
  retransmitMaxDrop?: number;
  /** `reassembly-timeout`. */
  reassemblyTimeoutMs?: number;
  /** `mac-address-cache-timeout`. */
  macCacheTimeoutMs?: number;
  /** `hello-multicast-macaddr`. */
  helloGroup?: Uint8Array;
  /** `local-id`. */
  localId?: Uint8Array;
}

/** A time option: its key in {@linkcode LsoeSettings} and its bounds in seconds. */
interface SecondsOption {
  kind: "seconds";
  key:
    | "helloIntervalMs"
    | "keepaliveSendIntervalMs"
    | "keepaliveReceiveTimeoutMs"
    | "retransmitInitialIntervalMs"
    | "reassemblyTimeoutMs"
    | "macCacheTimeoutMs";
  /** The largest value, seconds. */
  max: number;
  /** Whether 0 is allowed (it means "never"). */
  zeroAllowed: boolean;
}

type OptionSpec =
  | SecondsOption
  | { kind: "boolean"; key: "retransmitExponentialBackoff" }
  | { kind: "count"; key: "retransmitMaxDrop"; max: number }
  | { kind: "group"; key: "helloGroup" }
  | { kind: "localId"; key: "localId" };

/**
 * The shortest time option, seconds: shorter would make a timer loop spin for nothing (lsoed
 * allows any float; its defaults are 1 s and more).
 */
export const MIN_SECONDS = 0.01;

/** lsoed's options netkit reads, by their names in the file (and, with `--`, on the command line). */
const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  "hello-interval": { kind: "seconds", key: "helloIntervalMs", max: 3600, zeroAllowed: false },
  "keepalive-send-interval": {
    kind: "seconds",
    key: "keepaliveSendIntervalMs",
    max: 3600,
    zeroAllowed: false,
  },
  "keepalive-receive-timeout": {
    kind: "seconds",
    key: "keepaliveReceiveTimeoutMs",
    max: 86400,
    zeroAllowed: true,
  },
  "retransmit-initial-interval": {
    kind: "seconds",
    key: "retransmitInitialIntervalMs",
    max: 3600,
    zeroAllowed: false,
  },
  "retransmit-exponential-backoff": { kind: "boolean", key: "retransmitExponentialBackoff" },
  // 32 doublings of the longest initial interval stay far inside a safe integer of ms.
  "retransmit-max-drop": { kind: "count", key: "retransmitMaxDrop", max: 32 },
  "reassembly-timeout": {
    kind: "seconds",
    key: "reassemblyTimeoutMs",
    max: 60,
    zeroAllowed: false,
  },
  "mac-address-cache-timeout": {
    kind: "seconds",
    key: "macCacheTimeoutMs",
    max: 86400,
    zeroAllowed: false,
  },
  "hello-multicast-macaddr": { kind: "group", key: "helloGroup" },
  "local-id": { kind: "localId", key: "localId" },
};

/** The names of lsoed's options netkit reads. */
export const LSOED_OPTION_NAMES: readonly string[] = Object.keys(OPTIONS);

/** lsoed's options netkit accepts in a file and ignores, with why. */
const IGNORED_OPTIONS: Readonly<Record<string, string>> = {
  "report-rfc7752-url": 'netkit does not post RFC 7752 reports (use "netkit lsoe monitor -j")',
};

/** configparser's booleans, lower-case. */
const BOOLEANS: Readonly<Record<string, boolean>> = {
  "1": true,
  yes: true,
  true: true,
  on: true,
  "0": false,
  no: false,
  false: false,
  off: false,
};

/** A decimal number of seconds as Python's float() reads one (no inf or nan). */
const SECONDS_TEXT = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function invalid(text: string, label: string, expected: string): InvalidInputError {
  return new InvalidInputError(`Invalid value "${text}" for ${label}: expected ${expected}`);
}

function parseSeconds(text: string, label: string, spec: SecondsOption): number {
  const expected = `seconds from ${MIN_SECONDS} to ${spec.max}${
    spec.zeroAllowed ? ", or 0 for never" : ""
  }`;
  const seconds = SECONDS_TEXT.test(text) ? Number(text) : NaN;
  if (Number.isFinite(seconds) && seconds === 0 && spec.zeroAllowed) return 0;
  if (!(seconds >= MIN_SECONDS && seconds <= spec.max)) throw invalid(text, label, expected);
  return Math.round(seconds * 1000);
}

/**
 * A Local ID as lsoed reads one: hex, with ":", "-" or white space allowed between bytes;
 * exactly {@linkcode LOCAL_ID_LEN} bytes.
 */
export function parseLocalId(text: string, label = "local-id"): Uint8Array {
  const groups = text.trim().split(/[\s:-]+/);
  const expected = `${LOCAL_ID_LEN} bytes in hex, like 6e6b2d612d30303030aa or 6e:6b:2d:...`;
  if (!groups.every((g) => /^([0-9a-f]{2})+$/i.test(g))) throw invalid(text, label, expected);
  const hex = groups.join("");
  if (hex.length !== 2 * LOCAL_ID_LEN) throw invalid(text, label, expected);
  const id = new Uint8Array(LOCAL_ID_LEN);
  for (let i = 0; i < LOCAL_ID_LEN; i++) id[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return id;
}

function parseGroup(text: string, label: string): Uint8Array {
  const expected = "a multicast MAC like 01-80-C2-00-00-0E";
  let mac: Uint8Array;
  try {
    mac = parseMac(text);
  } catch {
    throw invalid(text, label, expected);
  }
  if (!isMulticastMac(mac)) throw invalid(text, label, expected);
  return mac;
}

/**
 * The value of lsoed option `name` (one of {@linkcode LSOED_OPTION_NAMES}) given as `text`, as
 * the one field of {@linkcode LsoeSettings} it sets; `label` names it in the error
 * (`--hello-interval` on the command line). Throws an {@linkcode InvalidInputError} for a value
 * out of bounds or an unknown name.
 */
export function parseLsoedOption(name: string, text: string, label = name): LsoeSettings {
  const spec = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
  switch (spec?.kind) {
    case undefined:
      throw new InvalidInputError(
        `Unknown option "${name}": expected one of ${LSOED_OPTION_NAMES.join(", ")}`,
      );
    case "seconds":
      return { [spec.key]: parseSeconds(text, label, spec) };
    case "boolean": {
      const value = Object.hasOwn(BOOLEANS, text.toLowerCase())
        ? BOOLEANS[text.toLowerCase()]
        : undefined;
      if (value === undefined) throw invalid(text, label, "yes, no, true, false, on, off, 1 or 0");
      return { retransmitExponentialBackoff: value };
    }
    case "count": {
      const n = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
      if (!(n >= 1 && n <= spec.max)) {
        throw invalid(text, label, `an integer from 1 to ${spec.max}`);
      }
      return { retransmitMaxDrop: n };
    }
    case "group":
      return { helloGroup: parseGroup(text, label) };
    case "localId":
      return { localId: parseLocalId(text, label) };
  }
}

/** What {@linkcode parseLsoeIni} found. */
export interface LsoeIni {
  /** The options the file sets. */
  settings: LsoeSettings;
  /** One line per option or section accepted and ignored, `FILE:LINE: ...`, to print as warnings. */
  ignored: string[];
}

/** Most bytes a configuration file may have (lsoed's whole default file is under 2 KiB). */
export const MAX_INI_BYTES = 64 * 1024;

/** One `key = value` of the file, with where it was. */
interface IniEntry {
  value: string;
  line: number;
}

/** configparser's own name for the section whose keys every section inherits. */
const DEFAULT_SECTION = "DEFAULT";
/** The section lsoed reads. */
const LSOED_SECTION = "lsoed";

/** One `[section]` of the file: where it starts and its options. */
interface IniSection {
  line: number;
  entries: Map<string, IniEntry>;
}

/** The file's sections as configparser (strict, no inline comments) reads them. */
function readSections(text: string, origin: string): Map<string, IniSection> {
  const sections = new Map<string, IniSection>();
  let current: Map<string, IniEntry> | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const at = `${origin}:${i + 1}`;
    const raw = lines[i]!.replace(/\r$/, "");
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (/^\s/.test(raw)) {
      throw new InvalidInputError(
        `${at}: An indented line continues the value above it, and every lsoed option takes one value`,
      );
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!;
      const first = sections.get(name);
      if (first !== undefined) {
        throw new InvalidInputError(
          `${at}: Section [${name}] is given twice (first on line ${first.line})`,
        );
      }
      current = new Map();
      sections.set(name, { line: i + 1, entries: current });
      continue;
    }
    const option = /^([^=:]*?)\s*[=:]\s*(.*)$/.exec(line);
    if (option === null || option[1] === "") {
      throw new InvalidInputError(`${at}: Expected "[section]", "name = value" or a comment`);
    }
    if (current === null) {
      throw new InvalidInputError(
        `${at}: An option before any section: the file starts with [lsoed]`,
      );
    }
    const key = option[1]!.toLowerCase();
    const first = current.get(key);
    if (first !== undefined) {
      throw new InvalidInputError(`${at}: "${key}" is given twice (first on line ${first.line})`);
    }
    current.set(key, { value: option[2]!, line: i + 1 });
  }
  if (!sections.has(LSOED_SECTION)) {
    throw new InvalidInputError(`${origin}: No [lsoed] section (lsoed's options go under it)`);
  }
  return sections;
}

/**
 * Parses an lsoed configuration file's `text` (`origin` names it in messages) as lsoed's
 * configparser does: `[lsoed]` mandatory, `name = value` or `name: value` (names in any case),
 * whole-line `#` and `;` comments, configparser's booleans, `[DEFAULT]` inherited, other
 * sections ignored. Options lsoed knows and netkit does not use are reported in `ignored`; an
 * unknown option, a repeated one or a bad value is an {@linkcode InvalidInputError} naming
 * `FILE:LINE`.
 */
export function parseLsoeIni(text: string, origin: string): LsoeIni {
  const sections = readSections(text, origin);
  const ignored: string[] = [];
  // configparser gives every section the keys of [DEFAULT]; [lsoed]'s own win.
  const entries = new Map<string, IniEntry>(sections.get(DEFAULT_SECTION)?.entries);
  for (const [key, entry] of sections.get(LSOED_SECTION)!.entries) entries.set(key, entry);
  for (const [name, { line }] of sections) {
    if (name === LSOED_SECTION || name === DEFAULT_SECTION) continue;
    ignored.push(
      `${origin}:${line}: Section [${name}] is ignored: lsoed and netkit read [lsoed] only`,
    );
  }
  let settings: LsoeSettings = {};
  for (const [key, { value, line }] of entries) {
    const at = `${origin}:${line}`;
    if (Object.hasOwn(IGNORED_OPTIONS, key)) {
      ignored.push(`${at}: "${key}" is ignored: ${IGNORED_OPTIONS[key]}`);
      continue;
    }
    if (!Object.hasOwn(OPTIONS, key)) {
      throw new InvalidInputError(
        `${at}: Unknown option "${key}": lsoed's options are ${
          [...LSOED_OPTION_NAMES, ...Object.keys(IGNORED_OPTIONS)].join(", ")
        }`,
      );
    }
    try {
      settings = { ...settings, ...parseLsoedOption(key, value) };
    } catch (err) {
      if (err instanceof InvalidInputError) throw new InvalidInputError(`${at}: ${err.message}`);
      throw err;
    }
  }
  return { settings, ignored };
}

/**
 * Reads and parses the configuration file at `path` as root reads files (lib/net/safe_file.ts:
 * a regular file owned by the effective user, one link, not written by others, at most
 * {@linkcode MAX_INI_BYTES}). Requires `--allow-read` and `--allow-ffi`.
 */
export async function readLsoeIni(path: string): Promise<LsoeIni> {
  // Loaded here: it loads libnetkit, which the client commands never need.
  const { readCheckedFile } = await import("../net/safe_file.ts");
  // Group and others may read it, not write it: a writable file would let them choose our id.
  const bytes = readCheckedFile(path, {
    what: "lsoe configuration file",
    maxBytes: MAX_INI_BYTES,
    forbiddenModeBits: 0o022,
  });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidInputError(`${path}: Not UTF-8 text`);
  }
  return parseLsoeIni(text, path);
}

/** The smallest and largest MPLS label one may give (0 to 15 are reserved, RFC 3032). */
export const MPLS_LABEL_RANGE = { min: 16, max: 0xfffff } as const;

/** `IFACE=LABEL` of `--mpls-label`, checked. */
export function parseMplsLabel(text: string): [string, number] {
  const eq = text.lastIndexOf("=");
  const name = text.slice(0, eq);
  const label = text.slice(eq + 1);
  const n = eq > 0 && /^\d{1,7}$/.test(label) ? Number(label) : NaN;
  if (!(n >= MPLS_LABEL_RANGE.min && n <= MPLS_LABEL_RANGE.max)) {
    throw invalid(
      text,
      "--mpls-label",
      `IFACE=LABEL with a label from ${MPLS_LABEL_RANGE.min} to ${MPLS_LABEL_RANGE.max}`,
    );
  }
  validateInterfaceName(name);
  return [name, n];
}

/** The smallest EtherType (below it the field is an 802.3 length). */
export const MIN_ETHERTYPE = 0x0600;

/** What the command line gives beyond the file's options, parsed but not yet cross-checked. */
export interface LsoeCommandLine {
  /** `-i`, in order; empty: every suitable interface. */
  interfaces: readonly string[];
  /** `--ethertype`, or null for the default. */
  etherType: number | null;
  /** `--mpls-label`, in order. */
  mplsLabels: readonly (readonly [string, number])[];
  /** `--pcap`, or null. */
  pcap: string | null;
  /** The `[lsoed]` options given as `--name`: they override the file's. */
  settings: LsoeSettings;
}

function checkInterfaces(commandLine: LsoeCommandLine): void {
  const seen = new Set<string>();
  for (const name of commandLine.interfaces) {
    validateInterfaceName(name);
    if (seen.has(name)) throw new InvalidInputError(`Interface "${name}" is given twice with -i`);
    seen.add(name);
  }
  const labelled = new Set<string>();
  for (const [name] of commandLine.mplsLabels) {
    if (labelled.has(name)) {
      throw new InvalidInputError(`Interface "${name}" is given twice with --mpls-label`);
    }
    labelled.add(name);
    if (seen.size > 0 && !seen.has(name)) {
      throw new InvalidInputError(
        `--mpls-label names "${name}", which is not one of the -i interfaces`,
      );
    }
  }
}

/**
 * The configuration the daemon runs with: lsoed's defaults, then `file`'s settings, then the
 * command line's. `defaultLocalId` is called only when neither gives `local-id` (it reads the
 * machine's identity: lib/lsoe/local_id.ts). Throws an {@linkcode InvalidInputError} for
 * inconsistent options.
 */
export function resolveLsoeConfig(
  file: LsoeSettings,
  commandLine: LsoeCommandLine,
  defaultLocalId: () => Uint8Array,
): LsoeConfig {
  checkInterfaces(commandLine);
  const etherType = commandLine.etherType ?? LSOE_ETHERTYPE;
  if (!Number.isInteger(etherType) || etherType < MIN_ETHERTYPE || etherType > 0xffff) {
    throw new InvalidInputError(
      `Invalid EtherType ${etherType}: expected 0x0600 to 0xffff (below, it is an 802.3 length)`,
    );
  }
  const s: LsoeSettings = { ...file, ...commandLine.settings };
  const timers: LsoeTimers = {
    helloIntervalMs: s.helloIntervalMs ?? DEFAULT_TIMERS.helloIntervalMs,
    keepaliveSendIntervalMs: s.keepaliveSendIntervalMs ?? DEFAULT_TIMERS.keepaliveSendIntervalMs,
    keepaliveReceiveTimeoutMs: s.keepaliveReceiveTimeoutMs ??
      DEFAULT_TIMERS.keepaliveReceiveTimeoutMs,
    retransmitInitialIntervalMs: s.retransmitInitialIntervalMs ??
      DEFAULT_TIMERS.retransmitInitialIntervalMs,
    retransmitExponentialBackoff: s.retransmitExponentialBackoff ??
      DEFAULT_TIMERS.retransmitExponentialBackoff,
    retransmitMaxDrop: s.retransmitMaxDrop ?? DEFAULT_TIMERS.retransmitMaxDrop,
  };
  const receive = timers.keepaliveReceiveTimeoutMs;
  if (receive !== 0 && receive <= timers.keepaliveSendIntervalMs) {
    // A peer like us would be closed between two of its keepalives.
    throw new InvalidInputError(
      `keepalive-receive-timeout (${
        receive / 1000
      } s) must be longer than keepalive-send-interval (${
        timers.keepaliveSendIntervalMs / 1000
      } s), or 0 for never`,
    );
  }
  return {
    interfaces: commandLine.interfaces.length === 0 ? null : [...commandLine.interfaces],
    etherType,
    localId: s.localId ?? defaultLocalId(),
    timers,
    reassemblyTimeoutMs: s.reassemblyTimeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS,
    macCacheTimeoutMs: s.macCacheTimeoutMs ?? DEFAULT_MAC_CACHE_TIMEOUT_MS,
    helloGroup: s.helloGroup ?? new Uint8Array(LSOE_HELLO_GROUP),
    mplsLabels: new Map(commandLine.mplsLabels),
    pcap: commandLine.pcap,
  };
}
