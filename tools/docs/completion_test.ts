import assert from "node:assert/strict";
// Loaded before any test runs, as in the CLI, so the sanitizers do not see it as a leak.
import "../../ffi/native.ts";
import { needs } from "../../tests/skip.ts";
import { allCommands, loadCommandTree } from "./command_tree.ts";
import { bashCompletion, zshCompletion } from "./completion.ts";

const tree = await loadCommandTree();

/** Runs `script` in `shell` and returns its stdout; a failure or any stderr fails the test. */
function shell(shell: string, args: string[], script: string): string {
  const dir = Deno.makeTempDirSync({ prefix: "netkit-completion-" });
  try {
    Deno.writeTextFileSync(`${dir}/test.sh`, script);
    const out = new Deno.Command(shell, { args: [...args, `${dir}/test.sh`], cwd: dir })
      .outputSync();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(err, "");
    assert.equal(out.code, 0);
    return new TextDecoder().decode(out.stdout);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** One line per case: the words typed (the last one being completed) and what is offered. */
function cases(lines: string): Map<string, string> {
  return new Map(
    lines.split("\n").filter((line) => line !== "").map((line) => {
      const at = line.indexOf(" ->");
      return [line.slice(0, at), line.slice(at + 3).trim()];
    }),
  );
}

const BASH_CASES = [
  ["netkit la", "lab lacp"],
  ["netkit relay room a", "add add-client"],
  ["netkit lacp --ra", "--rate"],
  ["netkit lacp --rate ''", "fast slow"],
  ["netkit --log-level = de", "debug"],
  ["netkit -n blue lacp -i lo --rate fast --sys", "--system-id --system-priority"],
  ["netkit mroute vif add l", "lo"],
  ["netkit relay --key ke", "key.pem"],
  ["netkit relay --key ke --ro", "--rooms --room-clients"],
  ["netkit mroute apply ke", "key.pem"],
  ["netkit relay --listen ''", ""],
] as const;

Deno.test("bash completes commands, options and values from the command tree", () => {
  const script = bashCompletion(tree);
  const out = shell(
    "bash",
    ["--norc", "--noprofile"],
    `${script}
touch key.pem
t() {
  eval "COMP_WORDS=($1)"; COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
  _netkit; echo "$1 -> \${COMPREPLY[*]}"
}
${BASH_CASES.map(([words]) => `t ${JSON.stringify(words)}`).join("\n")}
`,
  );
  const offered = cases(out);
  for (const [words, expected] of BASH_CASES) assert.equal(offered.get(words), expected, words);
});

Deno.test("bash offers every option of every command, its ancestors' included", () => {
  const commands = allCommands(tree).filter((c) => c.path.at(-1) !== "help");
  const out = shell(
    "bash",
    ["--norc", "--noprofile"],
    `${bashCompletion(tree)}
${
      commands.map((c) =>
        `COMP_WORDS=(netkit ${c.path.join(" ")} --); COMP_CWORD=${c.path.length + 1}; ` +
        `_netkit; echo "${c.path.join(" ")} -> \${COMPREPLY[*]}"`
      ).join("\n")
    }
`,
  );
  const offered = cases(out);
  for (const command of commands) {
    const words = new Set(offered.get(command.path.join(" "))!.split(" "));
    const ancestors = allCommands(tree).filter((c) =>
      c.path.length <= command.path.length && c.path.every((w, i) => command.path[i] === w)
    );
    for (const option of ancestors.flatMap((c) => c.options)) {
      if (option.long !== null) {
        assert.ok(words.has(option.long), `${command.usage}: ${option.long}`);
      }
    }
  }
});

Deno.test({
  name: "zsh completes commands, options and values from the command tree",
  ignore: needs("zsh"),
  fn() {
    // compsys's functions replaced by ones that print what they would offer, filtered by the
    // word typed as compsys would.
    const stubs = `
_describe() { local -a a; a=("\${(@P)\${@[-1]}}"); a=(\${a%%:*}); print -r -- "\${(@M)a:#\${words[CURRENT]}*}"; }
_files() { print -r -- "<files\${1:+ $1}>"; }
compadd() { shift; print -r -- "\${(@M)@:#\${\${words[CURRENT]}#*=}*}"; }
compset() { :; }
`;
    const zshCases = [
      ["netkit la", "lab lacp"],
      ["netkit relay room a", "add add-client"],
      ["netkit lacp --ra", "--rate"],
      ["netkit lacp --rate ''", "fast slow"],
      ["netkit --log-level=de", "debug"],
      ["netkit -n blue lacp -i lo --sys", "--system-id --system-priority"],
      ["netkit mroute vif add l", "lo"],
      ["netkit relay --key ke", "<files>"],
      ["netkit relay --dev-cert d", "<files -/>"],
    ];
    const path = Deno.makeTempFileSync({ prefix: "_netkit" });
    try {
      Deno.writeTextFileSync(path, zshCompletion(tree));
      const out = shell(
        "zsh",
        ["-f"],
        `${stubs}
${
          zshCases.map(([words]) =>
            `words=(${words}); CURRENT=$#words; print -rn -- ${
              JSON.stringify(words)
            }' -> '; source ${path}`
          ).join("\n")
        }
`,
      );
      const offered = cases(out);
      for (const [words, expected] of zshCases) assert.equal(offered.get(words!), expected, words);
    } finally {
      Deno.removeSync(path);
    }
  },
});

Deno.test({
  name: "zsh's own completion system loads _netkit and completes with it",
  ignore: needs("zsh"),
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "netkit-zsh-" });
    try {
      Deno.writeTextFileSync(`${dir}/_netkit`, zshCompletion(tree));
      // An interactive zsh in a pseudo-terminal: type, then Ctrl-X Ctrl-D, bound to a widget that
      // completes as Tab does and appends the line to a file; the next line waits for the file.
      const typed = [
        ["netkit lacp --ra", "netkit lacp --rate "],
        ["netkit relay room add-c", "netkit relay room add-client "],
        ["netkit --log-level=d", "netkit --log-level=debug "],
        ["netkit mroute vif add l", "netkit mroute vif add lo "],
      ];
      const script = `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'fpath=(${dir} $fpath); autoload -Uz compinit; compinit -u -D'
zpty -w z 'dump() { zle complete-word; print -r -- "$BUFFER" >> ${dir}/lines; BUFFER=; }'
zpty -w z 'zle -N dump; bindkey "^X^D" dump; : > ${dir}/lines'
for t in {1..50}; do [[ -f ${dir}/lines ]] && break; sleep 0.1; done
${
        typed.map(([line], i) =>
          `zpty -w -n z ${JSON.stringify(line)}$'\\C-x\\C-d'\n` +
          `for t in {1..50}; do (( $(wc -l < ${dir}/lines) > ${i} )) && break; sleep 0.1; done`
        ).join("\n")
      }
zpty -d z
`;
      Deno.writeTextFileSync(`${dir}/test.zsh`, script);
      const out = new Deno.Command("zsh", { args: ["-f", `${dir}/test.zsh`] }).outputSync();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.deepEqual(
        Deno.readTextFileSync(`${dir}/lines`).split("\n").slice(0, -1),
        typed.map(([, completed]) => completed),
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
