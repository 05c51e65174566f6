import assert from "node:assert/strict";
import { exitCodeOf } from "../cli/errors.ts";
import { ExitCode, InvalidInputError, NetkitError } from "../errors.ts";
import {
  applyStateAction,
  conditionHolds,
  formatInjection,
  InjectionEngine,
  type InjectRule,
  InjectRuleError,
  type OutgoingPdu,
  parseInjectRule,
} from "./inject_rule.ts";

// State bits, spelled out here so the tests do not share the module's letter table.
const A = 0x01;
const T = 0x02;
const G = 0x04;
const S = 0x08;
const C = 0x10;
const D = 0x20;
const F = 0x40;
const E = 0x80;

/** Asserts that `text` is rejected with exactly `message`. */
function assertRejects(text: string, message: string): void {
  assert.throws(
    () => parseInjectRule(text),
    (err: unknown) => {
      assert.ok(err instanceof InjectRuleError, `${text}: ${String(err)}`);
      assert.equal(err.message, message);
      return true;
    },
  );
}

function pdu(overrides: { actorState?: number; partnerState?: number } = {}): OutgoingPdu {
  return {
    version: 1,
    actor: {
      systemPriority: 65535,
      system: new Uint8Array([2, 0, 0, 0, 0, 1]),
      key: 1,
      portPriority: 255,
      port: 1,
      state: overrides.actorState ?? (A | T | G | S | C | D),
    },
    partner: { state: overrides.partnerState ?? (A | T | G | S | C | D) },
  };
}

function engineFor(...rules: string[]): InjectionEngine {
  return new InjectionEngine(rules.map(parseInjectRule));
}

// --- The original lacpd's rules keep their meaning -----------------------------------------

Deno.test("parseInjectRule() reads the original's 'P:ATGSCD -> A:ATG' as exact match and replace", () => {
  const rule = parseInjectRule("P:ATGSCD -> A:ATG");
  assert.deepEqual(rule, {
    text: "P:ATGSCD -> A:ATG",
    condition: { partner: { kind: "equals", value: A | T | G | S | C | D } },
    action: { actor: { kind: "replace", value: A | T | G }, fields: {}, drop: false },
    limit: null,
    perEpisode: false,
  });
});

Deno.test("parseInjectRule() reads 'P:ATGS -> A:AT'", () => {
  const rule = parseInjectRule("P:ATGS -> A:AT");
  assert.deepEqual(rule.condition, { partner: { kind: "equals", value: 0x0f } });
  assert.deepEqual(rule.action.actor, { kind: "replace", value: 0x03 });
});

Deno.test("parseInjectRule() treats an empty condition as always true", () => {
  for (const text of ["-> A:0x3d", "   -> A:0x3d", "->A:0x3d"]) {
    const rule = parseInjectRule(text);
    assert.deepEqual(rule.condition, {}, text);
    assert.deepEqual(rule.action.actor, { kind: "replace", value: 0x3d }, text);
    assert.equal(conditionHolds(rule, 0, 0), true, text);
    assert.equal(conditionHolds(rule, 0xff, 0x5a), true, text);
  }
});

Deno.test("parseInjectRule() reads 'A:61|P:ATG -> A:0x05|P:0' with both roles on both sides", () => {
  const rule = parseInjectRule("A:61|P:ATG -> A:0x05|P:0");
  assert.deepEqual(rule.condition, {
    actor: { kind: "equals", value: 61 },
    partner: { kind: "equals", value: A | T | G },
  });
  assert.deepEqual(rule.action, {
    actor: { kind: "replace", value: 0x05 },
    partner: { kind: "replace", value: 0 },
    fields: {},
    drop: false,
  });
});

Deno.test("parseInjectRule() accepts lower-case roles and letters", () => {
  const upper = parseInjectRule("P:ATGSCD -> A:ATG");
  const lower = parseInjectRule("p:atgscd -> a:atg");
  assert.deepEqual(lower.condition, upper.condition);
  assert.deepEqual(lower.action, upper.action);
  assert.equal(lower.text, "p:atgscd -> a:atg");
});

Deno.test("parseInjectRule() allows whitespace around every token and none at all", () => {
  const expected = parseInjectRule("P:ATGSCD -> A:ATG|P:AT #2");
  for (
    const text of [
      "P:ATGSCD->A:ATG|P:AT#2",
      "  P : ATGSCD   ->   A : ATG | P : AT  #  2  ",
      "\tP:ATGSCD\t->\tA:ATG\t|\tP:AT\t#2",
    ]
  ) {
    const rule = parseInjectRule(text);
    assert.deepEqual(rule.condition, expected.condition, text);
    assert.deepEqual(rule.action, expected.action, text);
    assert.equal(rule.limit, 2, text);
    assert.equal(rule.text, text, "the text is kept as given");
  }
});

Deno.test("parseInjectRule() reads state letters in any order, repeated, and all eight", () => {
  const cases: [string, number][] = [
    ["GTA", A | T | G],
    ["AAT", A | T],
    ["DCSGTA", A | T | G | S | C | D],
    ["ATGSCDFE", 0xff],
    ["F", F],
    ["E", E],
    ["eFd", D | E | F],
  ];
  for (const [letters, value] of cases) {
    assert.deepEqual(
      parseInjectRule(`A:${letters} -> P:${letters}`).condition.actor,
      { kind: "equals", value },
      letters,
    );
    assert.deepEqual(
      parseInjectRule(`A:${letters} -> P:${letters}`).action.partner,
      { kind: "replace", value },
      letters,
    );
  }
});

