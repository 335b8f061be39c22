/**
 * Shared pieces of the benchmarks: the database, fresh schemas that are always dropped, a
 * fixed-duration measuring loop with warm-up, and table printing. Benchmarks print figures;
 * they assert nothing.
 */

import { Logger } from 'graphile-worker';
import pg from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Seconds each measurement runs (after warm-up). */
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Seconds of warm-up before each measurement. */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);

const created: string[] = [];

/** An admin query on a short-lived connection. */
export async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates an empty schema for one contender, dropped by `dropCreated`. */
export async function freshSchema(label: string): Promise<string> {
  const name = `bench_${label}_${process.pid}_${Date.now().toString(36)}`;
  await admin(`CREATE SCHEMA ${name}`);
  created.push(name);
  return name;
}

/** Drops every schema this process created (also on Ctrl-C). */
export async function dropCreated(): Promise<void> {
  while (created.length > 0) {
    const name = created.pop() as string;
    await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`).catch((error) => {
      console.error(`could not drop schema ${name}: ${String(error)}`);
    });
  }
}

process.once('SIGINT', () => {
  void dropCreated().finally(() => process.exit(130));
});

export interface Measurement {
  jobs: number;
  seconds: number;
  perSecond: number;
}

/**
 * Runs `step` back to back from `parallel` loops for `seconds`, after a warm-up of the same
 * shape, and returns jobs per second. `step` returns how many jobs it handled.
 */
export async function measure(
  step: () => Promise<number>,
  options: { parallel: number; seconds?: number; warmupSeconds?: number },
): Promise<Measurement> {
  const run = async (seconds: number): Promise<Measurement> => {
    const started = performance.now();
    const until = started + seconds * 1000;
    let jobs = 0;
    await Promise.all(
      Array.from({ length: options.parallel }, async () => {
        while (performance.now() < until) {
          // Not `jobs += await step()`: that reads `jobs` before awaiting and loses the other
          // loops' counts.
          const handled = await step();
          jobs += handled;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return { jobs, seconds: elapsed, perSecond: jobs / elapsed };
  };
  await run(options.warmupSeconds ?? WARMUP_SECONDS);
  return run(options.seconds ?? SECONDS);
}

/** Prints rows as an aligned table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) =>
    r
      .map((c, i) =>
        i === 0 ? String(c).padEnd(widths[i] ?? 0) : String(c).padStart(widths[i] ?? 0),
      )
      .join('  ');
  console.log(line(cells[0] as string[]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

/** A rate rounded for people: 12,345. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A quiet logger for graphile-worker (it logs every job at info level otherwise). */
export const quietGraphileLogger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`);
});

/**
 * Error handlers on a pool handed to graphile-worker, on the pool and on each client (0.18 warns
 * about, and installs its own for, a pool without both). A dropped idle connection must not
 * crash the benchmark; an error during a query still rejects that query.
 */
export function ignoreIdleErrors(pool: pg.Pool): pg.Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** The part of Eddy's API the benchmarks drive, from this tree or from a baseline checkout. */
export interface EddyApi {
  createClient: typeof import('../src/index.js').createClient;
  createRunner: typeof import('../src/index.js').createRunner;
  defineWorker: typeof import('../src/index.js').defineWorker;
  migrate: typeof import('../src/index.js').migrate;
  nodePostgres: typeof import('../adapters/node-postgres/index.js').nodePostgres;
}

/**
 * BENCH_BASELINE=/path/to/another/checkout adds that checkout's Eddy as a contender
 * (`eddy@baseline`), measured in the same run, interleaved with this tree's: the way to show a
 * change costs nothing (`git worktree add /tmp/base main && ln -s $PWD/node_modules /tmp/base/`).
 * It loads the checkout's public entry points, which every version has.
 */
export async function loadBaseline(): Promise<EddyApi | undefined> {
  const dir = process.env.BENCH_BASELINE;
  if (!dir) return undefined;
  const { pathToFileURL } = await import('node:url');
  const { join, resolve } = await import('node:path');
  const root = resolve(dir);
  const core = await import(pathToFileURL(join(root, 'src/index.ts')).href);
  const pgAdapter = await import(pathToFileURL(join(root, 'adapters/node-postgres/index.ts')).href);
  return { ...core, nodePostgres: pgAdapter.nodePostgres } as EddyApi;
}

/** The Node loop's entry point (`eddy/node`), from this tree or from a baseline checkout. */
export type StartLoop = typeof import('../adapters/node/index.js').startLoop;

/**
 * The baseline checkout's `startLoop` (its `adapters/node`), beside `loadBaseline`'s core, for
 * benchmarks that drive the Node loop; undefined without BENCH_BASELINE.
 */
export async function loadBaselineLoop(): Promise<StartLoop | undefined> {
  const dir = process.env.BENCH_BASELINE;
  if (!dir) return undefined;
  const { pathToFileURL } = await import('node:url');
  const { join, resolve } = await import('node:path');
  const node = await import(pathToFileURL(join(resolve(dir), 'adapters/node/index.ts')).href);
  return node.startLoop as StartLoop;
}

/**
 * The nearest-rank percentile `p` (0–100) of `values`; NaN entries (never observed) count as
 * larger than every number, and a percentile that falls on one is `null`.
 */
export function percentile(values: ArrayLike<number>, p: number): number | null {
  const sorted = Array.from(values, (v) => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : v)).sort(
    (a, b) => a - b,
  );
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  const value = sorted[rank - 1] as number;
  return Number.isFinite(value) ? value : null;
}

/** The median of some measurements (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Seconds of each turn in `measureInTurns`. */
export const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 0.5);

/**
 * `measure` for several contenders at once: after a warm-up each, they take turns of
 * `sliceSeconds` (round robin, the first of each turn rotating) until each has run `seconds`,
 * and each gets its jobs per second over its own turns. A slow spell on a shared machine (a
 * burst of someone else's disk writes, a busy core) then falls on every contender alike rather
 * than on whichever ran during it: with one 4 s run each, single inserts of the same code
 * differed by up to 2x between neighbouring runs.
 */
export async function measureInTurns(
  steps: readonly (() => Promise<number>)[],
  options: { parallel: number; seconds?: number; warmupSeconds?: number; sliceSeconds?: number },
): Promise<Measurement[]> {
  const seconds = options.seconds ?? SECONDS;
  const slice = Math.min(options.sliceSeconds ?? SLICE_SECONDS, seconds);
  const turns = Math.max(1, Math.round(seconds / slice));
  const run = async (step: () => Promise<number>, forSeconds: number) => {
    const started = performance.now();
    const until = started + forSeconds * 1000;
    let jobs = 0;
    await Promise.all(
      Array.from({ length: options.parallel }, async () => {
        while (performance.now() < until) {
          const handled = await step();
          jobs += handled;
        }
      }),
    );
    return { jobs, ms: performance.now() - started };
  };
  for (const step of steps) await run(step, options.warmupSeconds ?? WARMUP_SECONDS);
  const totals = steps.map(() => ({ jobs: 0, ms: 0 }));
  for (let t = 0; t < turns; t++) {
    for (let k = 0; k < steps.length; k++) {
      const i = (k + t) % steps.length;
      const { jobs, ms } = await run(steps[i] as () => Promise<number>, seconds / turns);
      (totals[i] as { jobs: number; ms: number }).jobs += jobs;
      (totals[i] as { jobs: number; ms: number }).ms += ms;
    }
  }
  return totals.map(({ jobs, ms }) => ({
    jobs,
    seconds: ms / 1000,
    perSecond: jobs / (ms / 1000),
  }));
}
