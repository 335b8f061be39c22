/**
 * `eddy/dashboard`: a dashboard for Eddy's (and River's) jobs, as a Web-standard `fetch` handler
 * that mounts in a Worker, a Next.js catch-all route or Node (`eddy dashboard`). Server-rendered
 * HTML, no build step, readable with JavaScript off; guarded by an admin token (a bearer token,
 * or a login form that sets a signed cookie), CSRF-checked, under a strict CSP.
 *
 * With `hono` (an optional peer), which only this entry point and `eddy/http-api` import: an
 * app that does not mount the dashboard bundles none of it (test/architecture.test.ts).
 *
 * @example
 * ```ts
 * // Next.js: app/admin/[[...path]]/route.ts
 * const dashboard = createDashboard({
 *   driver: () => neonHttp(neon(process.env.DATABASE_URL!)),
 *   auth: () => ({ token: process.env.EDDY_ADMIN_TOKEN }),
 *   basePath: '/admin',
 * });
 * const handle = (request: Request) => dashboard.fetch(request);
 * export { handle as GET, handle as POST };
 * ```
 */

export type { DashboardAuth } from './auth.js';
export {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type FromEnv,
} from './dashboard.js';
