/**
 * Cloudflare Workers: a `scheduled` handler that runs one tick per cron trigger, and a Hono app
 * for `fetch` with `POST /tick` (push triggers) behind a secret. Each tick tells the runner's
 * `hooks.onTick` what started it (`source`: the cron expression, `push` or `kick`). Add your own routes (a producer
 * endpoint, say) to the returned `app`, and call `kick(env, ctx)` after a committed insert to
 * start a tick in the same invocation (a Worker cannot fetch its own URL). Pushed and kicked ticks
 * share one bound per isolate: one in flight, one pending, the rest coalesced.
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

// hono/tiny: the same Hono with its smallest router, a third less code in every Worker.
import { Hono } from 'hono/tiny';
import {
  createTickGate,
  createTickTrigger,
  invocationDeadlines,
  isValidationError,
  type Runner,
  type TickGate,
  type TickStats,
  type TriggerContext,
  ValidationError,
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
/**
 * Past a cron tick's budget, how long it may still take to record outcomes. It ends the tick's
 * hard deadline (and so its lease, plus the runner's margin) long before the wall limit: an
 * invocation that dies early (CPU limit, memory, isolate reset) holds its jobs this long, not 15
 * minutes.
 */
export const CRON_OVERRUN_MS = 30_000;

/** Statements per tick by default: the Free plan's 50 subrequests less 20 for your own work. */
export const DEFAULT_MAX_STATEMENTS = 30;

/** A setting fixed in code, or read from the environment (`undefined` keeps the default). */
export type EnvSetting<Env, T> = T | ((env: Env) => T | undefined);

/** What started a tick: the cron expression of a Cron Trigger, `push` or `kick`. */
export type TickSource = string;

export interface CloudflareWorkerOptions<Env> {
  /** Builds the runner for an environment; called once per isolate and env binding set. */
  runner: (env: Env) => Runner;
  /**
   * The secret that guards `POST /tick`: as `Authorization: Bearer` or as an HMAC signature. At
   * least 32 characters; a shorter one disables the endpoint (500, logged once).
   */
  tickSecret: (env: Env) => string | undefined;
  /** Budget of a cron tick. Default 50 s (ticks of an every-minute cron do not pile up). */
  scheduledBudgetMs?: EnvSetting<Env, number>;
  /** Budget of a pushed or kicked tick. Default 25 s. */
  pushBudgetMs?: EnvSetting<Env, number>;
  /**
   * Statements per tick at most — each one a subrequest over Neon HTTP. The default of 30 keeps
   * a tick inside the Free plan's 50 subrequests with 20 left for your jobs' own work. At least
   * 8; raise it on Paid.
   */
  maxStatements?: EnvSetting<Env, number>;
  /** Largest `POST /tick` body read, in bytes; larger gets 413 unread. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Called when a kicked tick fails (it runs after the response). Default `console.error`. */
  onKickError?: (error: unknown) => void;
}

export interface EddyWorker<Env extends object> {
  readonly app: Hono<{ Bindings: Env }>;
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
  scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void>;
  /**
   * Starts a tick in this invocation, kept alive with `ctx.waitUntil`, so jobs committed by the
   * request start now instead of at the next cron minute. While a tick runs, one more is queued
   * and later kicks join it. Never throws; the returned promise (which callers need not await)
   * settles with the stats of the tick it started or joined, or `undefined` if that failed.
   */
  kick(env: Env, ctx: ExecutionContext): Promise<TickStats | undefined>;
}

type Handle = (request: Request, context: TriggerContext) => Promise<Response>;

/** What an isolate keeps per env: its runner, its tick bound, its `POST /tick` handler. */
interface EnvState {
  runner: Runner;
  gate: TickGate;
  push?: { secret: string; handle: Handle } | { secret: string; error: string };
}

