/**
 * Kick-after-insert: a fire-and-forget, signed POST to the tick endpoint so new jobs start
 * within a second instead of at the next cron minute. A kick never fails an insert: every error
 * is swallowed (and reported to `onError` when given).
 */

import { EddyError, invalid } from '../errors.js';
import { checkSecret, SIGNATURE_HEADER, signBody } from './http-auth.js';

export interface KickOptions {
  /** The tick endpoint, e.g. `https://my-worker.example.workers.dev/tick`. */
  url: string;
  /** Shared with the endpoint's `signingSecret`: at least 32 characters. */
  secret: string;
  /** Give up after this long. Default 3 s. */
  timeoutMs?: number;
  /** Keeps the invocation alive until the kick is sent (`ctx.waitUntil` on Workers and Vercel). */
  waitUntil?: (promise: Promise<unknown>) => void;
  fetch?: typeof fetch;
  onError?: (error: unknown) => void;
}

/** Sends one kick; resolves when it is sent (or failed), never rejects. */
export type Kick = (reason?: { queues?: readonly string[] }) => Promise<void>;

/**
 * @example
 * ```ts
 * const eddy = createClient({ driver, kick: createKick({ url: env.TICK_URL, secret: env.TICK_SECRET, waitUntil: ctx.waitUntil.bind(ctx) }) });
 * ```
 */
export function createKick(options: KickOptions): Kick {
  const where = 'createKick';
  if (!options || typeof options !== 'object')
    invalid('options', 'must be { url, secret, ... }', where);
  if (typeof options.url !== 'string' || !URL.canParse(options.url))
    invalid('url', 'must be the absolute URL of the tick endpoint', where);
  if (typeof options.secret !== 'string' || options.secret.length === 0)
    invalid('secret', "must be the endpoint's signing secret", where);
  // The endpoint refuses shorter secrets, so every kick would fail: say so now.
  checkSecret(options.secret, 'secret', where);
  const timeoutMs = options.timeoutMs ?? 3000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    invalid('timeoutMs', 'must be a positive number of milliseconds', where);
  const send = options.fetch ?? globalThis.fetch;
  return async function kick(reason = {}) {
    const attempt = (async () => {
      try {
        const body = JSON.stringify({ kick: true, queues: reason.queues ?? [] });
        const response = await send(options.url, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            // Ask the endpoint to answer once the tick has started, not when it ends.
            prefer: 'respond-async',
            [SIGNATURE_HEADER]: await signBody(options.secret, {
              method: 'POST',
              url: options.url,
              body,
            }),
          },
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel().catch(() => undefined);
        if (!response.ok) throw new EddyError(`kick: ${options.url} answered ${response.status}`);
      } catch (error) {
        options.onError?.(error);
      }
    })();
    options.waitUntil?.(attempt);
    await attempt;
  };
}