Deno.test("parseInjectRule() reads hex and decimal state values up to 255", () => {
  const cases: [string, number][] = [
    ["0x3d", 0x3d],
    ["0X3D", 0x3d],
    ["0xff", 255],
    ["0x00ff", 255],
    ["0x0", 0],
    ["255", 255],
    ["0", 0],
    ["007", 7],
  ];
  for (const [text, value] of cases) {
    assert.deepEqual(parseInjectRule(`P:${text} -> A:${text}`).condition.partner, {
      kind: "equals",
      value,
    }, text);
    assert.deepEqual(parseInjectRule(`P:${text} -> A:${text}`).action.actor, {
      kind: "replace",
      value,
    }, text);
  }
});

Deno.test("parseInjectRule() reads N alone, in either case, as the empty state", () => {
  for (const text of ["A:N -> P:N", "a:n -> p:n"]) {
    const rule = parseInjectRule(text);
    assert.deepEqual(rule.condition.actor, { kind: "equals", value: 0 }, text);
    assert.deepEqual(rule.action.partner, { kind: "replace", value: 0 }, text);
  }
});

Deno.test("parseInjectRule() lets the last item win when a role repeats on one side", () => {
  const rule = parseInjectRule("A:ATG|A:AT -> A:1|A:2|P:+S|P:-C");
  assert.deepEqual(rule.condition, { actor: { kind: "equals", value: A | T } });
  assert.deepEqual(rule.action.actor, { kind: "replace", value: 2 });
  assert.deepEqual(rule.action.partner, { kind: "mask", set: 0, clear: C });
});

// --- Extensions ------------------------------------------------------------------------------

Deno.test("parseInjectRule() reads mask conditions of required set and clear bits", () => {
  const cases: [string, number, number][] = [
    ["+S", S, 0],
    ["-CD", 0, C | D],
    ["+S-CD", S, C | D],
    ["-CD+S", S, C | D],
    ["+s-cd", S, C | D],
    ["+S -CD", S, C | D],
    ["+S  -C  -D +A", A | S, C | D],
    ["+SS-CC", S, C],
    ["+ATGSCDFE", 0xff, 0],
  ];
  for (const [spec, set, clear] of cases) {
    assert.deepEqual(
      parseInjectRule(`A:${spec} -> key=1`).condition.actor,
      { kind: "mask", set, clear },
      spec,
    );
  }
});

Deno.test("parseInjectRule() reads mask actions that set and clear bits", () => {
  const rule = parseInjectRule("-> A:+S-CD | P:-E");
  assert.deepEqual(rule.action.actor, { kind: "mask", set: S, clear: C | D });
  assert.deepEqual(rule.action.partner, { kind: "mask", set: 0, clear: E });
});

Deno.test("parseInjectRule() reads every field override", () => {
  const rule = parseInjectRule(
    "-> key=7 | system=02:00:00:aa:bb:cc | sysprio=0 | port=65535 | portprio=0xffff | version=2",
  );
  assert.deepEqual(rule.action, {
    fields: {
      key: 7,
      system: new Uint8Array([2, 0, 0, 0xaa, 0xbb, 0xcc]),
      systemPriority: 0,
      port: 65535,
      portPriority: 0xffff,
      version: 2,
    },
    drop: false,
  });
});

Deno.test("parseInjectRule() reads field names in any case and numbers in decimal or hex", () => {
  assert.deepEqual(parseInjectRule("-> KEY=0x10").action.fields, { key: 16 });
  assert.deepEqual(parseInjectRule("-> Key = 0X10").action.fields, { key: 16 });
  assert.deepEqual(parseInjectRule("-> SysPrio=32768").action.fields, { systemPriority: 32768 });
  assert.deepEqual(parseInjectRule("-> PORTPRIO=0").action.fields, { portPriority: 0 });
  assert.deepEqual(parseInjectRule("-> Version=255").action.fields, { version: 255 });
  assert.deepEqual(parseInjectRule("-> port=00042").action.fields, { port: 42 });
});

Deno.test("parseInjectRule() accepts a system ID in every form parseMac accepts", () => {
  for (const mac of ["02:00:00:aa:bb:cc", "02-00-00-AA-BB-CC", "0200.00aa.bbcc"]) {
    assert.deepEqual(
      parseInjectRule(`-> System=${mac}`).action.fields.system,
      new Uint8Array([2, 0, 0, 0xaa, 0xbb, 0xcc]),
      mac,
    );
  }
  assert.deepEqual(
    parseInjectRule("-> system=00:00:00:00:00:00").action.fields.system,
    new Uint8Array(6),
    "the all-zero (unset) system ID is a unicast address a test may want to send",
  );
});

Deno.test("parseInjectRule() combines state actions with field overrides", () => {
  const rule = parseInjectRule("P:+S -> A:-S | key=9 | P:ATG");
  assert.deepEqual(rule.action, {
    actor: { kind: "mask", set: 0, clear: S },
    partner: { kind: "replace", value: A | T | G },
    fields: { key: 9 },
    drop: false,
  });
});

Deno.test("parseInjectRule() reads drop in any case", () => {
  for (const text of ["P:N -> drop", "-> DROP", "A:+E ->  Drop  #1"]) {
    const rule = parseInjectRule(text);
    assert.deepEqual(rule.action, { fields: {}, drop: true }, text);
  }
});

Deno.test("parseInjectRule() reads a count suffix as the fire limit", () => {
  assert.equal(parseInjectRule("-> A:1").limit, null);
  assert.equal(parseInjectRule("-> A:1 #1").limit, 1);
  assert.equal(parseInjectRule("-> A:1#3").limit, 3);
  assert.equal(parseInjectRule("-> A:1 #  12  ").limit, 12);
  assert.equal(parseInjectRule("-> A:1 #007").limit, 7);
  assert.equal(parseInjectRule("-> drop #4294967295").limit, 4294967295);
  assert.equal(parseInjectRule("-> A:1 #3").perEpisode, false);
});

