/**
 * The `netkit mroute` daemon: owns the kernel's multicast routing table (`MRT_INIT`, one owner
 * per namespace, table and family), keeps the desired routes in a {@linkcode MulticastRouter},
 * saves them after every change and re-applies them at start, follows interfaces through
 * rtnetlink, publishes upcalls and changes to subscribers, and serves the control protocol.
 *
 * By default everything it installs goes with it (the kernel flushes an owner's entries when
 * its socket closes). With `keepKernelState` entries are installed through a second, non-owner
 * socket, which makes them static: they survive the daemon, and the next daemon adopts them.
 * Requires root (CAP_NET_ADMIN) and `--allow-all`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { DaemonLoop, MAX_SLEEP_MS } from "../daemon/loop.ts";
import { NetkitError } from "../errors.ts";
import { plural } from "../text.ts";
import { ControlServer, EventHub } from "../ipc/mod.ts";
import { MAX_REQUEST_BYTES } from "./apply_file.ts";
import { InterfaceFlag } from "../net/interfaces.ts";
import { type LinkEvent, LinkMonitor } from "../net/link_monitor.ts";
import { formatIpv4 } from "../packet/ipv4.ts";
import { formatIpv6 } from "../packet/ipv6.ts";
import { MrouteSocket } from "../net/mroute_socket.ts";
import { DEFAULT_TABLE, MrtFlush, type Upcall } from "../net/mroute_structs.ts";
import { dumpKernelRoutes, dumpKernelVifs } from "./kernel.ts";
import { handleRequest, MrouteRequest, type ShowJson } from "./protocol.ts";
import { type IpFamily, type Route, routeKey } from "./route.ts";
import { type KernelOps, MulticastRouter, type RouterEvent } from "./router.ts";
import { formatDesiredState, readStateFile, writeStateFile } from "./state_file.ts";

const log = getLogger(["netkit", "mroute"]);

/** How the daemon runs. */
export interface MrouteDaemonOptions {
  /** Control socket path. */
  socketPath: string;
  /** Where the desired state is kept. */
  statePath: string;
  /** Multicast routing table id; 0 for the kernel's default tables. */
  table: number;
  /** Install static entries that survive the daemon, and adopt them at start. */
  keepKernelState: boolean;
}

const FAMILIES: readonly IpFamily[] = [4, 6];

/** Route events as subscribers see them. */
function routeJson(route: Route) {
  return {
    family: route.family,
    source: route.source ?? "*",
    group: route.group,
    iif: route.iif,
    oifs: route.oifs,
  };
}

function eventJson(event: RouterEvent): Record<string, unknown> {
  return "route" in event ? { event: event.event, route: routeJson(event.route) } : { ...event };
}

function formatAddress(family: IpFamily, bytes: Uint8Array): string {
  return family === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}

/** A running multicast routing daemon. */
export class MrouteDaemon implements AsyncDisposable {
  readonly #options: MrouteDaemonOptions;
  /** MRT_INIT sockets: they keep forwarding on and receive upcalls. */
  readonly #owners: Map<IpFamily, MrouteSocket>;
  /** Where entries are installed: the owners, or non-owner sockets for static entries. */
  readonly #installers: Map<IpFamily, MrouteSocket>;
  readonly #monitor: LinkMonitor;
  readonly #router: MulticastRouter;
  readonly #events = new EventHub<Record<string, unknown>>();
  #server: ControlServer | null = null;
  #loop: DaemonLoop | null = null;
  #stopping = false;
  #closed = false;

