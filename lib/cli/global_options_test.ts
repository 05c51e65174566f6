import assert from "node:assert/strict";
import { plainCommandLine, selectedCommand } from "./global_options.ts";

Deno.test("selectedCommand skips global options and the values they take", () => {
  assert.equal(selectedCommand(["--log-level", "debug", "-n", "red", "lacp", "-s"]), "lacp");
  assert.equal(selectedCommand(["--netns", "mroute", "version"]), "version");
  assert.equal(selectedCommand(["-j", "help", "mroute"]), "mroute");
  assert.equal(selectedCommand(["--", "version"]), undefined);
});

Deno.test("plainCommandLine takes one command name with output flags, and nothing else", () => {
  assert.deepEqual(plainCommandLine(["version"]), { command: "version", flags: {} });
  assert.deepEqual(plainCommandLine(["-p", "version", "--json"]), {
    command: "version",
    flags: { json: true, pretty: true },
  });
  for (
    const args of [[], ["-j"], ["version", "-jp"], ["version", "x"], ["-n", "a", "version"], [
      "version",
      "--log-level=debug",
    ], ["version", "--"]]
  ) {
    assert.equal(plainCommandLine(args), null, args.join(" "));
  }
});
