/**
 * Room for the REST API's reading and managing routes, which sit on the management API
 * (issue 12): `GET /v1/jobs/{id}`, `GET /v1/jobs` (its filters and cursor), `POST
 * /v1/jobs/{id}/cancel` and `/retry`, `DELETE /v1/jobs/{id}`, `POST /v1/queues/{name}/pause`
 * and `/resume`. Until it lands each answers 501, behind the scope it will need (`read` to read,
 * `admin` to change), so a client learns both the route and the key it takes. Their OpenAPI
 * paths go beside these routes' in `api-openapi.ts`.
 */

import type { Hono } from 'hono/tiny';
import type { Caller, Scope } from './api-auth.js';
import { PROBLEM_TYPES, problemResponse } from './api-problem.js';

export interface ManageContext {
  /** The caller's key if it has `scope`, or the 401/403 to answer. */
  authorize(request: Request, env: unknown, scope: Scope): Promise<Caller | Response>;
}

const RESERVED: readonly { method: 'get' | 'post' | 'delete'; path: string; scope: Scope }[] = [
  { method: 'get', path: '/v1/jobs', scope: 'read' },
  { method: 'get', path: '/v1/jobs/:id', scope: 'read' },
  { method: 'delete', path: '/v1/jobs/:id', scope: 'admin' },
  { method: 'post', path: '/v1/jobs/:id/cancel', scope: 'admin' },
  { method: 'post', path: '/v1/jobs/:id/retry', scope: 'admin' },
  { method: 'post', path: '/v1/queues/:name/pause', scope: 'admin' },
  { method: 'post', path: '/v1/queues/:name/resume', scope: 'admin' },
];

// biome-ignore lint/suspicious/noExplicitAny: any app's bindings
export function manageRoutes(app: Hono<any>, context: ManageContext): void {
  for (const { method, path, scope } of RESERVED) {
    app[method](path, async (c) => {
      const caller = await context.authorize(c.req.raw, c.env, scope);
      if (caller instanceof Response) return caller;
      return problemResponse({
        type: PROBLEM_TYPES.notImplemented,
        title: 'Not implemented yet',
        status: 501,
        detail: `${method.toUpperCase()} ${path} comes with the management API`,
      });
    });
  }
}