Deno.test("parseInjectRule() reads '#N/episode' as a limit on each episode of the condition", () => {
  for (const text of ["A:+CD -> system=02:00:00:00:00:09 #1/episode", "-> A:1 # 1 / episode "]) {
    const rule = parseInjectRule(text);
    assert.equal(rule.limit, 1, text);
    assert.equal(rule.perEpisode, true, text);
  }
  assert.equal(parseInjectRule("-> A:1 #12/episode").limit, 12);
  assertRejects(
    "-> A:1 #2/epoch",
    'Invalid inject rule "-> A:1 #2/epoch": expected "/episode" after the count, found "/epoch" at position 10',
  );
  assertRejects(
    "-> A:1 #/episode",
    'Invalid inject rule "-> A:1 #/episode": count must be a whole number of at least 1 at position 8',
  );
});

// --- Errors ----------------------------------------------------------------------------------

Deno.test("InjectRuleError is a usage error that carries the rule, problem and position", () => {
  assert.throws(
    () => parseInjectRule("A:ATX -> A:A"),
    (err: unknown) => {
      assert.ok(err instanceof InjectRuleError);
      assert.ok(err instanceof InvalidInputError);
      assert.ok(err instanceof NetkitError);
      assert.equal(exitCodeOf(err), ExitCode.USAGE);
      assert.equal(err.name, "InjectRuleError");
      assert.equal(err.rule, "A:ATX -> A:A");
      assert.equal(err.problem, 'unknown state letter "X"');
      assert.equal(err.position, 5);
      assert.equal(
        err.message,
        'Invalid inject rule "A:ATX -> A:A": unknown state letter "X" at position 5',
      );
      return true;
    },
  );
});

Deno.test("parseInjectRule() rejects a rule without exactly one arrow", () => {
  assertRejects(
    "P:ATGSCD A:ATG",
    'Invalid inject rule "P:ATGSCD A:ATG": expected exactly one "->"',
  );
  assertRejects("", 'Invalid inject rule "": expected exactly one "->"');
  assertRejects("P:A - > A:T", 'Invalid inject rule "P:A - > A:T": expected exactly one "->"');
  assertRejects(
    "P:A -> A:T -> A:G",
    'Invalid inject rule "P:A -> A:T -> A:G": expected exactly one "->", found another at position 12',
  );
  assertRejects(
    "->->",
    'Invalid inject rule "->->": expected exactly one "->", found another at position 3',
  );
  assert.throws(
    () => parseInjectRule("A:1"),
    (err: unknown) => err instanceof InjectRuleError && err.position === null,
    "a missing arrow concerns the whole rule and has no position",
  );
});

Deno.test("parseInjectRule() rejects unknown state letters where they stand", () => {
  assertRejects(
    "A:ATX -> A:A",
    'Invalid inject rule "A:ATX -> A:A": unknown state letter "X" at position 5',
  );
  assertRejects(
    "-> A:ATGQ",
    'Invalid inject rule "-> A:ATGQ": unknown state letter "Q" at position 9',
  );
  assertRejects(
    "A:+SZ -> A:1",
    'Invalid inject rule "A:+SZ -> A:1": unknown state letter "Z" at position 5',
  );
  assertRejects("-> P:-1", 'Invalid inject rule "-> P:-1": unknown state letter "1" at position 7');
  assertRejects(
    "A:A* -> A:1",
    'Invalid inject rule "A:A* -> A:1": unknown state letter "*" at position 4',
  );
  assertRejects(
    "A:A\u{1F600} -> A:1",
    'Invalid inject rule "A:A\u{1F600} -> A:1": unknown state letter "\u{1F600}" at position 4',
  );
  // Characters that case-map onto a state letter are not state letters.
  assertRejects(
    "A:\u017F -> A:1",
    'Invalid inject rule "A:\u017F -> A:1": unknown state letter "\u017F" at position 3',
  );
});

Deno.test("parseInjectRule() rejects state values over 255 as written", () => {
  assertRejects(
    "A:300 -> A:1",
    'Invalid inject rule "A:300 -> A:1": state value 300 is out of range 0..255 at position 3',
  );
  assertRejects(
    "-> A:256",
    'Invalid inject rule "-> A:256": state value 256 is out of range 0..255 at position 6',
  );
  assertRejects(
    "-> A:0x1FF",
    'Invalid inject rule "-> A:0x1FF": state value 0x1FF is out of range 0..255 at position 6',
  );
  assertRejects(
    "-> P:0x100",
    'Invalid inject rule "-> P:0x100": state value 0x100 is out of range 0..255 at position 6',
  );
  assertRejects(
    "A:99999999999999999999 -> A:1",
    'Invalid inject rule "A:99999999999999999999 -> A:1": state value 99999999999999999999 is out of range 0..255 at position 3',
  );
});

Deno.test("parseInjectRule() rejects malformed numeric state values", () => {
  for (const value of ["0xZZ", "0x", "3A", "1.5", "0x 3d"]) {
    const text = `A:${value} -> A:1`;
    assertRejects(
      text,
      `Invalid inject rule "${text}": invalid state value "${value}" (expected 0x hex, decimal or letters from ATGSCDFE) at position 3`,
    );
  }
});

Deno.test("parseInjectRule() rejects unknown roles and a missing role", () => {
  assertRejects(
    "X:ATG -> A:1",
    'Invalid inject rule "X:ATG -> A:1": unknown role "X" (expected A or P) at position 1',
  );
  assertRejects(
    "A:1 -> Q:1",
    'Invalid inject rule "A:1 -> Q:1": unknown role "Q" (expected A or P) at position 8',
  );
  assertRejects(
    "AP:1 -> A:1",
    'Invalid inject rule "AP:1 -> A:1": unknown role "AP" (expected A or P) at position 1',
  );
  assertRejects(
    "A:1 |  x : 2 -> A:1",
    'Invalid inject rule "A:1 |  x : 2 -> A:1": unknown role "x" (expected A or P) at position 8',
  );
  assertRejects(
    ":ATG -> A:1",
    'Invalid inject rule ":ATG -> A:1": missing role before ":" (expected A or P) at position 1',
  );
  assertRejects(
    "-> A:1| :2",
    'Invalid inject rule "-> A:1| :2": missing role before ":" (expected A or P) at position 9',
  );
});

