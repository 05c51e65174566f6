/**
 * Injection rules for `netkit lacp --inject RULE`: parsing, and applying them to outgoing
 * LACPDUs.
 *
 * A rule is `CONDITION -> TARGET [#N[/episode]]`:
 *
 * - CONDITION is empty (always true) or `|`-separated items `A:STATE` / `P:STATE`, testing our
 *   actor state or the partner state we hold. `STATE` is either a value the whole byte must
 *   equal (`0x3d`, `61`, letters from `ATGSCDFE` in any order and case, or `N` for 0), as in
 *   the original `lacpd`, or a mask of bits that must be set (`+LETTERS`) and clear
 *   (`-LETTERS`), e.g. `A:+S-CD`. A role given twice: the last one wins.
 * - TARGET is `|`-separated actions: `A:STATE` / `P:STATE` (a value replaces the whole byte, a
 *   mask sets and clears bits), field overrides of our actor identity `key=N`, `system=MAC`,
 *   `sysprio=N`, `port=N`, `portprio=N` and of the PDU `version=N`, or `drop` alone (do not
 *   send the LACPDU).
 * - `#N` fires the rule at most N times; without it, it fires on every LACPDU while its
 *   condition holds. `#N/episode` fires it at most N times in each episode, a stretch of time
 *   during which the condition holds: the count starts again once the condition has stopped
 *   holding.
 *
 * State letters are bits 0..7 of the 802.1AX state byte: A(ctivity), T(imeout),
 * (a)G(gregation), S(ynchronization), C(ollecting), D(istributing), F (defaulted), E(xpired).
 *
 * Conditions are always tested against the true states; actions of several rules compose in
 * rule order. Everything here is pure: no permissions are needed.
 *
 * @example
 * ```ts
 * import { InjectionEngine, parseInjectRule } from "./inject_rule.ts";
 *
 * const engine = new InjectionEngine([parseInjectRule("P:+S -> A:-S | key=7 #1")]);
 * const pdu = {
 *   version: 1,
 *   actor: {
 *     systemPriority: 65535,
 *     system: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *     key: 1,
 *     portPriority: 255,
 *     port: 1,
 *     state: 0x3d,
 *   },
 *   partner: { state: 0x3d },
 * };
 * const { pdu: sent, fired } = engine.apply(pdu, 0x3d, 0x3d);
 * sent?.actor.state; // 0x35
 * sent?.actor.key; // 7
 * fired; // [0]
 * engine.apply(pdu, 0x3d, 0x3d).fired; // []: its one fire is used up
 * ```
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import { formatStateLetters, STATE_LETTERS } from "../packet/lacp.ts";
import { formatMac, isMulticastMac, parseMac } from "../packet/mac.ts";

/** What the original `lacpd` prints for a state with no bit set. */
const NO_BITS_LETTER = "N";
const MAX_COUNT = 0xffff_ffff;
/** The unit of `#N/episode`. */
const EPISODE = "episode";

/** A test on one state byte: equal to `value`, or every `set` bit set and every `clear` bit clear. */
export type StateCondition =
  | { readonly kind: "equals"; readonly value: number }
  | { readonly kind: "mask"; readonly set: number; readonly clear: number };

/** A change to one state byte: replace it by `value`, or set the `set` bits and clear the `clear` bits. */
export type StateAction =
  | { readonly kind: "replace"; readonly value: number }
  | { readonly kind: "mask"; readonly set: number; readonly clear: number };

/** Overrides of our actor identity fields (and the PDU version) in an outgoing LACPDU. */
export interface FieldOverrides {
  /** Actor key, `key=N` (0..65535). */
  readonly key?: number;
  /** Actor system ID, `system=MAC` (unicast). */
  readonly system?: Uint8Array;
  /** Actor system priority, `sysprio=N` (0..65535). */
  readonly systemPriority?: number;
  /** Actor port number, `port=N` (0..65535). */
  readonly port?: number;
  /** Actor port priority, `portprio=N` (0..65535). */
  readonly portPriority?: number;
  /** LACP version of the PDU, `version=N` (0..255). */
  readonly version?: number;
}

/** When a rule applies: a test per role; a missing role is not tested. */
export interface InjectCondition {
  /** Test on our actor state. */
  readonly actor?: StateCondition;
  /** Test on the partner state we hold. */
  readonly partner?: StateCondition;
}

