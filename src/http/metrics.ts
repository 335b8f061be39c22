/**
 * Prometheus metrics: counters and histograms fed by the runner's hooks (and by the REST API's
 * remote attempts and inserts), and gauges read from the database in one statement at each
 * scrape, written in Prometheus' text exposition format (version 0.0.4).
 *
 * Names follow River's OpenTelemetry middleware (riverqueue/rivercontrib, otelriver) where it
 * has one, converted as OpenTelemetry's Prometheus exporter converts them (dots to underscores,
 * the unit appended, `_total` on counters): `river.work_count` → `river_work_count_total`,
 * `river.work_duration_histogram` (seconds) → `river_work_duration_histogram_seconds`,
 * `river.insert_count` → `river_insert_count_total`. What River has no metric for is `eddy_…`.
 *
 * The counters live in this process: they serve a long-lived one (`eddy serve`, the Node
 * loop). A serverless invocation's counters die with it; there, scrape the gauges (any
 * deployment's `/metrics` reads them from the database) and send the hooks' events elsewhere.
 */

import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { JOB_STATES } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { readJobGauges } from '../ops/job-gauges.js';
import type { JobEndEvent, JobStartEvent, RunnerHooks } from '../runner/hooks.js';
import type { TickStats } from '../runner/runner.js';

/** Prometheus' default buckets, extended to the minutes a job may take (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

export interface MetricsOptions {
  /** Histogram bucket bounds, in seconds. Default `DEFAULT_BUCKETS`. */
  buckets?: readonly number[];
}

export interface ScrapeOptions {
  schema?: string | undefined;
  /** The clock the database sees (tests). */
  now?: (() => Date) | undefined;
}

export interface Metrics {
  /** Pass to `createRunner({ hooks })` (and `createHttpApi({ metrics })` passes them on). */
  readonly hooks: Required<Pick<RunnerHooks, 'onJobStart' | 'onJobEnd' | 'onTick'>>;
  /** Counts an insert's results (the REST API calls it). */
  recordInsert(results: readonly { skipped: boolean }[]): void;
  /** The text a scrape gets: the counters, then the gauges read now through `driver`. */
  render(driver: Driver, options?: ScrapeOptions): Promise<string>;
}

type Labels = Record<string, string>;

