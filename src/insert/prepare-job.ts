/**
 * Validating insert requests and turning them into statement parameters. Everything here runs
 * before the database is touched: bad input fails with a `ValidationError` that says what to fix.
 */

import { parseJsonAsJsonb } from '../driver/json.js';
import { invalid, ValidationError } from '../errors.js';
import type { JobState } from '../job.js';
import type { AnyJobKind, JobDefaults } from '../job-kind.js';
import { computeUniqueKey, type UniqueOptions } from '../unique/unique-key.js';
import {
  checkDate,
  checkDateRange,
  checkInteger,
  checkKind,
  checkQueue,
  checkTags,
} from './job-fields.js';
import {
  byteLength,
  checkJsonValue,
  copyPlainJson,
  isRawJson,
  MAX_JSON_DEPTH,
  plainJsonText,
  type RawJson,
  toJsonText,
} from './json-args.js';
import { formatIssuePath } from './standard-schema.js';

/** Per-insert options; each overrides the kind's default. */
export interface InsertOptions extends JobDefaults {
  /** Run no earlier than this time. */
  scheduledAt?: Date;
  /** Run at this time (same as `scheduledAt`; Buffalo's PerformAt). */
  performAt?: Date;
  /** Run this many milliseconds from now (Buffalo's PerformIn). */
  performIn?: number;
  /** Insert in River's `pending` state: stored but not worked until something makes it available. */
  pending?: boolean;
}

export interface InsertItem {
  kind: string | AnyJobKind;
  args: unknown;
  options?: InsertOptions;
  /** A unique key computed elsewhere (periodic slots); wins over `options.unique`. */
  uniqueOverride?: { key: Uint8Array; states: string } | undefined;
}

/** One job ready for the insert statement. */
export interface PreparedJob {
  kind: string;
  argsJson: string;
  /**
   * Plain JSON args (`plainJsonText`) copied as they were serialised: what a worker will read,
   * for the insert's result without parsing `argsJson` again. Handed out once, then undefined.
   */
  argsCopy?: unknown;
  metadataJson: string;
  queue: string;
  priority: number;
  maxAttempts: number;
  scheduledAt: Date | null;
  state: JobState;
  tags: string[];
  uniqueKey: Uint8Array | null;
  uniqueStates: string | null;
}

export interface PrepareContext {
  /** Kinds the client knows, by name; when given, other kind names are refused. */
  kinds?: ReadonlyMap<string, AnyJobKind>;
  now: Date;
  maxPayloadBytes: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
function fail(where: string, path: string, message: string): never {
  return invalid(path, message, where);
}

/** Deep args can overflow the stack of a recursive schema; that is input to refuse. */
function isStackOverflow(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'RangeError' || error.name === 'InternalError') &&
    /call stack|recursion/i.test(error.message)
  );
}

type SchemaResult = Awaited<ReturnType<AnyJobKind['args']['~standard']['validate']>>;

/** Whether a value that may be ready at once (see `prepareJob`) is still to be awaited. */
export const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/** A validator that overflowed the stack on deep args: that is input to refuse, not a crash. */
function refuseDeep(where: string, error: unknown): never {
  if (!isStackOverflow(error)) throw error;
  return fail(
    where,
    'args',
    `nest too deeply for the schema; Eddy accepts ${MAX_JSON_DEPTH} levels`,
  );
}

/** Runs the kind's schema; a validator may answer at once or with a promise. */
function runSchema(
  where: string,
  kind: AnyJobKind,
  args: unknown,
): SchemaResult | Promise<SchemaResult> {
  let result: SchemaResult | Promise<SchemaResult>;
  try {
    result = kind.args['~standard'].validate(args);
  } catch (error) {
    return refuseDeep(where, error);
  }
  return isPromise(result) ? result.catch((error: unknown) => refuseDeep(where, error)) : result;
}

/**
 * The args to store: the schema's output, or the `rawJson()` text as written. Throws a
 * `ValidationError` listing the schema's issues.
 */
function validArgs(
  where: string,
  kind: AnyJobKind,
  result: SchemaResult,
  raw: RawJson | undefined,
): unknown {
  if (result.issues) {
    const issues = result.issues.map((issue) => ({
      path: `args${formatIssuePath(issue.path) ? `.${formatIssuePath(issue.path)}` : ''}`.replace(
        '.[',
        '[',
      ),
      message: issue.message,
    }));
    const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new ValidationError(
      `${where}: args do not match the schema of '${kind.kind}': ${list}`,
      issues,
    );
  }
  return raw ?? result.value;
}

/**
 * Validates one insert request and computes its row values, unique key included.
 * `where` names the job in messages (`insert(send_email)`, `insertMany[3] (send_email)`).
 * Synchronous unless the kind's schema answers with a promise or the job has a unique key
 * (hashed with Web Crypto, which is asynchronous): most inserts never wait, and a thousand
 * jobs need no thousand promises.
 */
