/**
 * The REST API's request and response schemas, in zod: requests are validated with them, and
 * the OpenAPI document (`api-openapi.ts`) is generated from the same objects, so the two cannot
 * disagree. Built per API, since the limits (batch size, longest lease) are its options.
 *
 * The requests check shape and range; what River constrains further (queue names, tags, kinds,
 * unique options) the client checks when it inserts, naming the same fields.
 */

import * as z from 'zod';
import { parseJson } from '../driver/json.js';
import { JOB_STATES } from '../job.js';
import { MAX_DELAY_MS } from '../job-outcome.js';

export interface ApiLimits {
  /** Jobs per `POST /v1/jobs`. */
  maxBatch: number;
  /** Jobs per claim. */
  maxClaim: number;
  /** Longest lease a claim or an extension may ask for, in ms. */
  maxLeaseMs: number;
  /** Longest a claim may wait for jobs to arrive, in ms. */
  maxWaitMs: number;
}

const QUEUE = /^[a-z0-9]+(?:[_|-][a-z0-9]+)*$/;
const jsonObject = z.record(z.string(), z.unknown());
const dateTime = z.iso.datetime({ offset: true });
const id = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'must be a job id: a positive integer, as a string')
  .describe("The job's id: an int8, always a string, since it can exceed JSON's safe integers.");
const token = z
  .string()
  .min(1)
  .describe('The token its claim gave this attempt. It fences every answer about the attempt.');
const state = z.enum(JOB_STATES as [string, ...string[]]);

// The management API's limits (src/admin/api.ts and job-filter.ts), repeated here so that the
// schemas, and the OpenAPI document, state them; the management API checks them again.
const MAX_PAGE_SIZE = 1000;
const MAX_BULK = 10_000;
const MAX_FILTER_VALUES = 1000;
const MAX_INT8 = 2n ** 63n - 1n;

/** A job id in a path or a filter: digits, positive, at most int8's largest. */
const jobId = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'must be a job id: a positive integer')
  .refine((text) => !/^[1-9][0-9]{0,18}$/.test(text) || BigInt(text) <= MAX_INT8, {
    message: 'is beyond the largest job id (2^63 - 1)',
  })
  .describe("A job's id: an int8, as a string of digits.");

/** A string of at most `max` characters, counted as River counts them (code points). */
const chars = (max: number, what: string) =>
  z
    .string()
    .min(1, `must be a non-empty ${what}`)
    .refine((text) => [...text].length <= max, { message: `is longer than ${max} characters` })
    .refine((text) => !text.includes('\0'), { message: 'contains NUL, which no job holds' })
    .meta({ maxLength: max });

/** One value or a list of them (any of them). */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).min(1).max(MAX_FILTER_VALUES)]);

/** A whole number written in a query parameter, documented as the integer it is. */
const queryInteger = (min: number, max: number, description: string) =>
  z
    .string()
    .transform((text, ctx) => {
      if (/^[0-9]{1,10}$/.test(text)) return Number(text);
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    })
    .pipe(z.number().int().min(min).max(max))
    .meta({ type: 'integer', minimum: min, maximum: max, description });