Deno.test("parseInjectRule() rejects an empty state value at its role", () => {
  assertRejects("A: -> A:1", 'Invalid inject rule "A: -> A:1": empty state value at position 1');
  assertRejects(
    "P:ATG -> A:",
    'Invalid inject rule "P:ATG -> A:": empty state value at position 10',
  );
  assertRejects(
    "A:1|P:  -> A:1",
    'Invalid inject rule "A:1|P:  -> A:1": empty state value at position 5',
  );
  assertRejects(
    "-> A:1 | P: #2",
    'Invalid inject rule "-> A:1 | P: #2": empty state value at position 10',
  );
});

Deno.test("parseInjectRule() rejects whitespace inside a state value", () => {
  assertRejects(
    "A:AT G -> A:1",
    'Invalid inject rule "A:AT G -> A:1": unexpected whitespace in state value at position 5',
  );
  assertRejects(
    "A:+ S -> A:1",
    'Invalid inject rule "A:+ S -> A:1": unexpected whitespace in state value at position 4',
  );
  assertRejects(
    "A:+S C -> A:1",
    'Invalid inject rule "A:+S C -> A:1": unexpected whitespace in state value at position 5',
  );
});

Deno.test("parseInjectRule() rejects N combined with letters or in a mask", () => {
  assertRejects(
    "A:NA -> A:1",
    'Invalid inject rule "A:NA -> A:1": "N" (no bits) cannot be combined with other state letters at position 3',
  );
  assertRejects(
    "-> A:An",
    'Invalid inject rule "-> A:An": "N" (no bits) cannot be combined with other state letters at position 7',
  );
  assertRejects(
    "A:+N -> A:1",
    'Invalid inject rule "A:+N -> A:1": "N" (no bits) cannot be used in a mask at position 4',
  );
  assertRejects(
    "-> P:-n",
    'Invalid inject rule "-> P:-n": "N" (no bits) cannot be used in a mask at position 7',
  );
});

Deno.test("parseInjectRule() rejects a mask sign without letters", () => {
  assertRejects(
    "A:+ -> A:1",
    'Invalid inject rule "A:+ -> A:1": "+" must be followed by state letters at position 3',
  );
  assertRejects(
    "A:+S- -> A:1",
    'Invalid inject rule "A:+S- -> A:1": "-" must be followed by state letters at position 5',
  );
  assertRejects(
    "A:+-S -> A:1",
    'Invalid inject rule "A:+-S -> A:1": "+" must be followed by state letters at position 3',
  );
  assertRejects(
    "-> A:-",
    'Invalid inject rule "-> A:-": "-" must be followed by state letters at position 6',
  );
});

Deno.test("parseInjectRule() rejects a bit both set and cleared in one mask", () => {
  assertRejects(
    "A:+S-S -> A:1",
    'Invalid inject rule "A:+S-S -> A:1": bit S is both required set and clear at position 6',
  );
  assertRejects(
    "A:-cd+ATc -> A:1",
    'Invalid inject rule "A:-cd+ATc -> A:1": bit C is both required set and clear at position 9',
  );
  assertRejects(
    "-> A:+S-S",
    'Invalid inject rule "-> A:+S-S": bit S is both set and cleared at position 9',
  );
  assertRejects(
    "-> P:-e +E",
    'Invalid inject rule "-> P:-e +E": bit E is both set and cleared at position 10',
  );
});

Deno.test("parseInjectRule() rejects items that are not states in a condition", () => {
  assertRejects(
    "key=1 -> A:1",
    'Invalid inject rule "key=1 -> A:1": expected A:STATE or P:STATE, found "key=1" at position 1',
  );
  assertRejects(
    "A:1 | drop -> A:1",
    'Invalid inject rule "A:1 | drop -> A:1": expected A:STATE or P:STATE, found "drop" at position 7',
  );
  assertRejects(
    "ATG -> A:1",
    'Invalid inject rule "ATG -> A:1": expected A:STATE or P:STATE, found "ATG" at position 1',
  );
});

Deno.test("parseInjectRule() rejects unknown actions in a target", () => {
  assertRejects(
    "-> foo",
    'Invalid inject rule "-> foo": unknown action "foo" (expected A:STATE, P:STATE, FIELD=VALUE or drop) at position 4',
  );
  assertRejects(
    "-> A:1 | key",
    'Invalid inject rule "-> A:1 | key": unknown action "key" (expected A:STATE, P:STATE, FIELD=VALUE or drop) at position 10',
  );
});

Deno.test("parseInjectRule() rejects empty items around a bar", () => {
  assertRejects(
    "A:1||P:2 -> A:1",
    'Invalid inject rule "A:1||P:2 -> A:1": empty item next to "|" at position 4',
  );
  assertRejects(
    "|A:1 -> A:1",
    'Invalid inject rule "|A:1 -> A:1": empty item next to "|" at position 1',
  );
  assertRejects(
    "A:1 | -> A:1",
    'Invalid inject rule "A:1 | -> A:1": empty item next to "|" at position 5',
  );
  assertRejects("-> A:1|", 'Invalid inject rule "-> A:1|": empty item next to "|" at position 7');
  assertRejects("-> |", 'Invalid inject rule "-> |": empty item next to "|" at position 4');
});

Deno.test("parseInjectRule() rejects an empty target", () => {
  assertRejects("P:A ->", 'Invalid inject rule "P:A ->": empty target');
  assertRejects("P:A ->   ", 'Invalid inject rule "P:A ->   ": empty target');
  assertRejects("-> #3", 'Invalid inject rule "-> #3": empty target');
  assertRejects("->", 'Invalid inject rule "->": empty target');
});

