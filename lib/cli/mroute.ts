/**
 * `netkit mroute`: the multicast routing daemon and an iproute2-style CLI that talks to it over
 * its control socket (`add`, `del`, `show`, `vif`, `flush`, `apply`, `monitor`, `daemon`).
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import type { Schema } from "../zod_exact.ts";
import { absolute } from "../daemon/absolute_path.ts";
import { killDaemons, PidReply } from "../daemon/stop.ts";
import { NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import {
  checkInterfaceName,
  InvalidRouteError,
  parseAddress,
  parseRoute,
} from "../mroute/route.ts";
import {
  defaultStatePath,
  MessageReply,
  type MonitorEvent,
  MonitorLine,
  mrouteReply,
  mrouteSocketName,
  ShowReply,
} from "../mroute/client.ts";
import type { RouteJsonOut, ShowJson, VifJson } from "../mroute/protocol.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import {
  addDaemonModeOptions,
  daemonMode,
  type DaemonModeOptions,
  detachDaemon,
  loadDaemonSide,
} from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { logsNothing } from "./logging.ts";
import { printMonitor } from "./monitor.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";
import { eventText, oifText } from "../mroute/event_text.ts";
import { collect } from "./options.ts";

/** Options every mroute subcommand takes to find its daemon. */
interface DaemonAddress {
  socket?: string;
  table?: string;
}

function parseTable(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^[0-9]+$/.test(value) || Number(value) > 999_999_999) {
    throw new UsageError(
      `Invalid value "${value}" for --table: expected a table id from 0 to 999999999`,
    );
  }
  return Number(value);
}

function socketPath(options: DaemonAddress): string {
  return options.socket ??
    controlSocketPath(mrouteSocketName(currentNetnsId(), parseTable(options.table)));
}

/**
 * Sends one request and checks the reply with `schema`; a daemon that is not there is explained
 * with how to start it.
 */
async function call<T>(
  options: DaemonAddress,
  globals: GlobalOptions,
  message: { action: string; payload?: unknown },
  schema: Schema<T>,
): Promise<T> {
  try {
    return await requestChecked(
      socketPath(options),
      message,
      schema,
      mrouteReply(message.action),
      { timeoutMs: 30000 },
    );
  } catch (err) {
    if (err instanceof DaemonUnreachableError) throw unreachable(err, globals, options);
    throw err;
  }
}

function unreachable(
  err: DaemonUnreachableError,
  globals: GlobalOptions,
  options: DaemonAddress,
): NetkitError {
  const netns = globals.netns === undefined ? "" : ` -n ${globals.netns}`;
  const where = options.socket === undefined
    ? (options.table ? ` --table ${options.table}` : "")
    : ` --socket ${options.socket}`;
  return new NetkitError(`${err.message}; start it with "netkit${netns} mroute daemon -d${where}"`);
}

function addressOptions(command: Command): Command {
  return command
    .option(
      "--socket <path>",
      "the daemon's control socket (default: /run/netkit/mroute-ns<netns>[-t<table>].sock)",
    )
    .option("--table <id>", "talk to the daemon of this multicast routing table");
}

function sourceOf(source: string | undefined): string | null {
  return source === undefined || source === "*" ? null : source;
}

function formatRoutes(routes: RouteJsonOut[], stats: boolean): string {
  if (routes.length === 0) return "No multicast routes\n";
  const rows = routes.map((r) => {
    const row = [
      `(${r.source}, ${r.group})`,
      `Iif: ${r.iif}`,
      `Oifs: ${r.oifs.map((o) => oifText(o, r.family)).join(" ")}`,
      `State: ${r.state}`,
    ];
    if (stats) row.push(`${r.packets} packets, ${r.bytes} bytes, ${r.wrong_if} wrong_if`);
    return row;
  });
  return formatTable(rows);
}

function formatVifs(vifs: VifJson[], stats: boolean): string {
  if (vifs.length === 0) return "No VIFs\n";
  const header = ["VIF", "Family", "Interface", "Ifindex", "Flags", "Pinned"];
  if (stats) header.push("Packets in", "Bytes in", "Packets out", "Bytes out");
  const rows = vifs.map((v) => {
    const row = [
      String(v.vif),
      `IPv${v.family}`,
      v.name,
      v.ifindex === null ? "gone" : String(v.ifindex),
      `0x${v.flags.toString(16)}`,
      v.pinned ? "yes" : "no",
    ];
    if (stats) {
      row.push(
        String(v.packets_in ?? "-"),
        String(v.bytes_in ?? "-"),
        String(v.packets_out ?? "-"),
        String(v.bytes_out ?? "-"),
      );
    }
    return row;
  });
  return formatTable([header, ...rows]);
}

