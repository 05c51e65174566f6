/**
 * The Linux bonding driver in 802.3ad mode as a real LACP peer for tests: a bond built from given
 * veth slaves inside one network namespace, and its state read from `/proc/net/bonding/<bond>`
 * in that namespace (`/proc/net` is per namespace, so `ip netns exec` is needed to see it). The
 * parser turns what the 6.1 driver prints (`drivers/net/bonding/bond_procfs.c`) into a typed
 * object; it is pure and exported for unit tests.
 *
 * ```ts ignore
 * using bond = BondPeer.create("nk1a-bond", { slaves: ["p1", "p2"], lacpRate: "fast" });
 * const status = await waitUntil( // testing/wait_until.ts
 *   () => bond.status(),
 *   (s) => s.slaves.every((slave) => slave.actor?.portState === 63),
 *   10_000,
 *   "the bond to collect and distribute",
 * );
 * ```
 *
 * Needs a kernel with bonding (the kernel lane has it), root and `--allow-run=ip`.
 *
 * @module
 */

const decoder = new TextDecoder();

/** A bond to create with {@linkcode BondPeer.create}. */
export interface BondPeerOptions {
  /** Bond device name; default "bond0". */
  name?: string;
  /** Existing interfaces in the namespace to enslave, in this order. */
  slaves: string[];
  /** `lacp_rate`: what the bond asks of its partner: 1 s ("fast") or 30 s ("slow") LACPDUs. */
  lacpRate: "fast" | "slow";
  /** `ad_select`; default the driver's ("stable"). */
  adSelect?: "stable" | "bandwidth" | "count";
  /** `ad_actor_sys_prio`, 1..65535; default the driver's (65535). */
  systemPriority?: number;
  /** `ad_actor_system`, a unicast MAC; default the bond's MAC. */
  actorSystem?: string;
}

/** Churn machine states as `/proc/net/bonding` names them. */
export type BondChurnState = "monitoring" | "none" | "churned";

/** One side of a slave's LACP information (`details actor/partner lacp pdu:`). */
export interface BondLacpParty {
  systemPriority: number;
  /** e.g. "4e:f9:65:10:71:72"; "00:00:00:00:00:00" when no partner is known. */
  systemMac: string;
  /** `port key` (actor) or `oper key` (partner). */
  key: number;
  portPriority: number;
  portNumber: number;
  /** The LACPDU state octet (802.1AX §6.4.2.3), e.g. 63 = activity..distributing. */
  portState: number;
}

/** One slave of the bond. */
export interface BondSlave {
  name: string;
  /** e.g. "up", "down". */
  miiStatus: string;
  /** The slave's own MAC (`Permanent HW addr`): the source of its LACPDUs. */
  permanentMac: string;
  /** The slave's aggregator, or null when it has none ("N/A"). */
  aggregatorId: number | null;
  /** The fields below are printed only while the slave has an aggregator. */
  actorChurnState?: BondChurnState;
  partnerChurnState?: BondChurnState;
  actorChurnedCount?: number;
  partnerChurnedCount?: number;
  /** What the bond sends about itself on this slave. */
  actor?: BondLacpParty;
  /** What the bond holds about the partner on this slave (its operational partner values). */
  partner?: BondLacpParty;
}

/** The aggregator the bond transmits on (`Active Aggregator Info`). */
export interface BondActiveAggregator {
  id: number;
  ports: number;
  actorKey: number;
  partnerKey: number;
  partnerMac: string;
}

/** A parsed `/proc/net/bonding/<bond>` of a bond in 802.3ad mode. */
export interface BondStatus {
  /** e.g. "IEEE 802.3ad Dynamic link aggregation". */
  mode: string;
  /** Bond MII status, e.g. "up". */
  miiStatus: string;
  /** `LACP active: on|off` (absent in kernels that do not print it). */
  lacpActive?: boolean;
  lacpRate: "fast" | "slow";
  /** e.g. "stable". */
  adSelect: string;
  systemPriority: number;
  systemMac: string;
  /** null when the bond says it has no active aggregator. */
  activeAggregator: BondActiveAggregator | null;
  slaves: BondSlave[];
}

