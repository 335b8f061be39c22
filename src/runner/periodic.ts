/**
 * Periodic jobs: enqueued from cron expressions or fixed intervals by whichever tick runs when a
 * slot comes due. No leader: each slot's job carries a unique key derived from the slot, so
 * overlapping ticks, repeated ticks and several deployments insert it once between them.
 */

import { invalid, refuseUnknownKeys, ValidationError } from '../errors.js';
import type { InsertItem, InsertOptions } from '../insert/prepare-job.js';
import { formatIssuePath } from '../insert/standard-schema.js';
import type { AnyJobKind } from '../job-kind.js';
import type { Worker } from '../worker.js';
import { parseSchedule } from './cron-schedule.js';

export type CatchUp = 'none' | 'latest' | 'all';

export interface PeriodicJobDefinition {
  /** Identity of this schedule (slot keys derive from it). Default: the kind name. */
  name?: string;
  kind: string | AnyJobKind;
  /** Args for each run, or a function returning them. Default `{}`. */
  args?: Record<string, unknown> | ((slot: Date) => Record<string, unknown>);
  /**
   * A cron expression in River's dialect (5 fields, `@hourly`, `@every 90s`, a `CRON_TZ=`
   * prefix; Eddy also takes 6 fields with seconds first) or a fixed interval. `@every` and
   * `everyMs` slots are multiples of the interval since the Unix epoch.
   */
  schedule: string | { everyMs: number };
  /** Time zone for cron expressions: an IANA name or an offset such as `+05:30`. Default UTC. */
  timezone?: string;
  /** Also enqueue one run when this runner starts (its first tick), whatever the schedule. */
  runOnStart?: boolean;
  /**
   * Missed slots (no tick ran when they came due):
   * - `none`: skip them; enqueue a slot only within `graceMs` of its time;
   * - `latest` (default): enqueue the most recent slot within `catchUpWindowMs`;
   * - `all`: enqueue every slot within `catchUpWindowMs` (at most 1,000).
   */
  catchUp?: CatchUp;
  /** Default 1 hour. Keep it below the completed-job retention so old slots stay remembered. */
  catchUpWindowMs?: number;
  /** Default 60 s (cron triggers fire on the minute). */
  graceMs?: number;
  /**
   * Insert options. With `unique` set (e.g. by state, without `completed`: River's persistent
   * worker pattern) that key decides duplicates instead of the slot.
   */
  options?: InsertOptions;
  /**
   * The kind is worked elsewhere (by Go River, or by another deployment's runner), so the
   * runner that enqueues it needs no worker for it. Without this, `createRunner` refuses a
   * periodic job none of its workers works: its jobs would wait forever.
   */
  workedElsewhere?: boolean;
}

// Every field, so that a field added to the interface and not here fails the typecheck.
const DEFINITION_KEYS = {
  name: 1,
  kind: 1,
  args: 1,
  schedule: 1,
  timezone: 1,
  runOnStart: 1,
  catchUp: 1,
  catchUpWindowMs: 1,
  graceMs: 1,
  options: 1,
  workedElsewhere: 1,
} satisfies Record<keyof PeriodicJobDefinition, 1>;

export interface PeriodicJob
  extends Readonly<Required<Pick<PeriodicJobDefinition, 'name' | 'catchUp'>>> {
  readonly definition: PeriodicJobDefinition;
  /** Slots due at `now` under the catch-up policy, oldest first. */
  dueSlots(now: Date): Date[];
}

const MAX_SLOTS = 1000;

/**
 * Declares a periodic job for `createRunner({ periodic: [...] })`.
 *
 * @example
 * ```ts
 * definePeriodicJob({ kind: cleanup, schedule: '*\/15 * * * *' });
 * definePeriodicJob({ kind: 'heartbeat', schedule: { everyMs: 30_000 }, catchUp: 'none' });
 * ```
 */
