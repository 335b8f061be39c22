/**
 * `npm run demo`: the example Worker (wrangler.toml, examples/worker/) running locally in workerd
 * through Miniflare, on the Neon HTTP driver, with no database server, no network and no account:
 *
 * 1. a database: an embedded PGlite behind the local Neon endpoint (or, with `DATABASE_URL`
 *    set, that PostgreSQL behind it), migrated to River's schema plus the example's table;
 * 2. the Worker, bundled with esbuild as `wrangler deploy` would, started in workerd;
 * 3. its cron triggers fired on schedule (one right away), and sample signups sent to
 *    `POST /signup`, each kicking a tick;
 * 4. each tick's stats and the jobs' states printed as they change, until Ctrl-C.
 *
 * Flags and variables:
 *   --once                 exit once every sample job has finished (completed, cancelled or
 *                          discarded); DEMO_ONCE=1 does the same
 *   --exit-after MS        exit after MS milliseconds at most (DEMO_EXIT_AFTER_MS)
 *   DATABASE_URL           a PostgreSQL to use instead of the embedded PGlite
 *   PORT                   where the Worker listens (default 8787; 0 picks a free port)
 *   DEMO_CRONS             cron expressions to fire instead of wrangler.toml's, separated by
 *                          `;` (a sixth, seconds field is allowed: `*\/2 * * * * *`)
 *   DEMO_SIGNUP_EVERY_MS   a sample signup this often after the first three (default 15000;
 *                          0 for none)
 */

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { neon, neonConfig } from '@neondatabase/serverless';
import { CronExpressionParser } from 'cron-parser';
import { Miniflare } from 'miniflare';
import { neonHttp } from '../adapters/neon-http/index.js';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { migrate } from '../src/migrate.js';
import type { TickStats } from '../src/runner/runner.js';
import { bundleWorker } from './bundle-worker.js';
import {
  awaitEmailVerification,
  reportSignups,
  sendWelcomeEmail,
  syncCrmContact,
} from './worker/jobs.js';
import { CREATE_USERS_TABLE } from './worker/users.js';
import { readWranglerConfig } from './wrangler-config.js';

const USAGE = `Usage: npm run demo [-- --once] [-- --exit-after MS]

Runs the example Worker (wrangler.toml) locally in workerd with an embedded database (or
DATABASE_URL), fires its cron triggers on schedule and prints what each tick does. Ctrl-C stops it.
`;

const KINDS = [sendWelcomeEmail, syncCrmContact, awaitEmailVerification, reportSignups].map(
  (k) => k.kind,
);
const SAMPLE_EMAILS = ['ada@example.com', 'grace@example.com', 'linus@example.com'];
const UNFINISHED = new Set(['available', 'pending', 'retryable', 'running', 'scheduled']);

interface Settings {
  once: boolean;
  exitAfterMs: number | undefined;
  port: number;
  crons: string[] | undefined;
  signupEveryMs: number;
}