/** Label values escaped as the format asks: backslash, double quote, newline. */
function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([name, value]) =>
      `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
}

class Counter {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly family: Family) {}
  add(labels: Labels, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }
  lines(): string[] {
    return [...this.values.values()].map(
      ({ labels, value }) => `${this.family.name}${labelText(labels)} ${number(value)}`,
    );
  }
}

class Histogram {
  readonly values = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly family: Family,
    readonly buckets: readonly number[],
  ) {}
  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let entry = this.values.get(key);
    if (!entry) {
      entry = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.values.set(key, entry);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound) (entry.counts[i] as number)++;
    });
    entry.sum += value;
    entry.count++;
  }
  lines(): string[] {
    const { name } = this.family;
    return [...this.values.values()].flatMap(({ labels, counts, sum, count }) => [
      ...this.buckets.map(
        (bound, i) =>
          `${name}_bucket${labelText({ ...labels, le: number(bound) })} ${counts[i] as number}`,
      ),
      `${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`,
      `${name}_sum${labelText(labels)} ${number(sum)}`,
      `${name}_count${labelText(labels)} ${count}`,
    ]);
  }
}

function section(family: Family, lines: string[]): string {
  return [`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`, ...lines]
    .map((line) => `${line}\n`)
    .join('');
}

/** River's `status` attribute: `ok` for work that succeeded or was snoozed, else `error`. */
function statusOf(outcome: Outcome['type']): string {
  return outcome === 'completed' || outcome === 'snooze' ? 'ok' : 'error';
}

/**
 * Creates a set of metrics. Give its `hooks` to the runner, and answer scrapes with `render`
 * (`createHttpApi({ metrics })` serves it at `/metrics`).
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * const runner = createRunner({ driver, workers, hooks: metrics.hooks });
 * const text = await metrics.render(driver); // Prometheus text format
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
  if (buckets.length === 0 || buckets.some((b) => !Number.isFinite(b) || b <= 0))
    throw new TypeError('createMetrics: buckets must be positive numbers of seconds');

  const workCount = new Counter({
    name: 'river_work_count_total',
    help: "Jobs worked, by kind, queue, River's status (ok, error) and Eddy's outcome (River: river.work_count).",
    type: 'counter',
  });
  const workDuration = new Histogram(
    {
      name: 'river_work_duration_histogram_seconds',
      help: "How long jobs' workers ran, in seconds (River: river.work_duration_histogram).",
      type: 'histogram',
    },
    buckets,
  );
  const queueWait = new Histogram(
    {
      name: 'eddy_job_queue_wait_seconds',
      help: 'From when a job was due to its claim, in seconds.',
      type: 'histogram',
    },
    buckets,
  );
  const started = new Counter({
    name: 'eddy_job_start_count_total',
    help: 'Jobs whose worker started, by kind and queue.',
    type: 'counter',
  });
  const insertCount = new Counter({
    name: 'river_insert_count_total',
    help: 'Jobs inserted through the REST API, by whether a unique duplicate skipped them (River: river.insert_count).',
    type: 'counter',
  });
  const ticks = new Counter({
    name: 'eddy_tick_count_total',
    help: 'Ticks run, by what started them.',
    type: 'counter',
  });
  const tickDuration = new Histogram(
    {
      name: 'eddy_tick_duration_seconds',
      help: 'How long ticks took, in seconds.',
      type: 'histogram',
    },
    buckets,
  );
  const rescued = new Counter({
    name: 'eddy_job_rescue_count_total',
    help: "Jobs whose lease had passed, rescued by this process's maintenance.",
    type: 'counter',
  });

  const hooks: Metrics['hooks'] = {
    onJobStart(event: JobStartEvent) {
      const labels = { kind: event.job.kind, queue: event.job.queue };
      started.add(labels);
      queueWait.observe(labels, event.queueWaitMs / 1000);
    },
    onJobEnd(event: JobEndEvent) {
      // A job handed back unstarted was not worked (and its start was never counted).
      if (event.outcome === 'release') return;
      const status = statusOf(event.outcome);
      workCount.add({ kind: event.kind, queue: event.queue, status, outcome: event.outcome });
      workDuration.observe({ kind: event.kind, queue: event.queue, status }, event.runMs / 1000);
    },
    onTick(stats: TickStats, event) {
      const source = event.source ?? 'tick';
      ticks.add({ source });
      tickDuration.observe({ source }, stats.durationMs / 1000);
      if (stats.rescued > 0) rescued.add({}, stats.rescued);
    },
  };

  const counters = [workCount, started, insertCount, ticks, rescued];
  const histograms = [workDuration, queueWait, tickDuration];

  return {
    hooks,
    recordInsert(results) {
      let skipped = 0;
      for (const r of results) if (r.skipped) skipped++;
      if (results.length - skipped > 0)
        insertCount.add({ unique_skipped_as_duplicate: 'false' }, results.length - skipped);
      if (skipped > 0) insertCount.add({ unique_skipped_as_duplicate: 'true' }, skipped);
    },
    async render(driver, scrape = {}) {
      const gauges = await readJobGauges(
        new Database(driver),
        schemaPrefix(scrape.schema),
        scrape.now?.(),
      );
      // Every state of every queue seen, zeros included: an absent series is not a zero.
      const queues = new Set([
        ...gauges.jobs.map((g) => g.queue),
        ...gauges.paused.filter((q) => q !== '*'),
      ]);
      const counts = new Map(gauges.jobs.map((g) => [`${g.queue}\n${g.state}`, g.count]));
      const jobLines: string[] = [];
      for (const queue of [...queues].sort())
        for (const state of JOB_STATES)
          jobLines.push(
            `eddy_jobs${labelText({ queue, state })} ${counts.get(`${queue}\n${state}`) ?? 0}`,
          );
      const allPaused = gauges.paused.includes('*');
      const gaugeText = [
        section(
          { name: 'eddy_jobs', help: 'Jobs in the table, by queue and state.', type: 'gauge' },
          jobLines,
        ),
        section(
          {
            name: 'eddy_queue_oldest_available_age_seconds',
            help: 'Seconds since the oldest available job of each queue came due (0 when none waits).',
            type: 'gauge',
          },
          [...queues]
            .sort()
            .map(
              (queue) =>
                `eddy_queue_oldest_available_age_seconds${labelText({ queue })} ${number(gauges.oldestAvailable.find((g) => g.queue === queue)?.seconds ?? 0)}`,
            ),
        ),
        section(
          {
            name: 'eddy_jobs_lease_expired',
            help: 'Running jobs whose Eddy lease has passed: the next maintenance rescues them.',
            type: 'gauge',
          },
          [...queues]
            .sort()
            .map(
              (queue) =>
                `eddy_jobs_lease_expired${labelText({ queue })} ${gauges.leaseExpired.find((g) => g.queue === queue)?.count ?? 0}`,
            ),
        ),
        section(
          {
            name: 'eddy_queue_paused',
            help: 'Whether a queue is paused (1) or not (0); queue="*" pauses every queue.',
            type: 'gauge',
          },
          [
            ...[...queues]
              .sort()
              .map(
                (queue) =>
                  `eddy_queue_paused${labelText({ queue })} ${allPaused || gauges.paused.includes(queue) ? 1 : 0}`,
              ),
            ...(allPaused ? [`eddy_queue_paused${labelText({ queue: '*' })} 1`] : []),
          ],
        ),
      ];
      return [
        ...counters.map((c) => section(c.family, c.lines())),
        ...histograms.map((h) => section(h.family, h.lines())),
        ...gaugeText,
      ].join('');
    },
  };
}