/** `/proc/net/bonding` text that does not have the expected shape. */
export class BondStatusParseError extends Error {
  override name = "BondStatusParseError";
}

function integer(value: string | undefined, field: string): number {
  if (value === undefined || !/^-?[0-9]+$/.test(value)) {
    throw new BondStatusParseError(`Field "${field}" is not an integer: "${value}"`);
  }
  return Number(value);
}

function required(fields: Map<string, string>, key: string, where: string): string {
  const value = fields.get(key);
  if (value === undefined) throw new BondStatusParseError(`No "${key}" in ${where}`);
  return value;
}

function churnState(value: string | undefined, field: string): BondChurnState {
  if (value === "monitoring" || value === "none" || value === "churned") return value;
  throw new BondStatusParseError(`Field "${field}" is not a churn state: "${value}"`);
}

function party(fields: Map<string, string>, where: string): BondLacpParty {
  const get = (key: string) => required(fields, key, where);
  return {
    systemPriority: integer(get("system priority"), "system priority"),
    systemMac: get("system mac address"),
    key: integer(fields.get("port key") ?? fields.get("oper key"), `${where} key`),
    portPriority: integer(get("port priority"), "port priority"),
    portNumber: integer(get("port number"), "port number"),
    portState: integer(get("port state"), "port state"),
  };
}

/**
 * Parses `/proc/net/bonding/<bond>` as the 6.1 driver prints it for an 802.3ad bond, read with
 * CAP_NET_ADMIN (which adds the system and per-slave LACPDU details). Throws
 * {@linkcode BondStatusParseError} when a field this module promises is missing or malformed.
 */
