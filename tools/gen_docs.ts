/**
 * Writes netkit's man pages and shell completions, generated from the command tree itself so
 * they never drift from `--help` (`make docs`; `make install` installs them):
 *
 * ```sh
 * deno run -P=netkit tools/gen_docs.ts build/docs
 * ```
 *
 * makes `build/docs/man8/netkit.8` and one `netkit-COMMAND.8` per command,
 * `build/docs/bash/netkit` and `build/docs/zsh/_netkit`.
 *
 * @module
 */

import { NETKIT_VERSION } from "../lib/version.ts";
import { loadCommandTree } from "./docs/command_tree.ts";
import { bashCompletion, zshCompletion } from "./docs/completion.ts";
import { manPages } from "./docs/man_page.ts";

/** Writes every generated file under `dir` and returns their paths, relative to `dir`. */
export async function writeDocs(dir: string): Promise<string[]> {
  const root = await loadCommandTree();
  const files = new Map<string, string>();
  for (const [name, text] of manPages(root, NETKIT_VERSION)) files.set(`man8/${name}`, text);
  files.set("bash/netkit", bashCompletion(root));
  files.set("zsh/_netkit", zshCompletion(root));
  // A page of a command that is gone must not linger and be installed.
  await Deno.remove(`${dir}/man8`, { recursive: true }).catch(() => {});
  for (const [path, text] of files) {
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return [...files.keys()];
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (dir === undefined || Deno.args.length !== 1) {
    Deno.stderr.writeSync(new TextEncoder().encode("usage: gen_docs.ts OUTPUT_DIR\n"));
    Deno.exit(2);
  }
  await writeDocs(dir);
}