/** JSON text in a query parameter: an object (or array) fragment, big integers kept exactly. */
const queryJson = (description: string) =>
  z
    .string()
    .transform((text, ctx): Record<string, unknown> | unknown[] => {
      let value: unknown;
      try {
        value = parseJson(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `is not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
      if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON object (or array), like {"user_id":42}',
      });
      return z.NEVER;
    })
    .meta({ contentMediaType: 'application/json', description });

export function apiSchemas(limits: ApiLimits) {
  const UniqueOptions = z
    .strictObject({
      byArgs: z
        .union([z.boolean(), z.array(z.string()).min(1)])
        .optional()
        .describe(
          'true: unique by all args; a list of paths: by those values only (`customer.id`).',
        ),
      byPeriodMs: z
        .number()
        .int()
        .min(1000)
        .optional()
        .describe('Unique within each period of this many milliseconds.'),
      byQueue: z.boolean().optional().describe('Unique within each queue.'),
      byState: z
        .array(state)
        .optional()
        .describe(
          'States in which an existing job blocks a new one; must include available, pending, running and scheduled.',
        ),
      excludeKind: z.boolean().optional().describe('Leave the kind out of the key.'),
    })
    .describe("River's UniqueOpts: the key is computed byte for byte as Go River computes it.");

  const JobInsert = z
    .strictObject({
      kind: z.string().min(1).max(127),
      args: jsonObject.describe(
        "The job's arguments, checked against the kind's schema when the API knows it.",
      ),
      queue: z
        .string()
        .regex(QUEUE, "must be a River queue name (like 'email')")
        .max(64)
        .optional(),
      priority: z.number().int().min(1).max(4).optional().describe('1 (first) to 4.'),
      maxAttempts: z.number().int().min(1).max(32767).optional(),
      scheduledAt: dateTime.optional().describe('Run no earlier than this time (RFC 3339).'),
      performIn: z
        .number()
        .min(0)
        .optional()
        .describe('Run this many milliseconds from now (instead of scheduledAt).'),
      tags: z.array(z.string().max(255)).optional(),
      metadata: jsonObject.optional(),
      pending: z
        .boolean()
        .optional()
        .describe("Insert in River's pending state: not worked until made available."),
      unique: UniqueOptions.optional(),
    })
    .describe('One job to insert, with every insert option.');

  const InsertJobsRequest = z
    .strictObject({ jobs: z.array(JobInsert).min(1).max(limits.maxBatch) })
    .describe(`Up to ${limits.maxBatch} jobs, inserted in one statement.`);

  const InsertedJob = z.object({
    id,
    kind: z.string(),
    queue: z.string(),
    state,
    scheduledAt: dateTime,
    duplicate: z
      .boolean()
      .describe('A unique job already existed: nothing was inserted and `id` is the existing one.'),
  });
  const InsertJobsResponse = z.object({ jobs: z.array(InsertedJob) });

  const ClaimRequest = z
    .strictObject({
      queues: z
        .array(z.string().regex(QUEUE, "must be a River queue name (like 'email')").max(64))
        .min(1)
        .max(100)
        .default(['default']),
      kinds: z
        .array(z.string().min(1).max(127))
        .min(1)
        .max(500)
        .describe('The kinds this worker works.'),
      limit: z.number().int().min(1).max(limits.maxClaim).default(1),
      leaseMs: z
        .number()
        .int()
        .min(1000)
        .max(limits.maxLeaseMs)
        .default(Math.min(60_000, limits.maxLeaseMs))
        .describe(
          'How long the claim holds each job. Past it, the next maintenance rescues the job and this attempt can no longer answer for it; extend it with /lease.',
        ),
      waitMs: z
        .number()
        .int()
        .min(0)
        .max(limits.maxWaitMs)
        .default(0)
        .describe('When no job is available, wait this long for one before answering empty.'),
      worker: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[^\s]+$/, 'must have no spaces')
        .default('rest-worker')
        .describe("Names this worker in each job's attempted_by entry (and in a rescue's error)."),
    })
    .describe('Claim available jobs with a lease.');

  const AttemptErrorSchema = z.object({
    at: dateTime,
    attempt: z.number().int(),
    error: z.string(),
    trace: z.string(),
  });

  const ClaimedJob = z.object({
    id,
    kind: z.string(),
    args: jsonObject,
    queue: z.string(),
    priority: z.number().int(),
    attempt: z.number().int().describe('This attempt, from 1.'),
    maxAttempts: z.number().int(),
    token,
    leaseExpiresAt: dateTime.describe('When the lease passes unless extended.'),
    scheduledAt: dateTime,
    createdAt: dateTime,
    attemptedAt: dateTime,
    metadata: jsonObject,
    tags: z.array(z.string()),
    errors: z
      .array(AttemptErrorSchema)
      .describe("Earlier attempts' errors (River's AttemptError)."),
  });
  const ClaimResponse = z.object({ jobs: z.array(ClaimedJob) });

  const CompleteRequest = z.strictObject({
    token,
    output: z
      .unknown()
      .optional()
      .describe(
        "Stored as the job's output (`metadata.output`, where River keeps it); at most 1 MiB of JSON.",
      ),
  });
  const FailRequest = z.strictObject({
    token,
    error: z
      .string()
      .min(1)
      .max(100_000)
      .describe("What went wrong: recorded as the attempt's error."),
    trace: z.string().max(100_000).optional(),
    retryAt: dateTime
      .optional()
      .describe("When to try again; default River's backoff ((errors + 1)^4 s)."),
    discard: z.boolean().optional().describe('Do not try again: the job is discarded.'),
  });
  const SnoozeRequest = z.strictObject({
    token,
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_DELAY_MS)
      .describe('Try again this many milliseconds from now; the attempt is given back.'),
  });
  const LeaseRequest = z.strictObject({
    token,
    extendMs: z
      .number()
      .int()
      .min(1000)
      .max(limits.maxLeaseMs)
      .describe('The lease becomes this long from now (never shorter than it was).'),
  });
  const SettledResponse = z.object({ id, state });
  const LeaseResponse = z.object({
    id,
    state,
    leaseExpiresAt: dateTime,
    cancelRequested: z
      .boolean()
      .describe('A cancel was requested (River UI, Go River, Eddy): stop and answer /fail.'),
  });

  const Problem = z
    .object({
      type: z.string(),
      title: z.string(),
      status: z.number().int(),
      detail: z.string().optional(),
      errors: z
        .array(z.object({ pointer: z.string(), detail: z.string() }))
        .optional()
        .describe('The fields at fault, each by JSON Pointer into the request body.'),
      state: state
        .optional()
        .describe("A lost lease, or a running job a delete refused: the job's state now."),
    })
    .describe(
      'RFC 9457 problem details. A 400 names the path and query parameters at fault by a pointer into them as one object (`#/id`, `#/state/1` for the second `state`); a 422 points into the body.',
    );

  // Reading and managing (the management API, createAdmin).

  const Job = z
    .object({
      id,
      kind: z.string(),
      args: jsonObject.describe('As stored; integers beyond 2^53 are written exactly.'),
      queue: z.string(),
      state,
      priority: z.number().int(),
      attempt: z.number().int(),
      maxAttempts: z.number().int(),
      attemptedAt: dateTime.nullable(),
      attemptedBy: z.array(z.string()),
      createdAt: dateTime,
      finalizedAt: dateTime.nullable(),
      scheduledAt: dateTime,
      errors: z.array(AttemptErrorSchema),
      metadata: jsonObject,
      tags: z.array(z.string()),
    })
    .describe('A job as River stores it (`river_job`).');

  const range = (what: string) =>
    z
      .strictObject({
        from: dateTime.optional().describe('Inclusive.'),
        to: dateTime.optional().describe('Exclusive.'),
      })
      .describe(`A range of ${what} (RFC 3339).`);
  const jsonFragment = z.union([jsonObject, z.array(z.unknown())]);

  const JobFilter = z
    .strictObject({
      id: oneOrMany(jobId).optional(),
      state: oneOrMany(state).optional(),
      kind: oneOrMany(chars(127, 'kind')).optional(),
      queue: oneOrMany(chars(127, 'queue name')).optional(),
      priority: oneOrMany(z.number().int().min(1).max(4)).optional(),
      tag: oneOrMany(chars(255, 'tag'))
        .optional()
        .describe('The job has this tag (a list: every one of them).'),
      args: jsonFragment
        .optional()
        .describe('A JSON fragment the args contain (Postgres\' `@>`): `{ "user_id": 42 }`.'),
      metadata: jsonFragment.optional().describe('A JSON fragment the metadata contains (`@>`).'),
      createdAt: range('creation times').optional(),
      scheduledAt: range('scheduled times').optional(),
      finalizedAt: range('finalization times').optional(),
    })
    .describe(
      'Which jobs: every filter given must hold; a filter given a list matches any of its values (`tag`: every one). An empty filter is refused (list every state to mean every job).',
    );

  const time = (description: string) => dateTime.optional().describe(`${description} (RFC 3339).`);
  const JobListQuery = z
    .strictObject({
      state: z.array(state).min(1).max(JOB_STATES.length).optional(),
      kind: z.array(chars(127, 'kind')).min(1).max(MAX_FILTER_VALUES).optional(),
      queue: z.array(chars(127, 'queue name')).min(1).max(MAX_FILTER_VALUES).optional(),
      priority: z
        .array(queryInteger(1, 4, '1 (first) to 4.'))
        .min(1)
        .max(4)
        .optional(),
      tag: z
        .array(chars(255, 'tag'))
        .min(1)
        .max(MAX_FILTER_VALUES)
        .optional()
        .describe('The job has this tag; repeated: every one of them.'),
      id: z.array(jobId).min(1).max(MAX_FILTER_VALUES).optional(),
      args: queryJson(
        'JSON text: a fragment the args contain (Postgres\' `@>`), like `{"user_id":42}`.',
      ).optional(),
      metadata: queryJson('JSON text: a fragment the metadata contains (`@>`).').optional(),
      createdFrom: time('Created at or after this time'),
      createdTo: time('Created before this time'),
      scheduledFrom: time('Scheduled at or after this time'),
      scheduledTo: time('Scheduled before this time'),
      finalizedFrom: time('Finalized at or after this time'),
      finalizedTo: time('Finalized before this time'),
      orderBy: z
        .enum(['id', 'finalizedAt', 'scheduledAt'])
        .optional()
        .describe(
          '`id` (default); `finalizedAt`: finalized jobs by when they finished (states default to cancelled, completed and discarded); `scheduledAt`: unfinalized jobs by when they are due (needs `state`).',
        ),
      order: z.enum(['asc', 'desc']).optional().describe('Default `desc`: newest first.'),
      limit: queryInteger(1, MAX_PAGE_SIZE, 'Jobs per page; default 100.').optional(),
      cursor: z
        .string()
        .min(1)
        .max(512)
        .optional()
        .describe("The previous page's `nextCursor`, with the same order."),
    })
    .superRefine((query, ctx) => {
      for (const what of ['created', 'scheduled', 'finalized'] as const) {
        const from = query[`${what}From`];
        const to = query[`${what}To`];
        if (from !== undefined && to !== undefined && Date.parse(from) > Date.parse(to))
          ctx.addIssue({
            code: 'custom',
            path: [`${what}To`],
            message: `is before ${what}From`,
          });
      }
    })
    .describe(
      'The query of `GET /v1/jobs`. Filters that take several values are repeated (`state=available&state=retryable`): any of them matches.',
    );

  const JobPage = z.object({
    jobs: z.array(Job),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` for the next page; null when nothing more matches.'),
    truncated: z
      .boolean()
      .describe(
        'The page walked its bound (10,000 jobs) checking a filter no index serves (tag, priority, a created or scheduled range) before it filled: more may match after `nextCursor`.',
      ),
  });

  const actionResult = (outcomes: [string, ...string[]], description: string) =>
    z.object({ id, outcome: z.enum(outcomes).describe(description), job: Job });
  const CancelResult = actionResult(
    ['cancelled', 'cancelRequested', 'alreadyFinalized'],
    '`cancelRequested`: the job is running; its runner aborts it and it ends cancelled (unless it completes first). `alreadyFinalized`: nothing changed.',
  );
  const RetryResult = actionResult(
    ['retried', 'running', 'alreadyAvailable'],
    '`running` and `alreadyAvailable` (already due): nothing changed.',
  );
  const DeleteResult = actionResult(['deleted'], 'The job as it was.');

  const BulkRequest = z
    .strictObject({
      filter: JobFilter,
      max: z
        .number()
        .int()
        .min(1)
        .max(MAX_BULK)
        .optional()
        .describe('Most jobs to act on; default 1000.'),
    })
    .describe(
      'Acts on up to `max` jobs the filter matches, in id order, skipping those the action would not change and those another transaction holds locked.',
    );
  const bulkResult = (outcomes: readonly string[]) =>
    z.object({
      count: z.number().int().describe('Jobs acted on.'),
      byOutcome: z.strictObject(
        Object.fromEntries(outcomes.map((o) => [o, z.number().int()])) as Record<
          string,
          z.ZodNumber
        >,
      ),
      ids: z.array(id).describe('Their ids, in id order.'),
      hasMore: z.boolean().describe('More may match: call again.'),
      busy: z.number().int().describe('Jobs that matched but were locked, and were skipped.'),
    });
  const CancelManyResult = bulkResult(['cancelled', 'cancelRequested']);
  const RetryManyResult = bulkResult(['retried']);
  const DeleteManyResult = bulkResult(['deleted']);

  const QueueName = z
    .string()
    .max(64)
    .regex(
      /^(?:\*|[a-z0-9]+(?:[_|-][a-z0-9]+)*)$/,
      "must be a River queue name (like 'email'), or '*' for every queue",
    )
    .describe("A queue's name, or `*` for every queue.");
  const QueueStateResponse = z.object({ name: z.string(), paused: z.boolean() });

  return {
    UniqueOptions,
    JobInsert,
    InsertJobsRequest,
    InsertedJob,
    InsertJobsResponse,
    ClaimRequest,
    AttemptError: AttemptErrorSchema,
    ClaimedJob,
    ClaimResponse,
    CompleteRequest,
    FailRequest,
    SnoozeRequest,
    LeaseRequest,
    SettledResponse,
    LeaseResponse,
    Problem,
    JobId: jobId,
    QueueName,
    Job,
    JobFilter,
    JobListQuery,
    JobPage,
    CancelResult,
    RetryResult,
    DeleteResult,
    BulkRequest,
    CancelManyResult,
    RetryManyResult,
    DeleteManyResult,
    QueueStateResponse,
  };
}

export type ApiSchemas = ReturnType<typeof apiSchemas>;
