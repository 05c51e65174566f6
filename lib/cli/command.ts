/**
 * The commander type every command module is written against, named in one place.
 *
 * Type-only: importing it loads nothing, so a command module's start stays as cheap as before.
 *
 * @module
 */

import type { Command as CommanderCommand } from "commander";

/**
 * A commander command: the program a command module adds its subcommand to, and the subcommand
 * an action receives. commander documents it.
 *
 * Hidden from `deno doc` on purpose: deno doc 2.9 reports every type from an npm package as a
 * private type (denoland/deno#27364, fixed upstream). Public symbols that name this alias are
 * documented as usual.
 *
 * @ignore
 */
export type Command = CommanderCommand;
