/**
 * Unique jobs, keyed exactly as Go River keys them, so Eddy and River deduplicate against each
 * other.
 *
 * River hashes (sha256) a text built from the options, in this order:
 *
 *     &kind=<kind>            unless excludeKind
 *     &args=<json>            if byArgs (see below)
 *     &period=<RFC 3339 UTC>  if byPeriod: scheduled_at (or now) truncated to the period
 *     &queue=<queue>          if byQueue
 *
 * and stores it in `river_job.unique_key` (bytea) next to `unique_states` (bit(8)), the states
 * in which the key still blocks a duplicate. River's partial unique index `river_job_unique_idx`
 * covers `unique_key` only for rows whose state is in their own `unique_states`.
 *
 * `&args=` is the args encoded as Go encodes them (json-canonical.ts) and reassembled as River's
 * gjson/sjson code does (unique-args.ts); `&period=` follows Go's time rules (unique-period.ts).
 */

import { invalid } from '../errors.js';
import type { RawJson } from '../insert/json-args.js';
import type { JobState } from '../job.js';
import { checkWellFormed, jsonNodeFromValue } from './json-canonical.js';
import {
  type ArgsPath,
  allArgsText,
  compareArgsPaths,
  parseArgsPath,
  selectedArgsText,
} from './unique-args.js';
import { type Instant, instantNs, periodStart } from './unique-period.js';

export type { Instant } from './unique-period.js';

/**
 * What makes a job unique, as River's `UniqueOpts`. At least one of `byArgs`, `byPeriodMs`,
 * `byQueue`, `byState` must be set.
 */
export interface UniqueOptions {
  /**
   * `true`: all args. A list of paths: only those values, e.g. `['customer.id', 'template']`,
   * like River's `river:"unique"` struct tags (nested structs give dotted paths). A dot descends
   * into an object; a backslash makes the next character literal (`'user\\.id'` is the key
   * `user.id`). Unescaped `# * ? @ |`, a leading `: [ {` and all-digit segments are refused:
   * River's path syntax would read them differently.
   */
  byArgs?: boolean | readonly string[];
  /** Unique within each period of this many milliseconds (whole number, at least 1000). */
  byPeriodMs?: number;
  /** Unique within each queue (otherwise across queues). */
  byQueue?: boolean;
  /**
   * States in which an existing job blocks a new one. Default `DEFAULT_UNIQUE_STATES`; must
   * include `REQUIRED_UNIQUE_STATES` (River refuses otherwise).
   */
  byState?: readonly JobState[];
  /** Leave the kind out of the key: unique across all kinds. */
  excludeKind?: boolean;
}

/** River's default `ByState`: every state but `cancelled` and `discarded`. */
export const DEFAULT_UNIQUE_STATES: readonly JobState[] = Object.freeze([
  'available',
  'completed',
  'pending',
  'retryable',
  'running',
  'scheduled',
] as const);

/** States River requires in a custom `ByState` (a unique job moves through all of them). */
export const REQUIRED_UNIQUE_STATES: readonly JobState[] = Object.freeze([
  'available',
  'pending',
  'running',
  'scheduled',
] as const);

// River's bit for each state. Postgres numbers a bit(8) from the left, and River's
// river_job_state_in_bitmask() reads `scheduled` at position 0 … `available` at 7.
const STATE_BITS: Readonly<Record<JobState, number>> = {
  available: 0x01,
  cancelled: 0x02,
  completed: 0x04,
  discarded: 0x08,
  pending: 0x10,
  retryable: 0x20,
  running: 0x40,
  scheduled: 0x80,
};

export interface UniqueKeyInput {
  kind: string;
  /** The args object, or `rawJson(text)` for exact JSON (big integers, exact decimals). */
  args: unknown | RawJson;
  queue: string;
  /** The job's scheduled time, if it has one; `byPeriodMs` buckets this instead of `now`. */
  scheduledAt?: Instant | null;
  /** The clock; defaults to the current time. */
  now?: Instant;
  options: UniqueOptions;
}

export interface UniqueKey {
  /** sha256 of `text`: the value for `river_job.unique_key` (bytea). */
  key: Uint8Array;
  /** The value for `river_job.unique_states` as bit(8) text, e.g. `'11110101'`. */
  states: string;
  /** The same states as a number (245 for the defaults), as River's Go code holds it. */
  mask: number;
  /** The text that was hashed, e.g. `&kind=email&args={"to":"a@b.c"}`. For debugging. */
  text: string;
}

/**
 * The `unique_states` value for a set of states: a number and its bit(8) text.
 *
 * @example
 * ```ts
 * uniqueStatesMask(); // { mask: 245, bits: '11110101' }
 * ```
 */
export function uniqueStatesMask(states: readonly JobState[] = DEFAULT_UNIQUE_STATES): {
  mask: number;
  bits: string;
} {
  let mask = 0;
  for (const state of states) {
    const bit = Object.hasOwn(STATE_BITS, state) ? STATE_BITS[state] : undefined;
    if (bit === undefined) {
      invalid('unique.byState', `contains '${String(state)}', which is not a job state`);
    }
    mask |= bit;
  }
  return { mask, bits: mask.toString(2).padStart(8, '0') };
}