/** What a rule does to an outgoing LACPDU. */
export interface InjectAction {
  /** Change to the actor state we send. */
  readonly actor?: StateAction;
  /** Change to the partner state we echo. */
  readonly partner?: StateAction;
  /** Field overrides; empty when the rule changes no field. */
  readonly fields: FieldOverrides;
  /** Do not send the LACPDU at all (never combined with anything else). */
  readonly drop: boolean;
}

/** A parsed `--inject` rule. */
export interface InjectRule {
  /** The rule exactly as given. */
  readonly text: string;
  /** When it applies. */
  readonly condition: InjectCondition;
  /** What it does. */
  readonly action: InjectAction;
  /** At most this many fires (`#N`), or `null` for every LACPDU while the condition holds. */
  readonly limit: number | null;
  /** `#N/episode`: the limit counts the fires since the condition last began to hold. */
  readonly perEpisode: boolean;
}

/**
 * A rule that cannot be parsed: an {@linkcode InvalidInputError}, so the CLI exits 2. The
 * message is `Invalid inject rule "<rule>": <problem> at position <N>`, N being the 1-based
 * column where the offending token starts; problems concerning the whole rule have no position.
 */
export class InjectRuleError extends InvalidInputError {
  /** `"InjectRuleError"`, as stack traces and logs show it. */
  override name = "InjectRuleError";
  /** The rule text as given. */
  readonly rule: string;
  /** What is wrong, e.g. `unknown state letter "X"`. */
  readonly problem: string;
  /** 1-based column of the offending token, or `null` when the problem is the whole rule. */
  readonly position: number | null;

  /** Creates the error for `rule`, with `problem` found at 1-based column `position`. */
  constructor(rule: string, problem: string, position: number | null = null) {
    super(
      `Invalid inject rule "${rule}": ${problem}${
        position === null ? "" : ` at position ${position}`
      }`,
    );
    this.rule = rule;
    this.problem = problem;
    this.position = position;
  }
}

/** A problem found while parsing, before the rule text is attached. */
class RuleProblem extends Error {
  readonly problem: string;
  readonly column: number | null;

  constructor(problem: string, column: number | null = null) {
    super(problem);
    this.problem = problem;
    this.column = column;
  }
}

/** A piece of the rule text and the 1-based column of its first character. */
interface Span {
  readonly text: string;
  readonly column: number;
}

function sliceSpan(span: Span, start: number, end?: number): Span {
  return { text: span.text.slice(start, end), column: span.column + start };
}

function trimSpan(span: Span): Span {
  const start = span.text.length - span.text.trimStart().length;
  return { text: span.text.trim(), column: span.column + start };
}

function isSpace(char: string): boolean {
  return char.trim() === "";
}

/** The state bit of letter `char` (any case), or 0 if it is not one of ATGSCDFE. */
function letterBit(char: string): number {
  let index = STATE_LETTERS.indexOf(char);
  if (index < 0) index = STATE_LETTERS.toLowerCase().indexOf(char);
  return index < 0 || char.length !== 1 ? 0 : 1 << index;
}

/** Whether `text` is the letter `N` (any case), which stands for a state with no bit set. */
function isNoBitsLetter(text: string): boolean {
  return text === NO_BITS_LETTER || text === NO_BITS_LETTER.toLowerCase();
}

/**
 * Splits `span` on `|` into trimmed items. An empty item is reported at the `|` before it (or,
 * for the first item, the one after it).
 */
function splitItems(span: Span): Span[] {
  const items: Span[] = [];
  let start = 0;
  for (;;) {
    const bar = span.text.indexOf("|", start);
    items.push(sliceSpan(span, start, bar < 0 ? undefined : bar));
    if (bar < 0) break;
    start = bar + 1;
  }
  return items.map((item, i) => {
    const trimmed = trimSpan(item);
    if (trimmed.text === "") {
      const bar = i > 0 ? item.column - 1 : item.column + item.text.length;
      throw new RuleProblem('empty item next to "|"', bar);
    }
    return trimmed;
  });
}

type Role = "actor" | "partner";

/** Parses the role before a `:` (`colon` is the column of the `:`). */
function parseRole(span: Span, colon: number): Role {
  const role = trimSpan(span);
  if (role.text === "") throw new RuleProblem('missing role before ":" (expected A or P)', colon);
  if (role.text === "A" || role.text === "a") return "actor";
  if (role.text === "P" || role.text === "p") return "partner";
  throw new RuleProblem(`unknown role "${role.text}" (expected A or P)`, role.column);
}

