/**
 * A client that records instead of writing: the same validation as `createClient` (kinds,
 * args against their schemas, options, unique keys), and the jobs it would have inserted kept in
 * memory for `requireInserted` and friends. For unit tests of code that enqueues, with no
 * database.
 */

import type { Client, ClientOptions, InsertManyItem, InsertResult } from '../client.js';
import { parseJson } from '../driver/json.js';
import { invalid, UnsupportedError, ValidationError } from '../errors.js';
import { planInsert } from '../insert/plan-insert.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, type InsertItem } from '../insert/prepare-job.js';
import type { JobState } from '../job.js';
import type { AnyJobKind } from '../job-kind.js';
import type { InsertedJob, InsertedRow } from '../ops/insert-jobs.js';

const RECORDING = Symbol.for('eddy.RecordingClient');

// River's unique_states bits (../shared/river-compat/protocol_values.json).
const STATE_BITS: Record<JobState, number> = {
  available: 0x01,
  cancelled: 0x02,
  completed: 0x04,
  discarded: 0x08,
  pending: 0x10,
  retryable: 0x20,
  running: 0x40,
  scheduled: 0x80,
};

export type RecordingClientOptions<Kinds extends readonly AnyJobKind[]> = Pick<
  ClientOptions<Kinds>,
  'kinds' | 'now' | 'maxPayloadBytes' | 'schema'
>;

/** A client whose inserts are recorded in `inserted` rather than written. */
export interface RecordingClient<Kinds extends readonly AnyJobKind[] = []> extends Client<Kinds> {
  readonly [RECORDING]: true;
  /** Every job inserted so far, in order (skipped unique duplicates not repeated). */
  readonly inserted: readonly InsertedJob[];
  /** How many times `kick` was called. */
  readonly kicks: number;
  /** Forgets what was recorded. */
  clear(): void;
}

export function isRecordingClient(value: unknown): value is RecordingClient<readonly AnyJobKind[]> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[RECORDING] === true
  );
}

/**
 * Creates a client that validates inserts exactly as `createClient` does and records them.
 * Pass it where your code takes a `Client`, then assert with `requireInserted(client, kind)`.
 *
 * @example
 * ```ts
 * const client = createRecordingClient({ kinds: [sendEmail] });
 * await signUp(client, 'ada@example.com');
 * const job = await requireInserted(client, sendEmail, { args: { to: 'ada@example.com' } });
 * ```
 */
export function createRecordingClient<const Kinds extends readonly AnyJobKind[] = []>(
  options: RecordingClientOptions<Kinds> = {},
): RecordingClient<Kinds> {
  if (!options || typeof options !== 'object')
    throw new ValidationError('createRecordingClient: pass { kinds?, now?, ... }');
  let kinds: Map<string, AnyJobKind> | undefined;
  if (options.kinds) {
    kinds = new Map();
    for (const kind of options.kinds) {
      if (kinds.has(kind.kind))
        invalid('kinds', `lists kind '${kind.kind}' twice`, 'createRecordingClient');
      kinds.set(kind.kind, kind);
    }
  }
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const inserted: InsertedJob[] = [];
  let nextId = 1n;
  let kicks = 0;

  /** createClient's rule: a client given kinds refuses a kind object it does not list. */
  function refuseUnlisted(items: readonly InsertItem[]) {
    if (!kinds || !Array.isArray(items)) return;
    items.forEach((item, i) => {
      const kind = item?.kind;
      if (!kind || typeof kind !== 'object' || kinds?.has(kind.kind)) return;
      const where = items.length === 1 ? `insert(${kind.kind})` : `insertMany[${i}] (${kind.kind})`;
      invalid(
        'kind',
        `'${kind.kind}' is not a kind this client knows: add it to createClient({ kinds }); known kinds: ${[...(kinds?.keys() ?? [])].join(', ')}`,
        where,
      );
    });
  }

  const uniqueKeys = new WeakMap<InsertedJob, { key: string; mask: number }>();
  const keyText = (key: Uint8Array) => key.join(',');
  const inStates = (mask: number, state: JobState) => (mask & STATE_BITS[state]) !== 0;
  /**
   * The recorded job a new one with this key collides with, as River's partial unique index
   * decides: both rows in their own unique states, same key.
   */
  function holder(key: Uint8Array, states: string, state: JobState): InsertedJob | undefined {
    const mask = Number.parseInt(states, 2);
    if (!inStates(mask, state)) return undefined;
    const text = keyText(key);
    return inserted.find((job) => {
      const unique = uniqueKeys.get(job);
      return unique?.key === text && inStates(unique.mask, job.state);
    });
  }

  async function record(items: readonly InsertItem[]): Promise<InsertResult[]> {
    refuseUnlisted(items);
    if (Array.isArray(items) && items.length === 0) return [];
    const now = options.now?.() ?? new Date();
    const plan = await planInsert(items, { kinds, now, maxPayloadBytes });
    const rows: InsertedRow[] = plan.jobs.map((prepared) => {
      if (prepared.uniqueKey && prepared.uniqueStates) {
        const existing = holder(prepared.uniqueKey, prepared.uniqueStates, prepared.state);
        if (existing) return { job: existing, skipped: true };
      }
      const job: InsertedJob = {
        id: nextId++,
        kind: prepared.kind,
        queue: prepared.queue,
        state: prepared.state,
        priority: prepared.priority,
        maxAttempts: prepared.maxAttempts,
        scheduledAt: new Date((prepared.scheduledAt ?? now).getTime()),
        createdAt: new Date(now.getTime()),
        args: parseJson(prepared.argsJson),
        tags: [...prepared.tags],
        metadata: parseJson(prepared.metadataJson) as Record<string, unknown>,
      };
      if (prepared.uniqueKey && prepared.uniqueStates)
        uniqueKeys.set(job, {
          key: keyText(prepared.uniqueKey),
          mask: Number.parseInt(prepared.uniqueStates, 2),
        });
      inserted.push(job);
      return { job, skipped: false };
    });
    return plan.results(rows) as InsertResult[];
  }

  const inserter = {
    insert: (async (kind: string | AnyJobKind, args: unknown, opts?: InsertManyItem['options']) =>
      (await record([{ kind, args, options: opts }]))[0]) as Client<Kinds>['insert'],
    insertMany: (items: readonly InsertManyItem<Kinds>[]) => record(items as readonly InsertItem[]),
  };

  return {
    [RECORDING]: true,
    ...inserter,
    schema: options.schema,
    get inserted() {
      return inserted;
    },
    get kicks() {
      return kicks;
    },
    clear() {
      inserted.length = 0;
      kicks = 0;
    },
    with: () => inserter,
    async prepareInsertMany() {
      throw new UnsupportedError(
        'a recording client writes nothing, so it cannot prepare a statement for your batch; test the code that builds the batch against a database (requireInserted with a driver), or insert through client.insertMany here',
      );
    },
    async kick() {
      kicks++;
    },
  };
}
