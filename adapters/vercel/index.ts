/**
 * Vercel and Next.js route handlers: `GET` for Vercel Cron (`Authorization: Bearer
 * $CRON_SECRET`) and `POST` for push triggers from a scheduler you do not control — Eddy's HMAC
 * signature or Upstash QStash. The tick's budget comes from the route's `maxDuration`.
 *
 * @example
 * ```ts
 * // app/api/eddy/tick/route.ts
 * export const maxDuration = 60;
 * export const { GET, POST } = createTickRoute({
 *   runner: () => runner,
 *   maxDuration,
 *   cronSecret: process.env.CRON_SECRET,
 *   qstash: { currentSigningKey: process.env.QSTASH_CURRENT_SIGNING_KEY!, nextSigningKey: process.env.QSTASH_NEXT_SIGNING_KEY },
 * });
 * ```
 */

import {
  createTickTrigger,
  invocationDeadlines,
  type Runner,
  type TriggerAuth,
  ValidationError,
} from '../../src/index.js';

export interface TickRouteOptions {
  runner: Runner | (() => Runner);
  /** The route's `maxDuration` in seconds: the platform ends the function then. */
  maxDuration: number;
  /** Vercel Cron's `CRON_SECRET`, checked on GET (and accepted on POST). */
  cronSecret?: string;
  /** Secret for Eddy's `eddy-signature` HMAC on POST (kicks, your own schedulers). */
  signingSecret?: string;
  /** Upstash QStash signing keys, checked on POST. */
  qstash?: TriggerAuth['qstash'];
  /** Vercel's `waitUntil` (from `@vercel/functions`): lets a kick get its answer at once. */
  waitUntil?: (promise: Promise<unknown>) => void;
  maxBatches?: number;
}

export interface TickRoute {
  GET(request: Request): Promise<Response>;
  POST(request: Request): Promise<Response>;
  /** Any method: 405 for those other than GET and POST. */
  handler(request: Request): Promise<Response>;
}

export function createTickRoute(options: TickRouteOptions): TickRoute {
  if (!Number.isFinite(options.maxDuration) || options.maxDuration <= 0) {
    throw new ValidationError(
      'createTickRoute: maxDuration must be the route’s maxDuration in seconds (a positive number)',
      [{ path: 'maxDuration', message: 'must be a positive number of seconds' }],
    );
  }
  const wallLimitMs = options.maxDuration * 1000;
  // The platform ends the function at maxDuration: work until shortly before, keeping time to
  // record outcomes.
  const deadlines = (startedAt: number) => invocationDeadlines({ startedAt, wallLimitMs });
  // One handler: a GET (Vercel Cron) is accepted only with the bearer CRON_SECRET, a POST also
  // with an HMAC or QStash signature (see `isAuthorized`); other methods get 405.
  const handle = createTickTrigger(options.runner, {
    auth: {
      bearerSecret: options.cronSecret,
      signingSecret: options.signingSecret,
      qstash: options.qstash,
    },
    methods: ['GET', 'POST'],
    deadlines,
    tick: { maxBatches: options.maxBatches },
  });
  const handler = (request: Request) => handle(request, { waitUntil: options.waitUntil });
  return { GET: handler, POST: handler, handler };
}
