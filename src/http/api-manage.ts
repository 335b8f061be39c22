/**
 * The REST API's reading and managing routes, on the management API (`createAdmin`): read jobs
 * (`GET /v1/jobs` with every filter of `jobs.list` as query parameters, `GET /v1/jobs/{id}`),
 * act on one (`POST /v1/jobs/{id}/cancel`, `/retry`, `DELETE /v1/jobs/{id}`) or on those a
 * filter matches (`POST /v1/jobs/cancel`, `/retry`, `/delete` with `{ filter, max }`), and pause
 * or resume queues. Reading takes the `read` scope, everything else `admin`.
 *
 * Path and query parameters are checked by their zod schemas before anything reaches the
 * database: a bad one is a 400 naming it by a pointer into the parameters (`#/id`,
 * `#/state/1`); a bad body is a 422 pointing into the body, as elsewhere in the API.
 */

import type { Hono } from 'hono/tiny';
import type { Admin, BulkResult, JobActionResult, JobListOptions } from '../admin/api.js';
import type { JobFilter, TimeRange } from '../admin/job-filter.js';
import { isNotFoundError } from '../errors.js';
import type { Job } from '../job.js';
import { shownLeaseEntry } from '../ops/lease.js';
import type { Scope } from './api-auth.js';
import {
  jsonResponse,
  PROBLEM_TYPES,
  type Problem,
  problemFromValidationError,
  problemResponse,
} from './api-problem.js';
import { type Parsed, readJsonBody, validate } from './api-request.js';
import { notFound } from './api-routes.js';
import type { ApiSchemas } from './api-schemas.js';

export interface ManageContext {
  /** The environment's management API if the caller's key has `scope`, or the 401/403/500. */
  open(request: Request, env: unknown, scope: Scope): Promise<Admin | Response>;
  schemas(): ApiSchemas;
  readonly maxBodyBytes: number;
}

/** A job as the API answers it: the id as a string, times as RFC 3339, args exact. */
export function jobJSON(job: Job) {
  return {
    id: job.id.toString(),
    kind: job.kind,
    args: job.args,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    attemptedAt: job.attemptedAt?.toISOString() ?? null,
    // A lease's nonce is the fence of its attempt: shown, any caller could answer for it.
    attemptedBy: job.attemptedBy.map(shownLeaseEntry),
    createdAt: job.createdAt.toISOString(),
    finalizedAt: job.finalizedAt?.toISOString() ?? null,
    scheduledAt: job.scheduledAt.toISOString(),
    errors: job.errors,
    metadata: job.metadata,
    tags: job.tags,
  };
}

/** A problem about the request's parameters: 400, not the 422 of a body. */
function parameterProblem(problem: Problem): Response {
  return problemResponse({ ...problem, status: 400 });
}

// The management API names a range `createdAt.from`; the query names it `createdFrom`.
const RANGE_POINTER = /^#\/(created|scheduled|finalized)At(?:\/(from|to))?(?=\/|$)/;

/**
 * A management API's `ValidationError` about the parameters as a 400 naming them, or the
 * error thrown on.
 */
function refusedParameters(error: unknown): Response {
  const problem = problemFromValidationError(error);
  if (!problem) throw error;
  for (const field of problem.errors ?? [])
    field.pointer = field.pointer.replace(
      RANGE_POINTER,
      (_m, what: string, bound: string | undefined) => `#/${what}${bound === 'to' ? 'To' : 'From'}`,
    );
  return parameterProblem(problem);
}

/** The query string as an object: a parameter that may repeat is a list, each other one text. */
function queryObject(url: string, lists: ReadonlySet<string>): Record<string, unknown> {
  const params = new URL(url).searchParams;
  const query: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    // A repeated single-valued parameter stays a list, which its schema refuses by name.
    query[key] = lists.has(key) || values.length > 1 ? values : values[0];
  }
  return query;
}

const LIST_PARAMETERS = new Set(['state', 'kind', 'queue', 'priority', 'tag', 'id']);

type ListQuery = ReturnType<ApiSchemas['JobListQuery']['parse']>;

function range(from: string | undefined, to: string | undefined): TimeRange | undefined {
  if (from === undefined && to === undefined) return undefined;
  return {
    ...(from === undefined ? {} : { from: new Date(from) }),
    ...(to === undefined ? {} : { to: new Date(to) }),
  };
}

/** Only what was given. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The query's filters, order and page as `jobs.list` takes them. */
function listOptions(query: ListQuery): JobListOptions {
  return defined({
    state: query.state as JobListOptions['state'],
    kind: query.kind,
    queue: query.queue,
    priority: query.priority,
    tag: query.tag,
    id: query.id,
    args: query.args,
    metadata: query.metadata,
    createdAt: range(query.createdFrom, query.createdTo),
    scheduledAt: range(query.scheduledFrom, query.scheduledTo),
    finalizedAt: range(query.finalizedFrom, query.finalizedTo),
    orderBy: query.orderBy,
    order: query.order,
    limit: query.limit,
    cursor: query.cursor,
  });
}

type BodyFilter = ReturnType<ApiSchemas['BulkRequest']['parse']>['filter'];

