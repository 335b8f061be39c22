/**
 * Insert-to-start latency with and without kick-after-insert.
 *
 * Without a kick a job waits for the next scheduled tick (a platform cron: every minute); with
 * one, the insert's signed POST starts a tick at once. The "cron" here fires every
 * CRON_INTERVAL_MS (default 10 s, so the run stays short); latencies scale with the interval, so
 * the line also states what a one-minute cron gives on average (half the interval).
 *
 * Run: npm run bench:kick
 */

import { createServer } from 'node:http';
import pg from 'pg';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { createKick } from '../src/http/kick.js';
import { createTickTrigger } from '../src/http/tick-trigger.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CRON_INTERVAL_MS = Number(process.env.CRON_INTERVAL_MS ?? 10_000);
const SAMPLES = Number(process.env.SAMPLES ?? 12);
const SECRET = 'bench-kick-secret-long-enough-for-32-chars';
const schema = `bench_kick_${process.pid}`;

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
const driver = nodePostgres(pool);
await migrate(driver, { schema });

const startedAt = new Map<string, number>();
const runner = createRunner({
  driver,
  schema,
  workers: [defineWorker('measure', async (job) => void startedAt.set(String(job.id), Date.now()))],
});

// The push endpoint, as a deployment would expose it.
const trigger = createTickTrigger(runner, {
  auth: { signingSecret: SECRET },
  methods: ['POST'],
  deadlines: (at) => ({ deadline: at + 5000, hardDeadline: at + 15_000 }),
});
const pending = new Set<Promise<unknown>>();
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const request = new Request(`http://127.0.0.1${req.url}`, {
    method: req.method,
    headers: req.headers as Record<string, string>,
    body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
  });
  const response = await trigger(request, {
    waitUntil: (p) => {
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
  });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(await response.text());
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(kick: boolean): Promise<number[]> {
  const client = createClient({
    driver,
    schema,
    kick: kick ? createKick({ url: `http://127.0.0.1:${port}/tick`, secret: SECRET }) : undefined,
  });
  // The "cron": a tick every CRON_INTERVAL_MS.
  let cronRunning = true;
  const cron = (async () => {
    while (cronRunning) {
      await sleep(CRON_INTERVAL_MS);
      if (cronRunning) await runner.tick({ budgetMs: 5000 });
    }
  })();
  const latencies: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    // Spread inserts over the cron interval so waits are fairly sampled.
    await sleep(Math.random() * (CRON_INTERVAL_MS / 2));
    const { job } = await client.insert('measure', { i });
    const inserted = Date.now();
    const id = String(job.id);
    while (!startedAt.has(id)) await sleep(2);
    latencies.push((startedAt.get(id) as number) - inserted);
  }
  cronRunning = false;
  await cron;
  return latencies;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

const withKick = await measure(true);
const withoutKick = await measure(false);
await Promise.all(pending);
server.close();
await pool.query(`DROP SCHEMA ${schema} CASCADE`);
await pool.end();

const row = (name: string, values: number[]) =>
  `${name.padEnd(28)} p50 ${String(percentile(values, 50)).padStart(6)} ms   p95 ${String(percentile(values, 95)).padStart(6)} ms   max ${String(Math.max(...values)).padStart(6)} ms`;
console.log(`insert-to-start latency, ${SAMPLES} jobs each, cron every ${CRON_INTERVAL_MS} ms`);
console.log(row('with kick-after-insert', withKick));
console.log(row('waiting for the cron tick', withoutKick));
console.log(
  JSON.stringify({
    kick_p50_ms: percentile(withKick, 50),
    kick_p95_ms: percentile(withKick, 95),
    cron_p50_ms: percentile(withoutKick, 50),
    cron_p95_ms: percentile(withoutKick, 95),
    cron_interval_ms: CRON_INTERVAL_MS,
    one_minute_cron_mean_wait_ms: 30_000,
  }),
);