export function parseBondStatus(text: string): BondStatus {
  // Sections: the bond's lines, then one block per "Slave Interface:". Inside a section, a line
  // ending in ":" opens a group whose indented lines follow it.
  const [head = "", ...slaveBlocks] = text.split(/^(?=Slave Interface: )/m);
  const parseSection = (block: string) => {
    const groups = new Map<string, Map<string, string>>([["", new Map()]]);
    let group = "";
    for (const raw of block.split("\n")) {
      if (raw.trim() === "") continue;
      const indented = /^\s/.test(raw);
      const line = raw.trim();
      if (!indented) group = "";
      const colon = line.indexOf(":");
      if (colon < 0) {
        groups.get(group)!.set(line, "");
        continue;
      }
      const key = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (!indented && value === "") {
        group = key;
        groups.set(group, new Map());
        continue;
      }
      groups.get(group)!.set(key, value);
    }
    return groups;
  };

  const bond = parseSection(head);
  const top = bond.get("")!;
  const mode = required(top, "Bonding Mode", "the bond");
  if (!mode.includes("802.3ad")) {
    throw new BondStatusParseError(`Not an 802.3ad bond: "Bonding Mode: ${mode}"`);
  }
  const rate = required(top, "LACP rate", "the bond");
  if (rate !== "fast" && rate !== "slow") {
    throw new BondStatusParseError(`Field "LACP rate" is not fast or slow: "${rate}"`);
  }
  const active = bond.get("Active Aggregator Info");
  const status: BondStatus = {
    mode,
    miiStatus: required(top, "MII Status", "the bond"),
    lacpRate: rate,
    adSelect: required(top, "Aggregator selection policy (ad_select)", "the bond"),
    systemPriority: integer(required(top, "System priority", "the bond"), "System priority"),
    systemMac: required(top, "System MAC address", "the bond"),
    activeAggregator: active === undefined ? null : {
      id: integer(active.get("Aggregator ID"), "Aggregator ID"),
      ports: integer(active.get("Number of ports"), "Number of ports"),
      actorKey: integer(active.get("Actor Key"), "Actor Key"),
      partnerKey: integer(active.get("Partner Key"), "Partner Key"),
      partnerMac: required(active, "Partner Mac Address", "Active Aggregator Info"),
    },
    slaves: [],
  };
  const lacpActive = top.get("LACP active");
  if (lacpActive !== undefined) status.lacpActive = lacpActive === "on";

  for (const block of slaveBlocks) {
    const groups = parseSection(block);
    const fields = groups.get("")!;
    const name = required(fields, "Slave Interface", "a slave");
    const where = `slave "${name}"`;
    const aggregator = required(fields, "Aggregator ID", where);
    const slave: BondSlave = {
      name,
      miiStatus: required(fields, "MII Status", where),
      permanentMac: required(fields, "Permanent HW addr", where),
      aggregatorId: aggregator === "N/A" ? null : integer(aggregator, "Aggregator ID"),
    };
    if (fields.has("Actor Churn State")) {
      slave.actorChurnState = churnState(fields.get("Actor Churn State"), "Actor Churn State");
      slave.partnerChurnState = churnState(
        fields.get("Partner Churn State"),
        "Partner Churn State",
      );
      slave.actorChurnedCount = integer(fields.get("Actor Churned Count"), "Actor Churned Count");
      slave.partnerChurnedCount = integer(
        fields.get("Partner Churned Count"),
        "Partner Churned Count",
      );
    }
    const actor = groups.get("details actor lacp pdu");
    if (actor !== undefined) slave.actor = party(actor, `${where} actor`);
    const partner = groups.get("details partner lacp pdu");
    if (partner !== undefined) slave.partner = party(partner, `${where} partner`);
    status.slaves.push(slave);
  }
  return status;
}

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `Command "ip ${args.join(" ")}" failed (exit ${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout);
}

function runSync(args: string[]): void {
  const out = new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(
      `Command "ip ${args.join(" ")}" failed (exit ${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
}

/** An 802.3ad bond in a network namespace; deleted (its slaves released) on dispose. */
export class BondPeer implements Disposable {
  readonly netns: string;
  readonly name: string;
  readonly slaves: readonly string[];
  #closed = false;

  private constructor(netns: string, name: string, slaves: readonly string[]) {
    this.netns = netns;
    this.name = name;
    this.slaves = slaves;
  }

  /**
   * Creates the bond in `netns`, enslaves `options.slaves` (each set down first, as the driver
   * requires, then up again) and sets everything up.
   */
  static create(netns: string, options: BondPeerOptions): BondPeer {
    const name = options.name ?? "bond0";
    const params = ["mode", "802.3ad", "lacp_rate", options.lacpRate];
    if (options.adSelect !== undefined) params.push("ad_select", options.adSelect);
    if (options.systemPriority !== undefined) {
      params.push("ad_actor_sys_prio", String(options.systemPriority));
    }
    if (options.actorSystem !== undefined) params.push("ad_actor_system", options.actorSystem);
    runSync(["-n", netns, "link", "add", name, "type", "bond", ...params]);
    const bond = new BondPeer(netns, name, [...options.slaves]);
    try {
      for (const slave of options.slaves) {
        runSync(["-n", netns, "link", "set", slave, "down"]);
        runSync(["-n", netns, "link", "set", slave, "master", name]);
      }
      runSync(["-n", netns, "link", "set", name, "up"]);
      for (const slave of options.slaves) runSync(["-n", netns, "link", "set", slave, "up"]);
    } catch (err) {
      bond.close();
      throw err;
    }
    return bond;
  }

  /** The raw `/proc/net/bonding/<bond>` of the bond's namespace. */
  async procText(): Promise<string> {
    return await run(["netns", "exec", this.netns, "cat", `/proc/net/bonding/${this.name}`]);
  }

  /** The parsed state of the bond. */
  async status(): Promise<BondStatus> {
    return parseBondStatus(await this.procText());
  }

  /** The parsed state of slave `name`. */
  async slave(name: string): Promise<BondSlave> {
    const slave = (await this.status()).slaves.find((s) => s.name === name);
    if (slave === undefined) throw new Error(`Bond "${this.name}" has no slave "${name}"`);
    return slave;
  }

  /** Deletes the bond (the slaves stay, released); safe to call twice or after the namespace went. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      runSync(["-n", this.netns, "link", "del", this.name]);
    } catch {
      // The namespace (and the bond with it) is already gone.
    }
  }

  /** Same as {@linkcode BondPeer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
