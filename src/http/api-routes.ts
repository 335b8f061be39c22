/**
 * The REST API's operations, each a Web-standard handler of a request and what the API holds
 * for the request's environment: produce (`POST /v1/jobs`) and work (`POST /v1/claims`, then
 * `/complete`, `/fail`, `/snooze`, `/lease` on a claimed job), both through the same code the
 * TypeScript client and runner use.
 */

import type { Inserter, InsertManyItem, InsertResult } from '../client.js';
import { isValidationError } from '../errors.js';
import type { InsertOptions } from '../insert/prepare-job.js';
import type { Caller, KeyRing, Scope } from './api-auth.js';
import {
  jsonResponse,
  PROBLEM_TYPES,
  type Problem,
  problemFromValidationError,
  problemResponse,
} from './api-problem.js';
import { type Parsed, readJsonBody, validate } from './api-request.js';
import type { ApiSchemas } from './api-schemas.js';
import type { ClaimedJob, RemoteWork, Settled } from './remote-work.js';

/** What a request's handlers reach: built once per environment (see `api.ts`). */
export interface ApiState {
  readonly keys: KeyRing;
  readonly inserter: Inserter<readonly never[]>;
  readonly remote: RemoteWork;
}

export interface ApiSettings {
  readonly schemas: ApiSchemas;
  readonly maxBodyBytes: number;
  /** Wakes claims waiting for jobs (an insert through this API, a kick, a notification). */
  readonly waiter: Waiter;
  /** True once the API closes: waiting claims answer at once. */
  readonly isClosing: () => boolean;
  /** After an insert (metrics). */
  readonly onInserted?: ((results: readonly InsertResult[]) => void) | undefined;
}

/** Claims waiting for jobs, woken when some may have arrived. */
export class Waiter {
  readonly #waiting = new Set<() => void>();

