/**
 * The insert-only client: validates, then enqueues in one statement, on its own connection or
 * inside the caller's transaction.
 */

import { Database, decodeResult, type Row } from './driver/database.js';
import type { Driver, RawResult } from './driver/driver.js';
import { encodeParams, type Param, parseTimestamp } from './driver/values.js';
import { ValidationError } from './errors.js';
import type { Kick } from './http/kick.js';
import type { RawJson } from './insert/json-args.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type InsertItem,
  type InsertOptions,
  type PreparedJob,
  prepareJob,
} from './insert/prepare-job.js';
import type { JobState } from './job.js';
import type { AnyJobKind, ArgsOf, InputOf } from './job-kind.js';
import {
  JobInsertMany,
  JobInsertManyPlain,
  JobInsertOne,
  JobInsertOnePlain,
} from './sql/job-insert.js';
import { schemaPrefix } from './sql/schema.js';

export interface ClientOptions<Kinds extends readonly AnyJobKind[]> {
  driver: Driver;
  /** Postgres schema holding River's tables (River's Config.Schema). Default: the search_path. */
  schema?: string;
  /** The kinds this client inserts. When given, args are validated and other names refused. */
  kinds?: Kinds;
  /** `pg_notify` Go River listeners about new available jobs, in the same statement. Default false. */
  notify?: boolean;
  /** Largest args (and metadata) JSON accepted, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Clock for scheduling and unique periods (tests). */
  now?: () => Date;
  /**
   * Triggers a tick right after `insert`/`insertMany` committed a job that is available now
   * (see `createKick`). Never awaited by the insert and never fails it. After `insertTx`, call
   * `client.kick()` yourself once your transaction has committed.
   */
  kick?: Kick;
}

/** The row an insert created, or the existing row it was a duplicate of. */
export interface InsertedJob<Args = unknown> {
  id: bigint;
  kind: string;
  queue: string;
  state: JobState;
  priority: number;
  maxAttempts: number;
  scheduledAt: Date;
  createdAt: Date;
  args: Args;
  tags: string[];
  metadata: Record<string, unknown>;
}

export interface InsertResult<Args = unknown> {
  job: InsertedJob<Args>;
  /** True when a unique job already existed: nothing was inserted and `job` is the existing one. */
  skipped: boolean;
}

/**
 * An insert built but not sent: run `text` with `params` inside your own batch or transaction
 * (e.g. Neon's `sql.transaction([...])`), then pass the result to `read`.
 */
export interface PreparedInsert {
  readonly text: string;
  readonly params: (string | null)[];
  read(result: RawResult): InsertResult[];
}

type KindName<Kinds extends readonly AnyJobKind[]> = Kinds[number]['kind'];
type KindNamed<Kinds extends readonly AnyJobKind[], N> = Extract<Kinds[number], { kind: N }>;
/** A kind by name when the client knows its kinds; any name otherwise. */
type KindRef<Kinds extends readonly AnyJobKind[]> = [Kinds[number]] extends [never]
  ? string
  : KindName<Kinds>;
type InputFor<Kinds extends readonly AnyJobKind[], N> =
  | ([Kinds[number]] extends [never] ? Record<string, unknown> : InputOf<KindNamed<Kinds, N>>)
  | RawJson;

export interface InsertManyItem<Kinds extends readonly AnyJobKind[] = readonly AnyJobKind[]> {
  kind: KindRef<Kinds> | AnyJobKind;
  args: unknown;
  options?: InsertOptions;
}