function parseSettings(argv: string[]): Settings | 'help' {
  const env = process.env;
  const settings: Settings = {
    once: env.DEMO_ONCE === '1' || env.DEMO_ONCE === 'true',
    exitAfterMs: env.DEMO_EXIT_AFTER_MS ? Number(env.DEMO_EXIT_AFTER_MS) : undefined,
    port: env.PORT ? Number(env.PORT) : 8787,
    crons: env.DEMO_CRONS?.split(';')
      .map((c) => c.trim())
      .filter(Boolean),
    signupEveryMs: env.DEMO_SIGNUP_EVERY_MS ? Number(env.DEMO_SIGNUP_EVERY_MS) : 15_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split(/=(.*)/s, 2);
    if (flag === '--once') settings.once = true;
    else if (flag === '--exit-after') settings.exitAfterMs = Number(inline ?? argv[++i]);
    else if (flag === '--help' || flag === '-h') return 'help';
    else throw new Error(`unknown option '${flag}'\n\n${USAGE}`);
  }
  for (const [name, value] of [
    ['--exit-after / DEMO_EXIT_AFTER_MS', settings.exitAfterMs ?? 1],
    ['PORT', settings.port],
    ['DEMO_SIGNUP_EVERY_MS', settings.signupEveryMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0`);
  }
  return settings;
}

const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const clock = () => new Date().toISOString().slice(11, 19);
const say = (line: string) => process.stdout.write(`${dim(clock())} ${line}\n`);

/** 8787 (wrangler dev's port) when free, else any free port. */
async function choosePort(wanted: number): Promise<number> {
  if (wanted === 0) return 0;
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen(wanted, '127.0.0.1', () => probe.close(() => resolve(wanted)));
  });
}

function describeTick(stats: TickStats, trigger: string): string {
  const source =
    trigger === 'kick'
      ? 'kick after signup'
      : trigger === 'push'
        ? 'POST /tick'
        : `cron ${trigger}`;
  const extra = [
    stats.promoted && `${stats.promoted} promoted`,
    stats.periodicEnqueued && `${stats.periodicEnqueued} periodic enqueued`,
    stats.rescued && `${stats.rescued} rescued`,
    stats.released && `${stats.released} released`,
    stats.discarded && `${stats.discarded} discarded`,
    `${stats.statements} statements`,
    `${stats.durationMs} ms`,
  ].filter(Boolean);
  const errors = stats.errors.length ? `  errors: ${stats.errors.join('; ')}` : '';
  return `${bold('tick')} (${source}): claimed ${stats.claimed} · completed ${stats.completed} · retried ${stats.retried} · snoozed ${stats.snoozed}  ${dim(`(${extra.join(', ')})`)}${errors}`;
}

/**
 * The part of Miniflare's worker handle the demo uses (its own types come from
 * @cloudflare/workers-types, which this project does not install).
 */
interface ScheduledTarget {
  scheduled(options: { cron?: string; scheduledTime?: Date }): Promise<{ outcome: string }>;
}

/** Fires each cron expression through Miniflare when it comes due, in UTC as Cloudflare does. */
function scheduleCrons(crons: string[], fire: (cron: string, at: Date) => void): () => void {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const arm = (cron: string, after: Date) => {
    if (stopped) return;
    const next = CronExpressionParser.parse(cron, { currentDate: after, tz: 'UTC' })
      .next()
      .toDate();
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (stopped) return;
        fire(cron, next);
        arm(cron, next);
      },
      Math.max(0, next.getTime() - Date.now()),
    );
    timers.add(timer);
  };
  for (const cron of crons) arm(cron, new Date());
  return () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
  };
}

async function main(): Promise<number> {
  const settings = parseSettings(process.argv.slice(2));
  if (settings === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = readWranglerConfig();
  const crons = settings.crons ?? config.crons;
  for (const cron of crons) CronExpressionParser.parse(cron); // fail early on a typo
  const databaseUrl = process.env.DATABASE_URL;

  // Every resource opened so far, closed in reverse on the way out.
  const closers: (() => Promise<unknown>)[] = [];
  let stopping: Promise<void> | undefined;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  const stop = (reason: string, code = 0) => {
    stopping ??= (async () => {
      say(`${reason}; closing`);
      for (const close of closers.reverse()) {
        await close().catch((error: unknown) => say(`while closing: ${String(error)}`));
      }
      say('closed cleanly');
      resolveDone(code);
    })();
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal === 'SIGINT' ? 'Ctrl-C' : signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  closers.push(async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  try {
    // 1. The database, behind the local Neon endpoint.
    const local: NeonLocal = await createNeonLocal(databaseUrl ? { databaseUrl } : {});
    closers.push(() => local.close());
    neonConfig.fetchEndpoint = local.fetchEndpoint;
    const sql = neon(local.connectionString());
    const { applied, version } = await migrate(neonHttp(sql));
    await sql.query(CREATE_USERS_TABLE);
    const where = databaseUrl
      ? `PostgreSQL at ${new URL(databaseUrl).host}`
      : 'an embedded PGlite (in memory: gone on exit)';
    say(
      `database: ${where}, River schema v${version}${applied.length ? ` (applied ${applied.join(', ')})` : ''}, Neon SQL-over-HTTP at ${local.fetchEndpoint}`,
    );

    // 2. The Worker, bundled as for a deploy, in workerd.
    const bundle = await bundleWorker(config.main, {
      compatibilityFlags: config.compatibilityFlags,
    });
    const tickSecret = randomBytes(16).toString('hex');
    const tickLogs: Promise<unknown>[] = [];
    let finishedOnce = false;
    const summarize = async () => {
      const rows = (await sql.query(
        'SELECT state::text AS state, count(*)::int AS n FROM river_job WHERE kind = ANY($1) GROUP BY 1 ORDER BY 1',
        [KINDS],
      )) as { state: string; n: number }[];
      return {
        line: rows.map((r) => `${r.n} ${r.state}`).join(' · ') || 'none',
        unfinished: rows.filter((r) => UNFINISHED.has(r.state)).reduce((s, r) => s + r.n, 0),
      };
    };
    let signupsSent = 0;
    const signalListeners = () => [...process.listeners('SIGINT'), ...process.listeners('SIGTERM')];
    const ours = new Set(signalListeners());
    const mf = new Miniflare({
      name: config.name,
      modules: true,
      script: bundle.code,
      compatibilityDate: config.compatibilityDate,
      compatibilityFlags: config.compatibilityFlags,
      bindings: {
        ...config.vars,
        DATABASE_URL: local.connectionString(),
        NEON_FETCH_ENDPOINT: local.fetchEndpoint,
        TICK_SECRET: tickSecret,
      },
      host: '127.0.0.1',
      // No request.cf data: Miniflare would download it from Cloudflare, and the demo is offline.
      cf: false,
      port: await choosePort(settings.port),
      structuredWorkerdLogs: true,
      handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
        let tick: (TickStats & { message: string; trigger: string }) | undefined;
        try {
          const parsed = JSON.parse(message);
          if (parsed?.message === 'eddy tick') tick = parsed;
        } catch {
          // an ordinary log line
        }
        if (!tick) {
          say(`${level === 'error' ? 'worker error' : 'worker'} │ ${message}`);
          return;
        }
        say(describeTick(tick, tick.trigger));
        tickLogs.push(
          summarize().then(
            ({ line, unfinished }) => {
              say(`     jobs: ${line}`);
              if (
                settings.once &&
                !finishedOnce &&
                signupsSent >= SAMPLE_EMAILS.length &&
                unfinished === 0
              ) {
                finishedOnce = true;
                stop('--once: every sample job has finished');
              }
            },
            (error: unknown) => say(`could not read job states: ${String(error)}`),
          ),
        );
      },
    });
    // Miniflare exits the process on SIGINT/SIGTERM, before the database is closed; the demo
    // takes those signals back and disposes of Miniflare itself on the way out.
    for (const listener of signalListeners()) {
      if (!ours.has(listener)) {
        process.off('SIGINT', listener as () => void);
        process.off('SIGTERM', listener as () => void);
      }
    }
    closers.push(() => mf.dispose());
    const url = await mf.ready;
    const worker = (await mf.getWorker()) as unknown as ScheduledTarget;
    say(
      `worker: ${config.name} (${config.main.slice(config.main.indexOf('examples/'))}) in workerd at ${url.origin}, bundle ${(bundle.bytes / 1024).toFixed(0)} KiB (${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzipped)`,
    );
    process.stdout.write(`
  Look around while it runs:
    curl ${url.origin}/jobs -H 'authorization: Bearer ${tickSecret}'   job counts by kind and state
    curl -X POST ${url.origin}/signup -d '{"email":"you@example.com"}'
    curl -X POST ${url.origin}/tick -H 'authorization: Bearer ${tickSecret}'
  The code: examples/worker/ · wrangler.toml · README.md, "Cloudflare Workers", to deploy it.
  Crons (UTC): ${crons.join(', ') || 'none'}${settings.crons ? ' (DEMO_CRONS)' : ''} · Ctrl-C stops.

`);

    // 3. Crons on schedule, one right away, and sample signups.
    const inFlight = new Set<Promise<unknown>>();
    const track = <T>(promise: Promise<T>) => {
      inFlight.add(promise);
      promise.finally(() => inFlight.delete(promise)).catch(() => undefined);
      return promise;
    };
    const fire = (cron: string, at: Date) => {
      if (stopping) return;
      track(
        worker.scheduled({ cron, scheduledTime: at }).then(
          ({ outcome }) => {
            if (outcome !== 'ok') say(`cron ${cron}: the scheduled handler ended with ${outcome}`);
          },
          (error: unknown) => {
            if (!stopping) say(`cron ${cron}: ${String(error)}`);
          },
        ),
      );
    };
    const stopCrons = scheduleCrons(crons, fire);
    let signupTimer: NodeJS.Timeout | undefined;
    let exitTimer: NodeJS.Timeout | undefined;
    // Runs first on the way out: nothing new starts, then what runs may finish (briefly).
    closers.push(async () => {
      stopCrons();
      clearInterval(signupTimer);
      clearTimeout(exitTimer);
      await Promise.race([
        Promise.allSettled([...inFlight, ...tickLogs]),
        new Promise((resolve) => setTimeout(resolve, 5000)),
      ]);
    });
    const limitMs = settings.exitAfterMs ?? (settings.once ? 120_000 : undefined);
    if (limitMs !== undefined) {
      // Under --once, running out of time means the jobs did not finish: a failure.
      exitTimer = setTimeout(
        () => stop(`stopped after ${limitMs} ms`, settings.once ? 1 : 0),
        limitMs,
      );
    }

    if (crons[0]) {
      say(`firing cron ${crons[0]} now`);
      fire(crons[0], new Date());
    }
    const signUp = async (email: string) => {
      const response = await fetch(new URL('/signup', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      const body = (await response.json()) as {
        userId?: string;
        jobs?: { id: string; kind: string }[];
        error?: string;
      };
      signupsSent++;
      if (!response.ok) {
        say(`POST /signup ${email} → ${response.status} ${body.error ?? ''}`);
        return;
      }
      const jobs = (body.jobs ?? []).map((j) => `${j.kind} #${j.id}`).join(', ');
      say(`POST /signup ${email} → 201: user and jobs committed together (${jobs}); kicked a tick`);
    };
    // A database that outlives the demo may hold these users from an earlier run already.
    const runTag = databaseUrl ? `+${Date.now().toString(36)}` : '';
    for (const email of SAMPLE_EMAILS.map((e) => e.replace('@', `${runTag}@`))) {
      if (stopping) break;
      await track(signUp(email)).catch((error: unknown) =>
        say(`POST /signup failed: ${String(error)}`),
      );
    }
    let n = 0;
    if (settings.signupEveryMs > 0 && !settings.once) {
      signupTimer = setInterval(() => {
        n++;
        track(signUp(`sample${n}.${Date.now().toString(36)}@example.com`)).catch((error: unknown) =>
          say(`POST /signup failed: ${String(error)}`),
        );
      }, settings.signupEveryMs);
    }
  } catch (error) {
    say(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    stop('error', 1);
  }
  return done;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
