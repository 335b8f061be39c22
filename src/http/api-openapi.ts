/**
 * The OpenAPI 3.1 document of the REST API, generated from the zod schemas that validate its
 * requests (`api-schemas.ts`). zod writes JSON Schema draft 2020-12 (`z.toJSONSchema`), which
 * is OpenAPI 3.1's own schema dialect, so every component is zod's output as is; this module
 * only lays out the paths around them.
 */

import * as z from 'zod';
import type { ApiSchemas } from './api-schemas.js';

const REF = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const JSON_BODY = (id: string) => ({ content: { 'application/json': { schema: REF(id) } } });
const PROBLEM = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: REF('Problem') } },
});

/** The answers every authenticated operation may give. */
const AUTH_REFUSALS = {
  '401': PROBLEM('No API key, or an unknown one.'),
  '403': PROBLEM('The API key lacks the scope this operation needs.'),
};

/** ... and every one that reads a body. */
const REFUSALS = {
  ...AUTH_REFUSALS,
  '413': PROBLEM('The body is larger than the API accepts.'),
  '415': PROBLEM('The body is not JSON.'),
  '422': PROBLEM('The request is not valid; `errors` names each field at fault.'),
};

/** ... and every one with path or query parameters, checked before the database. */
const PARAMETER_REFUSAL = {
  '400': PROBLEM(
    'A path or query parameter is not valid; `errors` names each by a pointer into the parameters (`#/id`, `#/state/1`).',
  ),
};

const ID_PARAMETER = {
  name: 'id',
  in: 'path',
  required: true,
  description: "The job's id (an int8, as a string).",
  schema: REF('JobId'),
};

const QUEUE_PARAMETER = {
  name: 'name',
  in: 'path',
  required: true,
  description: "The queue's name, or `*` for every queue.",
  schema: REF('QueueName'),
};

const NOT_FOUND_JOB = { '404': PROBLEM('No job has this id.') };

/** `POST /v1/jobs/{id}/cancel` and `/retry`: the outcome for the job. */
function jobAction(operationId: string, summary: string, response: string, description: string) {
  return {
    post: {
      operationId,
      summary,
      description,
      tags: ['manage'],
      security: [{ apiKey: ['admin'] }],
      parameters: [ID_PARAMETER],
      responses: {
        '200': { description: 'What the action did to the job.', ...JSON_BODY(response) },
        ...AUTH_REFUSALS,
        ...PARAMETER_REFUSAL,
        ...NOT_FOUND_JOB,
      },
    },
  };
}

/** `POST /v1/jobs/cancel`, `/retry` and `/delete`: the action on jobs a filter matches. */
function bulkAction(operationId: string, summary: string, response: string, description: string) {
  return {
    post: {
      operationId,
      summary,
      description,
      tags: ['manage'],
      security: [{ apiKey: ['admin'] }],
      requestBody: { required: true, ...JSON_BODY('BulkRequest') },
      responses: {
        '200': {
          description: 'What was done; call again while `hasMore`.',
          ...JSON_BODY(response),
        },
        ...REFUSALS,
      },
    },
  };
}

function queueAction(operationId: string, summary: string, description: string) {
  return {
    post: {
      operationId,
      summary,
      description,
      tags: ['manage'],
      security: [{ apiKey: ['admin'] }],
      parameters: [QUEUE_PARAMETER],
      responses: {
        '200': { description: 'Done.', ...JSON_BODY('QueueStateResponse') },
        ...AUTH_REFUSALS,
        ...PARAMETER_REFUSAL,
        '404': PROBLEM('No queue has this name (River knows a queue once a client has worked it).'),
      },
    },
  };
}

/** The query parameters an object schema's properties describe, each as zod wrote it. */
function queryParameters(schema: unknown): Record<string, unknown>[] {
  const properties = (schema as { properties?: Record<string, Record<string, unknown>> })
    .properties;
  return Object.entries(properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: 'query',
      required: false,
      ...(description === undefined ? {} : { description }),
      // A list is the parameter repeated: `state=available&state=retryable`.
      ...(rest.type === 'array' ? { style: 'form', explode: true } : {}),
      schema: rest,
    };
  });
}