Deno.test("parseInjectRule() rejects unknown and nameless fields", () => {
  assertRejects(
    "-> foo=1",
    'Invalid inject rule "-> foo=1": unknown field "foo" (expected key, system, sysprio, port, portprio or version) at position 4',
  );
  assertRejects(
    "-> A:1|Keys = 2",
    'Invalid inject rule "-> A:1|Keys = 2": unknown field "Keys" (expected key, system, sysprio, port, portprio or version) at position 8',
  );
  // The Kelvin sign lower-cases to "k"; it must not pass for the field "key".
  assertRejects(
    "-> \u212Aey=1",
    'Invalid inject rule "-> \u212Aey=1": unknown field "\u212Aey" (expected key, system, sysprio, port, portprio or version) at position 4',
  );
  assertRejects(
    "-> =1",
    'Invalid inject rule "-> =1": missing field name before "=" at position 4',
  );
});

Deno.test("parseInjectRule() rejects field values that are empty, not numbers or out of range", () => {
  assertRejects(
    "-> key=",
    'Invalid inject rule "-> key=": field "key" has an empty value at position 4',
  );
  assertRejects(
    "-> KEY =  #1",
    'Invalid inject rule "-> KEY =  #1": field "key" has an empty value at position 4',
  );
  assertRejects(
    "-> key=70000",
    'Invalid inject rule "-> key=70000": key 70000 is out of range 0..65535 at position 8',
  );
  assertRejects(
    "-> sysprio=65536",
    'Invalid inject rule "-> sysprio=65536": sysprio 65536 is out of range 0..65535 at position 12',
  );
  assertRejects(
    "-> port=0x10000",
    'Invalid inject rule "-> port=0x10000": port 0x10000 is out of range 0..65535 at position 9',
  );
  assertRejects(
    "-> portprio=99999",
    'Invalid inject rule "-> portprio=99999": portprio 99999 is out of range 0..65535 at position 13',
  );
  assertRejects(
    "-> version=256",
    'Invalid inject rule "-> version=256": version 256 is out of range 0..255 at position 12',
  );
  for (const value of ["abc", "-1", "1.5", "0x", "1e3", "0x1g"]) {
    const text = `-> key=${value}`;
    assertRejects(
      text,
      `Invalid inject rule "${text}": key "${value}" is not a number (expected decimal or 0x hex) at position 8`,
    );
  }
});

Deno.test("parseInjectRule() rejects a system ID that is not a unicast MAC address", () => {
  assertRejects(
    "-> system=zz",
    'Invalid inject rule "-> system=zz": system "zz" is not a MAC address (expected six hex octets like 02:00:00:00:00:01) at position 11',
  );
  assertRejects(
    "-> system=02:00:00:00:01",
    'Invalid inject rule "-> system=02:00:00:00:01": system "02:00:00:00:01" is not a MAC address (expected six hex octets like 02:00:00:00:00:01) at position 11',
  );
  assertRejects(
    "-> system=01:00:5e:00:00:01",
    'Invalid inject rule "-> system=01:00:5e:00:00:01": system 01:00:5e:00:00:01 is a multicast address; a system ID must be unicast at position 11',
  );
  assertRejects(
    "-> system = FFFF.FFFF.FFFF",
    'Invalid inject rule "-> system = FFFF.FFFF.FFFF": system FFFF.FFFF.FFFF is a multicast address; a system ID must be unicast at position 13',
  );
});

Deno.test("parseInjectRule() rejects a field given twice", () => {
  assertRejects(
    "-> key=1|KEY=2",
    'Invalid inject rule "-> key=1|KEY=2": field "key" given twice at position 10',
  );
  assertRejects(
    "-> system=02:00:00:00:00:01 | A:1 | System=02:00:00:00:00:02",
    'Invalid inject rule "-> system=02:00:00:00:00:01 | A:1 | System=02:00:00:00:00:02": field "system" given twice at position 37',
  );
});

Deno.test("parseInjectRule() rejects drop combined with anything else", () => {
  assertRejects(
    "-> drop|A:1",
    'Invalid inject rule "-> drop|A:1": "drop" cannot be combined with other actions at position 9',
  );
  assertRejects(
    "-> key=1|drop",
    'Invalid inject rule "-> key=1|drop": "drop" cannot be combined with other actions at position 10',
  );
  assertRejects(
    "-> drop | system=02:00:00:00:00:01",
    'Invalid inject rule "-> drop | system=02:00:00:00:00:01": "drop" cannot be combined with other actions at position 11',
  );
  assertRejects(
    "-> drop|DROP",
    'Invalid inject rule "-> drop|DROP": "drop" given twice at position 9',
  );
});

Deno.test("parseInjectRule() rejects a count that is not a whole number of at least 1", () => {
  const cases: [string, number][] = [
    ["-> A:1 #0", 9],
    ["-> A:1 #000", 9],
    ["-> A:1 #", 8],
    ["-> A:1 #   ", 8],
    ["-> A:1 #-1", 9],
    ["-> A:1 #1.5", 9],
    ["-> A:1 #abc", 9],
    ["-> A:1 # 2 3", 10],
    ["-> A:1 #2#3", 9],
    ["-> A:1 #1e3", 9],
  ];
  for (const [text, position] of cases) {
    assertRejects(
      text,
      `Invalid inject rule "${text}": count must be a whole number of at least 1 at position ${position}`,
    );
  }
  assertRejects(
    "-> A:1 #4294967296",
    'Invalid inject rule "-> A:1 #4294967296": count 4294967296 is out of range 1..4294967295 at position 9',
  );
});

