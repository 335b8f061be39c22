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
import { byteLength, checkJsonValue, isRawJson, MAX_JSON_DEPTH, toJsonText } from './json-args.js';
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

async function validateArgs(where: string, kind: AnyJobKind, args: unknown): Promise<unknown> {
  let result: Awaited<ReturnType<AnyJobKind['args']['~standard']['validate']>>;
  try {
    result = await kind.args['~standard'].validate(args);
  } catch (error) {
    if (!isStackOverflow(error)) throw error;
    return fail(
      where,
      'args',
      `nest too deeply for the schema; Eddy accepts ${MAX_JSON_DEPTH} levels`,
    );
  }
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
  return result.value;
}

/**
 * Validates one insert request and computes its row values, unique key included.
 * `where` names the job in messages (`insert(send_email)`, `insertMany[3] (send_email)`).
 */
export async function prepareJob(
  item: InsertItem,
  ctx: PrepareContext,
  where: string,
): Promise<PreparedJob> {
  const options = item.options ?? {};
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
  const defaults: JobDefaults = kind?.defaults ?? {};

  let args: unknown;
  if (isRawJson(item.args)) {
    // Exact JSON text: checked and validated as workers will read it (big integers as bigint),
    // stored as written.
    const parsed = parseJsonAsJsonb(item.args.text);
    checkJsonValue(parsed, 'args', where, true);
    if (kind) await validateArgs(where, kind, parsed);
    args = item.args;
  } else {
    args = kind ? await validateArgs(where, kind, item.args) : item.args;
  }
  const argsJson = toJsonText(args, 'args', where);
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

  const unique: UniqueOptions | undefined = options.unique ?? defaults.unique;
  let uniqueKey: Uint8Array | null = null;
  let uniqueStates: string | null = null;
  if (item.uniqueOverride) {
    uniqueKey = item.uniqueOverride.key;
    uniqueStates = item.uniqueOverride.states;
  } else if (unique) {
    let computed: Awaited<ReturnType<typeof computeUniqueKey>>;
    try {
      computed = await computeUniqueKey({
        kind: kindName,
        args,
        queue,
        scheduledAt: scheduledAt ?? undefined,
        now: ctx.now,
        options: unique,
      });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(`${where}: unique: ${error.message}`, error.issues);
    }
    uniqueKey = computed.key;
    uniqueStates = computed.states;
  }

  return {
    kind: kindName,
    argsJson,
    metadataJson,
    queue,
    priority,
    maxAttempts,
    scheduledAt,
    state,
    tags,
    uniqueKey,
    uniqueStates,
  };
}
