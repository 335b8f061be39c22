/**
 * How a worker says something other than "done" or "failed": throw one of these (or call
 * `ctx.snooze()` / `ctx.cancel()`, which throw them for you). They mirror River's JobSnooze and
 * JobCancel. `Outcome` is what the runner makes of an attempt, and records.
 */

import { ValidationError } from './errors.js';
import type { AttemptError } from './job.js';

/**
 * The longest delay a retry or snooze can ask for: Go's largest time.Duration (about 292
 * years), River's own limit. Longer delays are recorded as this one.
 */
export const MAX_DELAY_MS = 9_223_372_036_854;

/**
 * How many times a tick's deadline may cut a job's run short (each time it is snoozed, its
 * attempt given back) before the next cut counts as a failed attempt: a job longer than any
 * tick's budget would otherwise be snoozed forever, never failing and never discarded. Counted
 * in the job's `metadata["eddy:deadline_snoozes"]`.
 */
export const MAX_DEADLINE_SNOOZES = 5;

/** The most JSON a job's output may hold, in bytes (River allows more; outputs are read back with every job row). */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

/** The metadata key counting deadline snoozes (River's own keys are namespaced `river:`). */
export const DEADLINE_SNOOZES_KEY = 'eddy:deadline_snoozes';

/** How an attempt ended, as the runner records it (`ops/record-outcomes.ts`). */
export type Outcome =
  /**
   * `output`: the JSON text to store as `metadata.output`. `inTransaction`: the worker already
   * completed the job in its own transaction (`ctx.completeWith`); recording it again is a no-op
   * unless that transaction rolled back.
   */
  | { type: 'completed'; output?: string; inTransaction?: boolean }
  | { type: 'retry'; delayMs: number; error: AttemptError }
  | { type: 'discard'; error: AttemptError }
  | { type: 'cancel'; error: AttemptError }
  /** `deadline`: the tick's deadline cut the run short (counted, see MAX_DEADLINE_SNOOZES). */
  | { type: 'snooze'; delayMs: number; deadline?: boolean }
  /** Claimed but never started: handed back with its attempt restored. */
  | { type: 'release' };

// Recognised by brand, not `instanceof`: a worker may throw the class of another copy of Eddy
// (a workspace, a bundled dependency), and its snooze must still be a snooze.
const SNOOZE = Symbol.for('eddy.JobSnooze');
const CANCEL = Symbol.for('eddy.JobCancel');

/** Try again later without counting an attempt or an error. */
export class JobSnooze extends Error {
  override name = 'JobSnooze';
  readonly [SNOOZE] = true;
  constructor(readonly delayMs: number) {
    super(`snoozed for ${delayMs} ms`);
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new ValidationError(
        `JobSnooze: delay must be a non-negative number of milliseconds (got ${delayMs})`,
        [{ path: 'delayMs', message: 'must be a non-negative number of milliseconds' }],
      );
    }
  }
}

/** Stop for good: the job is cancelled, the reason recorded as its last error. */
export class JobCancel extends Error {
  override name = 'JobCancel';
  readonly [CANCEL] = true;
  constructor(reason: string | Error = 'cancelled by worker') {
    super(typeof reason === 'string' ? reason : reason.message, {
      cause: typeof reason === 'string' ? undefined : reason,
    });
  }
}

/** Reads a brand without trusting the value: a revoked Proxy throws on any property access. */
function hasBrand(value: unknown, brand: symbol): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}

/** Whether a worker threw a `JobSnooze` (of any copy of Eddy). */
export function isJobSnooze(value: unknown): value is JobSnooze {
  return hasBrand(value, SNOOZE);
}

/** Whether a worker threw a `JobCancel` (of any copy of Eddy). */
export function isJobCancel(value: unknown): value is JobCancel {
  return hasBrand(value, CANCEL);
}

/**
 * Turns anything thrown into an error message and trace worth recording. Never throws, whatever
 * it is given (a null-prototype object holding a bigint defeats both JSON and `String`).
 */
export function describeThrown(thrown: unknown): { message: string; trace: string } {
  try {
    if (thrown instanceof Error) {
      const name = String(thrown.name || 'Error');
      const message = String(thrown.message ?? '');
      return {
        message: message === '' ? name : name === 'Error' ? message : `${name}: ${message}`,
        trace: String(thrown.stack ?? ''),
      };
    }
    if (typeof thrown === 'string') return { message: thrown, trace: '' };
    return { message: `non-Error value thrown: ${render(thrown)}`, trace: '' };
  } catch {
    return { message: `non-Error value thrown: ${tag(thrown)}`, trace: '' };
  }
}

/** JSON where possible; bigints as `10n`, cycles as `[Circular]`. */
function render(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  const seen = new WeakSet<object>();
  try {
    const json = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
    if (json !== undefined) return json;
  } catch {
    // A throwing toJSON or getter: fall through.
  }
  return tag(value);
}

function tag(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      // A revoked Proxy defeats even Object.prototype.toString.
      return '[unprintable value]';
    }
  }
}
