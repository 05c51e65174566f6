/**
 * Paths a daemon keeps after it leaves the working directory, in a module of their own: the
 * status commands that resolve `--status-socket` use it too, and must not load what detaching
 * loads (libnetkit).
 *
 * @module
 */

/** `path` from the working directory, for a child that will leave it. */
export function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}
