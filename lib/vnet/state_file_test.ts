import assert from "node:assert/strict";
import { formatState, readVnetState, writeVnetState } from "./state_file.ts";
import type { NicSpec } from "./config.ts";

const nics: NicSpec[] = [
  { name: "vm0", mac: "52:54:00:00:00:0a", ipv4: "192.0.2.10/32", profile: "linklocal" },
  { name: "vm1", mac: "52:54:00:00:00:0b", ipv6: "2001:db8::b/128", dns: ["2001:db8::53"] },
];

Deno.test("vnet state file: written atomically and read back; missing or empty is null", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/sub/vnet.json`;
    assert.equal(readVnetState(path), null);
    writeVnetState(path, nics);
    assert.deepEqual(readVnetState(path), nics);
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o644);
    writeVnetState(path, []);
    assert.deepEqual(readVnetState(path), []);
    Deno.writeTextFileSync(path, "");
    assert.equal(readVnetState(path), null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("vnet state file: a malformed file is one error naming the file and the field", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/vnet.json`;
    Deno.writeTextFileSync(path, "{not json");
    assert.throws(() => readVnetState(path), /State file ".*vnet.json" is not JSON/);
    Deno.writeTextFileSync(path, JSON.stringify({ version: 1, nics: [{ name: "vm0" }] }));
    assert.throws(() => readVnetState(path), /not a valid vnet state: .*mac/);
    assert.equal(JSON.parse(formatState(nics)).nics.length, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