export function createWorker<Env extends object>(
  options: CloudflareWorkerOptions<Env>,
): EddyWorker<Env> {
  const { maxBodyBytes } = options;
  if (maxBodyBytes !== undefined && !(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new ValidationError('createWorker: maxBodyBytes must be a positive whole number', [
      { path: 'maxBodyBytes', message: 'must be a positive whole number of bytes' },
    ]);
  }
  const fixed = options.maxStatements;
  if (typeof fixed === 'number' && !(Number.isInteger(fixed) && fixed >= 8)) {
    throw new ValidationError(
      'createWorker: maxStatements must be a whole number of at least 8 (maintenance takes up to 5 statements, a claim and its flush 2 more)',
      [{ path: 'maxStatements', message: 'must be a whole number of at least 8' }],
    );
  }
  const states = new WeakMap<Env, EnvState>();
  const stateFor = (env: Env): EnvState => {
    let state = states.get(env);
    if (!state) {
      state = { runner: options.runner(env), gate: createTickGate() };
      states.set(env, state);
    }
    return state;
  };
  const read = (setting: EnvSetting<Env, number> | undefined, env: Env, fallback: number) => {
    const value = typeof setting === 'function' ? setting(env) : setting;
    return value === undefined || !Number.isFinite(value) ? fallback : value;
  };
  const scheduledBudgetMs = (env: Env) => read(options.scheduledBudgetMs, env, 50_000);
  const pushBudgetMs = (env: Env) => read(options.pushBudgetMs, env, 25_000);
  const maxStatements = (env: Env) => read(options.maxStatements, env, DEFAULT_MAX_STATEMENTS);
  /** The env's `POST /tick` handler, built once per secret so its replay memory lasts. */
  const pushFor = (env: Env, secret: string): NonNullable<EnvState['push']> => {
    const state = stateFor(env);
    if (state.push?.secret === secret) return state.push;
    try {
      const pushMs = pushBudgetMs(env);
      const handle = createTickTrigger(() => stateFor(env).runner, {
        auth: { bearerSecret: secret, signingSecret: secret },
        methods: ['POST'],
        // A request has no fixed wall limit while its client waits; the hard deadline leaves
        // the tick's lease a margin past the budget.
        deadlines: (startedAt) => invocationDeadlines({ startedAt, budgetMs: pushMs }),
        tick: { maxStatements: maxStatements(env), source: 'push' },
        maxBodyBytes,
        gate: state.gate,
        names: { where: 'createWorker', bearerSecret: 'tickSecret', signingSecret: 'tickSecret' },
      });
      state.push = { secret, handle };
    } catch (error) {
      if (!isValidationError(error)) throw error;
      console.error(`eddy: POST /tick refuses every request: ${error.message}`);
      state.push = { secret, error: error.message };
    }
    return state.push;
  };

  const app = new Hono<{ Bindings: Env }>();
  app.all('/tick', async (c) => {
    const secret = options.tickSecret(c.env);
    if (!secret) return c.json({ error: 'tick endpoint disabled: no tick secret configured' }, 503);
    const push = pushFor(c.env, secret);
    if ('error' in push)
      return c.json({ error: `tick endpoint misconfigured: ${push.error}` }, 500);
    let waitUntil: ((p: Promise<unknown>) => void) | undefined;
    try {
      const ctx = c.executionCtx;
      waitUntil = ctx.waitUntil.bind(ctx);
    } catch {
      waitUntil = undefined; // not running under Workers (tests calling app.request)
    }
    return push.handle(c.req.raw, { waitUntil });
  });

  return {
    app,
    fetch: (request, env, ctx) => app.fetch(request, env, ctx as never),
    async scheduled(controller, env, ctx) {
      // Not gated: the platform fires each cron once per schedule, and the cron is the tick
      // that must not be skipped.
      const tick = stateFor(env).runner.tick({
        source: controller.cron,
        ...invocationDeadlines({
          startedAt: Date.now(),
          budgetMs: scheduledBudgetMs(env),
          wallLimitMs: CRON_WALL_LIMIT_MS,
          overrunMs: CRON_OVERRUN_MS,
        }),
        maxStatements: maxStatements(env),
      });
      ctx.waitUntil(tick);
      await tick;
    },
    kick(env, ctx) {
      // This invocation's deadlines, even if the tick waits for the running one. It lives on
      // after the response for at most 30 s of waitUntil.
      const times = invocationDeadlines({
        startedAt: Date.now(),
        budgetMs: pushBudgetMs(env),
        overrunMs: 30_000,
      });
      const entry = stateFor(env).gate.enter(
        () =>
          stateFor(env)
            .runner.tick({ ...times, maxStatements: maxStatements(env), source: 'kick' })
            .catch((error: unknown) => {
              (options.onKickError ?? console.error)(error);
              return undefined;
            }),
        times.hardDeadline,
      );
      const tick: Promise<TickStats | undefined> =
        entry.state === 'coalesced'
          ? entry.result.then(
              (stats) => stats as TickStats | undefined,
              () => undefined,
            )
          : entry.result;
      ctx.waitUntil(tick);
      return tick;
    },
  };
}