export function definePeriodicJob(definition: PeriodicJobDefinition): PeriodicJob {
  const kindName = typeof definition.kind === 'string' ? definition.kind : definition.kind?.kind;
  const name = definition.name ?? kindName;
  const where = `definePeriodicJob(${name ?? '?'})`;
  if (!name) invalid('kind', 'is required: a kind name or a kind from defineJobKind()', where);
  refuseUnknownKeys(definition, DEFINITION_KEYS, '', where);
  const catchUp = definition.catchUp ?? 'latest';
  if (!['none', 'latest', 'all'].includes(catchUp)) {
    invalid('catchUp', "must be 'none', 'latest' or 'all'", where);
  }
  const windowMs = definition.catchUpWindowMs ?? 60 * 60_000;
  const graceMs = definition.graceMs ?? 60_000;
  for (const [field, value] of [
    ['catchUpWindowMs', windowMs],
    ['graceMs', graceMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) invalid(field, 'must be ≥ 0 ms', where);
  }

  let latestAt: (now: Date) => Date | undefined;
  let before: (slot: Date) => Date | undefined;
  const { schedule } = definition;
  if (typeof schedule === 'string') {
    const parsed = parseSchedule(schedule, { timezone: definition.timezone, where });
    if (parsed.next(new Date()) === undefined)
      invalid(
        'schedule',
        `'${schedule}' never comes due: no time in the next five years matches it`,
        where,
      );
    latestAt = (now) => parsed.previous(new Date(now.getTime() + 1)); // a slot at exactly `now` counts
    before = (slot) => parsed.previous(slot);
  } else if (
    schedule &&
    typeof schedule === 'object' &&
    Number.isFinite(schedule.everyMs) &&
    schedule.everyMs >= 1000
  ) {
    const every = schedule.everyMs;
    latestAt = (now) => new Date(Math.floor(now.getTime() / every) * every);
    before = (slot) => new Date(slot.getTime() - every);
  } else {
    invalid('schedule', 'must be a cron expression or { everyMs } of at least 1000', where);
  }

  return {
    name,
    catchUp,
    definition: { ...definition, name },
    dueSlots(now) {
      const latest = latestAt(now);
      if (!latest) return [];
      const age = now.getTime() - latest.getTime();
      if (catchUp === 'none') return age <= graceMs ? [latest] : [];
      if (catchUp === 'latest') return age <= windowMs ? [latest] : [];
      const slots: Date[] = [];
      for (
        let slot: Date | undefined = latest;
        slot && now.getTime() - slot.getTime() <= windowMs && slots.length < MAX_SLOTS;
        slot = before(slot)
      ) {
        slots.unshift(slot);
      }
      return slots;
    },
  };
}

/** The queue a kind's jobs go to when an insert names none. */
const defaultQueue = (queue: string | undefined) => queue ?? 'default';

/**
 * Refuses periodic jobs that would silently never run: one no worker of the runner works (unless
 * `workedElsewhere`), one whose queue the runner does not work, and static args that fail the
 * kind's schema (every slot would fail, seen only in `stats.errors`).
 */
export function checkPeriodicJobs(
  periodic: readonly PeriodicJob[],
  workers: ReadonlyMap<string, Worker>,
  queueNames: readonly string[],
  where: string,
): void {
  periodic.forEach((job, i) => {
    const { kind, options, args, workedElsewhere } = job.definition;
    const kindName = typeof kind === 'string' ? kind : kind.kind;
    const worker = workers.get(kindName);
    if (!workedElsewhere) {
      if (!worker)
        invalid(
          `periodic[${i}]`,
          `enqueues kind '${kindName}', which no worker of this runner works: add its worker to workers, or set workedElsewhere: true when Go River or another deployment works it`,
          where,
        );
      const queue = defaultQueue(
        options?.queue ?? (typeof kind === 'string' ? undefined : kind.defaults.queue),
      );
      if (!queueNames.includes(queue))
        invalid(
          `periodic[${i}]`,
          `enqueues kind '${kindName}' into queue '${queue}', which is not in queues (${queueNames.join(', ')}): add ${JSON.stringify(queue)}: {} to queues`,
          where,
        );
    }
    const schema = typeof kind === 'string' ? worker?.schema : kind.args;
    if (!schema || typeof args === 'function') return;
    const result = schema['~standard'].validate(args ?? {});
    // An async schema is checked when a slot is enqueued (a failure lands in stats.errors).
    if (result instanceof Promise) {
      result.catch(() => undefined);
      return;
    }
    if (!result.issues) return;
    const issues = result.issues.map((issue) => {
      const at = formatIssuePath(issue.path);
      return {
        path: `periodic[${i}].args${at === '' || at.startsWith('[') ? at : `.${at}`}`,
        message: issue.message,
      };
    });
    const list = issues.map((x) => `${x.path}: ${x.message}`).join('; ');
    throw new ValidationError(
      `${where}: periodic[${i}] args do not match the schema of '${kindName}': ${list}`,
      issues,
    );
  });
}

const encoder = new TextEncoder();

/** The slot's unique key: sha256 over the schedule's name and the slot time. */
export async function slotKey(name: string, slot: Date): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest(
    'SHA-256',
    encoder.encode(`eddy_periodic|${name}|${slot.toISOString()}`),
  );
  return new Uint8Array(digest);
}

/** River's metadata key naming the periodic job that inserted a row. */
const PERIODIC_JOB_ID_KEY = 'river:periodic_job_id';

/** Every state: a slot's job blocks its slot for as long as the row exists. */
export const SLOT_UNIQUE_STATES = '11111111';

/** Insert items for the due slots of `jobs` at `now` (plus run-on-start ones on a first tick). */
export async function periodicInserts(
  jobs: readonly PeriodicJob[],
  now: Date,
  firstTick: boolean,
  /** Slots this process already saw stored: not sent again. */
  known: (name: string, slot: Date) => boolean = () => false,
): Promise<InsertItem[]> {
  const items: InsertItem[] = [];
  for (const job of jobs) {
    const { definition } = job;
    const argsFor = (slot: Date) =>
      typeof definition.args === 'function' ? definition.args(slot) : (definition.args ?? {});
    const base = definition.options ?? {};
    for (const slot of job.dueSlots(now)) {
      if (known(job.name, slot)) continue;
      items.push({
        kind: definition.kind,
        args: argsFor(slot),
        options: {
          ...base,
          scheduledAt: slot,
          metadata: {
            ...(base.metadata ?? {}),
            // River's key for the periodic job a row came from, as River's enqueuer writes it.
            [PERIODIC_JOB_ID_KEY]: job.name,
            periodic: job.name,
            periodic_slot: slot.toISOString(),
          },
        },
        uniqueOverride: base.unique
          ? undefined
          : { key: await slotKey(job.name, slot), states: SLOT_UNIQUE_STATES },
      });
    }
    if (firstTick && definition.runOnStart) {
      items.push({
        kind: definition.kind,
        args: argsFor(now),
        options: {
          ...base,
          metadata: {
            ...(base.metadata ?? {}),
            [PERIODIC_JOB_ID_KEY]: job.name,
            periodic: job.name,
            periodic_run_on_start: true,
          },
        },
      });
    }
  }
  return items;
}