function outcome(
  operationId: string,
  summary: string,
  request: string,
  response: string,
  description: string,
) {
  return {
    post: {
      operationId,
      summary,
      description,
      tags: ['work'],
      security: [{ apiKey: ['work'] }],
      parameters: [ID_PARAMETER],
      requestBody: { required: true, ...JSON_BODY(request) },
      responses: {
        '200': { description: 'Recorded.', ...JSON_BODY(response) },
        ...REFUSALS,
        '404': PROBLEM('No job has this id.'),
        '409': PROBLEM(
          "This attempt no longer holds the job (its lease passed and it was rescued, or the job was finalized meanwhile): nothing was changed. `state` says the job's state now.",
        ),
      },
    },
  };
}

export interface OpenApiInfo {
  /** Where the API is mounted (`/api/eddy`), the document's server URL. */
  basePath: string;
  version: string;
}

/** Builds the document. */
export function openApiDocument(schemas: ApiSchemas, info: OpenApiInfo): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [name, schema] of Object.entries(schemas)) registry.add(schema, { id: name });
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const components: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(generated.schemas)) {
    // Each component is a subschema of the document, not a resource of its own.
    const { $schema: _dialect, $id: _id, ...rest } = schema as Record<string, unknown>;
    components[name] = rest;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Eddy REST API',
      version: info.version,
      description:
        "Produce, claim and commit River-compatible jobs from any language, and read and manage them. Claims lease their jobs; every answer about an attempt is fenced by its claim's token, so a late answer after a rescue changes nothing (409). Errors are RFC 9457 problem details.",
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: info.basePath === '' ? '/' : info.basePath }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'produce', description: 'Insert jobs (scope `insert`).' },
      { name: 'work', description: 'Claim jobs and answer for them (scope `work`).' },
      { name: 'read', description: 'Read jobs (scope `read`).' },
      {
        name: 'manage',
        description:
          "Cancel, retry and delete jobs, pause and resume queues (scope `admin`), with River's semantics.",
      },
    ],
    paths: {
      '/v1/jobs': {
        post: {
          operationId: 'insertJobs',
          summary: 'Insert one job or many',
          description:
            'One statement, however many jobs. A unique job that already exists is not inserted again: it comes back with `duplicate: true` and the existing id. Answers 201 when a job was inserted, 200 when every one was a duplicate.',
          tags: ['produce'],
          security: [{ apiKey: ['insert'] }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [REF('InsertJobsRequest'), REF('JobInsert')] },
              },
            },
          },
          responses: {
            '201': { description: 'Inserted.', ...JSON_BODY('InsertJobsResponse') },
            '200': {
              description: 'Every job was a duplicate.',
              ...JSON_BODY('InsertJobsResponse'),
            },
            ...REFUSALS,
          },
        },
        get: {
          operationId: 'listJobs',
          summary: 'List jobs by filter, a page at a time',
          description:
            'Newest first unless ordered otherwise. Every filter given must hold; one repeated matches any of its values (`tag`: every one). Pages hold up to 1000 jobs (default 100); pass `nextCursor` as `cursor` for the next. Filters no index serves (tag, priority, a created or scheduled range) are checked over at most 10,000 jobs a page: a page that reached that bound says `truncated`.',
          tags: ['read'],
          security: [{ apiKey: ['read'] }],
          parameters: queryParameters(components.JobListQuery),
          responses: {
            '200': { description: 'A page of jobs.', ...JSON_BODY('JobPage') },
            ...AUTH_REFUSALS,
            ...PARAMETER_REFUSAL,
          },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          operationId: 'getJob',
          summary: 'Read one job',
          tags: ['read'],
          security: [{ apiKey: ['read'] }],
          parameters: [ID_PARAMETER],
          responses: {
            '200': { description: 'The job.', ...JSON_BODY('Job') },
            ...AUTH_REFUSALS,
            ...PARAMETER_REFUSAL,
            ...NOT_FOUND_JOB,
          },
        },
        delete: {
          operationId: 'deleteJob',
          summary: 'Delete a job',
          description:
            "River's JobDelete: the job is deleted unless it is running (409, `state: running`).",
          tags: ['manage'],
          security: [{ apiKey: ['admin'] }],
          parameters: [ID_PARAMETER],
          responses: {
            '200': { description: 'Deleted: the job as it was.', ...JSON_BODY('DeleteResult') },
            ...AUTH_REFUSALS,
            ...PARAMETER_REFUSAL,
            ...NOT_FOUND_JOB,
            '409': PROBLEM('The job is running and was not deleted (`state` says so).'),
          },
        },
      },
      '/v1/jobs/{id}/cancel': jobAction(
        'cancelJob',
        'Cancel a job',
        'CancelResult',
        "River's JobCancel: a job not yet finalized is cancelled at once unless it is running; a running one keeps running until its runner aborts it (`cancelRequested`). A finalized job is left alone (`alreadyFinalized`).",
      ),
      '/v1/jobs/{id}/retry': jobAction(
        'retryJob',
        'Retry a job',
        'RetryResult',
        "River's JobRetry: made available now (a job whose attempts are used up gets one more). A running job, and an available one already due, are left alone.",
      ),
      '/v1/jobs/cancel': bulkAction(
        'cancelJobs',
        'Cancel the jobs a filter matches',
        'CancelManyResult',
        'Cancels up to `max` unfinalized jobs the filter matches, in id order, each as `/v1/jobs/{id}/cancel` does.',
      ),
      '/v1/jobs/retry': bulkAction(
        'retryJobs',
        'Retry the jobs a filter matches',
        'RetryManyResult',
        'Retries up to `max` jobs the filter matches that are neither running nor already due, in id order.',
      ),
      '/v1/jobs/delete': bulkAction(
        'deleteJobs',
        'Delete the jobs a filter matches',
        'DeleteManyResult',
        "Deletes up to `max` jobs the filter matches that are not running, in id order (River's JobDeleteMany).",
      ),
      '/v1/queues/{name}/pause': queueAction(
        'pauseQueue',
        'Pause a queue',
        "River's QueuePause: no job of the queue is claimed until it is resumed (`*`: every queue); runners are told at once.",
      ),
      '/v1/queues/{name}/resume': queueAction(
        'resumeQueue',
        'Resume a queue',
        "River's QueueResume (`*`: every queue).",
      ),
      '/v1/claims': {
        post: {
          operationId: 'claimJobs',
          summary: 'Claim available jobs with a lease',
          description:
            "Claims up to `limit` available jobs of `kinds` from `queues` (priority, then due time, then id; paused queues skipped), each leased for `leaseMs`. Answer each with /complete, /fail or /snooze before its lease passes, or extend it with /lease. A lease that passes is rescued by the next maintenance: the attempt counts as failed and the job is retried with River's backoff.",
          tags: ['work'],
          security: [{ apiKey: ['work'] }],
          requestBody: { required: true, ...JSON_BODY('ClaimRequest') },
          responses: {
            '200': { description: 'The jobs claimed (maybe none).', ...JSON_BODY('ClaimResponse') },
            ...REFUSALS,
          },
        },
      },
      '/v1/jobs/{id}/complete': outcome(
        'completeJob',
        'Complete an attempt',
        'CompleteRequest',
        'SettledResponse',
        'The job is completed; `output` is stored where River keeps it.',
      ),
      '/v1/jobs/{id}/fail': outcome(
        'failJob',
        'Fail an attempt',
        'FailRequest',
        'SettledResponse',
        "Records the error. The job is retried at `retryAt`, by default after River's backoff, or discarded when `discard` is set or its attempts are used up (a cancel requested meanwhile cancels it).",
      ),
      '/v1/jobs/{id}/snooze': outcome(
        'snoozeJob',
        'Snooze an attempt',
        'SnoozeRequest',
        'SettledResponse',
        "Gives the attempt back and schedules the job `delayMs` from now (River's JobSnooze).",
      ),
      '/v1/jobs/{id}/lease': outcome(
        'extendLease',
        "Extend an attempt's lease (a heartbeat)",
        'LeaseRequest',
        'LeaseResponse',
        'The lease becomes `extendMs` from now; the token stays valid. `cancelRequested` tells a worker to stop.',
      ),
    },
    components: {
      schemas: components,
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key as `Authorization: Bearer <key>`. Keys carry scopes: insert, work, read, admin (everything).',
        },
      },
    },
  };
}
