import assert from "node:assert/strict";
import { parseRoute } from "./route.ts";
import {
  desiredStateFromJson,
  formatDesiredState,
  readStateFile,
  writeStateFile,
} from "./state_file.ts";

Deno.test("a desired state survives a round trip through the state file, VIF indexes included", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/sub/mroute.json`;
    const routes = [
      parseRoute({
        source: "10.1.1.5",
        group: "239.10.20.30",
        iif: "eth1",
        oifs: ["eth2", "eth3:4"],
      }),
      parseRoute({ group: "ff0e::7", iif: "eth1", oifs: ["eth2"] }),
    ];
    writeStateFile(
      path,
      formatDesiredState({ vifs: ["eth9"], routes }, { "4": { eth1: 0, eth2: 2 }, "6": {} }),
    );
    const back = readStateFile(path)!;
    assert.deepEqual(back.state, { vifs: ["eth9"], routes });
    assert.deepEqual(back.vifIndexes, { "4": { eth1: 0, eth2: 2 }, "6": {} });
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name),
      ["mroute.json"],
      "no temporary file left",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readStateFile() treats a missing or empty file as no state and names what is wrong otherwise", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(readStateFile(`${dir}/none.json`), null);
    Deno.writeTextFileSync(`${dir}/empty.json`, "\n");
    assert.equal(readStateFile(`${dir}/empty.json`), null);
    Deno.writeTextFileSync(`${dir}/bad.json`, "{");
    assert.throws(
      () => readStateFile(`${dir}/bad.json`),
      new RegExp(`^NetkitError: State file "${dir}/bad.json" is not JSON: `),
    );
    Deno.writeTextFileSync(`${dir}/shape.json`, '{"routes": [{"group": "239.1.1.1"}]}');
    assert.throws(
      () => readStateFile(`${dir}/shape.json`),
      /is not a valid multicast routing state: "routes\[0\]\.iif": /,
    );
    Deno.writeTextFileSync(
      `${dir}/route.json`,
      '{"routes": [{"group": "10.1.1.1", "iif": "a", "oifs": ["b"]}]}',
    );
    assert.throws(
      () => readStateFile(`${dir}/route.json`),
      {
        message:
          `State file "${dir}/route.json": route 1: Invalid argument: Group '10.1.1.1' is not a multicast address (224.0.0.0/4).`,
      },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("desiredStateFromJson() accepts the apply file form: no version, oifs as names", () => {
  const { state } = desiredStateFromJson({
    routes: [{ group: "239.1.1.1", iif: "a", oifs: ["b", "c:2"] }],
  }, "FILE");
  assert.deepEqual(state.routes[0]!.oifs, [{ name: "b", ttl: 1 }, { name: "c", ttl: 2 }]);
  assert.deepEqual(state.vifs, []);
});

Deno.test("formatDesiredState() writes one route per line and valid JSON with no routes", () => {
  const routes = ["239.1.1.1", "239.1.1.2"].map((group) =>
    parseRoute({ source: "10.0.0.1", group, iif: "a", oifs: ["b"] })
  );
  const text = formatDesiredState({ vifs: [], routes });
  const lines = text.split("\n").filter((l) => l.includes('"group"'));
  assert.deepEqual(lines.map((l) => JSON.parse(l.trim().replace(/,$/, "")).group), [
    "239.1.1.1",
    "239.1.1.2",
  ]);
  assert.deepEqual(JSON.parse(text).routes.length, 2);
  assert.deepEqual(JSON.parse(formatDesiredState({ vifs: ["x"], routes: [] })), {
    version: 1,
    vifs: ["x"],
    routes: [],
  });
});
