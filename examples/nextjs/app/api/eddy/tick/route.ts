/**
 * GET and POST /api/eddy/tick: one tick of Eddy's runner per request. Vercel Cron calls GET with
 * `Authorization: Bearer $CRON_SECRET` (vercel.json); a scheduler that signs, or a kick after an
 * insert, POSTs with Eddy's HMAC signature (`EDDY_SIGNING_SECRET`). Without valid credentials:
 * 401 and no tick. With no secret configured at all: 500 and no tick.
 */

import { createRunner, type Runner } from 'eddy';
import { neonHttp } from 'eddy/neon-http';
import { createTickRoute } from 'eddy/vercel';
import { sql } from '../../../../db';
import { queues, workers } from '../../../../workers';

export const runtime = 'nodejs';
// The tick's budget comes from it: Eddy stops claiming in time to record every outcome.
export const maxDuration = 60;

// Made on the first request, not at import: `next build` imports this module without the database.
let runner: Runner | undefined;

export const { GET, POST } = createTickRoute({
  runner: () => {
    runner ??= createRunner({ driver: neonHttp(sql()), workers, queues });
    return runner;
  },
  maxDuration,
  cronSecret: process.env.CRON_SECRET,
  signingSecret: process.env.EDDY_SIGNING_SECRET,
});