type StateSpec =
  | { readonly kind: "value"; readonly value: number }
  | { readonly kind: "mask"; readonly set: number; readonly clear: number };

/** Parses the state after `A:` / `P:` (`roleColumn` locates an empty value). */
function parseStateSpec(span: Span, roleColumn: number, bothMessage: string): StateSpec {
  const spec = trimSpan(span);
  if (spec.text === "") throw new RuleProblem("empty state value", roleColumn);
  const first = spec.text[0];
  if (first === "+" || first === "-") return { kind: "mask", ...parseMask(spec, bothMessage) };
  return { kind: "value", value: parseStateValue(spec) };
}

/** Parses a whole-byte state value: `0x..` hex, decimal, ATGSCDFE letters, or `N`. */
function parseStateValue(spec: Span): number {
  const text = spec.text;
  if (/^[0-9]/.test(text)) {
    let value: number;
    if (/^0x[0-9a-f]+$/i.test(text)) value = parseInt(text.slice(2), 16);
    else if (/^[0-9]+$/.test(text)) value = parseInt(text, 10);
    else {
      throw new RuleProblem(
        `invalid state value "${text}" (expected 0x hex, decimal or letters from ${STATE_LETTERS})`,
        spec.column,
      );
    }
    if (value > 0xff) {
      throw new RuleProblem(`state value ${text} is out of range 0..255`, spec.column);
    }
    return value;
  }
  if (isNoBitsLetter(text)) return 0;
  let value = 0;
  for (let i = 0; i < text.length;) {
    const char = String.fromCodePoint(text.codePointAt(i)!);
    const column = spec.column + i;
    if (isSpace(char)) throw new RuleProblem("unexpected whitespace in state value", column);
    if (isNoBitsLetter(char)) {
      throw new RuleProblem('"N" (no bits) cannot be combined with other state letters', column);
    }
    const bit = letterBit(char);
    if (bit === 0) throw new RuleProblem(`unknown state letter "${char}"`, column);
    value |= bit;
    i += char.length;
  }
  return value;
}

/**
 * Parses `+LETTERS` / `-LETTERS` groups (whitespace allowed between groups). A bit both set
 * and cleared is reported with `bothMessage`, in which `%` stands for the letter.
 */
function parseMask(spec: Span, bothMessage: string): { set: number; clear: number } {
  const text = spec.text;
  let set = 0;
  let clear = 0;
  let sign = "";
  let signColumn = spec.column;
  let lettersInGroup = 0;
  for (let i = 0; i < text.length;) {
    const char = String.fromCodePoint(text.codePointAt(i)!);
    const column = spec.column + i;
    if (char === "+" || char === "-") {
      if (sign !== "" && lettersInGroup === 0) {
        throw new RuleProblem(`"${sign}" must be followed by state letters`, signColumn);
      }
      sign = char;
      signColumn = column;
      lettersInGroup = 0;
    } else if (isSpace(char)) {
      let next = i;
      while (next < text.length && isSpace(text[next]!)) next++;
      if (lettersInGroup === 0 || (text[next] !== "+" && text[next] !== "-")) {
        throw new RuleProblem("unexpected whitespace in state value", column);
      }
      i = next;
      continue;
    } else {
      if (isNoBitsLetter(char)) {
        throw new RuleProblem('"N" (no bits) cannot be used in a mask', column);
      }
      const bit = letterBit(char);
      if (bit === 0) throw new RuleProblem(`unknown state letter "${char}"`, column);
      if ((sign === "+" ? clear : set) & bit) {
        throw new RuleProblem(bothMessage.replace("%", char.toUpperCase()), column);
      }
      if (sign === "+") set |= bit;
      else clear |= bit;
      lettersInGroup++;
    }
    i += char.length;
  }
  if (lettersInGroup === 0) {
    throw new RuleProblem(`"${sign}" must be followed by state letters`, signColumn);
  }
  return { set, clear };
}

/** Where an item splits into `name=value` or `role:state`, whichever separator comes first. */
function itemSeparator(item: Span): { kind: "field" | "state" | "word"; at: number } {
  const equals = item.text.indexOf("=");
  const colon = item.text.indexOf(":");
  if (equals >= 0 && (colon < 0 || equals < colon)) return { kind: "field", at: equals };
  if (colon >= 0) return { kind: "state", at: colon };
  return { kind: "word", at: -1 };
}