/** A body's filter as the management API takes it: ranges as Dates. */
function filterOf(filter: BodyFilter): JobFilter {
  const { createdAt, scheduledAt, finalizedAt, ...rest } = filter;
  return defined({
    ...(rest as JobFilter),
    createdAt: createdAt && range(createdAt.from, createdAt.to),
    scheduledAt: scheduledAt && range(scheduledAt.from, scheduledAt.to),
    finalizedAt: finalizedAt && range(finalizedAt.from, finalizedAt.to),
  });
}

function actionJSON<O extends string>(result: JobActionResult<O>) {
  return {
    id: result.id.toString(),
    outcome: result.outcome,
    job: result.job && jobJSON(result.job),
  };
}

function bulkJSON<O extends string>(result: BulkResult<O>) {
  return { ...result, ids: result.ids.map(String) };
}

type Action = 'cancel' | 'retry' | 'delete';

// biome-ignore lint/suspicious/noExplicitAny: any app's bindings
export function manageRoutes(app: Hono<any>, context: ManageContext): void {
  /** The path's job id, or the 400 naming it. */
  const pathId = (text: string | undefined): bigint | Response => {
    const parsed = validate(context.schemas().JobId, text, ['id']);
    return parsed.ok ? BigInt(parsed.value) : parameterProblem(parsed.problem);
  };

  app.get('/v1/jobs', async (c) => {
    const admin = await context.open(c.req.raw, c.env, 'read');
    if (admin instanceof Response) return admin;
    const parsed = validate(
      context.schemas().JobListQuery,
      queryObject(c.req.url, LIST_PARAMETERS),
    );
    if (!parsed.ok) return parameterProblem(parsed.problem);
    let page: Awaited<ReturnType<Admin['jobs']['list']>>;
    try {
      page = await admin.jobs.list(listOptions(parsed.value));
    } catch (error) {
      return refusedParameters(error);
    }
    return jsonResponse({
      jobs: page.jobs.map(jobJSON),
      nextCursor: page.nextCursor,
      truncated: page.truncated,
    });
  });

  app.get('/v1/jobs/:id', async (c) => {
    const admin = await context.open(c.req.raw, c.env, 'read');
    if (admin instanceof Response) return admin;
    const id = pathId(c.req.param('id'));
    if (id instanceof Response) return id;
    try {
      return jsonResponse(jobJSON(await admin.jobs.get(id)));
    } catch (error) {
      if (isNotFoundError(error)) return notFound(`no job has id ${id}`);
      throw error;
    }
  });

  const actOnOne = async (action: Action, admin: Admin, id: bigint): Promise<Response> => {
    const [result] = await admin.jobs[action]([id]);
    if (!result || result.outcome === 'notFound') return notFound(`no job has id ${id}`);
    if (action === 'delete' && result.outcome === 'running')
      return problemResponse({
        type: PROBLEM_TYPES.jobRunning,
        title: 'The job is running',
        status: 409,
        detail: `job ${id} is running and was not deleted; cancel it first, or delete it once it has finished`,
        state: 'running',
      });
    return jsonResponse(actionJSON(result));
  };

  app.delete('/v1/jobs/:id', async (c) => {
    const admin = await context.open(c.req.raw, c.env, 'admin');
    if (admin instanceof Response) return admin;
    const id = pathId(c.req.param('id'));
    return id instanceof Response ? id : actOnOne('delete', admin, id);
  });

  for (const action of ['cancel', 'retry'] as const) {
    app.post(`/v1/jobs/:id/${action}`, async (c) => {
      const admin = await context.open(c.req.raw, c.env, 'admin');
      if (admin instanceof Response) return admin;
      const id = pathId(c.req.param('id'));
      return id instanceof Response ? id : actOnOne(action, admin, id);
    });
  }

  for (const action of ['cancel', 'retry', 'delete'] as const) {
    app.post(`/v1/jobs/${action}`, async (c) => {
      const admin = await context.open(c.req.raw, c.env, 'admin');
      if (admin instanceof Response) return admin;
      const read = await readJsonBody(c.req.raw, context.maxBodyBytes);
      const parsed: Parsed<ReturnType<ApiSchemas['BulkRequest']['parse']>> = read.ok
        ? validate(context.schemas().BulkRequest, read.value)
        : read;
      if (!parsed.ok) return problemResponse(parsed.problem);
      const filter = filterOf(parsed.value.filter);
      const options = parsed.value.max === undefined ? undefined : { max: parsed.value.max };
      try {
        const result =
          action === 'cancel'
            ? await admin.jobs.cancelMany(filter, options)
            : action === 'retry'
              ? await admin.jobs.retryMany(filter, options)
              : await admin.jobs.deleteMany(filter, options);
        return jsonResponse(bulkJSON<string>(result));
      } catch (error) {
        const problem = problemFromValidationError(error);
        if (problem) return problemResponse(problem);
        throw error;
      }
    });
  }

  for (const action of ['pause', 'resume'] as const) {
    app.post(`/v1/queues/:name/${action}`, async (c) => {
      const admin = await context.open(c.req.raw, c.env, 'admin');
      if (admin instanceof Response) return admin;
      const name = c.req.param('name');
      const parsed = validate(context.schemas().QueueName, name, ['name']);
      if (!parsed.ok) return parameterProblem(parsed.problem);
      try {
        await admin.queues[action](parsed.value);
      } catch (error) {
        if (isNotFoundError(error)) return notFound(`no queue is named '${name}'`);
        return refusedParameters(error);
      }
      return jsonResponse({ name: parsed.value, paused: action === 'pause' });
    });
  }
}