Deno.test("parseInjectRule() rejects a count placed before the arrow", () => {
  assertRejects(
    "A:1 #2 -> A:1",
    'Invalid inject rule "A:1 #2 -> A:1": count "#N" must come after the target at position 5',
  );
});

Deno.test("parseInjectRule() reports the first problem from the left", () => {
  assertRejects(
    "X:1 -> Q:1 #0",
    'Invalid inject rule "X:1 -> Q:1 #0": unknown role "X" (expected A or P) at position 1',
  );
  assertRejects(
    "A:1 -> Q:1 #0",
    'Invalid inject rule "A:1 -> Q:1 #0": unknown role "Q" (expected A or P) at position 8',
  );
});

// --- Evaluation ------------------------------------------------------------------------------

Deno.test("conditionHolds() matches a state value against the whole byte only", () => {
  const rule = parseInjectRule("P:AT -> A:1");
  assert.equal(conditionHolds(rule, 0, A | T), true);
  assert.equal(conditionHolds(rule, 0, A | T | G), false, "P:AT does not match a partner in ATG");
  assert.equal(conditionHolds(rule, 0, A), false);
});

Deno.test("conditionHolds() matches a mask on the named bits only", () => {
  const rule = parseInjectRule("P:+S-CD -> A:1");
  assert.equal(conditionHolds(rule, 0, S), true);
  assert.equal(conditionHolds(rule, 0, A | T | G | S | F | E), true);
  assert.equal(conditionHolds(rule, 0, A | T | G), false, "S is not set");
  assert.equal(conditionHolds(rule, 0, A | T | G | S | C), false, "C is set");
  assert.equal(conditionHolds(rule, 0, A | T | G | S | D), false, "D is set");
});

Deno.test("conditionHolds() requires every role it names", () => {
  const rule = parseInjectRule("A:ATG | P:+S -> key=1");
  assert.equal(conditionHolds(rule, A | T | G, S), true);
  assert.equal(conditionHolds(rule, A | T | G, 0), false);
  assert.equal(conditionHolds(rule, A | T, S), false);
  const actorOnly = parseInjectRule("A:0 -> key=1");
  assert.equal(conditionHolds(actorOnly, 0, 0xff), true, "the partner is not tested");
  assert.equal(conditionHolds(actorOnly, 1, 0), false);
});

Deno.test("applyStateAction() replaces the whole byte or sets and clears bits", () => {
  assert.equal(applyStateAction({ kind: "replace", value: A | T | G }, 0xff), A | T | G);
  assert.equal(applyStateAction({ kind: "replace", value: 0 }, 0x3f), 0);
  const mask = { kind: "mask", set: S, clear: C | D } as const;
  assert.equal(applyStateAction(mask, A | T | G | C | D), A | T | G | S);
  assert.equal(applyStateAction(mask, A | T | G | S), A | T | G | S, "already as asked");
  assert.equal(applyStateAction({ kind: "mask", set: 0, clear: 0xff }, 0xff), 0);
  assert.equal(applyStateAction({ kind: "mask", set: 0xff, clear: 0 }, 0), 0xff);
});

Deno.test("InjectionEngine replaces the actor state as the original did", () => {
  const engine = engineFor("P:ATGSCD -> A:ATG");
  const before = pdu();
  const { pdu: after, fired } = engine.apply(before, before.actor.state, before.partner.state);
  assert.deepEqual(fired, [0]);
  assert.equal(after?.actor.state, A | T | G);
  assert.equal(after?.partner.state, before.partner.state);
  assert.equal(formatInjection(before, after), "Actor state ATGSCD -> ATG");
});

Deno.test("InjectionEngine leaves the PDU alone when no condition holds", () => {
  const engine = engineFor("P:ATGS -> A:AT");
  const before = pdu();
  const result = engine.apply(before, before.actor.state, A | T | G);
  assert.deepEqual(result.fired, []);
  assert.deepEqual(result.pdu, before);
  assert.deepEqual(engine.fireCounts(), [0]);
});

Deno.test("InjectionEngine applies mask actions to actor and partner states", () => {
  const engine = engineFor("-> A:+E-SCD | P:-T+F");
  const before = pdu();
  const after = engine.apply(before, 0x3f, 0x3f).pdu;
  assert.equal(after?.actor.state, A | T | G | E);
  assert.equal(after?.partner.state, A | G | S | C | D | F);
  assert.equal(
    formatInjection(before, after),
    "Actor state ATGSCD -> ATGE, Partner state ATGSCD -> AGSCDF",
  );
});

Deno.test("InjectionEngine overrides actor identity fields and the version", () => {
  const engine = engineFor(
    "-> key=7 | system=02:00:00:00:00:02 | sysprio=1 | port=9 | portprio=2 | version=3",
  );
  const before = pdu();
  const after = engine.apply(before, 0x3f, 0x3f).pdu;
  assert.deepEqual(after, {
    version: 3,
    actor: {
      systemPriority: 1,
      system: new Uint8Array([2, 0, 0, 0, 0, 2]),
      key: 7,
      portPriority: 2,
      port: 9,
      state: before.actor.state,
    },
    partner: { state: before.partner.state },
  });
  assert.equal(
    formatInjection(before, after),
    "version 1 -> 3, sysprio 65535 -> 1, system 02:00:00:00:00:01 -> 02:00:00:00:00:02, key 1 -> 7, portprio 255 -> 2, port 1 -> 9",
  );
});

