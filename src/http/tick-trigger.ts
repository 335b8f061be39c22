/**
 * One HTTP handler for every way a tick is triggered (a platform cron calling a URL, a push from
 * a scheduler, a kick after an insert): authenticate, run one tick inside the request's budget,
 * answer with its stats as JSON. Web-standard `Request`/`Response` only; runtime adapters wrap it.
 */

import { isTickError, ValidationError } from '../errors.js';
import type { Runner, TickOptions } from '../runner/runner.js';
import {
  SIGNATURE_HEADER,
  verifyBearer,
  verifyBodySignature,
  verifyQStashSignature,
} from './http-auth.js';

export interface TriggerAuth {
  /** `Authorization: Bearer <secret>` (Vercel cron's CRON_SECRET, simple push triggers). */
  bearerSecret?: string;
  /** HMAC-SHA256 `eddy-signature` over the body (Eddy's kick and signed pushes). */
  signingSecret?: string;
  /** Upstash QStash signatures (current and next signing keys). */
  qstash?: { currentSigningKey: string; nextSigningKey?: string; url?: string };
  /**
   * Accept unauthenticated requests. Only for local development; never set it when deployed.
   */
  insecureNoAuth?: boolean;
}

export interface TickTriggerOptions {
  auth: TriggerAuth;
  /** Methods that may trigger a tick. Default both GET (cron) and POST (push). */
  methods?: readonly ('GET' | 'POST')[];
  /** Computes the tick's deadlines when the request arrives. */
  deadlines: (receivedAt: number) => Pick<TickOptions, 'deadline' | 'hardDeadline'>;
  /** Other tick options (maxJobs, ...). */
  tick?: Omit<TickOptions, 'deadline' | 'hardDeadline' | 'budgetMs'>;
}

/** What the runtime offers the handler. */
export interface TriggerContext {
  /** Aborts the tick early (e.g. the platform shutting down). */
  signal?: AbortSignal;
  /** Keeps work running after the response (Workers' `ctx.waitUntil`, Vercel's `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** Whether the request carries valid credentials for any configured scheme. */
export async function isAuthorized(
  request: Request,
  body: string,
  auth: TriggerAuth,
): Promise<boolean> {
  if (auth.insecureNoAuth) return true;
  if (auth.bearerSecret && (await verifyBearer(request, auth.bearerSecret))) return true;
  if (request.method === 'POST') {
    if (
      auth.signingSecret &&
      (await verifyBodySignature(request.headers.get(SIGNATURE_HEADER), body, auth.signingSecret))
    ) {
      return true;
    }
    if (
      auth.qstash &&
      (await verifyQStashSignature(request.headers.get('upstash-signature'), body, auth.qstash, {
        url: auth.qstash.url,
      }))
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Builds the handler. Refuses a configuration that would leave the endpoint open.
 *
 * @example
 * ```ts
 * const handle = createTickTrigger(runner, {
 *   auth: { bearerSecret: env.CRON_SECRET },
 *   deadlines: (at) => ({ deadline: at + 50_000, hardDeadline: at + 60_000 }),
 * });
 * const response = await handle(request);
 * ```
 */
export function createTickTrigger(
  runner: Runner | (() => Runner),
  options: TickTriggerOptions,
): (request: Request, context?: TriggerContext) => Promise<Response> {
  const { auth } = options;
  const configured =
    auth.bearerSecret ||
    auth.signingSecret ||
    auth.qstash?.currentSigningKey ||
    auth.insecureNoAuth;
  if (!configured) {
    throw new ValidationError(
      'tick trigger: no credentials configured; set a bearer secret (e.g. CRON_SECRET), a signing secret or QStash keys',
    );
  }
  const methods = options.methods ?? ['GET', 'POST'];
  return async function handleTickRequest(request, context = {}) {
    const receivedAt = Date.now();
    if (!methods.includes(request.method as 'GET' | 'POST')) {
      return json({ error: `method ${request.method} not allowed` }, 405, {
        allow: methods.join(', '),
      });
    }
    const body = request.method === 'POST' ? await request.text() : '';
    if (!(await isAuthorized(request, body, auth))) {
      return json({ error: 'unauthorized: missing or wrong credentials' }, 401, {
        'www-authenticate': 'Bearer',
      });
    }
    const active = typeof runner === 'function' ? runner() : runner;
    const tick = active.tick({
      ...options.tick,
      ...options.deadlines(receivedAt),
      signal: context.signal,
    });
    // A kick only needs the tick started: answer at once and let the platform keep it running.
    if (context.waitUntil && /respond-async/i.test(request.headers.get('prefer') ?? '')) {
      context.waitUntil(tick.catch(() => undefined));
      return json({ accepted: true }, 202);
    }
    try {
      return json(await tick, 200);
    } catch (error) {
      if (isTickError(error)) return json({ error: error.message, stats: error.stats }, 500);
      return json({ error: error instanceof Error ? error.message : String(error) }, 500);
    }
  };
}
