/**
 * Whether systemd runs this process as a service. Under systemd a daemon stays in the
 * foreground (the units are `Type=simple`: the process systemd started is the service, and when
 * it exits systemd stops the service) and logs to stderr, which systemd gives to the journal
 * when no `--log-file` is given. `-d` is refused there (lib/daemon/detach.ts): its parent would
 * exit at once and take the service, and the detached child, down with it.
 *
 * The variables systemd sets can leak into a login shell (a desktop terminal started by a user
 * service inherits them), where `-d` must keep working, so each is believed only with proof:
 * `JOURNAL_STREAM` (`DEVICE:INODE`) when it names our own stderr, as systemd.exec(5) says to
 * check it; `INVOCATION_ID` when our parent is a systemd (the system or a user manager).
 *
 * @module
 */

/** `JOURNAL_STREAM`'s `DEVICE:INODE` (decimal), or null when it is not that. */
export function parseJournalStream(text: string): { dev: number; ino: number } | null {
  const m = /^([0-9]{1,20}):([0-9]{1,20})$/.exec(text);
  return m === null ? null : { dev: Number(m[1]), ino: Number(m[2]) };
}

/** Whether `JOURNAL_STREAM` names the file our stderr is: then stderr goes to the journal. */
function stderrIsJournal(): boolean {
  const stream = parseJournalStream(Deno.env.get("JOURNAL_STREAM") ?? "");
  if (stream === null) return false;
  try {
    const stderr = Deno.statSync("/proc/self/fd/2");
    return stderr.dev === stream.dev && stderr.ino === stream.ino;
  } catch {
    return false;
  }
}

/** Whether `INVOCATION_ID` is set and our parent process is a systemd. */
function startedBySystemd(): boolean {
  if (!Deno.env.get("INVOCATION_ID")) return false;
  try {
    return Deno.readTextFileSync(`/proc/${Deno.ppid}/comm`).trim() === "systemd";
  } catch {
    return false;
  }
}

/**
 * What says systemd runs us as a service (see the module's text), in words for a message, or
 * null when nothing does. Requires `--allow-env` and `--allow-read` of /proc.
 */
export function systemdService(): string | null {
  if (stderrIsJournal()) return "JOURNAL_STREAM names its standard error";
  if (startedBySystemd()) return "INVOCATION_ID is set and systemd started it";
  return null;
}
