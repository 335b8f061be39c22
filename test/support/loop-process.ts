/**
 * A Node worker process for the SIGTERM test: runs eddy/node's loop over the schema given in
 * argv, with one job kind that takes `ms` milliseconds (from its args), and prints "ready"
 * once the loop has started and "exited" after a graceful stop.
 */

import pg from 'pg';
import { startLoop } from '../../adapters/node/index.js';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import { createRunner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';

const [url, schema, shutdownMs] = process.argv.slice(2) as [string, string, string];
const pool = new pg.Pool({ connectionString: url, max: 4 });
const runner = createRunner({
  driver: nodePostgres(pool),
  schema,
  id: 'loop-process',
  workers: [
    defineWorker('nap', async (job, ctx) => {
      const ms = Number((job.args as { ms: number }).ms);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      });
      await pool.query(`INSERT INTO ${schema}.naps (job_id) VALUES ($1)`, [String(job.id)]);
    }),
  ],
});
const loop = startLoop(runner, { pollIntervalMs: 50, shutdownTimeoutMs: Number(shutdownMs) });
console.log('ready');
await loop.done;
await pool.end();
console.log('exited');
