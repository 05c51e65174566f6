/**
 * The whole netkit command tree as plain data, read from the same commander program that runs
 * (lib/cli/program.ts), so the man pages and shell completions made from it never drift from
 * `--help`. `buildProgram` registers only the selected command's subcommands (startup speed), so
 * the tree is built once per top-level command and the pieces put together here.
 *
 * @module
 */

import type { Command, Help, Option } from "commander";
import { buildProgram, COMMANDS } from "../../lib/cli/program.ts";
import type { CliIo } from "../../lib/cli/io.ts";

/** What completing an option's value or an argument offers. */
export type ValueKind = "none" | "file" | "dir" | "interface" | "netns" | "choices";

/** One option, as `--help` shows it. */
export interface DocOption {
  /** As written in the source and in `--help`: `-i, --interface <name>`. */
  flags: string;
  /** `-i`, or null. */
  short: string | null;
  /** `--interface`, or null for a short-only option. */
  long: string | null;
  /** The description with choices and default, as `--help` prints it. */
  description: string;
  /** Whether the option takes a value (required or optional). */
  takesValue: boolean;
  /** What its value is, for completion. */
  value: ValueKind;
  /** The allowed values, for `value: "choices"`. */
  choices: readonly string[];
}

/** One positional argument of a command. */
export interface DocArgument {
  /** `<room>`, `[name]`, `<file...>`. */
  term: string;
  /** What it is, for completion. */
  value: ValueKind;
}

/** One command or subcommand. */
export interface DocCommand {
  /** The words that select it: `[]` for netkit itself, `["relay", "room", "add"]`. */
  path: readonly string[];
  /** The full usage line: `netkit relay room add [options] <room>`. */
  usage: string;
  /** The long description (`--help`'s first paragraph). */
  description: string;
  /** The one-line summary the parent's command list shows. */
  summary: string;
  /** Its own visible options, `-h, --help` included. */
  options: readonly DocOption[];
  /** Its positional arguments, in order. */
  arguments: readonly DocArgument[];
  /** Visible subcommands, the implicit `help` command included where `--help` lists it. */
  subcommands: readonly DocCommand[];
  /** Text the command adds before and after its `--help` (grammar notes, examples). */
  notes: string;
}

/** Placeholders whose value is a path to complete. */
const FILE_PLACEHOLDERS = new Set(["file", "pem", "path"]);

function valueKindOf(placeholder: string | undefined, long: string | null): ValueKind {
  if (placeholder === undefined) return "none";
  if (long === "--netns") return "netns";
  if (long === "--interface" || long === "--iface" || placeholder.startsWith("interface")) {
    return "interface";
  }
  if (placeholder === "dir") return "dir";
  return FILE_PLACEHOLDERS.has(placeholder) ? "file" : "none";
}

function docOption(option: Option, help: Help): DocOption {
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  const choices = option.argChoices ?? [];
  const long = option.long ?? null;
  return {
    flags: option.flags,
    short: option.short ?? null,
    long,
    description: help.optionDescription(option),
    takesValue: option.required || option.optional,
    value: choices.length > 0 ? "choices" : valueKindOf(placeholder, long),
    choices,
  };
}

/** Output of commander captured, to read the help text a command adds (`addHelpText`). */
class CapturedIo implements CliIo {
  text = "";
  out(text: string): void {
    this.text += text;
  }
  err(text: string): void {
    this.text += text;
  }
}

/** What `--help` prints around the generated part: `addHelpText("before"/"after")`. */
function notesOf(command: Command, io: CapturedIo): string {
  io.text = "";
  command.outputHelp();
  const full = io.text;
  const base = command.helpInformation();
  const at = full.indexOf(base);
  if (at < 0) return "";
  return (full.slice(0, at) + full.slice(at + base.length)).trim();
}

/** Commander's implicit `help [command]`: listed by `--help`, not one of `commands`. */
function implicitHelp(help: Command, parent: Command, path: readonly string[]): DocCommand {
  return {
    path,
    usage: `${parent.createHelp().commandUsage(parent).split(" [")[0]} help [command]`,
    description: help.description(),
    summary: help.description(),
    options: [],
    arguments: [{ term: "[command]", value: "none" }],
    subcommands: [],
    notes: "",
  };
}

function docCommand(command: Command, path: readonly string[], io: CapturedIo): DocCommand {
  const help = command.createHelp();
  const subcommands = help.visibleCommands(command).map((sub) =>
    command.commands.includes(sub)
      ? docCommand(sub, [...path, sub.name()], io)
      : implicitHelp(sub, command, [...path, sub.name()])
  );
  return {
    path,
    usage: help.commandUsage(command),
    description: help.commandDescription(command),
    summary: help.subcommandDescription(command),
    options: help.visibleOptions(command).map((option) => docOption(option, help)),
    arguments: command.registeredArguments.map((argument) => {
      const term = argument.required ? `<${argument.name()}>` : `[${argument.name()}]`;
      const variadic = argument.variadic ? term.replace(/([>\]])$/, "...$1") : term;
      return { term: variadic, value: valueKindOf(argument.name(), null) };
    }),
    subcommands,
    notes: notesOf(command, io),
  };
}

/**
 * The full tree: netkit with its global options and every command with all its subcommands.
 * Loads every command module (and so libnetkit, which the lacp and mroute modules open).
 */
export async function loadCommandTree(): Promise<DocCommand> {
  const io = new CapturedIo();
  const root = await buildProgram([], io);
  const rootDoc = docCommand(root, [], io);
  const full: DocCommand[] = [];
  for (const entry of COMMANDS) {
    const program = await buildProgram([entry.name], io);
    const command = program.commands.find((c) => c.name() === entry.name);
    if (command === undefined) throw new Error(`Command "${entry.name}" did not register itself`);
    full.push(docCommand(command, [entry.name], io));
  }
  // The root's own list has the stubs (name and summary only); swap in the full commands.
  const subcommands = rootDoc.subcommands.map((stub) =>
    full.find((c) => c.path[0] === stub.path[0]) ?? stub
  );
  return { ...rootDoc, subcommands };
}

/** Every command of the tree, depth first, the root first. */
export function allCommands(root: DocCommand): DocCommand[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}
