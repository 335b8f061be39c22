/**
 * `eddy/otel` against the OpenTelemetry SDK's in-memory exporter and the real PostgreSQL: a span
 * per insert (producer) and per attempt (consumer), the messaging semantic conventions, and the
 * trace context carried in the job's metadata where River's otelriver carries it, so an attempt
 * links to the insert whichever language made it; remote attempts over the REST API too.
 */

import { createRequire } from 'node:module';
import { SpanKind, SpanStatusCode, type TracerProvider } from '@opentelemetry/api';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createTracing, spanContextFromMetadata } from '../adapters/otel/index.js';
import { createClient } from '../src/client.js';
import { createHttpApi } from '../src/http/api.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { createDatabase } from './support/postgres.js';

// The SDK is CommonJS: loaded with require, which also finds a copy on NODE_PATH.
const sdk = createRequire(import.meta.url)('@opentelemetry/sdk-trace-base') as {
  BasicTracerProvider: new (config: {
    spanProcessors: unknown[];
  }) => TracerProvider & {
    shutdown(): Promise<void>;
  };
  SimpleSpanProcessor: new (exporter: unknown) => unknown;
  InMemorySpanExporter: new () => {
    getFinishedSpans(): FinishedSpan[];
    reset(): void;
  };
};

interface FinishedSpan {
  name: string;
  kind: SpanKind;
  attributes: Record<string, unknown>;
  links: { context: { traceId: string; spanId: string } }[];
  status: { code: SpanStatusCode; message?: string };
  spanContext(): { traceId: string; spanId: string };
  parentSpanContext?: { spanId: string };
}

const KEY = 'otel-test-key-0123456789abcdef0123456789';
const exporter = new sdk.InMemorySpanExporter();
const provider = new sdk.BasicTracerProvider({
  spanProcessors: [new sdk.SimpleSpanProcessor(exporter)],
});

let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;

beforeAll(async () => {
  database = await createDatabase('eddy_otel');
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await migrate(nodePostgres(pool));
});

afterAll(async () => {
  await provider.shutdown();
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  exporter.reset();
  await pool.query('TRUNCATE river_job');
});

const spans = (kind: SpanKind) => exporter.getFinishedSpans().filter((s) => s.kind === kind);

describe('eddy/otel', () => {
  it('makes a span per insert and per attempt, the attempt linked to the insert through the metadata', async () => {
    const tracing = createTracing({ tracerProvider: provider });
    const driver = nodePostgres(pool);
    const eddy = tracing.traceClient(createClient({ driver }));
    const { job } = await eddy.insert(
      'traced',
      { n: 1 },
      { queue: 'email', metadata: { own: 'kept' } },
    );

    const [insert] = spans(SpanKind.PRODUCER);
    expect(insert?.name).toBe('insert email');
    expect(insert?.attributes).toMatchObject({
      'messaging.system': 'river',
      'messaging.operation.name': 'insert',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'email',
      'messaging.message.id': job.id.toString(),
    });
    const { rows } = await pool.query('SELECT metadata FROM river_job WHERE id = $1', [job.id]);
    const { traceId, spanId } = insert?.spanContext() ?? {};
    expect(rows[0].metadata).toEqual({ own: 'kept', traceparent: `00-${traceId}-${spanId}-01` });

    let inside: string | undefined;
    const runner = createRunner({
      driver,
      queues: { email: {} },
      hooks: tracing.hooks,
      workers: [
        defineWorker('traced', async (claimed) => {
          // A span made inside the worker, in the attempt's context, is its child.
          const child = provider
            .getTracer('app')
            .startSpan('send', {}, tracing.contextFor(claimed));
          child.end();
          inside = child.spanContext().traceId;
          if (claimed.attempt === 1) throw new Error('smtp down');
        }),
      ],
    });
    await runner.tick({ budgetMs: 10_000 });
    const [failed] = spans(SpanKind.CONSUMER);
    expect(failed?.name).toBe('work email');
    expect(failed?.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.message.id': job.id.toString(),
      kind: 'traced',
      attempt: 1,
      status: 'error',
      'eddy.outcome': 'retry',
    });
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'smtp down' });
    expect(failed?.links.map((l) => l.context)).toEqual([
      expect.objectContaining({ traceId, spanId }),
    ]);
    // Its own trace (as otelriver), and the worker's span inside it.
    expect(failed?.spanContext().traceId).not.toBe(traceId);
    expect(inside).toBe(failed?.spanContext().traceId);
  });

  it("links an attempt to a span that inserted the job elsewhere (Go River's otelriver writes the same keys)", async () => {
    const tracing = createTracing({ tracerProvider: provider });
    const goTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const goSpan = '00f067aa0ba902b7';
    // What otelriver's InsertMany leaves in a job it inserted with EnableTracePropagation.
    await pool.query(
      `INSERT INTO river_job (kind, args, queue, max_attempts, metadata) VALUES ('from_go', '{}', 'default', 25, $1)`,
      [JSON.stringify({ traceparent: `00-${goTrace}-${goSpan}-01`, tracestate: 'vendor=1' })],
    );
    const runner = createRunner({
      driver: nodePostgres(pool),
      hooks: tracing.hooks,
      workers: [defineWorker('from_go', async () => ({ ok: true }))],
    });
    await runner.tick({ budgetMs: 10_000 });
    const [work] = spans(SpanKind.CONSUMER);
    expect(work?.status.code).toBe(SpanStatusCode.OK);
    expect(work?.links[0]?.context).toMatchObject({ traceId: goTrace, spanId: goSpan });
    expect(spanContextFromMetadata({ traceparent: 'garbage' })).toBeUndefined();
  });

  it("traces the REST API's inserts and remote attempts with the same hooks", async () => {
    const tracing = createTracing({ tracerProvider: provider });
    const driver = nodePostgres(pool);
    const api = createHttpApi({
      driver,
      keys: [{ key: KEY, scopes: ['admin'] }],
      client: tracing.traceClient(createClient({ driver })),
      hooks: tracing.hooks,
    });
    const post = async (path: string, body: unknown) =>
      (
        await api.fetch(
          new Request(`http://eddy.test${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
        )
      ).json();
    await post('/v1/jobs', { kind: 'remote', args: {} });
    const { jobs } = await post('/v1/claims', { kinds: ['remote'] });
    await post(`/v1/jobs/${jobs[0].id}/complete`, { token: jobs[0].token });

    const [insert] = spans(SpanKind.PRODUCER);
    const [work] = spans(SpanKind.CONSUMER);
    expect(work?.attributes).toMatchObject({
      kind: 'remote',
      status: 'ok',
      'eddy.outcome': 'completed',
    });
    expect(insert?.name).toBe('insert default');
    expect(work?.links[0]?.context.spanId).toBe(insert?.spanContext().spanId);
  });
});
