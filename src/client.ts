/**
 * The insert-only client: validates, then enqueues in one statement, on its own connection or
 * inside the caller's transaction.
 */

import { Database, decodeResult } from './driver/database.js';
import type { Driver, RawResult } from './driver/driver.js';
import { schemaPrefix } from './driver/schema-name.js';
import { encodeParams } from './driver/values.js';
import { invalid, refuseUnknownKeys, ValidationError } from './errors.js';
import type { Kick } from './http/kick.js';
import type { RawJson } from './insert/json-args.js';
import { planInsert } from './insert/plan-insert.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type InsertItem,
  type InsertOptions,
  isPromise,
} from './insert/prepare-job.js';
import type { AnyJobKind, ArgsOf, InputOf } from './job-kind.js';
import {
  type InsertedJob,
  type InsertJobsOptions,
  insertJobsStatement,
  insertNotifyChannel,
} from './ops/insert-jobs.js';
import { PREPARED } from './ops/prepared.js';

export type { InsertedJob } from './ops/insert-jobs.js';

export interface ClientOptions<Kinds extends readonly AnyJobKind[]> {
  driver: Driver;
  /** Postgres schema holding River's tables (River's Config.Schema). Default: the search_path. */
  schema?: string;
  /**
   * The kinds this client inserts. When given, any other kind is refused, by name or as a kind
   * object, and names are validated with their kind's schema. Without it, any kind goes: kind
   * objects are validated by their own schema, names not at all.
   */
  kinds?: Kinds;
  /** `pg_notify` Go River listeners about new available jobs, in the same statement. Default false. */
  notify?: boolean;
  /** Largest args (and metadata) JSON accepted, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * The clock (tests): scheduling, unique periods, and the jobs' `created_at`. Default: real time
   * for scheduling and the database's `now()` for `created_at`.
   */
  now?: (() => Date) | undefined;
  /**
   * Triggers a tick right after `insert`/`insertMany` committed a job that is available now
   * (see `createKick`). Never awaited by the insert and never fails it. A bound client
   * (`client.with(tx)`) never kicks: call `client.kick()` once your transaction has committed.
   */
  kick?: Kick;
}

export interface InsertResult<Args = unknown> {
  job: InsertedJob<Args>;
  /** True when a unique job already existed: nothing was inserted and `job` is the existing one. */
  skipped: boolean;
}

/**
 * An insert built but not sent: run `text` with `params` inside your own batch (Neon's
 * `sql.transaction([...])`: see `neonInsert` in `eddy/neon-http`), then pass the result to `read`.
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

/** Inserting jobs: what a client does, and what a client bound to a transaction does. */
export interface Inserter<Kinds extends readonly AnyJobKind[] = []> {
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
}

export interface Client<Kinds extends readonly AnyJobKind[] = []> extends Inserter<Kinds> {
  /**
   * The same inserts inside your interactive transaction: pass the transaction as a driver.
   * A bound client never kicks; call `client.kick()` after your commit.
   *
   * @example
   * ```ts
   * await pool.query('BEGIN'); // or db.transaction(async (tx) => ...) in your ORM
   * await eddy.with(nodePostgres(client, { inTransaction: true })).insert(sendEmail, args);
   * // postgresJs(tx) inside sql.begin, pglite(tx), drizzleTx(tx), kyselyTx(trx)
   * ```
   */
  with(tx: Driver): Inserter<Kinds>;
  /**
   * Validates and builds one insert statement for the items without sending it, for a batch
   * that has no interactive transaction: Neon HTTP's `sql.transaction([...])` (see `neonInsert`).
   */
  prepareInsertMany(items: readonly InsertManyItem<Kinds>[]): Promise<PreparedInsert>;
  readonly schema: string | undefined;
  /** Kicks the tick endpoint now (no-op without the `kick` option). Never rejects. */
  kick(queues?: readonly string[]): Promise<void>;
}

/** A job with JSON-safe values, as `jobToJSON` returns it: ids as strings, dates as ISO strings. */
export type JobJSON<J> = {
  [K in keyof J]: J[K] extends bigint
    ? string
    : J[K] extends Date
      ? string
      : J[K] extends Date | null
        ? string | null
        : J[K];
};

/** `value` with every bigint as a decimal string and every Date as an ISO string. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = jsonSafe(inner);
    return out;
  }
  return value;
}

/**
 * A job (or an inserted job) in a form `JSON.stringify` and `Response.json` accept: `id` (a
 * `bigint`, which JSON cannot carry) as a decimal string, dates as ISO strings, and so any
 * bigint in args or metadata (an integer beyond 2^53 is decoded as one), the rest as is.
 *
 * @example
 * ```ts
 * const { job } = await eddy.insert(sendEmail, args);
 * return Response.json({ job: jobToJSON(job) }, { status: 201 });
 * ```
 */
export function jobToJSON<J extends object>(job: J): JobJSON<J> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(job)) out[key] = jsonSafe(value);
  return out as JobJSON<J>;
}