function parseCondition(span: Span): InjectCondition {
  const hash = span.text.indexOf("#");
  if (hash >= 0) {
    throw new RuleProblem('count "#N" must come after the target', span.column + hash);
  }
  if (trimSpan(span).text === "") return {};
  const condition: { actor?: StateCondition; partner?: StateCondition } = {};
  for (const item of splitItems(span)) {
    const separator = itemSeparator(item);
    if (separator.kind !== "state") {
      throw new RuleProblem(
        `expected A:STATE or P:STATE, found "${item.text}"`,
        item.column,
      );
    }
    const role = parseRole(sliceSpan(item, 0, separator.at), item.column + separator.at);
    const spec = parseStateSpec(
      sliceSpan(item, separator.at + 1),
      item.column,
      "bit % is both required set and clear",
    );
    // A role given twice: the last one wins, as in the original.
    condition[role] = spec.kind === "value" ? { kind: "equals", value: spec.value } : {
      kind: "mask",
      set: spec.set,
      clear: spec.clear,
    };
  }
  return condition;
}

interface NumberField {
  readonly property: "key" | "systemPriority" | "port" | "portPriority" | "version";
  readonly max: number;
}

const NUMBER_FIELDS: Readonly<Record<string, NumberField>> = {
  key: { property: "key", max: 0xffff },
  sysprio: { property: "systemPriority", max: 0xffff },
  port: { property: "port", max: 0xffff },
  portprio: { property: "portPriority", max: 0xffff },
  version: { property: "version", max: 0xff },
};
const FIELD_NAMES = "key, system, sysprio, port, portprio or version";

type MutableFields = { -readonly [K in keyof FieldOverrides]: FieldOverrides[K] };

/** Parses `name=value` into `fields`; `seen` holds the canonical names given so far. */
function parseField(item: Span, equals: number, fields: MutableFields, seen: Set<string>): void {
  const nameSpan = trimSpan(sliceSpan(item, 0, equals));
  if (nameSpan.text === "") {
    throw new RuleProblem('missing field name before "="', item.column + equals);
  }
  // Lower-cased only when ASCII letters, so no other character can pass for a field name.
  const name = /^[a-z]+$/i.test(nameSpan.text) ? nameSpan.text.toLowerCase() : nameSpan.text;
  const numberField = NUMBER_FIELDS[name];
  if (numberField === undefined && name !== "system") {
    throw new RuleProblem(
      `unknown field "${nameSpan.text}" (expected ${FIELD_NAMES})`,
      nameSpan.column,
    );
  }
  if (seen.has(name)) throw new RuleProblem(`field "${name}" given twice`, nameSpan.column);
  seen.add(name);
  const value = trimSpan(sliceSpan(item, equals + 1));
  if (value.text === "") {
    throw new RuleProblem(`field "${name}" has an empty value`, nameSpan.column);
  }
  if (numberField === undefined) {
    fields.system = parseSystem(value);
    return;
  }
  if (!/^(?:0x[0-9a-f]+|[0-9]+)$/i.test(value.text)) {
    throw new RuleProblem(
      `${name} "${value.text}" is not a number (expected decimal or 0x hex)`,
      value.column,
    );
  }
  const number = /^0x/i.test(value.text)
    ? parseInt(value.text.slice(2), 16)
    : parseInt(value.text, 10);
  if (number > numberField.max) {
    throw new RuleProblem(
      `${name} ${value.text} is out of range 0..${numberField.max}`,
      value.column,
    );
  }
  fields[numberField.property] = number;
}

function parseSystem(value: Span): Uint8Array {
  let mac: Uint8Array;
  try {
    mac = parseMac(value.text);
  } catch {
    throw new RuleProblem(
      `system "${value.text}" is not a MAC address (expected six hex octets like 02:00:00:00:00:01)`,
      value.column,
    );
  }
  if (isMulticastMac(mac)) {
    throw new RuleProblem(
      `system ${value.text} is a multicast address; a system ID must be unicast`,
      value.column,
    );
  }
  return mac;
}