/** The human form of `show`. */
export function formatShow(show: ShowJson, stats: boolean): string {
  return `${formatVifs(show.vifs, stats)}\n${formatRoutes(show.routes, stats)}`;
}

/** Checks route arguments with the daemon's validators; a bad one is a usage error. */
function checkedArguments<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidRouteError) throw new UsageError(err.message);
    throw err;
  }
}

/** Adds `netkit mroute` and its subcommands. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const mroute = program.command("mroute").description(
    "multicast routing daemon and its iproute2-style CLI",
  );
  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();

  addressOptions(
    logsNothing(
      mroute.command("add").description("add a route: (S,G), or (*,G) without --source"),
    ),
  )
    .option("--source <address>", "source address (omit for (*,G): every source)")
    .requiredOption("--group <address>", "multicast group")
    .requiredOption("--iif <interface>", "input interface")
    .option(
      "--oif <interface[:ttl]>",
      "output interface, optional TTL threshold (repeatable)",
      collect,
    )
    .option("--oifs <list>", "output interfaces, comma separated")
    .option("--replace", "replace an existing route for (S,G) instead of adding outputs to it")
    .action(
      async (
        options: DaemonAddress & {
          source?: string;
          group: string;
          iif: string;
          oif?: string[];
          oifs?: string;
          replace?: boolean;
        },
        command: Command,
      ) => {
        const oifs = [...(options.oif ?? []), ...(options.oifs?.split(",").filter(Boolean) ?? [])];
        if (oifs.length === 0) {
          throw new UsageError(
            "At least one output interface is needed: --oif IF[:TTL] or --oifs A,B",
          );
        }
        checkedArguments(() =>
          parseRoute({
            source: sourceOf(options.source),
            group: options.group,
            iif: options.iif,
            oifs,
          })
        );
        const reply = await call(options, globals(command), {
          action: "ADD_MFC",
          payload: {
            source: sourceOf(options.source),
            group: options.group,
            iif: options.iif,
            oifs,
            ...(options.replace ? { mode: "replace" } : {}),
          },
        }, MessageReply);
        printResult(io, globals(command), reply, () => String(reply.message));
      },
    );

  addressOptions(
    logsNothing(mroute.command("del").description("delete the route for (S,G) or (*,G)")),
  )
    .option("--source <address>", "source address (omit for (*,G))")
    .requiredOption("--group <address>", "multicast group")
    .action(
      async (options: DaemonAddress & { source?: string; group: string }, command: Command) => {
        checkedArguments(() => {
          parseAddress(options.group, "Group");
          const source = sourceOf(options.source);
          if (source !== null) parseAddress(source, "Source");
        });
        const reply = await call(options, globals(command), {
          action: "DEL_MFC",
          payload: { source: sourceOf(options.source), group: options.group },
        }, MessageReply);
        printResult(io, globals(command), reply, () => String(reply.message));
      },
    );

  addressOptions(
    logsNothing(mroute.command("show").description("VIFs and routes (-s: with kernel counters)")),
  )
    .option("-s, --stats", "add packet, byte and wrong-interface counters")
    .action(async (options: DaemonAddress & { stats?: boolean }, command: Command) => {
      const stats = options.stats === true;
      const reply = await call(
        options,
        globals(command),
        { action: "SHOW", payload: { stats } },
        ShowReply,
      );
      const show: ShowJson = { vifs: reply.vifs, routes: reply.routes };
      printResult(io, globals(command), show, () => formatShow(show, stats));
    });

  const vif = mroute.command("vif").description("pin or release an interface's VIF");
  for (
    const [verb, action, what] of [["add", "ADD_VIF", "give IF a VIF even without routes"], [
      "del",
      "DEL_VIF",
      "release IF's VIF",
    ]] as const
  ) {
    addressOptions(logsNothing(vif.command(verb).description(what).argument("<interface>")))
      .action(async (name: string, options: DaemonAddress, command: Command) => {
        checkedArguments(() => checkInterfaceName(name, "Interface"));
        const reply = await call(options, globals(command), {
          action,
          payload: { interface: name },
        }, MessageReply);
        printResult(io, globals(command), reply, () => String(reply.message));
      });
  }

  addressOptions(logsNothing(mroute.command("flush").description("remove every route and VIF")))
    .action(async (options: DaemonAddress, command: Command) => {
      const reply = await call(options, globals(command), { action: "FLUSH" }, MessageReply);
      printResult(io, globals(command), reply, () => String(reply.message));
    });

  addressOptions(
    mroute.command("apply").description(
      "make FILE (JSON desired state) the whole routing state, all or nothing",
    ),
  )
    .argument("<file>", 'desired state: {"vifs": [...], "routes": [...]}; "-" reads stdin')
    .option(
      "--dry-run",
      "print the changes without making them (checks the file alone when no daemon runs)",
    )
    .option("--offline", "with --dry-run: check and plan the file alone, never asking a daemon")
    .action(
      async (
        file: string,
        options: DaemonAddress & { dryRun?: boolean; offline?: boolean },
        command: Command,
      ) => {
        // Loaded here: reading, checking and planning a file is apply's alone.
        const { applyFile } = await import("./mroute_apply.ts");
        await applyFile(io, globals(command), file, options, {
          path: () => socketPath(options),
          unreachable: (err) => unreachable(err, globals(command), options),
        });
      },
    );

  addressOptions(
    mroute.command("monitor").description(
      "live upcalls and route/interface events (-j: JSON lines)",
    ),
  )
    .action(async (options: DaemonAddress, command: Command) => {
      const g = globals(command);
      await printMonitor(io, g, {
        path: socketPath(options),
        schema: MonitorLine,
        context: mrouteReply("SUBSCRIBE"),
        isEvent: (line): line is MonitorEvent => line.status !== "success",
        text: eventText,
        unreachable: (err) => unreachable(err, g, options),
      });
    });

  addDaemonModeOptions(
    mroute.command("daemon").description(
      "run the multicast routing daemon (owner of the kernel's table)",
    ),
    "the daemon of this table",
  )
    .option(
      "--socket <path>",
      "control socket (default: /run/netkit/mroute-ns<netns>[-t<table>].sock)",
    )
    .option("--table <id>", "multicast routing table id (default: the kernel's default tables)")
    .option(
      "--state <file>",
      "desired state file (default: /var/lib/netkit/mroute[-<netns>][-t<table>].json)",
    )
    .option(
      "--keep-kernel-state",
      "install entries that survive the daemon; adopt them at the next start",
    )
    .action(
      async (
        options: DaemonModeOptions & {
          socket?: string;
          table?: string;
          state?: string;
          keepKernelState?: boolean;
        },
        command: Command,
      ) => {
        const g = globals(command);
        if (g.json || g.pretty) {
          throw new UsageError("-j/--json and -p/--pretty do not apply to the daemon");
        }
        const table = parseTable(options.table);
        const mode = daemonMode(options);
        if (mode === "kill") {
          return await killDaemons({
            name: "mroute",
            paths: [socketPath(options)],
            ask: (path) => requestChecked(path, { action: "SHOW" }, PidReply, mrouteReply("SHOW")),
            describe: (_status, path) => path,
            out: (text) => io.out(text),
          });
        }
        if (mode === "detach") {
          return await detachDaemon(io, args, g, table === 0 ? "mroute" : `mroute-t${table}`);
        }
        const { DaemonLoop, announceDetached } = await loadDaemonSide();
        // Before the daemon starts: a signal meanwhile stops it, never kills it.
        using loop = new DaemonLoop();
        // Loaded here: the client subcommands need none of the daemon's modules.
        const { MrouteDaemon } = await import("../mroute/daemon.ts");
        await using daemon = await MrouteDaemon.start({
          // Absolute: a detached daemon leaves the working directory, and SIGHUP rereads it.
          socketPath: absolute(socketPath(options)),
          statePath: absolute(options.state ?? defaultStatePath(g.netns ?? null, table)),
          table,
          keepKernelState: options.keepKernelState === true,
        });
        if (mode === "detached-child") announceDetached();
        await daemon.run(loop);
      },
    );
}