/** Checks that `driver` is an Eddy driver, naming what to pass instead. */
function checkDriver(driver: unknown, where: string): asserts driver is Driver {
  const d = driver as Partial<Driver> | undefined;
  if (!d || typeof d.query !== 'function') {
    invalid(
      'driver',
      'must be an Eddy driver, e.g. nodePostgres(pool) from eddy/node-postgres or neonHttp(neon(url)) from eddy/neon-http',
      where,
    );
  }
}

// Every option, so that an option added to the interface and not here fails the typecheck.
const CLIENT_KEYS = {
  driver: 1,
  schema: 1,
  kinds: 1,
  notify: 1,
  maxPayloadBytes: 1,
  now: 1,
  kick: 1,
} satisfies Record<keyof ClientOptions<[]>, 1>;

/**
 * One rule for kinds outside the client's `kinds`: refused, as a name or as an object. Listing
 * kinds declares what this client inserts; an object from elsewhere is as likely a mistake (a
 * kind the workers do not know) as a misspelt name.
 */
function refuseUnlisted(items: readonly InsertItem[], kinds: ReadonlyMap<string, AnyJobKind>) {
  if (!Array.isArray(items)) return; // planInsert says what to pass
  items.forEach((item, i) => {
    const kind = item?.kind;
    if (!kind || typeof kind !== 'object' || typeof kind.kind !== 'string') return;
    if (kinds.has(kind.kind)) return;
    const where = items.length === 1 ? `insert(${kind.kind})` : `insertMany[${i}] (${kind.kind})`;
    const known = [...kinds.keys()].join(', ') || '(none)';
    invalid(
      'kind',
      `'${kind.kind}' is not a kind this client knows: add it to createClient({ kinds }); known kinds: ${known}`,
      where,
    );
  });
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
  if (!options || typeof options !== 'object')
    throw new ValidationError('createClient: pass { driver, kinds?, schema?, ... }');
  const { driver, schema } = options;
  checkDriver(driver, 'createClient');
  refuseUnknownKeys(options, CLIENT_KEYS, '', 'createClient');
  let kinds: Map<string, AnyJobKind> | undefined;
  if (options.kinds) {
    kinds = new Map();
    for (const kind of options.kinds) {
      if (kinds.has(kind.kind)) invalid('kinds', `lists kind '${kind.kind}' twice`, 'createClient');
      kinds.set(kind.kind, kind);
    }
  }
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes <= 0)
    invalid('maxPayloadBytes', 'must be a positive integer (bytes)', 'createClient');
  const clock = options.now;
  const target: InsertJobsOptions = {
    prefix: schemaPrefix(schema),
    notifyChannel: options.notify ? insertNotifyChannel(schema) : undefined,
  };

  const insertOptions = (now: Date): InsertJobsOptions => (clock ? { ...target, now } : target);

  /** Validates and plans the items (at once when nothing has to be awaited). */
  function plan(items: readonly InsertItem[], now: Date) {
    if (kinds) refuseUnlisted(items, kinds);
    return planInsert(items, { kinds, now, maxPayloadBytes });
  }

  async function run(db: Database, items: readonly InsertItem[], kick: boolean) {
    if (Array.isArray(items) && items.length === 0) return [];
    const now = clock?.() ?? new Date();
    const planned = plan(items, now);
    const { jobs, results } = isPromise(planned) ? await planned : planned;
    const statement = insertJobsStatement(jobs, insertOptions(now));
    const { rows } = await db.query(statement.text, statement.params, PREPARED);
    const inserted = results(statement.read(rows)) as InsertResult[];
    if (kick && options.kick) {
      const queues = new Set<string>();
      for (const r of inserted)
        if (!r.skipped && r.job.state === 'available') queues.add(r.job.queue);
      if (queues.size > 0) void options.kick({ queues: [...queues] }).catch(() => undefined);
    }
    return inserted;
  }

  function inserter(db: Database, kick: boolean): Inserter<Kinds> {
    return {
      insert: (async (kind: string | AnyJobKind, args: unknown, opts?: InsertOptions) =>
        (await run(db, [{ kind, args, options: opts }], kick))[0]) as Inserter<Kinds>['insert'],
      insertMany: (items) => run(db, items as readonly InsertItem[], kick),
    };
  }

  return {
    ...inserter(new Database(driver), true),
    schema,
    with(tx) {
      checkDriver(tx, 'client.with');
      return inserter(new Database(tx), false);
    },
    async prepareInsertMany(items) {
      const now = clock?.() ?? new Date();
      const planned = await plan(items as readonly InsertItem[], now);
      const statement = insertJobsStatement(planned.jobs, insertOptions(now));
      return {
        text: statement.text,
        params: encodeParams(statement.params),
        read: (result) =>
          planned.results(statement.read(decodeResult(result).rows)) as InsertResult[],
      };
    },
    kick: async (queues) => {
      await options.kick?.({ queues: queues ?? [] }).catch(() => undefined);
    },
  };
}
