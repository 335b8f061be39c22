/**
 * OpenTelemetry tracing (`@opentelemetry/api`, an optional peer): one span per insert and one
 * per job attempt, after the messaging semantic conventions, with the trace context carried
 * from the insert to its attempts in the job's metadata, where River's own OpenTelemetry
 * middleware carries it (riverqueue/rivercontrib, otelriver, `EnableTracePropagation`): W3C
 * `traceparent` (and `tracestate`) at the top level of `river_job.metadata`. So an attempt Eddy
 * works links to the span that inserted the job in Go, and the other way round.
 *
 * As otelriver does, an attempt's span *links* to the insert's rather than being its child: a
 * job may run minutes or days after it was inserted, and each attempt is a trace of its own.
 * Built on the runner's hooks (`tracing.hooks`) and a wrapper around the client
 * (`tracing.traceClient`); the REST API takes the same hooks for remote attempts.
 *
 * @example
 * ```ts
 * import { createTracing } from 'eddy/otel';
 * const tracing = createTracing({ tracerProvider }); // default: the global provider
 * const eddy = tracing.traceClient(createClient({ driver }));
 * const runner = createRunner({ driver, workers, hooks: tracing.hooks });
 * ```
 */

import {
  type Attributes,
  type Context,
  context as contexts,
  createTraceState,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type {
  AnyJobKind,
  Client,
  Inserter,
  InsertManyItem,
  InsertOptions,
  InsertResult,
  Job,
  JobEndEvent,
  JobStartEvent,
  PreparedInsert,
  RunnerHooks,
} from '../../src/index.js';

/** The instrumentation's name, as OpenTelemetry asks (a package name). */
export const INSTRUMENTATION_NAME = 'eddy/otel';
/** `messaging.system`: River's, as otelriver's semantic metrics name it, so both agree. */
export const MESSAGING_SYSTEM = 'river';

export interface TracingOptions {
  /** Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
  /** A tracer to use as is (wins over `tracerProvider`). */
  tracer?: Tracer;
}

export interface Tracing {
  /** Pass to `createRunner({ hooks })` or `createHttpApi({ hooks })`: a span per attempt. */
  readonly hooks: Required<Pick<RunnerHooks, 'onJobStart' | 'onJobEnd'>>;
  /** The same client, with a span per insert and the trace context in each job's metadata. */
  traceClient<Kinds extends readonly AnyJobKind[]>(client: Client<Kinds>): Client<Kinds>;
  /**
   * The context of a running attempt's span, so spans made inside the worker are its children:
   * `context.with(tracing.contextFor(job), () => ...)`. The active context when unknown.
   */
  contextFor(job: Job): Context;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C `traceparent` for a span context (version 00). */
function traceparentOf(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context a job's metadata carries (River's keys), if any and valid. */
export function spanContextFromMetadata(
  metadata: Record<string, unknown>,
): SpanContext | undefined {
  const header = metadata.traceparent;
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match) return undefined;
  const state = metadata.tracestate;
  const spanContext: SpanContext = {
    traceId: match[1] as string,
    spanId: match[2] as string,
    traceFlags: Number.parseInt(match[3] as string, 16),
    isRemote: true,
    ...(typeof state === 'string' && state !== '' ? { traceState: createTraceState(state) } : {}),
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The metadata keys that carry `span`'s context (River's: `traceparent`, `tracestate`). */
export function traceMetadata(span: SpanContext): Record<string, string> {
  const state = span.traceState?.serialize();
  return { traceparent: traceparentOf(span), ...(state ? { tracestate: state } : {}) };
}

function kindName(kind: InsertManyItem['kind']): string {
  return typeof kind === 'string' ? kind : (kind as AnyJobKind).kind;
}

/** River's `status` and the span's: snoozes are flow control, not failures (as otelriver). */
function ended(span: Span, event: JobEndEvent): void {
  const failed =
    event.outcome === 'retry' || event.outcome === 'discard' || event.outcome === 'cancel';
  span.setAttributes({
    status: failed ? 'error' : 'ok',
    'eddy.outcome': event.outcome,
    'eddy.state': event.state,
    ...(event.outcome === 'cancel' ? { cancel: true } : {}),
    ...(event.outcome === 'snooze' ? { snooze: true } : {}),
  });
  if (failed)
    span.setStatus({ code: SpanStatusCode.ERROR, message: event.error?.error ?? event.outcome });
  else span.setStatus({ code: SpanStatusCode.OK });
}

/**
 * Creates the tracing. Its hooks start an attempt's span when the worker starts and end it when
 * the outcome is recorded (at the worker's start plus its run time).
 */
export function createTracing(options: TracingOptions = {}): Tracing {
  const tracer =
    options.tracer ??
    (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME);
  /** Attempts running now, by job id and attempt. */
  const running = new Map<string, { span: Span; startedAt: number }>();
  const keyOf = (job: Job) => `${job.id}:${job.attempt}`;

  function startInsert(items: readonly InsertManyItem[]) {
    const queues = [...new Set(items.map((i) => i.options?.queue ?? 'default'))];
    const kinds = [...new Set(items.map((i) => kindName(i.kind)))].sort();
    const span = tracer.startSpan(
      queues.length === 1 ? `insert ${queues[0]}` : 'insert',
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': MESSAGING_SYSTEM,
          'messaging.operation.name': 'insert',
          'messaging.operation.type': 'send',
          ...(queues.length === 1 ? { 'messaging.destination.name': queues[0] } : {}),
          ...(items.length > 1 ? { 'messaging.batch.message_count': items.length } : {}),
          kinds,
        },
      },
      contexts.active(),
    );
    const carried = traceMetadata(span.spanContext());
    const traced = items.map((item) => {
      const metadata: InsertOptions['metadata'] = { ...(item.options?.metadata ?? {}), ...carried };
      return { ...item, options: { ...item.options, metadata } };
    });
    return { span, traced };
  }

  function finishInsert(span: Span, results: readonly InsertResult[] | undefined, error?: unknown) {
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.setAttribute('status', 'error');
    } else if (results) {
      const attributes: Attributes = {
        status: 'ok',
        unique_skipped_as_duplicate_count: results.filter((r) => r.skipped).length,
      };
      if (results.length === 1 && results[0])
        attributes['messaging.message.id'] = results[0].job.id.toString();
      span.setAttributes(attributes);
      span.setStatus({ code: SpanStatusCode.OK });
    }
    span.end();
  }

  function traceInserter<I extends Inserter<never>>(inner: I): I {
    const insertMany = async (items: readonly InsertManyItem[]) => {
      const { span, traced } = startInsert(items);
      try {
        const results = await (
          inner.insertMany as (i: readonly InsertManyItem[]) => Promise<InsertResult[]>
        )(traced);
        finishInsert(span, results);
        return results;
      } catch (error) {
        finishInsert(span, undefined, error);
        throw error;
      }
    };
    return {
      ...inner,
      insertMany,
      insert: async (kind: InsertManyItem['kind'], args: unknown, opts?: InsertOptions) =>
        (await insertMany([{ kind, args, ...(opts ? { options: opts } : {}) }]))[0],
    } as unknown as I;
  }

  return {
    hooks: {
      onJobStart(event: JobStartEvent) {
        const { job } = event;
        const linked = spanContextFromMetadata(job.metadata);
        const links: Link[] = linked ? [{ context: linked }] : [];
        const span = tracer.startSpan(
          `work ${job.queue}`,
          {
            kind: SpanKind.CONSUMER,
            links,
            attributes: {
              'messaging.system': MESSAGING_SYSTEM,
              'messaging.operation.name': 'work',
              'messaging.operation.type': 'process',
              'messaging.destination.name': job.queue,
              'messaging.message.id': job.id.toString(),
              // otelriver's own attributes, so dashboards built for Go River read these too.
              id: job.id.toString(),
              kind: job.kind,
              queue: job.queue,
              attempt: job.attempt,
              priority: job.priority,
              tag: job.tags,
              created_at: job.createdAt.toISOString(),
              scheduled_at: job.scheduledAt.toISOString(),
              'eddy.queue_wait_ms': event.queueWaitMs,
            },
          },
          // A root: the insert is linked, not a parent (see above).
          trace.deleteSpan(contexts.active()),
        );
        running.set(keyOf(job), { span, startedAt: Date.now() });
      },
      onJobEnd(event: JobEndEvent) {
        const key = keyOf(event.job);
        const attempt = running.get(key);
        if (!attempt) return; // handed back unstarted: never worked
        running.delete(key);
        ended(attempt.span, event);
        attempt.span.end(new Date(attempt.startedAt + event.runMs));
      },
    },
    traceClient(client) {
      const bound = traceInserter(client as unknown as Inserter<never>);
      return {
        ...client,
        insert: bound.insert,
        insertMany: bound.insertMany,
        with: (tx) => traceInserter(client.with(tx) as unknown as Inserter<never>) as never,
        async prepareInsertMany(items): Promise<PreparedInsert> {
          // The statement runs in the caller's batch: the span covers building it.
          const { span, traced } = startInsert(items as readonly InsertManyItem[]);
          try {
            const prepared = await client.prepareInsertMany(traced as never);
            finishInsert(span, []);
            return prepared;
          } catch (error) {
            finishInsert(span, undefined, error);
            throw error;
          }
        },
      } as typeof client;
    },
    contextFor(job) {
      const attempt = running.get(keyOf(job));
      return attempt ? trace.setSpan(contexts.active(), attempt.span) : contexts.active();
    },
  };
}
