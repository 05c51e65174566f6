/**
 * netkit: link-layer and multicast tools for Linux network engineers.
 *
 * @module
 */

import { run } from "./lib/cli/program.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