interface NormalizedOptions {
  byArgs: true | readonly ArgsPath[] | false;
  periodMs: number | null;
  byQueue: boolean;
  excludeKind: boolean;
  states: { mask: number; bits: string };
}

function optionalBoolean(value: unknown, at: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') invalid(at, 'must be true or false');
  return value;
}

function normalizeOptions(options: UniqueOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null)
    invalid('unique', 'must be an options object');
  const byQueue = optionalBoolean(options.byQueue, 'unique.byQueue');
  const excludeKind = optionalBoolean(options.excludeKind, 'unique.excludeKind');

  let byArgs: NormalizedOptions['byArgs'] = false;
  if (Array.isArray(options.byArgs)) {
    if (options.byArgs.length === 0)
      invalid('unique.byArgs', 'is an empty list; give paths, or true for all args');
    const paths = options.byArgs.map((p, i) => parseArgsPath(p, `unique.byArgs[${i}]`));
    paths.sort(compareArgsPaths); // River writes them in this order
    byArgs = paths;
  } else if (optionalBoolean(options.byArgs, 'unique.byArgs')) {
    byArgs = true;
  }

  let periodMs: number | null = null;
  if (options.byPeriodMs !== undefined && options.byPeriodMs !== 0) {
    const ms = options.byPeriodMs;
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1000) {
      invalid(
        'unique.byPeriodMs',
        `is ${String(ms)}; give a whole number of milliseconds, at least 1000 (River refuses periods under 1 second)`,
      );
    }
    periodMs = ms;
  }

  let states = uniqueStatesMask();
  if (options.byState !== undefined) {
    if (!Array.isArray(options.byState)) invalid('unique.byState', 'must be a list of job states');
    // Like River, an empty list means the default states.
    if (options.byState.length > 0) {
      states = uniqueStatesMask(options.byState);
      const missing = REQUIRED_UNIQUE_STATES.filter((s) => !options.byState?.includes(s));
      if (missing.length > 0) {
        invalid(
          'unique.byState',
          `must include ${REQUIRED_UNIQUE_STATES.join(', ')} (River requires them); missing: ${missing.join(', ')}`,
        );
      }
    }
  }

  // River's client treats options with none of these as "not unique" (excludeKind alone too).
  if (byArgs === false && periodMs === null && !byQueue && options.byState === undefined) {
    invalid(
      'unique',
      'asks for nothing; set byArgs, byPeriodMs, byQueue or byState (or leave unique out)',
    );
  }
  return { byArgs, periodMs, byQueue, excludeKind, states };
}

/**
 * The text River hashes for this job's unique key (see the file comment for its layout). Throws
 * `ValidationError` for options River refuses and args it cannot key exactly.
 *
 * @example
 * ```ts
 * uniqueKeyText({ kind: 'email', args: { to: 'a@b.c', body: '…' }, queue: 'default',
 *   options: { byArgs: ['to'], byQueue: true } });
 * // '&kind=email&args={"to":"a@b.c"}&queue=default'
 * ```
 */
export function uniqueKeyText(input: UniqueKeyInput): string {
  return build(input, normalizeOptions(input.options));
}

function build(input: UniqueKeyInput, options: NormalizedOptions): string {
  const { kind, queue } = input;
  if (typeof kind !== 'string' || kind === '') invalid('kind', 'must be a non-empty string');
  checkWellFormed(kind, 'kind');
  let text = options.excludeKind ? '' : `&kind=${kind}`;
  if (options.byArgs !== false) {
    const root = jsonNodeFromValue(input.args, 'args');
    text += `&args=${options.byArgs === true ? allArgsText(root) : selectedArgsText(root, options.byArgs)}`;
  }
  if (options.periodMs !== null) {
    const at = input.scheduledAt != null ? 'scheduledAt' : 'now';
    const instant = instantNs(input.scheduledAt ?? input.now ?? new Date(), at);
    text += `&period=${periodStart(instant, options.periodMs, at)}`;
  }
  if (options.byQueue) {
    if (typeof queue !== 'string' || queue === '') invalid('queue', 'must be a non-empty string');
    checkWellFormed(queue, 'queue');
    text += `&queue=${queue}`;
  }
  return text;
}

/**
 * Computes `unique_key` and `unique_states` for a job exactly as Go River does, so either side
 * skips the other's duplicates. Runs anywhere Web Crypto does (Node 20, Workers, browsers).
 *
 * @example
 * ```ts
 * const { key, states } = await computeUniqueKey({
 *   kind: 'send_invoice', args: { invoiceId: 42 }, queue: 'default', now: new Date(),
 *   options: { byArgs: true, byPeriodMs: 24 * 60 * 60 * 1000 },
 * });
 * // INSERT … unique_key = $key::bytea, unique_states = $states::bit(8)
 * ```
 */
export async function computeUniqueKey(input: UniqueKeyInput): Promise<UniqueKey> {
  const options = normalizeOptions(input.options);
  const text = build(input, options);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return {
    key: new Uint8Array(digest),
    states: options.states.bits,
    mask: options.states.mask,
    text,
  };
}
