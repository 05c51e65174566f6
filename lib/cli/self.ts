/**
 * How netkit starts itself again: moved to lib/daemon/detach.ts with the rest of `-d`; kept for
 * the modules that import it from here.
 *
 * @module
 */

export { selfExecutable } from "../daemon/detach.ts";
