/**
 * A ticker in its own process, for tests that kill it (SIGKILL) at chosen points of a batch.
 *
 * Usage: `node ticker.cjs '<json TickerProcessOptions>'`. It reports each step on stdout, one
 * word per line, so the parent can aim its kill:
 * `ready` (connected) · `claim` / `claimed` (the claim statement sent / answered) ·
 * `started <id>` / `executed <id>` (a worker began / wrote its side effect) ·
 * `record` / `recorded` (the outcome statement sent / answered) · `done <stats json>`.
 *
 * Its worker (kind `kill_trial`) sleeps `args.ms`, honouring the abort signal, and writes each
 * execution into `<schema>.executions` (see `ticker-child.ts`): a row when it starts and
 * `finished_at` when it is done.
 */

import pg from 'pg';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import type { Driver } from '../../src/driver/driver.js';
import { schemaPrefix } from '../../src/driver/schema-name.js';
import { claimJobsText } from '../../src/ops/claim-jobs.js';
import { recordOutcomesTexts } from '../../src/ops/record-outcomes.js';
import { createRunner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';

export interface TickerProcessOptions {
  url: string;
  schema: string;
  runnerId: string;
  /** Soft deadline, ms from start. */
  softMs: number;
  /** Hard deadline, ms from start (the lease is this plus `leaseMarginMs`). */
  hardMs: number;
  leaseMarginMs: number;
  concurrency: number;
  maxJobs: number;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function main(options: TickerProcessOptions): Promise<void> {
  const { schema } = options;
  const pool = new pg.Pool({ connectionString: options.url, max: options.concurrency + 1 });
  pool.on('error', () => undefined);
  const prefix = schemaPrefix(schema);
  const claim = claimJobsText(prefix);
  // Every statement that records outcomes (the runner picks one per batch).
  const records = new Set(recordOutcomesTexts(prefix));
  const inner = nodePostgres(pool);
  const driver: Driver = {
    ...inner,
    async query(text, params) {
      const step = text === claim ? 'claim' : records.has(text) ? 'record' : undefined;
      if (step) say(step);
      const result = await inner.query(text, params);
      if (step) say(`${step}ed`);
      return result;
    },
  };
  await pool.query('SELECT 1');
  const worker = defineWorker('kill_trial', async (job, ctx) => {
    const token = job.attemptedBy[job.attemptedBy.length - 1] as string;
    await pool.query(`INSERT INTO ${schema}.executions (job_id, token) VALUES ($1, $2)`, [
      String(job.id),
      token,
    ]);
    say(`started ${job.id}`);
    await sleep(Number(job.args.ms), ctx.signal);
    await pool.query(
      `UPDATE ${schema}.executions SET finished_at = clock_timestamp() WHERE job_id = $1 AND token = $2`,
      [String(job.id), token],
    );
    say(`executed ${job.id}`);
  });
  const runner = createRunner({
    driver,
    schema,
    id: options.runnerId,
    workers: [worker],
    concurrency: options.concurrency,
    batchSize: options.maxJobs,
    leaseMarginMs: options.leaseMarginMs,
    finishReserveMs: Math.min(100, options.softMs / 4),
  });
  say('ready');
  const start = Date.now();
  const stats = await runner.tick({
    deadline: start + options.softMs,
    hardDeadline: start + options.hardMs,
    maxJobs: options.maxJobs,
  });
  say(`done ${JSON.stringify(stats)}`);
  await pool.end();
}

main(JSON.parse(process.argv[2] ?? '{}') as TickerProcessOptions).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  },
);
