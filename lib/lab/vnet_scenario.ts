// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * The virtual router lab behind `netkit lab vnet`: a "host" namespace running
 * `netkit vnet daemon --uplink up0` as a real child process, and two "VMs", namespaces holding
 * the TAPs the daemon made for them. The story, recorded as the events of `vnet_events.ts` on
 * the shared {@linkcode ScenarioRun}: start the daemon and follow its events (as
 * `netkit vnet monitor` does); add NIC vm1 (`linklocal`) and vm2 (`lan --slaac`) and move each
 * TAP into its VM; vm1 gets IPv4 by DHCPv4 (busybox `udhcpc`) and IPv6 by DHCPv6
 * (`dhclient -6`), vm2 IPv4 by DHCPv4 and IPv6 by the kernel's own SLAAC; each VM pings its
 * gateway, the other VM (routed by netkit) and the host's addresses through the uplink; the
 * daemon's counters (`vnet show -s`); then it keeps running until Ctrl-C (or for a duration),
 * and everything is removed and checked gone. `vnet_narrative.ts` tells the story.
 *
 * ```ts ignore
 * import { VnetScenario } from "./vnet_scenario.ts";
 * import { explainVnetLab, formatVnetTimelineLine } from "./vnet_narrative.ts";
 *
 * await using lab = VnetScenario.create();
 * const report = await lab.run({
 *   executable: "./netkit",
 *   durationMs: 1000,
 *   onEvent: (event) => console.log(formatVnetTimelineLine(event)),
 * });
 * console.log(explainVnetLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, TAP and TUN devices), iproute2, busybox (udhcpc), ISC
 * dhclient, ping, a netkit executable for the daemon, and `--allow-all`.
 *
 * @module
 */

import { requestChecked, subscribeChecked } from "../daemon/client.ts";
import { NetkitError } from "../errors.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import { netnsId } from "../net/netns_names.ts";
import { readCheckedFile } from "../net/safe_file.ts";
import { GATEWAY6_LINK_LOCAL, type NicSpec } from "../vnet/config.ts";
import { MessageReply, MonitorLine, ShowReply, vnetReply, vnetSocketName } from "../vnet/client.ts";
import { ChildDaemon } from "./child_daemon.ts";
import {
  execInNetns,
  failOnExit,
  namespacesLeft,
  pathExists,
  pingSummaryOf,
  processRunning,
} from "./lab_checks.ts";
import { ip, ipJson, labBuildError, NamespaceLab, requireLabRoot, sh } from "./namespace_lab.ts";
import { ScenarioRun, type ScenarioRunOptions, type Untimed } from "./runner.ts";
import type { EventOf } from "./timeline.ts";
import {
  VNET_LAB_GUESTS as GUESTS,
  VNET_LAB_HOST as HOST,
  VNET_LAB_STEPS as STEP_COUNT,
  type VnetLabEvent,
  type VnetLabGuest,
  type VnetLabHost,
  type VnetLabReport,
  type VnetLabShow,
  type VnetLabSnapshot,
  type VnetLabTarget,
} from "./vnet_events.ts";

/** Echo requests per ping. */
export const PING_COUNT = 3;
/** How often the counters are read again while the lab runs (for the live view). */
const REFRESH_MS = 1000;
/** How long the daemon may take to answer on its control socket. */
const DAEMON_START_MS = 10_000;
/** How long a DHCP client or the kernel's SLAAC may take to get an address. */
const ADDRESS_WAIT_MS = 20_000;
/** How long the daemon has to acknowledge SUBSCRIBE (it does at once; a loaded machine is slow). */
const SUBSCRIBE_ACK_MS = 5000;
/** How often a wait for an address looks again. */
const POLL_MS = 100;
/** The largest client record the lab reads (a script's environment is a few KiB). */
const MAX_RECORD_BYTES = 64 * 1024;

/** Options for {@linkcode VnetScenario.run}. */
export interface VnetLabRunOptions extends ScenarioRunOptions<VnetLabEvent> {
  /** The netkit executable that runs the daemon (the CLI passes its own). */
  executable: string;
  /** How long to keep everything running after the counters; 0 (default): until `signal`. */
  durationMs?: number;
  /** Log level of the daemon, whose log goes to a file in the lab's directory (info). */
  logLevel?: string;
}

/** The `key=value` lines a DHCP client's script wrote (its environment), as a map. */
export function parseClientRecord(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) vars.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return vars;
}

/** The address a client's record names under `key`; a record without one is an error. */
function recordAddress(env: Map<string, string>, key: string, client: string): string {
  const address = env.get(key) ?? "";
  if (address === "") throw new NetkitError(`${client} reported a lease without ${key}`);
  return address;
}

/** The prefix length of a dotted subnet mask ("255.255.255.0" → 24), or null if it is none. */
export function maskLength(mask: string): number | null {
  const parts = mask.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return null;
  const bits = parts.map((p) => p.toString(2).padStart(8, "0")).join("");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") === -1 ? 32 : bits.indexOf("0") : null;
}

/** udhcpc's `staticroutes` ("dest/len gw dest/len gw ...") as `dest/len via gw` strings. */
export function staticRoutes(text: string | undefined): string[] {
  const words = (text ?? "").split(/\s+/).filter((w) => w !== "");
  const routes: string[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) routes.push(`${words[i]} via ${words[i + 1]}`);
  return routes;
}

/** The TTL (or hop limit) of the first reply `ping` printed, or null. */
function firstTtl(text: string): number | null {
  const m = /\bttl=([0-9]+)/.exec(text);
  return m === null ? null : Number(m[1]);
}

/**
 * The lab, made by {@linkcode VnetScenario.create}; {@linkcode VnetScenario.run} builds the
 * namespaces and removes them again at its end; {@linkcode VnetScenario.close} (also on dispose)
 * removes whatever is left when a run did not get that far.
 */
export class VnetScenario implements AsyncDisposable {
  #run: ScenarioRun<VnetLabEvent> | null = null;
  #lab: NamespaceLab | null = null;
  /** The namespace prefix, kept after the namespaces are gone for the report. */
  #prefix: string | null = null;
  #dir: string | null = null;
  /** The lab's directory, kept after disposal for the check that it is gone. */
  #dirPath: string | null = null;
  #host = "";
  readonly #netns = new Map<VnetLabGuest["vm"], string>();
  #socket: string | null = null;
  #daemon: ChildDaemon | null = null;
  #serving = false;
  #dhclient: ChildDaemon | null = null;
  readonly #subscription = new AbortController();
  #subscriptionLoop: Promise<void> | null = null;
  #closed = false;
  /** Set once the lab stops its processes: exits are expected from then on. */
  #stopping = false;
  #show: VnetLabShow | null = null;
  /** performance.now() when each VM's link came up. */
  readonly #linkUp = new Map<VnetLabGuest["vm"], number>();

  private constructor() {}

  /** A lab that builds nothing until it runs. Throws a one-line `NetkitError` without root. */
  static create(): VnetScenario {
    requireLabRoot("network namespaces, TAP devices and a TUN device");
    return new VnetScenario();
  }

  /** The namespace prefix once the namespaces were made, else null. */
  get prefix(): string | null {
    return this.#prefix;
  }

  /** The host's namespace (the daemon's) once the daemon serves, else null. */
  get daemonNetns(): string | null {
    return this.#serving && !this.#stopping ? this.#host : null;
  }

  /** The lab's state now: step, and the daemon's NICs and counters as last read. */
  snapshot(): VnetLabSnapshot {
    return {
      t: this.#run?.elapsed() ?? 0,
      ...(this.#run?.step ?? { step: 0, title: "" }),
      show: this.#show,
    };
  }

  /**
   * Runs the story once: builds the namespaces, starts the daemon, gives the VMs their NICs and
   * addresses, pings, shows the counters, waits (`durationMs`, or until `signal`) and removes
   * everything. The removal happens on every way out; a failure (the daemon does not start or
   * exits by itself, a VM gets no address, a ping without any reply) is thrown after it.
   */
  async run(options: VnetLabRunOptions): Promise<VnetLabReport> {
    if (this.#run !== null || this.#closed) throw new Error("A VnetScenario runs only once");
    using run = this.#run = new ScenarioRun(options);
    await run.perform(() => this.#script(options), () => this.#remove());
    return { ...run.finish(run.interrupted ? "signal" : "done"), prefix: this.prefix };
  }

  /** The run in progress: {@linkcode run} starts it before anything below uses it. */
  get #running(): ScenarioRun<VnetLabEvent> {
    if (this.#run === null) throw new Error("The VnetScenario is not running");
    return this.#run;
  }

  #command(host: VnetLabHost, command: string[]): void {
    this.#running.emit({ event: "command", host, command });
  }

  /** `ip ARGS`, shown first as the command a user would type. */
  #ip(host: VnetLabHost, ...args: string[]): void {
    this.#command(host, ["ip", ...args]);
    ip(...args);
  }

  #vmNetns(vm: VnetLabGuest["vm"]): string {
    return this.#netns.get(vm)!;
  }

  async #script(options: VnetLabRunOptions): Promise<void> {
    const run = this.#running;
    run.stepTo(1, "build the namespaces: the host, vm1 and vm2");
    this.#build();
    run.emit({
      event: "lab",
      host: this.#host,
      guests: GUESTS.map((g) => ({ vm: g.vm, netns: this.#vmNetns(g.vm) })),
    });

    run.stepTo(
      2,
      `start netkit vnet daemon in the host's namespace with uplink ${HOST.uplink}; ` +
        "route the guests' addresses to it",
    );
    await this.#startDaemon(options);
    await this.#subscribe();
    this.#hostSide();

    run.stepTo(3, "add NIC vm1 (linklocal) and vm2 (lan --slaac); move each TAP into its VM");
    for (const guest of GUESTS) {
      await this.#addNic(guest);
      this.#placeGuest(guest);
    }

    const [vm1, vm2] = GUESTS;
    run.stepTo(4, "vm1 (linklocal): IPv4 by DHCPv4 (busybox udhcpc), IPv6 by DHCPv6 (dhclient -6)");
    await this.#dhcp4(vm1);
    await this.#dhcp6(vm1);
    run.stepTo(5, "vm2 (lan --slaac): IPv4 by DHCPv4 (udhcpc), IPv6 by SLAAC (the kernel)");
    await this.#dhcp4(vm2);
    const vm2Ipv6 = await this.#slaac(vm2);

    run.stepTo(6, "each VM pings its gateway, over IPv4 and IPv6");
    const pings: Untimed<EventOf<VnetLabEvent, "ping">>[] = [];
    for (const guest of GUESTS) {
      pings.push(await this.#ping(guest, "gateway", guest.gateway4, 4));
      pings.push(await this.#ping(guest, "gateway", `${GATEWAY6_LINK_LOCAL}%${guest.vm}`, 6));
    }
    run.stepTo(7, "the VMs ping each other, routed by netkit");
    const vm1Ipv4 = vm1.ipv4.split("/")[0]!;
    const vm2Ipv4 = vm2.ipv4.split("/")[0]!;
    pings.push(await this.#ping(vm1, "vm2", vm2Ipv4, 4));
    pings.push(await this.#ping(vm2, "vm1", vm1Ipv4, 4));
    pings.push(await this.#ping(vm1, "vm2", vm2Ipv6, 6));
    pings.push(await this.#ping(vm2, "vm1", vm1.ipv6.split("/")[0]!, 6));
    run.stepTo(8, `the VMs reach the host's addresses through the uplink ${HOST.uplink}`);
    for (const guest of GUESTS) {
      pings.push(await this.#ping(guest, "host", HOST.ipv4, 4));
      pings.push(await this.#ping(guest, "host", HOST.ipv6, 6));
    }

    run.stepTo(9, "the daemon's counters: netkit vnet show -s");
    this.#command("host", ["netkit", "-n", this.#host, "vnet", "show", "-s"]);
    run.emit({ event: "show", show: await this.#readShow() });
    const silent = pings.filter((p) => p.received === 0);
    if (silent.length > 0) {
      throw new NetkitError(
        `No reply: ${
          silent.map((p) => `${p.from} → ${p.target} (${p.to})`).join(", ")
        }; the counters above show where the packets went`,
      );
    }

    const durationMs = options.durationMs ?? 0;
    run.stepTo(
      10,
      durationMs > 0
        ? `keep it running for ${durationMs / 1000} s; then everything is removed`
        : "keep it running until Ctrl-C; then everything is removed",
    );
    run.emit({ event: "running", duration: durationMs > 0 ? durationMs / 1000 : null });
    const end = durationMs > 0 ? performance.now() + durationMs : Infinity;
    for (;;) {
      const left = end - performance.now();
      if (left <= 0) break;
      await run.pause(Math.min(REFRESH_MS, left));
      await this.#readShow();
    }
  }

  /** Builds the namespaces and the lab's private directory; errors become one line. */
  #build(): void {
    const lab = this.#lab = new NamespaceLab();
    this.#prefix = lab.prefix;
    try {
      this.#host = lab.netns("host");
      for (const guest of GUESTS) this.#netns.set(guest.vm, lab.netns(guest.vm));
    } catch (err) {
      throw labBuildError(err);
    }
    this.#dir = Deno.makeTempDirSync({ prefix: "netkit-lab-vnet-" });
  }

  /** Starts the daemon in the host's namespace and waits until it serves. */
  async #startDaemon(options: VnetLabRunOptions): Promise<void> {
    const dir = this.#dir!;
    const shown = ["-n", this.#host, "vnet", "daemon", "--uplink", HOST.uplink];
    const state = ["--state", `${dir}/vnet.json`];
    this.#command("host", ["netkit", ...shown, ...state]);
    const log = ["--log-level", options.logLevel ?? "info", "--log-file", `${dir}/vnet.log`];
    // Its own session: Ctrl-C on the terminal reaches the lab, which stops the daemon in its own
    // time, after the guests' clients.
    const daemon = this.#daemon = ChildDaemon.spawn(
      "netkit vnet daemon",
      options.executable,
      [...log, ...shown, ...state],
      { detached: true },
    );
    this.#running.emit({ event: "daemon_started", pid: daemon.pid, netns: this.#host });
    this.#watch(daemon, "netkit vnet daemon");
    // The default socket of the host's namespace, so "netkit -n HOST vnet show" finds it.
    const socket = controlSocketPath(vnetSocketName(netnsId(this.#host)));
    // Not cut short by Ctrl-C: the daemon is only stopped once it serves (see #stopDaemon).
    await daemon.waitUntil(async () => {
      this.#show = await this.#requestShow(socket, 1000);
      return true;
    }, { timeoutMs: DAEMON_START_MS });
    this.#serving = true;
    this.#socket = socket;
    this.#running.emit({
      event: "daemon_ready",
      socket,
      arena: this.#show!.arena,
      uplink: this.#show!.uplink?.name ?? null,
    });
    this.#running.check();
  }

  /** Fails the run when `process` exits before the lab stops it. */
  #watch(process: ChildDaemon, what: string): void {
    failOnExit(this.#running, process, what, () => this.#stopping || this.#running.interrupted);
  }

  async #requestShow(socket: string, timeoutMs?: number): Promise<VnetLabShow> {
    const { status: _status, ...show } = await requestChecked(
      socket,
      { action: "SHOW", payload: { stats: true } },
      ShowReply,
      vnetReply("SHOW"),
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    return show;
  }

  /** The daemon's NICs and counters, kept for the live view. */
  async #readShow(): Promise<VnetLabShow> {
    return this.#show = await this.#running.interruptible(this.#requestShow(this.#socket!));
  }

  /**
   * Follows the daemon's events (SUBSCRIBE, as `netkit vnet monitor`); returns once the daemon
   * acknowledged, so every event after that reaches the lab.
   */
  async #subscribe(): Promise<void> {
    let acked = false;
    this.#subscriptionLoop = (async () => {
      try {
        for await (
          const line of subscribeChecked(
            this.#socket!,
            { action: "SUBSCRIBE" },
            MonitorLine,
            vnetReply("SUBSCRIBE"),
            { signal: this.#subscription.signal },
          )
        ) {
          if (!("status" in line)) {
            this.#running.emit({ event: "daemon_event", daemon: { ...line } });
          } else if (!acked) {
            acked = true;
            this.#running.wake();
          }
        }
      } catch (err) {
        if (!this.#subscription.signal.aborted && !this.#stopping) this.#running.fail(err);
      }
    })();
    if (!await this.#running.until(() => acked, SUBSCRIBE_ACK_MS)) {
      throw new NetkitError(
        `The vnet daemon did not acknowledge SUBSCRIBE within ${SUBSCRIBE_ACK_MS} ms`,
      );
    }
  }

  /** The host's side of the uplink: its addresses, and the guests' addresses routed to it. */
  #hostSide(): void {
    const up = ["dev", HOST.uplink];
    const host = ["-n", this.#host];
    this.#ip("host", ...host, "addr", "add", `${HOST.ipv4}/32`, ...up);
    this.#ip("host", ...host, "-6", "addr", "add", `${HOST.ipv6}/128`, ...up, "nodad");
    for (const route of GUESTS.flatMap((g) => g.hostRoutes)) {
      this.#ip(
        "host",
        ...host,
        ...(route.includes(":") ? ["-6"] : []),
        "route",
        "add",
        route,
        ...up,
      );
    }
  }

  /** `vnet nic add` for `guest`, as the CLI sends it. */
  async #addNic(guest: VnetLabGuest): Promise<void> {
    const spec: NicSpec = {
      name: guest.vm,
      mac: guest.mac,
      ipv4: guest.ipv4,
      ipv6: guest.ipv6,
      ...(guest.profile === "lan" ? { profile: "lan" as const } : {}),
      ...(guest.slaac ? { slaac: true } : {}),
    };
    this.#command("host", [
      ...["netkit", "-n", this.#host, "vnet", "nic", "add", guest.vm, "--mac", guest.mac],
      ...(guest.profile === "lan" ? ["--profile", "lan"] : []),
      ...["--ipv4", guest.ipv4, "--ipv6", guest.ipv6],
      ...(guest.slaac ? ["--slaac"] : []),
    ]);
    await this.#running.interruptible(
      requestChecked(
        this.#socket!,
        { action: "NIC_ADD", payload: spec },
        MessageReply,
        vnetReply("NIC_ADD"),
      ),
    );
  }

  /** Moves `guest`'s TAP into its VM and brings it up (without DAD: the lab is alone there). */
  #placeGuest(guest: VnetLabGuest): void {
    const netns = this.#vmNetns(guest.vm);
    this.#ip("host", "-n", this.#host, "link", "set", guest.vm, "netns", netns);
    const sysctl = ["sysctl", "-qw", `net.ipv6.conf.${guest.vm}.accept_dad=0`];
    this.#command(guest.vm, ["ip", "netns", "exec", netns, ...sysctl]);
    sh("ip", "netns", "exec", netns, ...sysctl);
    this.#ip(guest.vm, "-n", netns, "link", "set", guest.vm, "up");
    this.#linkUp.set(guest.vm, performance.now());
    this.#running.emit({ event: "guest_link", vm: guest.vm, netns, interface: guest.vm });
  }

  /** A client script writing its environment to a record file once bound; both paths. */
  #recordScript(name: string): { script: string; record: string } {
    const record = `${this.#dir}/${name}.env`;
    const script = `${this.#dir}/${name}.sh`;
    Deno.writeTextFileSync(
      script,
      // Written aside and renamed: the lab polls for the record and must never read it half
      // written (an empty record once gave the lab an empty address).
      `#!/bin/sh\ncase "$1$reason" in bound|BOUND6) env > '${record}.new' && ` +
        `mv '${record}.new' '${record}' ;; esac\nexit 0\n`,
      { mode: 0o700 },
    );
    return { script, record };
  }

  #readRecord(record: string): Map<string, string> {
    const bytes = readCheckedFile(record, {
      what: "DHCP client record",
      forbiddenModeBits: 0o022,
      maxBytes: MAX_RECORD_BYTES,
    });
    return parseClientRecord(new TextDecoder().decode(bytes));
  }

  /** busybox udhcpc in `guest`'s VM until bound; the lease reported and applied as it says. */
  async #dhcp4(guest: VnetLabGuest): Promise<void> {
    const netns = this.#vmNetns(guest.vm);
    const { script, record } = this.#recordScript(`udhcpc-${guest.vm}`);
    // linklocal: ask for option 121, the routes that make the /32 work.
    const extra = guest.profile === "linklocal" ? ["-O", "staticroutes"] : [];
    const args = [
      ...["busybox", "udhcpc", "-i", guest.vm, "-f", "-q", "-n", "-t", "5", "-T", "1"],
      ...["-s", script, ...extra],
    ];
    this.#command(guest.vm, ["ip", "netns", "exec", netns, ...args]);
    const out = await execInNetns(this.#running, netns, args);
    let env: Map<string, string>;
    try {
      env = this.#readRecord(record);
    } catch {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
      throw new NetkitError(
        `${guest.vm} got no DHCPv4 lease from netkit (udhcpc exit ${out.code})` +
          (why === "" ? "" : `: ${why}`),
      );
    }
    const address = recordAddress(env, "ip", `udhcpc in ${guest.vm}`);
    const prefixLength = maskLength(env.get("subnet") ?? "") ?? 32;
    const routers = (env.get("router") ?? "").split(/\s+/).filter((r) => r !== "");
    const routes = staticRoutes(env.get("staticroutes"));
    const lease = env.get("lease");
    this.#running.emit({
      event: "lease",
      vm: guest.vm,
      family: "ipv4",
      client: "udhcpc",
      address,
      prefix_length: prefixLength,
      server: env.get("serverid") ?? null,
      routers,
      routes,
      lifetime: lease === undefined ? null : Number(lease),
    });
    // What a client's script does with the lease: the address, then the routes (option 121
    // wins over option 3, RFC 3442).
    const n = ["-n", netns];
    this.#ip(guest.vm, ...n, "addr", "add", `${address}/${prefixLength}`, "dev", guest.vm);
    if (routes.length > 0) {
      for (const route of routes) {
        const [destination, , gateway] = route.split(" ");
        const to = destination === "0.0.0.0/0" ? "default" : destination!;
        const via = gateway === "0.0.0.0" ? [] : ["via", gateway!];
        this.#ip(guest.vm, ...n, "route", "add", to, ...via, "dev", guest.vm);
      }
    } else if (routers[0] !== undefined) {
      this.#ip(guest.vm, ...n, "route", "add", "default", "via", routers[0], "dev", guest.vm);
    }
  }

  /** `dhclient -6` in `guest`'s VM until bound; it keeps running (renewals) until the end. */
  async #dhcp6(guest: VnetLabGuest): Promise<void> {
    const netns = this.#vmNetns(guest.vm);
    const dir = this.#dir!;
    const { script, record } = this.#recordScript(`dhclient6-${guest.vm}`);
    const args = [
      ...["dhclient", "-6", "-d", "-sf", script, "-lf", `${dir}/dhclient6.leases`],
      ...["-pf", `${dir}/dhclient6.pid`, guest.vm],
    ];
    this.#command(guest.vm, ["ip", "netns", "exec", netns, ...args]);
    const dhclient = this.#dhclient = ChildDaemon.spawn(
      "dhclient -6",
      "ip",
      ["netns", "exec", netns, ...args],
      { detached: true },
    );
    this.#watch(dhclient, `dhclient -6 in ${guest.vm}`);
    const deadline = performance.now() + ADDRESS_WAIT_MS;
    let env: Map<string, string> | null = null;
    while (env === null) {
      try {
        env = this.#readRecord(record);
      } catch {
        if (performance.now() > deadline) {
          throw new NetkitError(
            `${guest.vm} got no DHCPv6 lease from netkit within ${ADDRESS_WAIT_MS / 1000} s` +
              (dhclient.output === "" ? "" : `: ${dhclient.output}`),
          );
        }
        await this.#running.pause(POLL_MS);
      }
    }
    const address = recordAddress(env, "new_ip6_address", `dhclient -6 in ${guest.vm}`);
    const prefixLength = Number(env.get("new_ip6_prefixlen") ?? "128");
    const life = env.get("new_max_life");
    this.#running.emit({
      event: "lease",
      vm: guest.vm,
      family: "ipv6",
      client: "dhclient -6",
      address,
      prefix_length: prefixLength,
      server: env.get("new_dhcp6_server_id") ?? null,
      routers: [],
      routes: [],
      lifetime: life === undefined ? null : Number(life),
    });
    this.#ip(
      guest.vm,
      ...["-n", netns, "-6", "addr", "add", `${address}/${prefixLength}`],
      ...["dev", guest.vm, "nodad"],
    );
  }

  /** Waits for the VM's kernel to form its address from the RA's prefix; returns it. */
  async #slaac(guest: VnetLabGuest): Promise<string> {
    const netns = this.#vmNetns(guest.vm);
    const deadline = performance.now() + ADDRESS_WAIT_MS;
    for (;;) {
      const [link] = ipJson<{ addr_info?: { local?: string; prefixlen?: number }[] }[]>(
        ...["-n", netns, "-6", "addr", "show", "dev", guest.vm, "scope", "global"],
      );
      const [route] = ipJson<{ gateway?: string }[]>(
        ...["-n", netns, "-6", "route", "show", "default", "dev", guest.vm],
      );
      const formed = link?.addr_info?.find((a) => a.local !== undefined);
      if (formed !== undefined && route?.gateway !== undefined) {
        this.#running.emit({
          event: "slaac",
          vm: guest.vm,
          address: formed.local!,
          prefix_length: formed.prefixlen ?? 64,
          router: route.gateway,
          after_ms: Math.round(performance.now() - this.#linkUp.get(guest.vm)!),
        });
        return formed.local!;
      }
      if (performance.now() > deadline) {
        throw new NetkitError(
          `${guest.vm} formed no address in the prefix of ${guest.ipv6} by SLAAC within ${
            ADDRESS_WAIT_MS / 1000
          } s`,
        );
      }
      await this.#running.pause(POLL_MS);
    }
  }

  /** `ping -c` from `guest`'s VM to `address`, reported from its summary lines. */
  async #ping(
    guest: VnetLabGuest,
    target: VnetLabTarget,
    address: string,
    family: 4 | 6,
  ): Promise<Untimed<EventOf<VnetLabEvent, "ping">>> {
    const netns = this.#vmNetns(guest.vm);
    const args = ["ping", ...(family === 6 ? ["-6"] : []), "-c", String(PING_COUNT)];
    args.push("-i", "0.2", "-W", "2", address);
    this.#command(guest.vm, ["ip", "netns", "exec", netns, ...args]);
    const output = await execInNetns(this.#running, netns, args);
    const { text, summary } = pingSummaryOf(output, guest.vm, address);
    const event: Untimed<EventOf<VnetLabEvent, "ping">> = {
      event: "ping",
      from: guest.vm,
      target,
      to: address,
      family,
      sent: summary.sent,
      received: summary.received,
      ttl: firstTtl(text),
      rtt_min: summary.rtt?.[0] ?? null,
      rtt_avg: summary.rtt?.[1] ?? null,
      rtt_max: summary.rtt?.[2] ?? null,
    };
    this.#running.emit(event);
    return event;
  }

  /**
   * The last step, on every way out once the namespaces exist: stops dhclient and the daemon
   * (SIGTERM), reports how each exited, deletes the namespaces (and with them the TAPs and the
   * uplink) and the lab's files, and reports what (if anything) is left.
   */
  async #remove(): Promise<void> {
    const lab = this.#lab;
    if (lab === null) return;
    this.#running.stepTo(
      STEP_COUNT,
      "remove everything: stop the processes, delete the namespaces",
    );
    this.#stopping = true;
    const pids: number[] = [];
    const processes: ["dhclient" | "daemon", ChildDaemon | null][] = [
      ["dhclient", this.#dhclient],
      ["daemon", this.#daemon],
    ];
    for (const [role, process] of processes) {
      if (process === null) continue;
      pids.push(process.pid);
      if (role === "daemon") {
        this.#subscription.abort();
        await this.#subscriptionLoop;
      }
      const status = await this.#stopProcess(process);
      this.#running.emit({
        event: "process_stopped",
        role,
        vm: role === "dhclient" ? GUESTS[0].vm : null,
        pid: process.pid,
        code: status.code,
        signal: status.signal,
      });
    }
    const netns = [this.#host, ...this.#netns.values()];
    const socket = this.#socket;
    await this.#dispose();
    const left = namespacesLeft(this.#running, netns);
    const processesLeft = pids.filter(processRunning);
    const files = [this.#dirPath, socket].filter((p): p is string => p !== null && pathExists(p));
    this.#running.emit({
      event: "removed",
      netns,
      left,
      processes_left: processesLeft,
      files_left: files.length > 0,
    });
    if (left.length > 0 || processesLeft.length > 0 || files.length > 0) {
      this.#running.fail(
        new NetkitError(
          `Could not remove everything: ${
            [...left, ...files, ...processesLeft.map((p) => `pid ${p}`)].map((n) => `"${n}"`)
              .join(", ")
          } still exist (remove them with ip netns del, kill and rm -r)`,
        ),
      );
    }
  }

  /** Stops `process`; the daemon, if still starting, first gets the time to serve. */
  async #stopProcess(process: ChildDaemon): Promise<Deno.CommandStatus> {
    if (process === this.#daemon && !this.#serving && !process.exited) {
      // SIGTERM before the daemon installed its handler would leave its socket and lock behind.
      const socket = controlSocketPath(vnetSocketName(netnsId(this.#host)));
      await process.waitUntil(async () => {
        await this.#requestShow(socket, 1000);
        return true;
      }, { timeoutMs: DAEMON_START_MS }).catch(() => {});
    }
    return await process.stop();
  }

  /** Stops whatever still runs and removes the namespaces and the lab's files, once. */
  async #dispose(): Promise<void> {
    const lab = this.#lab;
    const dir = this.#dir;
    this.#lab = null;
    this.#dir = null;
    this.#stopping = true;
    this.#subscription.abort();
    try {
      await this.#subscriptionLoop;
      await this.#dhclient?.stop();
      if (this.#daemon !== null) await this.#stopProcess(this.#daemon);
    } finally {
      lab?.[Symbol.dispose]();
      if (dir !== null) {
        this.#dirPath = dir;
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch {
          // Already gone.
        }
      }
    }
  }

  /** Removes whatever a run left (nothing after a run that ended). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dispose();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
