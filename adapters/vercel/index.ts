/**
 * Vercel and Next.js route handlers: `GET` for Vercel Cron (`Authorization: Bearer
 * $CRON_SECRET`) and `POST` for push triggers from a scheduler you do not control — Eddy's HMAC
 * signature or Upstash QStash. The tick's budget comes from the route's `maxDuration`.
 *
 * A GET's tick reaches the runner's `hooks.onTick` with `source: 'cron'`, a POST's with `push`.
 *
 * Credentials are read on the first request, not when the module loads: `next build` evaluates
 * every route module, usually without the deployment's secrets. With none configured, every
 * request gets a 500 and no tick runs.
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
  isValidationError,
  type QStashKeys,
  qstashVerifier,
  type Runner,
  ValidationError,
} from '../../src/index.js';

export interface TickRouteOptions {
  runner: Runner | (() => Runner);
  /** The route's `maxDuration` in seconds: the platform ends the function then. */
  maxDuration: number;
  /** Vercel Cron's `CRON_SECRET`, checked on GET (and accepted on POST). 32+ characters. */
  cronSecret?: string | undefined;
  /** Secret for Eddy's `eddy-signature` HMAC on POST (kicks, your own schedulers). 32+ characters. */
  signingSecret?: string | undefined;
  /**
   * Upstash QStash signing keys, checked on POST. A token must be for this route's URL: `url`
   * when given, else the URL the request arrived at.
   */
  qstash?: QStashKeys | undefined;
  /** Vercel's `waitUntil` (from `@vercel/functions`): lets a kick get its answer at once. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Statements per tick at most (see `createRunner`'s `maxStatements`). Default: no limit. */
  maxStatements?: number;
  /** Largest request body read, in bytes. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface TickRoute {
  GET(request: Request): Promise<Response>;
  POST(request: Request): Promise<Response>;
  /** Any method: 405 for those other than GET and POST. */
  handler(request: Request): Promise<Response>;
}

type Handle = (request: Request) => Promise<Response>;

export function createTickRoute(options: TickRouteOptions): TickRoute {
  // Code, not environment: a wrong value is a bug to report at once.
  if (!Number.isFinite(options.maxDuration) || options.maxDuration <= 0) {
    throw new ValidationError(
      'createTickRoute: maxDuration must be the route’s maxDuration in seconds (a positive number)',
      [{ path: 'maxDuration', message: 'must be a positive number of seconds' }],
    );
  }
  const { maxBodyBytes } = options;
  if (maxBodyBytes !== undefined && !(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new ValidationError(
      'createTickRoute: maxBodyBytes must be a positive whole number of bytes',
      [{ path: 'maxBodyBytes', message: 'must be a positive whole number of bytes' }],
    );
  }
  const { maxStatements } = options;
  if (maxStatements !== undefined && !(Number.isInteger(maxStatements) && maxStatements >= 8)) {
    throw new ValidationError(
      'createTickRoute: maxStatements must be a whole number of at least 8 (maintenance takes up to 5 statements, a claim and its flush 2 more)',
      [{ path: 'maxStatements', message: 'must be a whole number of at least 8' }],
    );
  }
  const wallLimitMs = options.maxDuration * 1000;
  // The platform ends the function at maxDuration: work until shortly before, keeping time to
  // record outcomes.
  const deadlines = (startedAt: number) => invocationDeadlines({ startedAt, wallLimitMs });
  // One handler, built once (its replay memory and tick gate last the instance): a GET (Vercel
  // Cron) is accepted only with the bearer CRON_SECRET, a POST also with an HMAC or QStash
  // signature; other methods get 405.
  const build = (): Handle => {
    try {
      const handle = createTickTrigger(options.runner, {
        auth: {
          bearerSecret: options.cronSecret,
          signingSecret: options.signingSecret,
          qstash: options.qstash?.currentSigningKey ? qstashVerifier(options.qstash) : undefined,
        },
        methods: ['GET', 'POST'],
        deadlines,
        tick: options.maxStatements === undefined ? {} : { maxStatements: options.maxStatements },
        maxBodyBytes,
        names: {
          where: 'createTickRoute',
          auth: 'cronSecret',
          bearerSecret: 'cronSecret',
          signingSecret: 'signingSecret',
        },
      });
      return (request) => handle(request, { waitUntil: options.waitUntil });
    } catch (error) {
      if (!isValidationError(error)) throw error;
      // Logged once per instance; each request is refused without running a tick.
      console.error(`eddy: the tick route refuses every request: ${error.message}`);
      const body = JSON.stringify({ error: `tick route misconfigured: ${error.message}` });
      return async () =>
        new Response(body, {
          status: 500,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        });
    }
  };
  let handle: Handle | undefined;
  const handler = (request: Request) => {
    handle ??= build();
    return handle(request);
  };
  return { GET: handler, POST: handler, handler };
}