  private constructor(
    options: MrouteDaemonOptions,
    owners: Map<IpFamily, MrouteSocket>,
    installers: Map<IpFamily, MrouteSocket>,
    monitor: LinkMonitor,
  ) {
    this.#options = options;
    this.#owners = owners;
    this.#installers = installers;
    this.#monitor = monitor;
    this.#router = new MulticastRouter(this.#kernelOps(), (name) => {
      const link = monitor.find(name);
      return link === undefined
        ? undefined
        : { ifindex: link.ifindex, multicast: (link.flags & InterfaceFlag.MULTICAST) !== 0 };
    }, [...owners.keys()]);
    this.#router.onEvent((event) => {
      // An APPLY makes thousands of events; build them only for someone listening.
      if (this.#events.size > 0) this.#events.publish(eventJson(event));
    });
  }

  /**
   * Takes ownership of the multicast routing tables, restores the saved state and serves the
   * control socket; any failure undoes everything and throws one clear error.
   */
  static async start(options: MrouteDaemonOptions): Promise<MrouteDaemon> {
    const owners = new Map<IpFamily, MrouteSocket>();
    const installers = new Map<IpFamily, MrouteSocket>();
    let monitor: LinkMonitor | null = null;
    let daemon: MrouteDaemon | null = null;
    try {
      for (const family of FAMILIES) {
        try {
          owners.set(family, MrouteSocket.open(family, { table: options.table, owner: true }));
        } catch (err) {
          // IPv6 multicast routing is optional; IPv4 is what the daemon is for.
          if (family === 4 || !isUnsupported(err)) throw err;
          log.warn("IPv6 multicast routing is not available in this kernel; serving IPv4 only");
        }
      }
      for (const [family, owner] of owners) {
        installers.set(
          family,
          options.keepKernelState
            ? MrouteSocket.open(family, { table: options.table, owner: false })
            : owner,
        );
      }
      monitor = LinkMonitor.open();
      daemon = new MrouteDaemon(options, owners, installers, monitor);
      daemon.#restore();
      daemon.#server = await ControlServer.listen({
        path: options.socketPath,
        schema: MrouteRequest,
        // One APPLY is one transaction, however many routes it carries.
        maxMessageBytes: MAX_REQUEST_BYTES,
        handle: (request, context) =>
          handleRequest(request, daemon!.#router, daemon!.#hooks(), context.signal),
      });
      log.info(
        "Multicast routing started: table {table}, IPv{families}, {routes} routes, state {state}{keep}",
        {
          table: options.table === 0 ? "default" : options.table,
          families: [...owners.keys()].join(" and IPv"),
          routes: daemon.#router.routes().length,
          state: options.statePath,
          keep: options.keepKernelState ? ", keeping kernel state" : "",
        },
      );
      return daemon;
    } catch (err) {
      await monitor?.close();
      for (const [family, socket] of installers) if (socket !== owners.get(family)) socket.close();
      for (const socket of owners.values()) socket.close();
      throw err;
    }
  }

  /** The router (for tests and the lab). */
  get router(): MulticastRouter {
    return this.#router;
  }

  /** The control socket path. */
  get socketPath(): string {
    return this.#options.socketPath;
  }

  #table(family: IpFamily): number {
    return this.#options.table === 0 ? DEFAULT_TABLE[family] : this.#options.table;
  }

  #kernelOps(): KernelOps {
    const socket = (family: IpFamily) => this.#installers.get(family)!;
    return {
      addVif: (family, vif, ifindex) => socket(family).addVif(vif, ifindex),
      delVif: (family, vif) => socket(family).delVif(vif),
      addMfcs: (family, entries) => socket(family).addMfcBatch(entries),
      delMfcs: (family, entries) => socket(family).delMfcBatch(entries),
    };
  }

  /**
   * Re-applies the saved state. Without `keepKernelState` the table starts empty (leftover
   * static entries of an earlier run are flushed: this daemon owns the table now). With it, the
   * kernel's VIFs that match the saved indexes are adopted and anything else is removed.
   */
  #restore(): void {
    const saved = readStateFile(this.#options.statePath);
    const families = [...this.#owners.keys()];
    if (!this.#options.keepKernelState) {
      for (const owner of this.#owners.values()) {
        owner.flush(MrtFlush.MFC | MrtFlush.MFC_STATIC | MrtFlush.VIFS | MrtFlush.VIFS_STATIC);
      }
    } else {
      const adopted: Partial<Record<"4" | "6", Record<string, number>>> = {};
      for (const family of families) {
        const wanted = saved?.vifIndexes[`${family}`] ?? {};
        const kept: Record<string, number> = {};
        for (const kv of dumpKernelVifs(family, this.#table(family))) {
          const name = Object.keys(wanted).find((n) => wanted[n] === kv.vif);
          if (name !== undefined && this.#monitor.find(name)?.ifindex === kv.ifindex) {
            kept[name] = kv.vif;
          } else this.#installers.get(family)!.delVif(kv.vif);
        }
        adopted[`${family}`] = kept;
      }
      this.#router.presetVifs(adopted, saved?.state.vifs ?? []);
    }
    if (saved !== null) {
      const usable = saved.state.routes.filter((r) => families.includes(r.family));
      this.#router.apply({ vifs: saved.state.vifs, routes: usable }, { atStart: true });
      log.info("Restored {routes} routes from {path}", {
        routes: usable.length,
        path: this.#options.statePath,
      });
    }
    if (this.#options.keepKernelState) {
      // Entries the kernel still has but the state no longer wants.
      const wanted = new Set(this.#router.routes().map((r) => r.key));
      for (const family of families) {
        const extra = dumpKernelRoutes(family, this.#table(family)).filter((kr) => {
          const source = kr.source.every((b) => b === 0) ? null : formatAddress(family, kr.source);
          return !wanted.has(routeKey({ family, source, group: formatAddress(family, kr.group) }));
        });
        if (extra.length > 0) {
          this.#installers.get(family)!.delMfcBatch(
            extra.map((kr) => ({ source: kr.source, group: kr.group, parent: 0 })),
          );
        }
      }
    }
    this.#save();
  }

  #save(): void {
    writeStateFile(
      this.#options.statePath,
      formatDesiredState(this.#router.desiredState(), this.#router.vifIndexes()),
    );
  }

  #hooks() {
    return {
      save: () => this.#save(),
      show: (stats: boolean) => this.show(stats),
      subscribe: (signal: AbortSignal) => this.#events.subscribe(signal),
    };
  }

  /** VIFs and routes, with the kernel's counters when `stats`. */
  show(stats: boolean): ShowJson {
    const counters = new Map<string, { packets: number; bytes: number; wrong_if: number }>();
    const vifFlags = new Map<string, number>();
    for (const family of this.#owners.keys()) {
      // The kernel lists IPv6 VIFs of its default table only (dumpKernelVifs).
      if (family === 4 || this.#options.table === 0) {
        for (const kv of dumpKernelVifs(family, this.#table(family))) {
          vifFlags.set(`${family}|${kv.vif}`, kv.flags);
        }
      }
      if (!stats) continue;
      for (const kr of dumpKernelRoutes(family, this.#table(family))) {
        const source = kr.source.every((b) => b === 0) ? null : formatAddress(family, kr.source);
        counters.set(routeKey({ family, source, group: formatAddress(family, kr.group) }), {
          packets: Number(kr.packets),
          bytes: Number(kr.bytes),
          wrong_if: Number(kr.wrongIf),
        });
      }
    }
    return {
      vifs: this.#router.vifs().map((v) => {
        const c = stats && v.ifindex !== null
          ? this.#owners.get(v.family)?.vifCounters(v.vif) ?? null
          : null;
        return {
          family: v.family,
          vif: v.vif,
          name: v.name,
          ifindex: v.ifindex,
          flags: vifFlags.get(`${v.family}|${v.vif}`) ?? 0,
          pinned: v.pinned,
          packets_in: c === null ? null : Number(c.packetsIn),
          bytes_in: c === null ? null : Number(c.bytesIn),
          packets_out: c === null ? null : Number(c.packetsOut),
          bytes_out: c === null ? null : Number(c.bytesOut),
        };
      }),
      routes: this.#router.routes().map((r) => {
        const c = counters.get(r.key);
        return {
          ...routeJson(r),
          state: this.#router.routeState(r),
          packets: stats ? c?.packets ?? 0 : null,
          bytes: stats ? c?.bytes ?? 0 : null,
          wrong_if: stats ? c?.wrong_if ?? 0 : null,
        };
      }),
    };
  }

  /**
   * Serves until {@linkcode stop}, SIGINT or SIGTERM; SIGHUP re-applies the state file. `loop`
   * is the CLI's, made before the daemon started; without one the run makes its own.
   */
  async run(loop?: DaemonLoop): Promise<number> {
    using own = loop === undefined ? new DaemonLoop() : null;
    const current = loop ?? own!;
    this.#loop = current;
    current.reload = () => this.reload();
    if (this.#stopping) current.stop();
    try {
      await current.poll({
        next: () => ({
          fds: [...[...this.#owners.values()].map((s) => s.fd), this.#monitor.fd],
          timeoutMs: MAX_SLEEP_MS,
        }),
        ready: (ready) => {
          for (const socket of this.#owners.values()) {
            if (ready.includes(socket.fd)) {
              for (const upcall of socket.readUpcalls()) this.#onUpcall(upcall);
            }
          }
          if (ready.includes(this.#monitor.fd)) this.#onLinkEvents(this.#monitor.poll());
        },
      });
      return 0;
    } finally {
      this.#loop = null;
    }
  }

  /**
   * SIGHUP: makes the state file (an operator may have edited it) the routing state again, as
   * one APPLY; a file that does not parse changes nothing. Returns what was done, in words.
   */
  reload(): string {
    const path = this.#options.statePath;
    const saved = readStateFile(path);
    if (saved === null) {
      return `no state file ${path}; kept ${plural(this.#router.routes().length, "route")}`;
    }
    const families = [...this.#owners.keys()];
    const routes = saved.state.routes.filter((r) => families.includes(r.family));
    this.#router.apply({ vifs: saved.state.vifs, routes });
    this.#save();
    return `re-applied state file ${path}: ${plural(routes.length, "route")}`;
  }

  #onUpcall(upcall: Upcall): void {
    const vif = this.#router.vifs().find((v) => v.family === upcall.family && v.vif === upcall.vif);
    const event = {
      event: "upcall",
      kind: upcall.kind,
      family: upcall.family,
      vif: upcall.vif,
      iif: vif?.name ?? null,
      source: formatAddress(upcall.family, upcall.source),
      group: formatAddress(upcall.family, upcall.group),
    };
    log.debug("Upcall {kind} for ({source}, {group}) on {iif}", {
      ...event,
      iif: event.iif ?? `vif ${upcall.vif}`,
    });
    this.#events.publish(event);
  }

  #onLinkEvents(events: LinkEvent[]): void {
    for (const event of events) {
      try {
        switch (event.type) {
          case "added":
            this.#router.interfaceBack(event.link.name, event.link.ifindex);
            break;
          case "removed":
            this.#router.interfaceGone(event.link.name);
            break;
          case "renamed":
            this.#router.interfaceGone(event.oldName);
            this.#router.interfaceBack(event.link.name, event.link.ifindex);
            break;
          case "resync":
            for (const v of this.#router.vifs()) {
              const link = this.#monitor.find(v.name);
              if (link === undefined) this.#router.interfaceGone(v.name);
              else if (v.ifindex === null) this.#router.interfaceBack(v.name, link.ifindex);
            }
            break;
        }
      } catch (err) {
        // One interface the kernel refuses must not take the daemon down.
        log.warn("Cannot follow interface change {event}: {error}", {
          event: event.type,
          error: String(err),
        });
      }
    }
  }

  /** Ends {@linkcode run}. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#loop?.stop();
  }

  /**
   * Stops serving and closes the kernel sockets: without `keepKernelState` the kernel removes
   * every entry the daemon installed; with it, the static entries stay. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.#events.close();
    await this.#server?.close();
    await this.#monitor.close();
    for (const [family, socket] of this.#installers) {
      if (socket !== this.#owners.get(family)) socket.close();
    }
    for (const socket of this.#owners.values()) socket.close();
    log.info("Multicast routing stopped{kept}", {
      kept: this.#options.keepKernelState ? "; kernel entries kept" : "; kernel entries removed",
    });
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function isUnsupported(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return err instanceof NetkitError &&
    (code === "EAFNOSUPPORT" || code === "ENOPROTOOPT" || code === "EOPNOTSUPP" ||
      /not available|not supported/i.test(err.message));
}