Deno.test("InjectionEngine returns a copy and never changes the PDU or the rule", () => {
  const rule = parseInjectRule("-> A:0 | P:0 | key=5 | system=02:00:00:00:00:09");
  const engine = new InjectionEngine([rule]);
  const before = pdu();
  const snapshot = structuredClone(before);
  const after = engine.apply(before, 0x3f, 0x3f).pdu;
  assert.ok(after !== null);
  assert.deepEqual(before, snapshot);
  assert.notEqual(after.actor.system, before.actor.system);
  assert.notEqual(after.actor.system, rule.action.fields.system, "the rule's MAC is not shared");
  after.actor.system[5] = 0x77;
  assert.deepEqual(rule.action.fields.system, new Uint8Array([2, 0, 0, 0, 0, 9]));
  // Even an unchanged system ID is a fresh copy.
  const untouched = engineFor("-> key=1").apply(before, 0, 0).pdu;
  assert.ok(untouched !== null);
  assert.notEqual(untouched.actor.system, before.actor.system);
  assert.deepEqual(untouched.actor.system, before.actor.system);
});

Deno.test("InjectionEngine keeps properties of the caller's PDU type that rules cannot change", () => {
  const full = {
    ...pdu(),
    subtype: 1,
    actor: { ...pdu().actor, reserved: "actor extra" },
    partner: { state: 0x3f, key: 44, system: new Uint8Array([2, 0, 0, 0, 0, 0x44]) },
  };
  const result = engineFor("-> key=2 | P:+E").apply(full, 0x3f, 0x3f);
  assert.ok(result.pdu !== null);
  assert.equal(result.pdu.subtype, 1);
  assert.equal(result.pdu.actor.reserved, "actor extra");
  assert.equal(result.pdu.actor.key, 2);
  assert.equal(result.pdu.partner.key, 44);
  assert.deepEqual(result.pdu.partner.system, new Uint8Array([2, 0, 0, 0, 0, 0x44]));
  assert.equal(result.pdu.partner.state, 0x3f | E);
});

Deno.test("InjectionEngine drops the PDU and stops at a drop rule", () => {
  const engine = engineFor("-> key=2", "P:+S -> drop", "-> key=3");
  const before = pdu();
  const dropped = engine.apply(before, 0x3f, 0x3f);
  assert.equal(dropped.pdu, null);
  assert.deepEqual(dropped.fired, [0, 1]);
  assert.deepEqual(engine.fireCounts(), [1, 1, 0], "rules after the drop do not fire");
  assert.equal(formatInjection(before, dropped.pdu), "dropped");
  const sent = engine.apply(before, 0x3f, A | T | G);
  assert.equal(sent.pdu?.actor.key, 3);
  assert.deepEqual(sent.fired, [0, 2]);
});

Deno.test("InjectionEngine counts a limited rule down and then stops applying it", () => {
  const engine = engineFor("P:+S -> A:-S #2");
  const before = pdu();
  assert.deepEqual(engine.active(0x3f, 0x3f), [0]);
  assert.equal(engine.apply(before, 0x3f, 0x3f).pdu?.actor.state, 0x37);
  assert.deepEqual(engine.fireCounts(), [1]);
  assert.equal(engine.apply(before, 0x3f, A | T | G).pdu?.actor.state, 0x3f, "condition false");
  assert.deepEqual(engine.fireCounts(), [1], "a miss does not use a fire");
  assert.equal(engine.apply(before, 0x3f, 0x3f).pdu?.actor.state, 0x37);
  assert.deepEqual(engine.fireCounts(), [2]);
  const third = engine.apply(before, 0x3f, 0x3f);
  assert.equal(third.pdu?.actor.state, 0x3f, "used up");
  assert.deepEqual(third.fired, []);
  assert.deepEqual(engine.fireCounts(), [2]);
  assert.deepEqual(engine.active(0x3f, 0x3f), []);
});

Deno.test("InjectionEngine fires a '#1/episode' rule once each time its condition begins to hold", () => {
  const engine = engineFor("P:+S -> A:-S #1/episode");
  const before = pdu();
  const inSync = 0x3f;
  const outOfSync = A | T | G;
  assert.equal(engine.apply(before, 0x3f, inSync).pdu?.actor.state, 0x37, "first of episode 1");
  assert.equal(engine.apply(before, 0x3f, inSync).pdu?.actor.state, 0x3f, "episode 1 used up");
  assert.deepEqual(engine.active(0x3f, inSync), []);
  // The condition clears between two LACPDUs: only noteStates() sees it.
  engine.noteStates(0x3f, outOfSync);
  assert.deepEqual(engine.active(0x3f, inSync), [0], "a new episode may fire again");
  assert.equal(engine.apply(before, 0x3f, inSync).pdu?.actor.state, 0x37, "first of episode 2");
  assert.equal(engine.apply(before, 0x3f, inSync).pdu?.actor.state, 0x3f);
  assert.deepEqual(engine.fireCounts(), [2]);
  assert.equal(
    engine.describe(0),
    '"P:+S -> A:-S #1/episode" fired 2 times, at most 1 per episode',
  );
  // Without noteStates(), a miss in apply() also ends the episode.
  engine.apply(before, 0x3f, outOfSync);
  assert.equal(engine.apply(before, 0x3f, inSync).pdu?.actor.state, 0x37);
});

Deno.test("InjectionEngine fires an unlimited rule on every PDU", () => {
  const engine = engineFor("-> A:ATG");
  for (let i = 0; i < 5; i++) engine.apply(pdu(), 0x3f, 0x3f);
  assert.deepEqual(engine.fireCounts(), [5]);
  assert.deepEqual(engine.active(0x3f, 0x3f), [0]);
});