export interface Client<Kinds extends readonly AnyJobKind[] = []> {
  /**
   * Inserts one job.
   *
   * @example
   * ```ts
   * const { job, skipped } = await eddy.insert(sendEmail, { to: 'a@example.com', subject: 'Hi' });
   * ```
   */
  insert<K extends AnyJobKind>(
    kind: K,
    args: InputOf<K> | RawJson,
    options?: InsertOptions,
  ): Promise<InsertResult<ArgsOf<K>>>;
  insert<N extends KindRef<Kinds>>(
    kind: N,
    args: InputFor<Kinds, N>,
    options?: InsertOptions,
  ): Promise<InsertResult>;
  /** Inserts many jobs in one statement; results come back in input order. */
  insertMany(items: readonly InsertManyItem<Kinds>[]): Promise<InsertResult[]>;
  /**
   * `insert` inside the caller's transaction: pass the transaction as a driver, e.g.
   * `nodePostgres(client, { inTransaction: true })`, `postgresJs(tx)`, `pglite(tx)`.
   */
  insertTx<K extends AnyJobKind>(
    tx: Driver,
    kind: K,
    args: InputOf<K> | RawJson,
    options?: InsertOptions,
  ): Promise<InsertResult<ArgsOf<K>>>;
  insertTx<N extends KindRef<Kinds>>(
    tx: Driver,
    kind: N,
    args: InputFor<Kinds, N>,
    options?: InsertOptions,
  ): Promise<InsertResult>;
  insertManyTx(tx: Driver, items: readonly InsertManyItem<Kinds>[]): Promise<InsertResult[]>;
  /** Validates and builds the insert statement without sending it (see `PreparedInsert`). */
  prepareInsertMany(items: readonly InsertManyItem<Kinds>[]): Promise<PreparedInsert>;
  prepareInsert<K extends AnyJobKind>(
    kind: K,
    args: InputOf<K> | RawJson,
    options?: InsertOptions,
  ): Promise<PreparedInsert>;
  prepareInsert<N extends KindRef<Kinds>>(
    kind: N,
    args: InputFor<Kinds, N>,
    options?: InsertOptions,
  ): Promise<PreparedInsert>;
  readonly schema: string | undefined;
  /** Kicks the tick endpoint now (no-op without the `kick` option). Never rejects. */
  kick(queues?: readonly string[]): Promise<void>;
}

function toBigInt(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(value as string | number);
}
function toDate(value: unknown): Date {
  return value instanceof Date ? value : parseTimestamp(String(value));
}
function toJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Reads one RETURNING row; tolerant of executors that parsed values themselves. */
function rowToInserted(row: Row): InsertResult {
  return {
    job: {
      id: toBigInt(row.id),
      kind: row.kind as string,
      queue: row.queue as string,
      state: row.state as JobState,
      priority: Number(row.priority),
      maxAttempts: Number(row.max_attempts),
      scheduledAt: toDate(row.scheduled_at),
      createdAt: toDate(row.created_at),
      args: toJson(row.args),
      tags: (row.tags as string[] | null) ?? [],
      metadata: toJson(row.metadata) ?? {},
    },
    skipped: row.skipped === true || row.skipped === 't',
  };
}

/**
 * Reads one row of a plain insert (`JobInsertManyPlain`): the database chose the id and
 * created_at (also the scheduled_at of a job given none); everything else is what was sent.
 */
function plainRowToInserted(row: Row, job: PreparedJob): InsertResult {
  const createdAt = toDate(row.created_at);
  return {
    job: {
      id: toBigInt(row.id),
      kind: job.kind,
      queue: job.queue,
      state: job.state,
      priority: job.priority,
      maxAttempts: job.maxAttempts,
      scheduledAt: new Date((job.scheduledAt ?? createdAt).getTime()),
      createdAt,
      args: JSON.parse(job.argsJson),
      tags: [...job.tags],
      metadata: JSON.parse(job.metadataJson),
    },
    skipped: false,
  };
}

/** JSON documents as the text of one JSON array, for `jsonb_array_elements` (see JobInsertMany). */
function jsonArray(jobs: readonly PreparedJob[], pick: (job: PreparedJob) => string): string {
  let text = '[';
  for (let i = 0; i < jobs.length; i++) text += (i === 0 ? '' : ',') + pick(jobs[i] as PreparedJob);
  return `${text}]`;
}