  /** Resolves after `ms`, at a wake, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiting.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wake(): void {
    for (const done of [...this.#waiting]) done();
  }
}

// Between claims while a claim waits for jobs: a wake comes sooner where there is one.
const CLAIM_POLL_MS = 1_000;

export const unauthorized = (detail: string): Response =>
  problemResponse(
    { type: PROBLEM_TYPES.unauthorized, title: 'Unauthorized', status: 401, detail },
    { 'www-authenticate': 'Bearer' },
  );

/** The caller's key if it has `scope`, or the 401/403 to answer. */
export async function authorize(
  request: Request,
  keys: KeyRing,
  scope: Scope,
): Promise<Caller | Response> {
  const check = await keys.check(request.headers.get('authorization'), scope);
  if (check.ok) return check.caller;
  if (check.status === 401) return unauthorized(check.detail);
  return problemResponse({
    type: PROBLEM_TYPES.forbidden,
    title: 'Forbidden',
    status: 403,
    detail: check.detail,
  });
}

async function body<T>(
  request: Request,
  settings: ApiSettings,
  check: (value: unknown) => Parsed<T>,
): Promise<Parsed<T>> {
  const read = await readJsonBody(request, settings.maxBodyBytes);
  return read.ok ? check(read.value) : read;
}

type JobInsert = ReturnType<ApiSchemas['JobInsert']['parse']>;

/** A REST job as the client's insert item: the options nested, dates as dates. */
function insertItem(job: JobInsert): InsertManyItem<readonly never[]> {
  const { kind, args, scheduledAt, ...rest } = job;
  const options: InsertOptions = {};
  for (const [key, value] of Object.entries(rest))
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  if (scheduledAt !== undefined) options.scheduledAt = new Date(scheduledAt);
  return { kind: kind as never, args, options };
}

/** Which item an insert's ValidationError is about: its `where`, `insertMany[3] (kind)`. */
function itemIndex(message: string): number {
  return Number(/^insertMany\[(\d+)\]/.exec(message)?.[1] ?? 0);
}

/** `POST /v1/jobs`: one job (`{ kind, args, … }`) or many (`{ jobs: [...] }`). */
export async function insertJobs(
  request: Request,
  state: ApiState,
  settings: ApiSettings,
): Promise<Response> {
  const { schemas } = settings;
  const parsed = await body(request, settings, (value) => {
    if (value !== null && typeof value === 'object' && 'jobs' in value) {
      const many = validate(schemas.InsertJobsRequest, value);
      return many.ok ? { ok: true, value: { jobs: many.value.jobs, many: true } } : many;
    }
    const one = validate(schemas.JobInsert, value);
    return one.ok ? { ok: true, value: { jobs: [one.value], many: false } } : one;
  });
  if (!parsed.ok) return problemResponse(parsed.problem);
  const { jobs, many } = parsed.value;
  let results: InsertResult[];
  try {
    results = await state.inserter.insertMany(jobs.map(insertItem));
  } catch (error) {
    if (!isValidationError(error)) throw error;
    const at = jobs.length === 1 ? 0 : itemIndex(error.message);
    const problem = problemFromValidationError(error, many ? ['jobs', at] : []) as Problem;
    return problemResponse(problem);
  }
  settings.onInserted?.(results);
  if (results.some((r) => !r.skipped && r.job.state === 'available')) settings.waiter.wake();
  return jsonResponse(
    {
      jobs: results.map(({ job, skipped }) => ({
        id: job.id.toString(),
        kind: job.kind,
        queue: job.queue,
        state: job.state,
        scheduledAt: job.scheduledAt.toISOString(),
        duplicate: skipped,
      })),
    },
    results.some((r) => !r.skipped) ? 201 : 200,
  );
}

function claimedJSON({ job, token, leaseExpiresAt }: ClaimedJob) {
  return {
    id: job.id.toString(),
    kind: job.kind,
    args: job.args,
    queue: job.queue,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    token,
    leaseExpiresAt: leaseExpiresAt.toISOString(),
    scheduledAt: job.scheduledAt.toISOString(),
    createdAt: job.createdAt.toISOString(),
    attemptedAt: job.attemptedAt?.toISOString() ?? null,
    metadata: job.metadata,
    tags: job.tags,
    errors: job.errors,
  };
}

/** `POST /v1/claims`: claims with a lease, waiting up to `waitMs` for jobs when there are none. */
export async function claim(
  request: Request,
  state: ApiState,
  settings: ApiSettings,
): Promise<Response> {
  const parsed = await body(request, settings, (value) =>
    validate(settings.schemas.ClaimRequest, value),
  );
  if (!parsed.ok) return problemResponse(parsed.problem);
  const { queues, kinds, limit, leaseMs, waitMs, worker } = parsed.value;
  const until = Date.now() + waitMs;
  const signal = request.signal;
  for (;;) {
    // A caller that went away would leave its jobs leased to nobody until the lease passes.
    if (signal?.aborted) return jsonResponse({ jobs: [] });
    const jobs = await state.remote.claim({ queues, kinds, limit, leaseMs, worker });
    const left = until - Date.now();
    if (jobs.length > 0 || left <= 0 || settings.isClosing())
      return jsonResponse({ jobs: jobs.map(claimedJSON) });
    await settings.waiter.wait(Math.min(CLAIM_POLL_MS, left), signal);
  }
}

/** `123` as a job id, or undefined for anything that is not one. */
function jobId(text: string | undefined): bigint | undefined {
  return text !== undefined && /^[1-9][0-9]{0,18}$/.test(text) && BigInt(text) <= 2n ** 63n - 1n
    ? BigInt(text)
    : undefined;
}

function settledResponse(id: bigint, settled: Settled): Response {
  if (settled.ok) {
    return jsonResponse({
      id: id.toString(),
      state: settled.state,
      ...(settled.leaseExpiresAt ? { leaseExpiresAt: settled.leaseExpiresAt.toISOString() } : {}),
      ...(settled.cancelRequested === undefined
        ? {}
        : { cancelRequested: settled.cancelRequested }),
    });
  }
  if (settled.problem === 'not-found') return notFound(`no job has id ${id}`);
  return problemResponse({
    type: PROBLEM_TYPES.leaseLost,
    title: 'This attempt no longer holds the job',
    status: 409,
    detail: settled.detail,
    state: settled.state,
  });
}

export const notFound = (detail: string): Response =>
  problemResponse({ type: PROBLEM_TYPES.notFound, title: 'Not found', status: 404, detail });

export type OutcomeName = 'complete' | 'fail' | 'snooze' | 'lease';

/** `POST /v1/jobs/{id}/complete`, `/fail`, `/snooze` and `/lease`, fenced by the claim's token. */
export async function answer(
  name: OutcomeName,
  idText: string | undefined,
  request: Request,
  state: ApiState,
  settings: ApiSettings,
): Promise<Response> {
  const id = jobId(idText);
  if (id === undefined) return notFound(`no job has id '${idText}': ids are positive integers`);
  const { schemas } = settings;
  const { remote } = state;
  let settled: Settled;
  try {
    switch (name) {
      case 'complete': {
        const parsed = await body(request, settings, (v) => validate(schemas.CompleteRequest, v));
        if (!parsed.ok) return problemResponse(parsed.problem);
        settled = await remote.complete(id, parsed.value.token, parsed.value.output);
        break;
      }
      case 'fail': {
        const parsed = await body(request, settings, (v) => validate(schemas.FailRequest, v));
        if (!parsed.ok) return problemResponse(parsed.problem);
        const { token, error, trace, retryAt, discard } = parsed.value;
        settled = await remote.fail(id, token, {
          error,
          trace,
          retryAt: retryAt === undefined ? undefined : new Date(retryAt),
          discard,
        });
        break;
      }
      case 'snooze': {
        const parsed = await body(request, settings, (v) => validate(schemas.SnoozeRequest, v));
        if (!parsed.ok) return problemResponse(parsed.problem);
        settled = await remote.snooze(id, parsed.value.token, parsed.value.delayMs);
        break;
      }
      case 'lease': {
        const parsed = await body(request, settings, (v) => validate(schemas.LeaseRequest, v));
        if (!parsed.ok) return problemResponse(parsed.problem);
        settled = await remote.extend(id, parsed.value.token, parsed.value.extendMs);
        break;
      }
    }
  } catch (error) {
    const problem = problemFromValidationError(error);
    if (problem) return problemResponse(problem);
    throw error;
  }
  return settledResponse(id, settled);
}
