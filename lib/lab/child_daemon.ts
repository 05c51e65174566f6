/**
 * A daemon run as a child process by a lab, a benchmark or a test: started, awaited until it
 * serves (by a probe the caller gives), and stopped by pid: SIGTERM, then SIGKILL if it has not
 * exited after a grace period. What it prints is kept for error messages, unless the caller
 * takes the lines of its stderr as they come.
 *
 * @module
 */

import { delay, TimeoutError, withTimeout } from "../async.ts";
import { NetkitError } from "../errors.ts";

/** How a {@linkcode ChildDaemon} is started. */
export interface ChildDaemonOptions {
  /** Its own session: Ctrl-C on the terminal reaches the parent only, which stops it. */
  detached?: boolean;
  /** Sees every line on stderr; a line it returns true for is not kept as output. */
  onStderrLine?: (line: string) => boolean;
}

/** How long a daemon may take to exit after SIGTERM before it is killed. */
export const DEFAULT_STOP_GRACE_MS = 5000;
const POLL_MS = 20;

/** A daemon child process. */
export class ChildDaemon implements AsyncDisposable {
  /** What it is, in messages: "the router's daemon", "smcrouted". */
  readonly what: string;
  /** Resolves when it has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #read: Promise<void>;
  #exited = false;
  #stopping: Promise<Deno.CommandStatus> | null = null;

  private constructor(what: string, child: Deno.ChildProcess, options: ChildDaemonOptions) {
    this.what = what;
    this.#child = child;
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    const keep = (line: string) => {
      if (line.trim() !== "" && !(options.onStderrLine?.(line) ?? false)) this.#lines.push(line);
    };
    this.#read = Promise.all([
      readLines(child.stdout, (line) => line.trim() !== "" && this.#lines.push(line)),
      readLines(child.stderr, keep),
    ]).then(() => {});
  }

  /** Starts `command args`; throws a clear error when the command does not exist. */
  static spawn(
    what: string,
    command: string,
    args: readonly string[],
    options: ChildDaemonOptions = {},
  ): ChildDaemon {
    try {
      const child = new Deno.Command(command, {
        args: [...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: options.detached ?? false,
      }).spawn();
      return new ChildDaemon(what, child, options);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NetkitError(`Cannot start ${what}: "${command}" was not found`);
      }
      throw err;
    }
  }

  /** Its process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** What it printed that no `onStderrLine` took, on one line. */
  get output(): string {
    return this.#lines.join(" ").trim();
  }

  /**
   * Polls `probe` until it returns true. Throws when the daemon exits first (with what it
   * printed), when `timeoutMs` pass (with the probe's last error), or when `signal` aborts.
   */
  async waitUntil(
    probe: () => Promise<boolean>,
    options: { timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<void> {
    const deadline = performance.now() + options.timeoutMs;
    let last = "no answer yet";
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        if (await probe()) return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (this.#exited) {
        const { code } = await this.status;
        await this.#read;
        throw new NetkitError(
          `${this.what} (pid ${this.pid}) exited with code ${code} before serving` +
            (this.output === "" ? "" : `: ${this.output}`),
        );
      }
      if (performance.now() > deadline) {
        throw new NetkitError(
          `${this.what} did not serve within ${options.timeoutMs / 1000} s: ${last}`,
        );
      }
      await delay(POLL_MS, options.signal);
    }
  }

  /**
   * SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with its exit status
   * once its output is read to the end. Safe to call twice.
   */
  stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<Deno.CommandStatus> {
    this.#stopping ??= (async () => {
      this.#signal("SIGTERM");
      try {
        await withTimeout(this.status, graceMs, `${this.what} outlived its grace period`);
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
      }
      this.#signal("SIGKILL");
      const status = await this.status;
      await this.#read;
      return status;
    })();
    return this.#stopping;
  }

  #signal(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // It exited in the meantime.
    }
  }

  /** {@linkcode stop} with the default grace: `await using` leaves no process behind. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Calls `onLine` for every line of `stream`, the last one included if unterminated. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => unknown,
): Promise<void> {
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) onLine(line);
    }
    if (rest !== "") onLine(rest);
  } catch {
    // The stream broke, or a caller's onLine threw: what was read so far is kept.
  }
}
