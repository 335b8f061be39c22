/**
 * /admin and everything under it: Eddy's dashboard (`eddy/dashboard`) in one optional catch-all
 * route. Sign in with `EDDY_ADMIN_TOKEN` (at least 32 characters; `openssl rand -hex 32`), or
 * send it as `Authorization: Bearer`. Without it every page answers 500 and shows nothing. The
 * driver and the token are read on the first request, not when `next build` imports the module.
 */

import { createDashboard } from 'eddy/dashboard';
import { neonHttp } from 'eddy/neon-http';
import { sql } from '../../../db';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

const dashboard = createDashboard({
  driver: () => neonHttp(sql()),
  auth: () => ({ token: process.env.EDDY_ADMIN_TOKEN }),
  basePath: '/admin',
});

// One argument: a route handler's second (its params) is not an environment.
const handle = (request: Request) => dashboard.fetch(request);

export { handle as GET, handle as POST };
