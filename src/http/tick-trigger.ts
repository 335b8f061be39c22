/**
 * One HTTP handler for every way a tick is triggered (a platform cron calling a URL, a push from
 * a scheduler, a kick after an insert): authenticate, run one tick inside the request's budget,
 * answer with its stats as JSON. Web-standard `Request`/`Response` only; runtime adapters wrap it.
 */

import { invalid, isTickError, ValidationError } from '../errors.js';
import { DEFAULT_OVERRUN_MS } from '../runner/deadlines.js';
import type { Runner, TickOptions, TickStats } from '../runner/runner.js';
import { authenticate, type TriggerAuth } from './authenticate.js';
import { checkSecret, SIGNATURE_TOLERANCE_MS } from './http-auth.js';
import { ReplayGuard } from './replay-guard.js';
import { createTickGate, type TickGate } from './tick-gate.js';

export type { TriggerAuth } from './authenticate.js';
export { createTickGate, type TickGate } from './tick-gate.js';

/** Default cap on a trigger's request body: a kick's is under 100 bytes, QStash's your own. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface TickTriggerOptions {
  auth: TriggerAuth;
  /** Methods that may trigger a tick. Default both GET (cron) and POST (push). */
  methods?: readonly ('GET' | 'POST')[];
  /** Computes the tick's deadlines when the request arrives. */
  deadlines: (receivedAt: number) => Pick<TickOptions, 'deadline' | 'hardDeadline'>;
  /** Other tick options (maxJobs, ...). */
  tick?: Omit<TickOptions, 'deadline' | 'hardDeadline' | 'budgetMs'>;
  /** Largest body read, in bytes; a larger one gets 413 unread. Default 64 KiB. */
  maxBodyBytes?: number | undefined;
  /**
   * Bounds the ticks this handler runs: one in flight, one pending, the rest coalesced. Default
   * one per handler; pass one to share it with other ways of starting ticks.
   */
  gate?: TickGate;
  /** How errors name the options: an adapter passes its own names. */
  names?: {
    where?: string;
    /** The path an error names when there are no credentials (default `auth`). */
    auth?: string;
    bearerSecret?: string;
    signingSecret?: string;
  };
}

/** What the runtime offers the handler. */
export interface TriggerContext {
  /** Aborts the tick early (e.g. the platform shutting down). */
  signal?: AbortSignal;
  /** Keeps work running after the response (Workers' `ctx.waitUntil`, Vercel's `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
}

function epoch(value: Date | number | undefined): number | undefined {
  return value instanceof Date ? value.getTime() : value;
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

const REFUSALS = {
  400: 'could not read the request body',
  401: 'unauthorized: missing or wrong credentials',
  413: 'request body too large',
} as const;

/** Refuses a configuration that would leave the endpoint open or guarded by a weak secret. */
function checkAuth(options: TickTriggerOptions): number {
  const { auth, names = {} } = options;
  const where = names.where ?? 'createTickTrigger';
  if (!auth || typeof auth !== 'object') invalid('auth', 'must be an object', where);
  if (auth.qstash !== undefined && auth.qstash?.qstash !== true)
    invalid(
      'auth.qstash',
      'must be qstashVerifier({ currentSigningKey, nextSigningKey }) (from eddy)',
      where,
    );
  const configured = auth.bearerSecret || auth.signingSecret || auth.qstash || auth.insecureNoAuth;
  if (!configured) {
    const message =
      'no credentials configured: set a bearer secret (e.g. CRON_SECRET), a signing secret or QStash keys';
    throw new ValidationError(`${where}: ${message}`, [{ path: names.auth ?? 'auth', message }]);
  }
  if (auth.bearerSecret) {
    checkSecret(auth.bearerSecret, names.bearerSecret ?? 'auth.bearerSecret', where);
  }
  if (auth.signingSecret) {
    checkSecret(auth.signingSecret, names.signingSecret ?? 'auth.signingSecret', where);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    invalid('maxBodyBytes', 'must be a positive whole number of bytes', where);
  }
  return maxBodyBytes;
}

/**
 * Builds the handler. Refuses a configuration that would leave the endpoint open, and secrets
 * shorter than 32 characters.
 *
 * A tick starts at once if none runs; a request that arrives while one runs queues one more;
 * any after that gets `202 { accepted: true, coalesced: true }` and starts nothing. With
 * `Prefer: respond-async` and a `waitUntil`, a started or queued tick is answered `202` at once.
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
  const maxBodyBytes = checkAuth(options);
  const { auth } = options;
  const methods = options.methods ?? ['GET', 'POST'];
  const replays = new ReplayGuard(SIGNATURE_TOLERANCE_MS);
  const gate = options.gate ?? createTickGate();
  return async function handleTickRequest(request, context = {}) {
    const receivedAt = Date.now();
    if (!methods.includes(request.method as 'GET' | 'POST')) {
      return json({ error: `method ${request.method} not allowed` }, 405, {
        allow: methods.join(', '),
      });
    }
    const authenticated = await authenticate(request, auth, { maxBodyBytes, replays });
    if (!authenticated.ok) {
      const { status } = authenticated;
      return json(
        { error: REFUSALS[status] },
        status,
        status === 401 ? { 'www-authenticate': 'Bearer' } : {},
      );
    }
    // The deadlines are this request's, even when its tick waits for the running one.
    const times = options.deadlines(receivedAt);
    const start = (): Promise<TickStats> =>
      (typeof runner === 'function' ? runner() : runner).tick({
        // A GET is a platform's cron calling the URL; a POST a push (or a kick).
        source: request.method === 'GET' ? 'cron' : 'push',
        ...options.tick,
        ...times,
        signal: context.signal,
      });
    const soft = epoch(times.deadline) ?? receivedAt;
    const entry = gate.enter(start, epoch(times.hardDeadline) ?? soft + DEFAULT_OVERRUN_MS);
    if (entry.state === 'coalesced') return json({ accepted: true, coalesced: true }, 202);
    // A kick only needs the tick started: answer at once and let the platform keep it running.
    if (context.waitUntil && /respond-async/i.test(request.headers.get('prefer') ?? '')) {
      context.waitUntil(entry.result.catch(() => undefined));
      return json({ accepted: true }, 202);
    }
    try {
      return json(await entry.result, 200);
    } catch (error) {
      if (isTickError(error)) return json({ error: error.message, stats: error.stats }, 500);
      return json({ error: error instanceof Error ? error.message : String(error) }, 500);
    }
  };
}
