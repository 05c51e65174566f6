import assert from "node:assert/strict";
// Loaded before any test runs, as in the CLI, so the sanitizers do not see it as a leak.
import "../../ffi/native.ts";
import { cli } from "../../tests/_cli.ts";
import { needs } from "../../tests/skip.ts";
import { allCommands, type DocCommand, loadCommandTree } from "./command_tree.ts";
import { commandPage, manPages, pageName, roffText } from "./man_page.ts";

const tree = await loadCommandTree();
const pages = manPages(tree, "9.9.9");

/** The page a command is documented on: netkit.8 for the root, else its top-level command's. */
function pageOf(command: DocCommand): string {
  return pages.get(`${pageName(command)}.8`)!;
}

/** The option terms and subcommand names `--help` lists, read from its text. */
function helpItems(text: string): { options: string[]; commands: string[] } {
  const options: string[] = [];
  const commands: string[] = [];
  let section = "";
  for (const line of text.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line;
    // An item's term is indented two spaces and ends at two spaces (or the line's end).
    const term = /^ {2}(\S(?:\S| (?! ))*)/.exec(line)?.[1];
    if (term === undefined) continue;
    if (section === "Options:") options.push(term);
    if (section === "Commands:") commands.push(term.split(" ")[0]!.split("|")[0]!);
  }
  return { options, commands };
}

Deno.test("roffText escapes backslashes, hyphens, control lines and characters beyond ASCII", () => {
  assert.equal(roffText("a\\b --c"), "a\\eb \\-\\-c");
  assert.equal(roffText("x\n.TH bad\n'also"), "x\n\\&.TH bad\n\\&'also");
  assert.equal(roffText("AF_PACKET ⇄ QUIC"), "AF_PACKET \\[u21C4] QUIC");
});

Deno.test("the man pages list every command, subcommand and option that --help shows", async () => {
  const commands = allCommands(tree).filter((c) => c.path.at(-1) !== "help");
  assert.ok(commands.length > 20, `only ${commands.length} commands in the tree`);
  for (const command of commands) {
    const { code, out } = await cli(...command.path, "--help");
    assert.equal(code, 0, command.usage);
    const help = helpItems(out);
    assert.ok(help.options.length > 0, `no options read from the help of ${command.usage}`);
    const page = pageOf(command);
    for (const option of help.options) {
      assert.ok(page.includes(roffText(option.split(" ")[0]!)), `${command.usage}: ${option}`);
    }
    for (const name of help.commands.filter((n) => n !== "help")) {
      const usage = `${["netkit", ...command.path, name].join(" ")} `;
      const where = command.path.length === 0 ? `\\fB${name}\\fR` : `.SS ${roffText(usage)}`;
      assert.ok(page.includes(where), `${command.usage}: subcommand ${name}`);
    }
  }
});

Deno.test("a command's page carries the notes its --help adds (the lacp injection grammar)", () => {
  const lacp = tree.subcommands.find((c) => c.path[0] === "lacp")!;
  assert.match(lacp.notes, /Injection rules \(--inject, repeatable\)/);
  const page = commandPage(lacp, "9.9.9");
  assert.match(page, /^\.SH NOTES$/m);
  assert.ok(page.includes(roffText("--exit-after-inject: exit 0")));
});

Deno.test({
  name: "every man page renders with groff without a warning",
  ignore: needs("groff"),
  async fn() {
    for (const [name, text] of pages) {
      const child = new Deno.Command("groff", {
        args: ["-man", "-Tutf8", "-ww", "-P-cbou"], // -P-cbou: plain text, no overstriking
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const { code, stdout, stderr } = await child.output();
      assert.equal(new TextDecoder().decode(stderr), "", name);
      assert.equal(code, 0, name);
      const rendered = new TextDecoder().decode(stdout);
      assert.match(rendered, /^NAME$/m, name);
      assert.match(rendered, /^SYNOPSIS$/m, name);
    }
  },
});