function parseAction(span: Span): InjectAction {
  if (trimSpan(span).text === "") throw new RuleProblem("empty target");
  const states: { actor?: StateAction; partner?: StateAction } = {};
  const fields: MutableFields = {};
  const seenFields = new Set<string>();
  let drop = false;
  let others = 0;
  for (const item of splitItems(span)) {
    const separator = itemSeparator(item);
    const isDrop = separator.kind === "word" && /^drop$/i.test(item.text);
    if (isDrop && drop) throw new RuleProblem('"drop" given twice', item.column);
    if (isDrop ? others > 0 : drop) {
      throw new RuleProblem('"drop" cannot be combined with other actions', item.column);
    }
    if (isDrop) {
      drop = true;
      continue;
    }
    others++;
    if (separator.kind === "field") {
      parseField(item, separator.at, fields, seenFields);
    } else if (separator.kind === "state") {
      const role = parseRole(sliceSpan(item, 0, separator.at), item.column + separator.at);
      const spec = parseStateSpec(
        sliceSpan(item, separator.at + 1),
        item.column,
        "bit % is both set and cleared",
      );
      // A role given twice: the last one wins, as in the original.
      states[role] = spec.kind === "value" ? { kind: "replace", value: spec.value } : {
        kind: "mask",
        set: spec.set,
        clear: spec.clear,
      };
    } else {
      throw new RuleProblem(
        `unknown action "${item.text}" (expected A:STATE, P:STATE, FIELD=VALUE or drop)`,
        item.column,
      );
    }
  }
  return { ...states, fields, drop };
}

/** Parses the text after `#`, `N` or `N/episode` (`hash` is the column of the `#`). */
function parseLimit(span: Span, hash: number): { limit: number; perEpisode: boolean } {
  const slash = span.text.indexOf("/");
  if (slash < 0) return { limit: parseCount(span, hash), perEpisode: false };
  const unit = trimSpan(sliceSpan(span, slash + 1));
  if (unit.text !== EPISODE) {
    throw new RuleProblem(
      `expected "/${EPISODE}" after the count, found "/${unit.text}"`,
      span.column + slash,
    );
  }
  return { limit: parseCount(sliceSpan(span, 0, slash), hash), perEpisode: true };
}

/** Parses a count N (`hash` is the column of the `#`). */
function parseCount(span: Span, hash: number): number {
  const count = trimSpan(span);
  const column = count.text === "" ? hash : count.column;
  if (!/^[0-9]+$/.test(count.text) || /^0+$/.test(count.text)) {
    throw new RuleProblem("count must be a whole number of at least 1", column);
  }
  const value = parseInt(count.text, 10);
  if (value > MAX_COUNT) {
    throw new RuleProblem(`count ${count.text} is out of range 1..${MAX_COUNT}`, column);
  }
  return value;
}

function parseRule(text: string): InjectRule {
  const arrows: number[] = [];
  for (let at = text.indexOf("->"); at >= 0; at = text.indexOf("->", at + 2)) arrows.push(at);
  if (arrows.length === 0) throw new RuleProblem('expected exactly one "->"');
  if (arrows.length > 1) {
    throw new RuleProblem('expected exactly one "->", found another', arrows[1]! + 1);
  }
  const arrow = arrows[0]!;
  const whole: Span = { text, column: 1 };
  const condition = parseCondition(sliceSpan(whole, 0, arrow));
  const after = sliceSpan(whole, arrow + 2);
  const hash = after.text.indexOf("#");
  const action = parseAction(hash < 0 ? after : sliceSpan(after, 0, hash));
  const { limit, perEpisode } = hash < 0
    ? { limit: null, perEpisode: false }
    : parseLimit(sliceSpan(after, hash + 1), after.column + hash);
  return { text, condition, action, limit, perEpisode };
}

/**
 * Parses one `--inject` rule (grammar in the module documentation). Throws
 * {@linkcode InjectRuleError} naming the problem and where it is.
 *
 * @example
 * ```ts
 * import { parseInjectRule } from "./inject_rule.ts";
 *
 * const rule = parseInjectRule("P:ATGSCD -> A:ATG");
 * rule.condition.partner; // { kind: "equals", value: 0x3f }
 * rule.action.actor; // { kind: "replace", value: 0x07 }
 * ```
 */
export function parseInjectRule(text: string): InjectRule {
  try {
    return parseRule(text);
  } catch (err) {
    if (err instanceof RuleProblem) throw new InjectRuleError(text, err.problem, err.column);
    throw err;
  }
}

function stateHolds(condition: StateCondition, state: number): boolean {
  if (condition.kind === "equals") return state === condition.value;
  return (state & condition.set) === condition.set && (state & condition.clear) === 0;
}

