/**
 * Test rig for the control protocol (lib/ipc): a private run directory per test and a raw line
 * client that speaks the wire protocol byte by byte. Only tests import it; lib/ never does.
 *
 * @module
 */

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withRunDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-ipc-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A bare client connection for tests that need exact control over the bytes sent. */
export class RawClient implements Disposable {
  #conn: Deno.UnixConn;
  #buffer = "";
  #closed = false;

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  /** Connects to the socket at `path`. */
  static async connect(path: string): Promise<RawClient> {
    return new RawClient(await Deno.connect({ transport: "unix", path }));
  }

  /** Sends `text` exactly as given. */
  async send(text: string | Uint8Array): Promise<void> {
    let bytes = typeof text === "string" ? encoder.encode(text) : text;
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
  }

  /** Shuts down the sending side; the server sees end of input. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /**
   * The next line without its newline, or `null` at end of input. A connection reset after
   * the last line also counts as end of input: Linux resets when the server closes with
   * unread input, which is how an over-long request ends.
   */
  async readLine(): Promise<string | null> {
    const chunk = new Uint8Array(64 * 1024);
    while (!this.#buffer.includes("\n")) {
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch (err) {
        if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
        n = null;
      }
      if (n === null) {
        if (this.#buffer === "") return null;
        const rest = this.#buffer;
        this.#buffer = "";
        return rest;
      }
      this.#buffer += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
    const at = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 1);
    return line;
  }

  /** The next line parsed as JSON; fails the test at end of input. */
  async readJson(): Promise<unknown> {
    const line = await this.readLine();
    if (line === null) throw new Error("The server closed the connection instead of replying");
    return JSON.parse(line);
  }

  /** Closes the connection; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  /** Same as {@linkcode close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