function keyOf(job: PreparedJob): string | null {
  if (!job.uniqueKey) return null;
  let hex = '';
  for (const b of job.uniqueKey) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Puts the rows with a unique key in key order, in place among themselves (rows without one
 * keep their place), and remaps `sendIndex` to match. Each keyed row locks its key (a new index
 * entry or, on conflict, the existing row) until the statement commits, so two concurrent
 * inserts of the same keys in different orders would deadlock (40P01): overlapping periodic
 * ticks of two deployments listing their schedules differently did.
 */
function lockOrder(rows: PreparedJob[], sendIndex: number[]): void {
  const slots: number[] = [];
  const keys: string[] = [];
  rows.forEach((row, i) => {
    const key = keyOf(row);
    if (key === null) return;
    slots.push(i);
    keys.push(key);
  });
  const sorted = slots
    .map((_, k) => k)
    .sort((a, b) => ((keys[a] as string) < (keys[b] as string) ? -1 : 1));
  if (sorted.every((k, i) => k === i)) return;
  const moved = slots.map((slot) => rows[slot] as PreparedJob);
  const position = rows.map((_, i) => i);
  sorted.forEach((k, i) => {
    const to = slots[i] as number;
    rows[to] = moved[k] as PreparedJob;
    position[slots[k] as number] = to;
  });
  sendIndex.forEach((index, i) => {
    sendIndex[i] = index >= 0 ? (position[index] as number) : -1 - (position[-1 - index] as number);
  });
}

/** What every insert statement of one client (or of the runner) is built with. */
interface InsertSettings {
  prefix: string;
  notify: boolean;
  channel: string;
  maxPayloadBytes: number;
  now: () => Date;
  kinds: ReadonlyMap<string, AnyJobKind> | undefined;
}

function insertSettings(
  options: Omit<ClientOptions<readonly AnyJobKind[]>, 'driver'>,
): InsertSettings {
  let kinds: Map<string, AnyJobKind> | undefined;
  if (options.kinds) {
    kinds = new Map();
    for (const kind of options.kinds) {
      if (kinds.has(kind.kind))
        throw new ValidationError(`createClient: kind '${kind.kind}' is listed twice`);
      kinds.set(kind.kind, kind);
    }
  }
  return {
    prefix: schemaPrefix(options.schema),
    notify: options.notify ?? false,
    channel: `${options.schema ? `${options.schema}.` : ''}river_insert`,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    now: options.now ?? (() => new Date()),
    kinds,
  };
}

/**
 * Validates the items and builds one insert statement for them. `ifAbsent` inserts only jobs
 * whose unique key no live job holds (see `JobInsertMany`).
 */
async function buildInsert(
  settings: InsertSettings,
  items: readonly InsertItem[],
  ifAbsent: boolean,
): Promise<PreparedInsert> {
  const { prefix, notify, channel, maxPayloadBytes, kinds } = settings;
  if (!Array.isArray(items))
    throw new ValidationError('insertMany: pass an array of { kind, args, options }');
  const at = settings.now();
  const jobs = await Promise.all(
    items.map((item, i) => {
      const name = typeof item?.kind === 'string' ? item.kind : (item?.kind?.kind ?? '?');
      const where = items.length === 1 ? `insert(${name})` : `insertMany[${i}] (${name})`;
      if (!item || typeof item !== 'object')
        throw new ValidationError(`${where}: expected { kind, args, options }`);
      return prepareJob(item, { kinds, now: at, maxPayloadBytes }, where);
    }),
  );
  // Two rows with one unique key cannot go through one ON CONFLICT DO UPDATE statement
  // (SQLSTATE 21000), and the second is a duplicate of the first anyway: send it once.
  const sendIndex: number[] = [];
  const unique: PreparedJob[] = [];
  const firstByKey = new Map<string, number>();
  for (const job of jobs) {
    const key = keyOf(job);
    const seen = key === null ? undefined : firstByKey.get(key);
    if (seen !== undefined) {
      sendIndex.push(-1 - seen);
      continue;
    }
    if (key !== null) firstByKey.set(key, unique.length);
    sendIndex.push(unique.length);
    unique.push(job);
  }
  lockOrder(unique, sendIndex);
  const single = unique.length === 1;
  const column = <T>(pick: (job: PreparedJob) => T) => unique.map(pick);
  const values: Param[] = single
    ? (() => {
        const j = unique[0] as PreparedJob;
        return [
          j.argsJson,
          j.kind,
          j.maxAttempts,
          j.metadataJson,
          j.priority,
          j.queue,
          j.scheduledAt,
          j.state,
          j.tags,
          j.uniqueKey,
          j.uniqueStates,
        ];
      })()
    : [
        jsonArray(unique, (j) => j.argsJson),
        column((j) => j.kind),
        column((j) => j.maxAttempts),
        jsonArray(unique, (j) => j.metadataJson),
        column((j) => j.priority),
        column((j) => j.queue),
        column((j) => j.scheduledAt),
        column((j) => j.state),
        column((j) => j.tags.join(',')),
        column((j) => j.uniqueKey),
        column((j) => j.uniqueStates),
      ];
  if (notify) values.push(channel);
  // Without unique keys nothing can conflict: the lighter statement, and rows built from input.
  const plain = !ifAbsent && unique.every((job) => job.uniqueKey === null);
  const text = plain
    ? single
      ? JobInsertOnePlain(prefix, notify)
      : JobInsertManyPlain(prefix, notify)
    : single
      ? JobInsertOne(prefix, notify, ifAbsent)
      : JobInsertMany(prefix, notify, ifAbsent);
  return {
    text,
    params: encodeParams(values),
    read(result: RawResult): InsertResult[] {
      const decoded = decodeResult(result).rows;
      const rows = plain
        ? decoded.map((row, i) => plainRowToInserted(row, unique[i] as PreparedJob))
        : decoded.map(rowToInserted);
      if (rows.length !== unique.length) {
        throw new Error(`insert returned ${rows.length} rows for ${unique.length} jobs`);
      }
      return sendIndex.map((index) =>
        index >= 0
          ? (rows[index] as InsertResult)
          : { job: (rows[-1 - index] as InsertResult).job, skipped: true },
      );
    },
  };
}

/**
 * Creates the insert-only client.
 *
 * @example
 * ```ts
 * const eddy = createClient({ driver: neonHttp(neon(env.DATABASE_URL)), kinds: [sendEmail] });
 * await eddy.insert('send_email', { to: 'a@example.com', subject: 'Welcome' });
 * ```
 */
export function createClient<const Kinds extends readonly AnyJobKind[] = []>(
  options: ClientOptions<Kinds>,
): Client<Kinds> {
  const { driver, schema } = options;
  if (!driver || typeof driver.query !== 'function' || typeof driver.batch !== 'function') {
    throw new TypeError(
      'createClient: driver must be an Eddy driver, e.g. nodePostgres(pool) from eddy/node-postgres',
    );
  }
  const settings = insertSettings(options);
  const prepare = (items: readonly InsertItem[]) => buildInsert(settings, items, false);

  async function run(target: Driver, items: readonly InsertItem[]): Promise<InsertResult[]> {
    if (items.length === 0) return [];
    const prepared = await prepare(items);
    // `read` decodes the rows and maps them back to input order.
    const results = prepared.read(await new Database(target).raw({ ...prepared, prepare: true }));
    if (options.kick && target === driver) {
      const queues = [
        ...new Set(
          results.filter((r) => !r.skipped && r.job.state === 'available').map((r) => r.job.queue),
        ),
      ];
      if (queues.length > 0) void options.kick({ queues }).catch(() => undefined);
    }
    return results;
  }

  const client: Client<Kinds> = {
    schema,
    insert: (async (kind: string | AnyJobKind, args: unknown, opts?: InsertOptions) =>
      (await run(driver, [{ kind, args, options: opts }]))[0]) as Client<Kinds>['insert'],
    insertMany: (items) => run(driver, items as readonly InsertItem[]),
    insertTx: (async (tx: Driver, kind: string | AnyJobKind, args: unknown, opts?: InsertOptions) =>
      (await run(tx, [{ kind, args, options: opts }]))[0]) as Client<Kinds>['insertTx'],
    insertManyTx: (tx, items) => run(tx, items as readonly InsertItem[]),
    prepareInsertMany: (items) => prepare(items as readonly InsertItem[]),
    kick: async (queues) => {
      await options.kick?.({ queues: queues ?? [] }).catch(() => undefined);
    },
    prepareInsert: ((kind: string | AnyJobKind, args: unknown, opts?: InsertOptions) =>
      prepare([{ kind, args, options: opts }])) as Client<Kinds>['prepareInsert'],
  };
  return client;
}

/**
 * An inserter for the tick runner's periodic enqueue: inserts the jobs whose unique key no live
 * job holds and skips the rest without locking or rewriting them (`ON CONFLICT DO NOTHING`);
 * resolves with how many it inserted. Not part of the public client.
 */
export function ifAbsentInserter(options: {
  schema?: string;
  notify?: boolean;
}): (db: Database, items: readonly InsertItem[]) => Promise<number> {
  const settings = insertSettings(options);
  return async (db, items) => {
    if (items.length === 0) return 0;
    const prepared = await buildInsert(settings, items, true);
    return (await db.raw({ ...prepared, prepare: true })).rows.length;
  };
}
