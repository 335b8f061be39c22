/**
 * The `&args=` part of a unique key: args reassembled as Go River's gjson/sjson code does.
 *
 * - All args: top-level keys sorted bytewise and taken literally (however path-like), the first
 *   of duplicate keys winning; values kept as encoded, nested key order included.
 * - Selected paths (River's `river:"unique"` fields): each present value placed at its path, in
 *   sorted path order, in objects River builds; absent paths left out; nothing → empty text.
 *
 * Keys are written as sjson writes them (see `sjsonKey`). Checked against tidwall/gjson v1.18
 * and sjson v1.2.5 running River's algorithm on thousands of random documents.
 */

import { invalid } from '../errors.js';
import {
  checkWellFormed,
  compactJson,
  compareUtf8,
  type JsonNode,
  sjsonKey,
} from './json-canonical.js';

/** A selected args path: the text given and the literal keys it names. */
export interface ArgsPath {
  readonly raw: string;
  readonly segments: readonly string[];
}

// gjson reads these as wildcards, modifiers, pipes or array queries; sjson reads a leading
// `:` as "force an object key", and gjson a leading `[` or `{` as a multipath.
const SPECIAL_ANYWHERE = new Set(['#', '*', '?', '@', '|']);
const SPECIAL_AT_START = new Set([':', '[', '{']);

/**
 * Parses a selected path: `.` descends, `\` makes the next character literal. Refuses what
 * River's path syntax would read differently (see `UniqueOptions.byArgs`).
 */
export function parseArgsPath(raw: unknown, at: string): ArgsPath {
  if (typeof raw !== 'string' || raw === '') invalid(at, 'must be a non-empty path string');
  checkWellFormed(raw, at);
  const segments: string[] = [];
  let segment = '';
  let start = true;
  const endSegment = () => {
    if (segment === '') invalid(at, `('${raw}') has an empty segment; remove the extra dot`);
    // sjson (River) turns a numeric segment into an array index, even when escaped.
    if (/^[0-9]+$/.test(segment) || segment === '-1') {
      invalid(
        at,
        `('${raw}') has the segment '${segment}', which River would read as an array index`,
      );
    }
    segments.push(segment);
    segment = '';
    start = true;
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next === undefined) invalid(at, `('${raw}') ends in a lone backslash`);
      segment += next;
      i++;
      start = false;
      continue;
    }
    if (c === '.') {
      endSegment();
      continue;
    }
    if (SPECIAL_ANYWHERE.has(c) || (start && SPECIAL_AT_START.has(c))) {
      invalid(
        at,
        `('${raw}') has '${c}', which is path syntax in River; write '\\${c}' for the literal key`,
      );
    }
    segment += c;
    start = false;
  }
  endSegment();
  return { raw, segments };
}

/** River's order for selected paths: by the keys they name, bytewise. */
export function compareArgsPaths(a: ArgsPath, b: ArgsPath): number {
  return compareUtf8(a.segments.join('.'), b.segments.join('.')) || compareUtf8(a.raw, b.raw);
}

/** The first member named `key`, as gjson finds it. */
function member(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.type !== 'object') return undefined;
  return node.members.find((m) => m.key === key)?.value;
}

/** `&args=` text for `byArgs: true`. */
export function allArgsText(root: JsonNode): string {
  if (root.type === 'array' && root.items.length === 0) return '{}'; // River: no keys, so `{}`
  if (root.type !== 'object') invalid('args', 'must be a JSON object to be unique by args');
  const first = new Map<string, JsonNode>();
  for (const m of root.members) if (!first.has(m.key)) first.set(m.key, m.value);
  const keys = [...first.keys()].sort(compareUtf8);
  return `{${keys.map((k) => `${sjsonKey(k)}:${compactJson(first.get(k) as JsonNode)}`).join(',')}}`;
}

// An object River assembles from selected paths: keys in insertion (sorted path) order.
type Assembled = Map<string, Assembled | JsonNode>;

function writeAssembled(object: Assembled): string {
  const parts: string[] = [];
  for (const [key, value] of object) {
    parts.push(
      `${sjsonKey(key)}:${value instanceof Map ? writeAssembled(value) : compactJson(value)}`,
    );
  }
  return `{${parts.join(',')}}`;
}

/** `&args=` text for selected paths, given in River's order (`compareArgsPaths`). */
export function selectedArgsText(root: JsonNode, paths: readonly ArgsPath[]): string {
  if (root.type !== 'object') invalid('args', 'must be a JSON object to be unique by args');
  const out: Assembled = new Map();
  const taken: (readonly string[])[] = [];
  for (const { segments } of paths) {
    // A selected object already carries its descendants; River leaves them as they are.
    if (taken.some((t) => t.length < segments.length && t.every((s, i) => s === segments[i])))
      continue;
    let value: JsonNode | undefined = root;
    for (const segment of segments) value = member(value, segment);
    if (value === undefined) continue; // absent: left out, not null
    let target = out;
    for (const segment of segments.slice(0, -1)) {
      let next = target.get(segment);
      if (!(next instanceof Map)) {
        next = new Map();
        target.set(segment, next);
      }
      target = next;
    }
    target.set(segments[segments.length - 1] as string, value);
    taken.push(segments);
  }
  return out.size === 0 ? '' : writeAssembled(out);
}