/**
 * Whether `rule`'s condition holds for our actor state `actorState` and the partner state we
 * hold `partnerState` (an empty condition always holds). Ignores the rule's limit.
 */
export function conditionHolds(
  rule: InjectRule,
  actorState: number,
  partnerState: number,
): boolean {
  const { actor, partner } = rule.condition;
  return (actor === undefined || stateHolds(actor, actorState)) &&
    (partner === undefined || stateHolds(partner, partnerState));
}

/** Returns `state` changed by `action`: replaced, or with the mask's bits set and cleared. */
export function applyStateAction(action: StateAction, state: number): number {
  if (action.kind === "replace") return action.value;
  return (state | action.set) & ~action.clear & 0xff;
}

/** What an outgoing LACPDU looks like to injection: just the fields rules can change. */
export interface OutgoingPdu {
  /** LACP version. */
  readonly version: number;
  /** Our actor information. */
  readonly actor: {
    readonly systemPriority: number;
    readonly system: Uint8Array;
    readonly key: number;
    readonly portPriority: number;
    readonly port: number;
    readonly state: number;
  };
  /** The partner information we echo. */
  readonly partner: { readonly state: number };
}

/** The result of {@linkcode InjectionEngine.apply}. */
export interface InjectionResult<T extends OutgoingPdu = OutgoingPdu> {
  /** The PDU to send, or `null` when a rule dropped it. */
  readonly pdu: T | null;
  /** Indices of the rules that fired, in order. */
  readonly fired: readonly number[];
}

/** Returns a copy of `pdu` with `action` applied (other properties of `pdu` are kept). */
function applyAction<T extends OutgoingPdu>(action: InjectAction, pdu: T): T {
  const fields = action.fields;
  const actor = pdu.actor;
  // Spreading keeps whatever else the caller's PDU type carries; the three touched levels are
  // rebuilt, so the cast only restates that the copy has T's shape.
  return {
    ...pdu,
    version: fields.version ?? pdu.version,
    actor: {
      ...actor,
      systemPriority: fields.systemPriority ?? actor.systemPriority,
      system: (fields.system ?? actor.system).slice(),
      key: fields.key ?? actor.key,
      portPriority: fields.portPriority ?? actor.portPriority,
      port: fields.port ?? actor.port,
      state: action.actor === undefined ? actor.state : applyStateAction(action.actor, actor.state),
    },
    partner: {
      ...pdu.partner,
      state: action.partner === undefined
        ? pdu.partner.state
        : applyStateAction(action.partner, pdu.partner.state),
    },
  } as T;
}

/** Whether two outgoing PDUs would put the same bytes on the wire. */
function samePdu(a: OutgoingPdu, b: OutgoingPdu): boolean {
  const x = a.actor;
  const y = b.actor;
  return a.version === b.version && x.systemPriority === y.systemPriority && x.key === y.key &&
    x.portPriority === y.portPriority && x.port === y.port && x.state === y.state &&
    x.system.every((byte, i) => byte === y.system[i]) && a.partner.state === b.partner.state;
}

function times(n: number): string {
  return n === 1 ? "time" : "times";
}

/**
 * Applies a list of rules to outgoing LACPDUs and counts their fires.
 *
 * Rules apply in the order given: each sees the PDU as earlier rules left it (actions compose),
 * but every condition is tested against the true states passed in. A rule fires (and uses one
 * of its `#N`) only when it changes the PDU or drops it: clearing a bit that is already clear is
 * not an injection. A `drop` ends the pass: later rules do not fire for that PDU.
 */
export class InjectionEngine {
  readonly #rules: readonly InjectRule[];
  readonly #fired: number[];
  /** Fires since each rule's condition last began to hold (for `#N/episode`). */
  readonly #firedInEpisode: number[];

  /** Creates an engine for `rules`, none of them fired yet. */
  constructor(rules: readonly InjectRule[]) {
    this.#rules = [...rules];
    this.#fired = this.#rules.map(() => 0);
    this.#firedInEpisode = this.#rules.map(() => 0);
  }