export function prepareJob(
  item: InsertItem,
  ctx: PrepareContext,
  where: string,
): PreparedJob | Promise<PreparedJob> {
  let kindName: string;
  let kind: AnyJobKind | undefined;
  if (typeof item.kind === 'string') {
    kindName = checkKind(where, item.kind);
    kind = ctx.kinds?.get(kindName);
    if (ctx.kinds && !kind) {
      const known = [...ctx.kinds.keys()].join(', ') || '(none)';
      fail(where, 'kind', `'${kindName}' is not a kind this client knows; known kinds: ${known}`);
    }
  } else if (item.kind && typeof item.kind === 'object' && typeof item.kind.kind === 'string') {
    kind = item.kind;
    kindName = checkKind(where, kind.kind);
  } else {
    fail(where, 'kind', 'must be a kind name or a kind from defineJobKind()');
  }

  // rawJson() text is checked and validated as workers will read it (big integers as bigint),
  // and stored as written.
  const raw = isRawJson(item.args) ? item.args : undefined;
  let input = item.args;
  if (raw) {
    input = parseJsonAsJsonb(raw.text);
    checkJsonValue(input, 'args', where, true);
  }
  if (!kind) return prepareRow(item, ctx, where, kindName, undefined, item.args);
  const result = runSchema(where, kind, input);
  if (!isPromise(result)) {
    return prepareRow(item, ctx, where, kindName, kind, validArgs(where, kind, result, raw));
  }
  const known = kind;
  return result.then((r) =>
    prepareRow(item, ctx, where, kindName, known, validArgs(where, known, r, raw)),
  );
}

/** The rest of `prepareJob` once the args are validated: every other field, and the key. */
function prepareRow(
  item: InsertItem,
  ctx: PrepareContext,
  where: string,
  kindName: string,
  kind: AnyJobKind | undefined,
  args: unknown,
): PreparedJob | Promise<PreparedJob> {
  const options = item.options ?? {};
  const defaults: JobDefaults = kind?.defaults ?? {};
  const plainText = plainJsonText(args);
  const argsJson = plainText ?? toJsonText(args, 'args', where);
  if (!isRawJson(args) && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    fail(where, 'args', 'must be a JSON object (River stores args as an object)');
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit: encode to measure only text that may be over.
  const argsBytes = argsJson.length * 3 > ctx.maxPayloadBytes ? byteLength(argsJson) : 0;
  if (argsBytes > ctx.maxPayloadBytes) {
    fail(
      where,
      'args',
      `are ${argsBytes} bytes of JSON; the limit is ${ctx.maxPayloadBytes} (maxPayloadBytes)`,
    );
  }

  const metadataJson =
    defaults.metadata === undefined && options.metadata === undefined
      ? '{}'
      : toJsonText(
          { ...(defaults.metadata ?? {}), ...(options.metadata ?? {}) },
          'metadata',
          where,
        );
  if (
    metadataJson.length * 3 > ctx.maxPayloadBytes &&
    byteLength(metadataJson) > ctx.maxPayloadBytes
  ) {
    fail(where, 'metadata', `is larger than ${ctx.maxPayloadBytes} bytes (maxPayloadBytes)`);
  }

  const queue = checkQueue(where, options.queue ?? defaults.queue ?? 'default');
  const priority = checkInteger(
    where,
    'priority',
    options.priority ?? defaults.priority ?? 1,
    1,
    4,
  );
  const maxAttempts = checkInteger(
    where,
    'maxAttempts',
    options.maxAttempts ?? defaults.maxAttempts ?? 25,
    1,
    32767,
  );
  const tags = checkTags(where, options.tags ?? defaults.tags ?? []);

  const schedules =
    Number(options.scheduledAt !== undefined) +
    Number(options.performAt !== undefined) +
    Number(options.performIn !== undefined);
  if (schedules > 1)
    fail(where, 'scheduledAt', 'conflicts: give only one of scheduledAt, performAt, performIn');
  let scheduledAt: Date | null = null;
  if (options.scheduledAt !== undefined)
    scheduledAt = checkDate(where, 'scheduledAt', options.scheduledAt);
  if (options.performAt !== undefined)
    scheduledAt = checkDate(where, 'performAt', options.performAt);
  if (options.performIn !== undefined) {
    if (!Number.isFinite(options.performIn) || options.performIn < 0) {
      fail(where, 'performIn', 'must be a non-negative number of milliseconds');
    }
    scheduledAt = checkDateRange(
      where,
      'performIn',
      new Date(ctx.now.getTime() + options.performIn),
    );
  }

  let state: JobState = 'available';
  if (options.pending) state = 'pending';
  else if (scheduledAt && scheduledAt.getTime() > ctx.now.getTime()) state = 'scheduled';

  const row: PreparedJob = {
    kind: kindName,
    argsJson,
    argsCopy: plainText === undefined ? undefined : copyPlainJson(args),
    metadataJson,
    queue,
    priority,
    maxAttempts,
    scheduledAt,
    state,
    tags,
    uniqueKey: null,
    uniqueStates: null,
  };
  if (item.uniqueOverride) {
    row.uniqueKey = item.uniqueOverride.key;
    row.uniqueStates = item.uniqueOverride.states;
    return row;
  }
  const unique: UniqueOptions | undefined = options.unique ?? defaults.unique;
  if (!unique) return row;
  return withUniqueKey(row, where, args, scheduledAt, ctx.now, unique);
}

/** Adds River's unique key to the row (see unique/unique-key.ts). */
async function withUniqueKey(
  row: PreparedJob,
  where: string,
  args: unknown,
  scheduledAt: Date | null,
  now: Date,
  unique: UniqueOptions,
): Promise<PreparedJob> {
  let computed: Awaited<ReturnType<typeof computeUniqueKey>>;
  try {
    computed = await computeUniqueKey({
      kind: row.kind,
      args,
      queue: row.queue,
      scheduledAt: scheduledAt ?? undefined,
      now,
      options: unique,
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`${where}: unique: ${error.message}`, error.issues);
  }
  row.uniqueKey = computed.key;
  row.uniqueStates = computed.states;
  return row;
}
