/**
 * Cloudflare Workers: a `scheduled` handler that runs one tick per cron trigger, and a Hono app
 * for `fetch` with `POST /tick` (push triggers) behind a secret. Add your own routes (a producer
 * endpoint, say) to the returned `app`, and call `kick(env, ctx)` after a committed insert to
 * start a tick in the same invocation (a Worker cannot fetch its own URL).
 *
 * @example
 * ```ts
 * const worker = createWorker<Env>({
 *   runner: (env) => createRunner({ driver: neonHttp(neon(env.DATABASE_URL)), workers }),
 *   tickSecret: (env) => env.TICK_SECRET,
 * });
 * worker.app.post('/orders', async (c) => {
 *   // ... commit the order and its job ...
 *   worker.kick(c.env, c.executionCtx);
 *   return c.json({ ok: true }, 201);
 * });
 * export default worker;
 * ```
 */

import { Hono } from 'hono';
import {
  createTickTrigger,
  invocationDeadlines,
  type Runner,
  type TickStats,
} from '../../src/index.js';

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

/** A setting fixed in code, or read from the environment (`undefined` keeps the default). */
export type EnvSetting<Env, T> = T | ((env: Env) => T | undefined);

/** What started a tick: the cron expression of a Cron Trigger, `push` or `kick`. */
export type TickSource = string;

export interface CloudflareWorkerOptions<Env> {
  /** Builds the runner for an environment; called once per isolate and env binding set. */
  runner: (env: Env) => Runner;
  /** The secret that guards `POST /tick`: as `Authorization: Bearer` or as an HMAC signature. */
  tickSecret: (env: Env) => string | undefined;
  /** Budget of a cron tick. Default 50 s (ticks of an every-minute cron do not pile up). */
  scheduledBudgetMs?: EnvSetting<Env, number>;
  /** Budget of a pushed or kicked tick. Default 25 s. */
  pushBudgetMs?: EnvSetting<Env, number>;
  /**
   * Claim rounds per tick. Each costs two statements — two subrequests over Neon HTTP — so the
   * default of 10 keeps a tick near 25 subrequests, inside the Free plan's 50.
   */
  maxBatches?: EnvSetting<Env, number>;
  /** Called with the stats of every tick this worker runs (logging). */
  onTick?: (stats: TickStats, trigger: TickSource) => void;
  /** Called when a kicked tick fails (it runs after the response). Default `console.error`. */
  onKickError?: (error: unknown) => void;
}

export interface EddyWorker<Env extends object> {
  readonly app: Hono<{ Bindings: Env }>;
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void>;
  /**
   * Starts a tick in this invocation, kept alive with `ctx.waitUntil`, so jobs committed by the
   * request start now instead of at the next cron minute. Never throws; the returned promise
   * (which callers need not await) settles with the tick's stats, or `undefined` if it failed.
   */
  kick(env: Env, ctx: ExecutionContext): Promise<TickStats | undefined>;
}

export function createWorker<Env extends object>(
  options: CloudflareWorkerOptions<Env>,
): EddyWorker<Env> {
  const runners = new WeakMap<Env, Runner>();
  const runnerFor = (env: Env): Runner => {
    let runner = runners.get(env);
    if (!runner) {
      runner = options.runner(env);
      runners.set(env, runner);
    }
    return runner;
  };
  const read = (setting: EnvSetting<Env, number> | undefined, env: Env, fallback: number) => {
    const value = typeof setting === 'function' ? setting(env) : setting;
    return value === undefined || !Number.isFinite(value) ? fallback : value;
  };
  const scheduledBudgetMs = (env: Env) => read(options.scheduledBudgetMs, env, 50_000);
  const pushBudgetMs = (env: Env) => read(options.pushBudgetMs, env, 25_000);
  const maxBatches = (env: Env) => read(options.maxBatches, env, 10);
  /** The env's runner, reporting each tick's stats to `onTick`. */
  const reporting = (env: Env, trigger: TickSource): Runner => {
    const runner = runnerFor(env);
    return {
      id: runner.id,
      tick: async (tickOptions) => {
        const stats = await runner.tick(tickOptions);
        options.onTick?.(stats, trigger);
        return stats;
      },
    };
  };

  const app = new Hono<{ Bindings: Env }>();
  app.all('/tick', async (c) => {
    const secret = options.tickSecret(c.env);
    if (!secret) return c.json({ error: 'tick endpoint disabled: no tick secret configured' }, 503);
    const pushMs = pushBudgetMs(c.env);
    const handle = createTickTrigger(() => reporting(c.env, 'push'), {
      auth: { bearerSecret: secret, signingSecret: secret },
      methods: ['POST'],
      // A request has no fixed wall limit while its client waits; the hard deadline leaves the
      // tick's lease a margin past the budget.
      deadlines: (startedAt) => invocationDeadlines({ startedAt, budgetMs: pushMs }),
      tick: { maxBatches: maxBatches(c.env) },
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
      const tick = reporting(env, controller.cron).tick({
        ...invocationDeadlines({
          startedAt: Date.now(),
          budgetMs: scheduledBudgetMs(env),
          wallLimitMs: CRON_WALL_LIMIT_MS,
        }),
        maxBatches: maxBatches(env),
      });
      ctx.waitUntil(tick);
      await tick;
    },
    kick(env, ctx) {
      const tick = reporting(env, 'kick')
        .tick({
          // The invocation lives on after the response for at most 30 s of waitUntil.
          ...invocationDeadlines({
            startedAt: Date.now(),
            budgetMs: pushBudgetMs(env),
            overrunMs: 30_000,
          }),
          maxBatches: maxBatches(env),
        })
        .catch((error: unknown) => {
          (options.onKickError ?? console.error)(error);
          return undefined;
        });
      ctx.waitUntil(tick);
      return tick;
    },
  };
}