  /**
   * Notes the true states: every rule whose condition does not hold ends its episode, so a
   * `#N/episode` rule may fire again when the condition returns. Call it whenever the states may
   * have changed, not only when a LACPDU goes out: {@linkcode apply} calls it too, but an episode
   * can begin and end between two LACPDUs.
   */
  noteStates(actorState: number, partnerState: number): void {
    this.#rules.forEach((rule, i) => {
      if (!conditionHolds(rule, actorState, partnerState)) this.#firedInEpisode[i] = 0;
    });
  }

  /** The rules, in order. */
  get rules(): readonly InjectRule[] {
    return this.#rules;
  }

  /**
   * Applies every rule whose condition holds for the true `actorState` and `partnerState` to a
   * copy of `pdu`; each rule that changes it (or drops it) fires, using one of its `#N`. Returns
   * the PDU to send (`null` if dropped) and the indices of the rules that fired. `pdu` itself is not changed; properties beyond
   * {@linkcode OutgoingPdu} are shallow-copied.
   */
  apply<T extends OutgoingPdu>(
    pdu: T,
    actorState: number,
    partnerState: number,
  ): InjectionResult<T> {
    this.noteStates(actorState, partnerState);
    let out = applyAction({ fields: {}, drop: false }, pdu);
    const fired: number[] = [];
    for (let i = 0; i < this.#rules.length; i++) {
      if (!this.#canFire(i, actorState, partnerState)) continue;
      const rule = this.#rules[i]!;
      const next = rule.action.drop ? null : applyAction(rule.action, out);
      if (next !== null && samePdu(next, out)) continue;
      this.#fired[i]!++;
      this.#firedInEpisode[i]!++;
      fired.push(i);
      if (next === null) return { pdu: null, fired };
      out = next;
    }
    return { pdu: out, fired };
  }

  /** How many times each rule has fired, by index. */
  fireCounts(): number[] {
    return [...this.#fired];
  }

  /**
   * Indices of the rules that would fire now: condition holds and fires are left. A change in
   * this list means the injected view changed, so the daemon can transmit at once.
   */
  active(actorState: number, partnerState: number): number[] {
    const indices: number[] = [];
    for (let i = 0; i < this.#rules.length; i++) {
      if (this.#canFire(i, actorState, partnerState)) indices.push(i);
    }
    return indices;
  }

  /**
   * Describes rule `i` and its fires, e.g. `"P:ATG -> A:AT #3" fired 1 of 3 times` or
   * `"-> drop" fired 4 times`. Throws a `RangeError` for an index without a rule.
   */
  describe(i: number): string {
    const rule = this.#rules[i];
    if (rule === undefined) {
      throw new RangeError(`No inject rule ${i}: there are ${this.#rules.length}`);
    }
    const fired = this.#fired[i]!;
    if (rule.limit === null) return `"${rule.text}" fired ${fired} ${times(fired)}`;
    return rule.perEpisode
      ? `"${rule.text}" fired ${fired} ${times(fired)}, at most ${rule.limit} per episode`
      : `"${rule.text}" fired ${fired} of ${rule.limit} ${times(rule.limit)}`;
  }

  #canFire(i: number, actorState: number, partnerState: number): boolean {
    const rule = this.#rules[i]!;
    const used = rule.perEpisode ? this.#firedInEpisode[i]! : this.#fired[i]!;
    return (rule.limit === null || used < rule.limit) &&
      conditionHolds(rule, actorState, partnerState);
  }
}

/**
 * Describes what injection changed between `before` and `after` (`null`: dropped), for the log
 * line `Inject rule triggered on eth0: ...`: e.g. `Actor state ATGSCD -> ATG, key 1 -> 7`.
 * States use the letters of ATGSCDFE (`N` for 0), as the original did; fields use the rule
 * names. `no change` when nothing differs.
 */
export function formatInjection(before: OutgoingPdu, after: OutgoingPdu | null): string {
  if (after === null) return "dropped";
  const changes: string[] = [];
  function note(label: string, from: string, to: string): void {
    if (from !== to) changes.push(`${label} ${from} -> ${to}`);
  }
  note(
    "Actor state",
    formatStateLetters(before.actor.state),
    formatStateLetters(after.actor.state),
  );
  note(
    "Partner state",
    formatStateLetters(before.partner.state),
    formatStateLetters(after.partner.state),
  );
  note("version", String(before.version), String(after.version));
  note("sysprio", String(before.actor.systemPriority), String(after.actor.systemPriority));
  note("system", formatMac(before.actor.system), formatMac(after.actor.system));
  note("key", String(before.actor.key), String(after.actor.key));
  note("portprio", String(before.actor.portPriority), String(after.actor.portPriority));
  note("port", String(before.actor.port), String(after.actor.port));
  return changes.length === 0 ? "no change" : changes.join(", ");
}
