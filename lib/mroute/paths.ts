/**
 * Where a multicast routing daemon is found and keeps its state: moved to client.ts, the
 * daemon's contract; kept for the modules that import it from here.
 *
 * @module
 */

export { defaultStatePath, mrouteSocketName } from "./client.ts";
