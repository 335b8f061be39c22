/**
 * The REST API's request and response schemas, in zod: requests are validated with them, and
 * the OpenAPI document (`api-openapi.ts`) is generated from the same objects, so the two cannot
 * disagree. Built per API, since the limits (batch size, longest lease) are its options.
 *
 * The requests check shape and range; what River constrains further (queue names, tags, kinds,
 * unique options) the client checks when it inserts, naming the same fields.
 */

import * as z from 'zod';
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
      state: state.optional().describe("A lost lease: the job's state now."),
    })
    .describe('RFC 9457 problem details.');

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
  };
}

export type ApiSchemas = ReturnType<typeof apiSchemas>;
