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
const REFUSALS = {
  '401': PROBLEM('No API key, or an unknown one.'),
  '403': PROBLEM('The API key lacks the scope this operation needs.'),
  '413': PROBLEM('The body is larger than the API accepts.'),
  '415': PROBLEM('The body is not JSON.'),
  '422': PROBLEM('The request is not valid; `errors` names each field at fault.'),
};

const ID_PARAMETER = {
  name: 'id',
  in: 'path',
  required: true,
  description: "The job's id (an int8, as a string).",
  schema: { type: 'string', pattern: '^[1-9][0-9]{0,18}$' },
};

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
        "Produce, claim and commit River-compatible jobs from any language. Claims lease their jobs; every answer about an attempt is fenced by its claim's token, so a late answer after a rescue changes nothing (409). Errors are RFC 9457 problem details.",
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: info.basePath === '' ? '/' : info.basePath }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'produce', description: 'Insert jobs (scope `insert`).' },
      { name: 'work', description: 'Claim jobs and answer for them (scope `work`).' },
      // Reading and managing (scopes `read` and `admin`) come with the management API.
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
        // GET /v1/jobs (list, the management API's filters and cursor): issue 12.
      },
      // GET /v1/jobs/{id}, DELETE /v1/jobs/{id}, POST /v1/jobs/{id}/cancel and /retry,
      // POST /v1/queues/{name}/pause and /resume: reserved for the management API (issue 12).
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
