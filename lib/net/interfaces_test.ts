import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { validateInterfaceName } from "./interface_name.ts";

Deno.test("validateInterfaceName() accepts what Linux accepts and names the problem otherwise", () => {
  for (const name of ["eth0", "a", "enp0s31f6", "veth-x.100", "123456789012345"]) {
    validateInterfaceName(name);
  }
  for (const name of ["", "1234567890123456", "a/b", "a b", "a:b", ".", ".."]) {
    assert.throws(
      () => validateInterfaceName(name),
      (err: unknown) => err instanceof InvalidInputError && err.message.includes(`"${name}"`),
    );
  }
});
