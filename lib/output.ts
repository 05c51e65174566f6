/**
 * Writing to the process's standard streams: a reader that goes away (`netkit ... | head`, a
 * log collector that died) ends the output, never the process. A lab still removes its
 * namespaces and a daemon keeps serving; only what would have been printed is lost.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Something text can be written to synchronously, such as `Deno.stdout`. */
export interface SyncStream {
  /** Writes some of `bytes`; returns how many. */
  writeSync(bytes: Uint8Array): number;
}

/**
 * A function writing `text` to `stream` whole, synchronously, that drops everything once the
 * stream's reader has gone (`BrokenPipe`); other errors are thrown.
 */
export function streamWriter(stream: SyncStream): (text: string) => void {
  let gone = false;
  return (text) => {
    if (gone) return;
    const bytes = encoder.encode(text);
    try {
      let offset = 0;
      while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
    } catch (err) {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      gone = true;
    }
  };
}
