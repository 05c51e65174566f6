/**
 * `netkit vnet daemon` as a real process for the integration tests: started in a namespace on a
 * socket, state file and log of the test's, reached through the built `./netkit`.
 *
 * @module
 */

import { request } from "../../lib/ipc/mod.ts";
import { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { sh } from "../../lib/lab/namespace_lab.ts";
import { ShowReply } from "../../lib/vnet/client.ts";
import { netkit } from "../_cli.ts";

/** Where a daemon's socket, state file and log are. */
export interface VnetPaths {
  socket: string;
  state: string;
  log: string;
}

/** A running `netkit vnet daemon`, stopped when disposed of. */
export class VnetProcess implements AsyncDisposable {
  constructor(readonly daemon: ChildDaemon, readonly socket: string) {}

  /** Starts the daemon in `router` with `extra` arguments (`--uplink NAME`, say); serving. */
  static async start(router: string, paths: VnetPaths, extra: string[] = []): Promise<VnetProcess> {
    const daemon = ChildDaemon.spawn("netkit vnet daemon", "./netkit", [
      ...["-n", router, "--log-level", "debug", "--log-file", paths.log],
      ...["vnet", "daemon", "--socket", paths.socket, "--state", paths.state, ...extra],
    ]);
    const p = new VnetProcess(daemon, paths.socket);
    try {
      await daemon.waitUntil(async () => {
        await request(paths.socket, { action: "SHOW" }, { timeoutMs: 1000 });
        return true;
      }, { timeoutMs: 10_000 });
      return p;
    } catch (err) {
      await daemon.stop();
      throw new Error(`${err}\n${await Deno.readTextFile(paths.log)}`);
    }
  }

  /** Starts the daemon in `router` with its socket, state file and log in `dir`; serving. */
  static startIn(router: string, dir: string, extra: string[] = []): Promise<VnetProcess> {
    const paths = { socket: `${dir}/vnet.sock`, state: `${dir}/vnet.json`, log: `${dir}/vnet.log` };
    return VnetProcess.start(router, paths, extra);
  }

  /** Runs `netkit vnet ARGS --socket` against it; throws with its stderr unless it succeeds. */
  vnet(...args: string[]): string {
    const out = netkit(["vnet", ...args, "--socket", this.socket]);
    if (out.code !== 0) throw new Error(`vnet ${args.join(" ")}: ${out.err}`);
    return out.out;
  }

  /** `vnet show -s -j`, checked. */
  show(): ShowReply {
    return ShowReply.parse({ status: "success", ...JSON.parse(this.vnet("show", "-s", "-j")) });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.daemon.stop();
  }
}

/** Runs `command` in `netns`, giving up after `seconds`; its stdout. */
export function inNetns(netns: string, seconds: number, ...command: string[]): string {
  return sh("timeout", String(seconds), "ip", "netns", "exec", netns, ...command);
}

/** The `key=value` lines a DHCP client's script wrote, as a map (last write wins). */
export function recordedEnv(path: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of Deno.readTextFileSync(path).split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) vars.set(line.slice(0, at), line.slice(at + 1));
  }
  return vars;
}

/**
 * Writes `DIR/NAME.sh`, a script for udhcpc (`-s`) and dhclient (`-sf`) that writes its
 * environment to `DIR/NAME.env` once bound, whole (a temporary file renamed: a test may poll for
 * it). dhclient clears the environment, so the path is written into the script.
 */
export function recordScript(dir: string, name: string): { script: string; record: string } {
  const record = `${dir}/${name}.env`;
  const script = `${dir}/${name}.sh`;
  Deno.writeTextFileSync(
    script,
    `#!/bin/sh
case "$1$reason" in
  bound|BOUND) env > '${record}.tmp' && mv '${record}.tmp' '${record}' ;;
esac
exit 0
`,
  );
  Deno.chmodSync(script, 0o755);
  return { script, record };
}
