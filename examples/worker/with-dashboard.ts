/**
 * The example Worker (./index.ts) with Eddy's dashboard mounted at `/admin`, behind the secret
 * `ADMIN_TOKEN` (at least 32 characters: `openssl rand -hex 32`). A Worker that does not import
 * `eddy/dashboard` bundles none of it, so this entry point is apart: `npm run size` prints what
 * the dashboard adds to the example.
 *
 *     npx wrangler secret put ADMIN_TOKEN
 *     npx wrangler deploy examples/worker/with-dashboard.ts
 *
 * Then open https://eddy-example.<your-subdomain>.workers.dev/admin/ and sign in with the token.
 * Without `ADMIN_TOKEN` set every `/admin` page answers 500 and shows nothing.
 */

import { createDashboard } from 'eddy/dashboard';
import { neonHttp } from 'eddy/neon-http';
import worker, { connection, type Env } from './index.js';
import { periodicJobs } from './jobs.js';

export interface DashboardEnv extends Env {
  /** Signs in to `/admin` (or send it as `Authorization: Bearer`). */
  ADMIN_TOKEN?: string;
}

const dashboard = createDashboard<DashboardEnv>({
  driver: (env) => neonHttp(connection(env).sql),
  auth: (env) => ({ token: env.ADMIN_TOKEN }),
  basePath: '/admin',
  // The runner's schedules: the periodic page shows each one's next slot.
  periodic: periodicJobs,
});

worker.app.all('/admin', (c) => dashboard.fetch(c.req.raw, c.env));
worker.app.all('/admin/*', (c) => dashboard.fetch(c.req.raw, c.env));

export default worker;