Deno.test("InjectionEngine composes actions in rule order", () => {
  const setThenClear = engineFor("-> A:+S", "-> A:-S").apply(pdu({ actorState: 0 }), 0, 0);
  assert.equal(setThenClear.pdu?.actor.state, 0);
  assert.deepEqual(setThenClear.fired, [0, 1]);
  const clearThenSet = engineFor("-> A:-S", "-> A:+S").apply(pdu({ actorState: 0 }), 0, 0);
  assert.equal(clearThenSet.pdu?.actor.state, S);
  const replaceThenMask = engineFor("-> A:0x3f", "-> A:-CD").apply(pdu({ actorState: 0 }), 0, 0);
  assert.equal(replaceThenMask.pdu?.actor.state, A | T | G | S);
  const maskThenReplace = engineFor("-> A:-CD", "-> A:0x3f").apply(pdu({ actorState: 0 }), 0, 0);
  assert.equal(maskThenReplace.pdu?.actor.state, 0x3f);
  const fields = engineFor("-> key=1 | port=5", "-> key=2").apply(pdu(), 0, 0);
  assert.equal(fields.pdu?.actor.key, 2);
  assert.equal(fields.pdu?.actor.port, 5);
});

Deno.test("InjectionEngine tests every condition on the true states, not on earlier changes", () => {
  const trueState = A | T | G | S | C | D;
  const seesTruth = engineFor("-> A:ATG", "A:ATGSCD -> key=9").apply(pdu(), trueState, trueState);
  assert.deepEqual(seesTruth.fired, [0, 1]);
  assert.equal(seesTruth.pdu?.actor.state, A | T | G);
  assert.equal(seesTruth.pdu?.actor.key, 9);
  const notTheChange = engineFor("-> A:ATG", "A:ATG -> key=9").apply(pdu(), trueState, trueState);
  assert.deepEqual(notTheChange.fired, [0]);
  assert.equal(notTheChange.pdu?.actor.key, 1);
});

Deno.test("InjectionEngine tests conditions on the states passed, not those in the PDU", () => {
  const engine = engineFor("A:ATGSCD | P:ATG -> key=9");
  const stale = pdu({ actorState: A, partnerState: A });
  assert.deepEqual(engine.apply(stale, A | T | G | S | C | D, A | T | G).fired, [0]);
  assert.deepEqual(engine.apply(pdu(), A, A).fired, []);
});

Deno.test("InjectionEngine.active() lists the rules that would fire without using them", () => {
  const engine = engineFor("P:+S -> A:-S #1", "P:-S -> A:+E", "-> key=3");
  assert.deepEqual(engine.active(0, S), [0, 2]);
  assert.deepEqual(engine.active(0, 0), [1, 2]);
  assert.deepEqual(engine.fireCounts(), [0, 0, 0]);
  engine.apply(pdu(), 0, S);
  assert.deepEqual(engine.active(0, S), [2]);
});

Deno.test("InjectionEngine.fireCounts() returns a copy", () => {
  const engine = engineFor("-> key=3");
  const counts = engine.fireCounts();
  counts[0] = 99;
  assert.deepEqual(engine.fireCounts(), [0]);
});

Deno.test("InjectionEngine keeps its own copy of the rule list", () => {
  const rules: InjectRule[] = [parseInjectRule("-> key=3")];
  const engine = new InjectionEngine(rules);
  rules.push(parseInjectRule("-> drop"));
  assert.equal(engine.rules.length, 1);
  assert.equal(engine.apply(pdu(), 0, 0).pdu?.actor.key, 3);
});

Deno.test("InjectionEngine.describe() names the rule and its fires", () => {
  const engine = engineFor("P:ATG -> A:AT #3", "-> drop", "-> key=1 #1");
  assert.equal(engine.describe(0), '"P:ATG -> A:AT #3" fired 0 of 3 times');
  assert.equal(engine.describe(1), '"-> drop" fired 0 times');
  assert.equal(engine.describe(2), '"-> key=1 #1" fired 0 of 1 time');
  engine.apply(pdu(), 0, A | T | G);
  assert.equal(engine.describe(0), '"P:ATG -> A:AT #3" fired 1 of 3 times');
  assert.equal(engine.describe(1), '"-> drop" fired 1 time');
  assert.equal(engine.describe(2), '"-> key=1 #1" fired 0 of 1 time', "after the drop");
  assert.throws(() => engine.describe(3), new RangeError("No inject rule 3: there are 3"));
  assert.throws(() => engine.describe(-1), RangeError);
});

Deno.test("formatInjection() describes state changes with letters, N for no bits", () => {
  const before = pdu();
  assert.equal(
    formatInjection(before, { ...before, actor: { ...before.actor, state: 0 } }),
    "Actor state ATGSCD -> N",
  );
  assert.equal(
    formatInjection(before, { ...before, partner: { state: F | E | A } }),
    "Partner state ATGSCD -> AFE",
  );
  assert.equal(
    formatInjection(pdu({ actorState: 0 }), pdu({ actorState: 0xff })),
    "Actor state N -> ATGSCDFE",
  );
});

Deno.test("formatInjection() says so when nothing changed", () => {
  assert.equal(formatInjection(pdu(), pdu()), "no change");
});

Deno.test("InjectionEngine counts a fire only when a rule changes or drops the LACPDU", () => {
  // The partner syncs before we do: clearing our S changes nothing yet, so nothing fires.
  const engine = new InjectionEngine([parseInjectRule("P:+S -> A:-S #1")]);
  const early = pdu({ actorState: A | T | G });
  const first = engine.apply(early, early.actor.state, A | T | G | S);
  assert.deepEqual(first.fired, []);
  assert.deepEqual(engine.fireCounts(), [0]);
  assert.deepEqual(engine.active(early.actor.state, A | T | G | S), [0], "still armed");
  // Once we are in sync too, the rule changes the PDU: that is its one fire.
  const synced = pdu({ actorState: A | T | G | S });
  const second = engine.apply(synced, synced.actor.state, A | T | G | S);
  assert.deepEqual(second.fired, [0]);
  assert.equal(second.pdu?.actor.state, A | T | G);
  assert.deepEqual(engine.fireCounts(), [1]);
  // A drop always counts: sending nothing is a change.
  const dropper = new InjectionEngine([parseInjectRule("-> drop")]);
  assert.deepEqual(dropper.apply(pdu(), 0, 0).fired, [0]);
});
