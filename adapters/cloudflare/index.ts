/**
 * Cloudflare Workers: a `scheduled` handler that runs one tick per cron trigger, and a Hono app
 * for `fetch` with `POST /tick` (push triggers and kicks) behind a secret. Add your own routes
 * (a producer endpoint, say) to the returned `app`.
 *
 * @example
 * ```ts
 * const worker = createWorker<Env>({
 *   runner: (env) => createRunner({ driver: neonHttp(neon(env.DATABASE_URL)), workers }),
 *   tickSecret: (env) => env.TICK_SECRET,
 * });
 * worker.app.post('/orders', (c) => ...);
 * export default worker;
 * ```
 */

import { Hono } from 'hono';
import type { Runner, TickStats } from '../../src/runner.js';
import { createTickTrigger } from '../../src/tick-trigger.js';

/** The part of Workers' `ExecutionContext` Eddy uses. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** The part of Workers' `ScheduledController` Eddy uses. */
export interface ScheduledController {
  readonly scheduledTime: number;
  readonly cron: string;
}

/** Cloudflare's wall-clock limit for a Cron Trigger invocation. */
export const CRON_WALL_LIMIT_MS = 15 * 60_000;

export interface WorkerOptions<Env> {
  /** Builds the runner for an environment; called once per isolate and env binding set. */
  runner: (env: Env) => Runner;
  /** The secret that guards `POST /tick`: as `Authorization: Bearer` or as an HMAC signature. */
  tickSecret: (env: Env) => string | undefined;
  /** Budget of a cron tick. Default 50 s (ticks of an every-minute cron do not pile up). */
  scheduledBudgetMs?: number;
  /** Budget of a pushed tick. Default 25 s. */
  pushBudgetMs?: number;
  /**
   * Claim rounds per tick. Each costs two statements — two subrequests over Neon HTTP — so the
   * default of 10 keeps a tick near 25 subrequests, inside the Free plan's 50.
   */
  maxBatches?: number;
  /** Called with each cron tick's stats (logging). */
  onTick?: (stats: TickStats, cron: string) => void;
}

export interface EddyWorker<Env extends object> {
  readonly app: Hono<{ Bindings: Env }>;
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void>;
}

export function createWorker<Env extends object>(options: WorkerOptions<Env>): EddyWorker<Env> {
  const runners = new WeakMap<Env, Runner>();
  const runnerFor = (env: Env): Runner => {
    let runner = runners.get(env);
    if (!runner) {
      runner = options.runner(env);
      runners.set(env, runner);
    }
    return runner;
  };
  const scheduledBudgetMs = options.scheduledBudgetMs ?? 50_000;
  const pushBudgetMs = options.pushBudgetMs ?? 25_000;
  const maxBatches = options.maxBatches ?? 10;

  const app = new Hono<{ Bindings: Env }>();
  app.all('/tick', async (c) => {
    const secret = options.tickSecret(c.env);
    if (!secret) return c.json({ error: 'tick endpoint disabled: no tick secret configured' }, 503);
    const handle = createTickTrigger(() => runnerFor(c.env), {
      auth: { bearerSecret: secret, signingSecret: secret },
      methods: ['POST'],
      // A request has no fixed wall limit while its client waits; the hard deadline leaves the
      // tick's lease a margin past the budget.
      deadlines: (at) => ({
        deadline: at + pushBudgetMs,
        hardDeadline: at + pushBudgetMs + 30_000,
      }),
      tick: { maxBatches },
    });
    let waitUntil: ((p: Promise<unknown>) => void) | undefined;
    try {
      const ctx = c.executionCtx;
      waitUntil = ctx.waitUntil.bind(ctx);
    } catch {
      waitUntil = undefined; // not running under Workers (tests calling app.request)
    }
    return handle(c.req.raw, { waitUntil });
  });

  return {
    app,
    fetch: (request, env, ctx) => app.fetch(request, env, ctx as never),
    async scheduled(controller, env, ctx) {
      const startedAt = Date.now();
      const tick = runnerFor(env)
        .tick({
          deadline: startedAt + scheduledBudgetMs,
          hardDeadline: startedAt + CRON_WALL_LIMIT_MS,
          maxBatches,
        })
        .then((stats) => options.onTick?.(stats, controller.cron));
      ctx.waitUntil(tick);
      await tick;
    },
  };
}
