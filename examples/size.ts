/**
 * `npm run size`: what Cloudflare gets, measured with the real `wrangler deploy --dry-run`.
 *
 * 1. The example Worker (wrangler.toml, examples/worker/): its size raw and gzipped against the
 *    target (150 KiB gzipped; Cloudflare's own limit is 3 MiB on the Free plan), and what takes
 *    the room; then the same Worker with the dashboard mounted (examples/worker/with-dashboard.ts)
 *    and what the dashboard adds, against its budget (40 KiB gzipped). Exits 1 when over either.
 * 2. The README's code as a user writes it: the Quick start's jobs.ts (`import { z } from 'zod'`)
 *    and the "Cloudflare Workers" section's Worker, with wrangler's defaults (no minify); then
 *    with each way to shrink it: `minify = true`, `import * as z from 'zod'`, `zod/mini`.
 *
 * When wrangler cannot run here, it says so and measures the example with the esbuild
 * imitation in ./bundle-worker.ts instead.
 *
 * What takes the room (minified):
 * - `import { z } from 'zod'` keeps zod's whole namespace, every locale included (~450 KB);
 *   `import * as z from 'zod'` lets esbuild drop what is unused (~90 KB); `zod/mini` less still.
 * - A Worker with periodic jobs carries cron-parser and its luxon (~100 KB; River's dialect is
 *   read by src/runner/cron-schedule.ts, the times computed by cron-parser); one without them
 *   (the README's) does not.
 * - `eddy/cloudflare` builds its app with `hono/tiny` (the smallest preset: ~15 KB where the
 *   default is ~21).
 * - @neondatabase/serverless (~145 KB) is the largest part; it ships pre-bundled.
 */

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bundleWithWrangler,
  bundleWorker,
  type WorkerBundle,
  wranglerRuns,
} from './bundle-worker.js';
import { ROOT, readWranglerConfig, WRANGLER_TOML } from './wrangler-config.js';

export const TARGET_GZIP_BYTES = 150 * 1024;
/** What mounting the dashboard (`eddy/dashboard`) may add to the example, gzipped. */
export const DASHBOARD_BUDGET_GZIP_BYTES = 40 * 1024;
/** The example with the dashboard at /admin, relative to wrangler.toml. */
export const DASHBOARD_ENTRY = 'examples/worker/with-dashboard.ts';

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const out = (line = '') => process.stdout.write(`${line}\n`);

/** `node_modules/<pkg>/…` → the package; Eddy's own files → core, adapter or example. */
function owner(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match) return match[1] as string;
  const [top, folder] = input.split('/');
  if (top === 'src') return 'eddy core (src/)';
  if (top === 'adapters') return `eddy/${folder}`;
  return 'the example worker';
}

function largestParts(bundle: WorkerBundle): [string, number][] {
  const output = Object.entries(bundle.metafile.outputs).find(([path]) => path.endsWith('.js'));
  const byOwner = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.[1].inputs ?? {})) {
    byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + bytesInOutput);
  }
  return [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 8);
}

/** The Quick start's jobs.ts, as the README writes it. */
const README_JOBS = `import { defineJobKind } from 'eddy';
import { z } from 'zod';

export const sendEmail = defineJobKind({
  kind: 'send_email',
  args: z.object({ to: z.string().email(), subject: z.string() }),
  queue: 'email',
  maxAttempts: 5,
});
`;

/** The "Cloudflare Workers" section's Worker, with that jobs.ts and a worker for its kind. */
const README_WORKER = `import { neon } from '@neondatabase/serverless';
import { createClient, createRunner, defineWorker } from 'eddy';
import { createWorker } from 'eddy/cloudflare';
import { neonHttp, neonInsert } from 'eddy/neon-http';
import { sendEmail } from './jobs';

interface Env {
  DATABASE_URL: string;
  TICK_SECRET: string;
}

const workers = [
  defineWorker(sendEmail, async (job) => {
    console.log(\`sending \${job.args.subject} to \${job.args.to}\`);
  }),
];

const worker = createWorker<Env>({
  runner: (env) =>
    createRunner({
      driver: neonHttp(neon(env.DATABASE_URL)),
      workers,
      queues: { default: {}, email: {} },
      hooks: {
        onTick: (stats, { source }) =>
          console.log(JSON.stringify({ message: 'eddy tick', trigger: source, ...stats })),
      },
    }),
  tickSecret: (env) => env.TICK_SECRET,
});

worker.app.post('/signup', async (c) => {
  const { email } = await c.req.json();
  const sql = neon(c.env.DATABASE_URL);
  const eddy = createClient({ driver: neonHttp(sql) });
  const userId = crypto.randomUUID();
  const enqueue = neonInsert(
    sql,
    await eddy.prepareInsertMany([{ kind: sendEmail, args: { to: email, subject: 'Welcome' } }]),
  );
  const [, jobs] = await sql.transaction([
    sql\`INSERT INTO users (id, email) VALUES (\${userId}, \${email})\`,
    enqueue.query,
  ]);
  worker.kick(c.env, c.executionCtx);
  return c.json({ userId, jobId: enqueue.read(jobs)[0]?.job.id.toString() }, 201);
});

export default worker;
`;

const README_WRANGLER_TOML = `name = "my-worker"
main = "index.ts"
compatibility_date = "2025-10-01"

[triggers]
crons = ["* * * * *"]
`;

export interface Variant {
  label: string;
  jobs: string;
  settings: Record<string, unknown>;
}

export const README_VARIANTS: Variant[] = [
  { label: "as written: import { z } from 'zod', no minify", jobs: README_JOBS, settings: {} },
  { label: 'minify = true in wrangler.toml', jobs: README_JOBS, settings: { minify: true } },
  {
    label: "minify, and import * as z from 'zod'",
    jobs: README_JOBS.replace("import { z } from 'zod'", "import * as z from 'zod'"),
    settings: { minify: true },
  },
  {
    label: "minify, and import * as z from 'zod/mini'",
    jobs: README_JOBS.replace("import { z } from 'zod'", "import * as z from 'zod/mini'").replace(
      'z.string().email()',
      'z.email()',
    ),
    settings: { minify: true },
  },
];

let projects = 0;

/**
 * The README's Worker bundled by wrangler, one variant. Its files live in `.scratch/` inside the
 * checkout so that `eddy`, zod and the rest resolve as they do for the example.
 */
export async function bundleReadmeWorker(variant: Variant): Promise<WorkerBundle> {
  const project = join(ROOT, '.scratch', `size-readme-${process.pid}-${++projects}`);
  mkdirSync(project, { recursive: true });
  try {
    writeFileSync(join(project, 'jobs.ts'), variant.jobs);
    writeFileSync(join(project, 'index.ts'), README_WORKER);
    writeFileSync(join(project, 'wrangler.toml'), README_WRANGLER_TOML);
    return await bundleWithWrangler({
      config: join(project, 'wrangler.toml'),
      settings: variant.settings,
      dir: join(project, 'wrangler'),
    });
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const config = readWranglerConfig();
  const where = `${config.name} (${relative(ROOT, config.main)})`;
  const wrangler = await wranglerRuns();
  let bundle: WorkerBundle;
  if (wrangler.ok) {
    out(
      `${where}, as \`wrangler deploy\` bundles it (wrangler ${wrangler.version}, ${relative(ROOT, WRANGLER_TOML)})\n`,
    );
    bundle = await bundleWithWrangler();
  } else {
    out(`wrangler cannot run here (${wrangler.reason}): measuring the esbuild imitation instead\n`);
    out(`${where}, minified ESM for workerd\n`);
    bundle = await bundleWorker(config.main, { compatibilityFlags: config.compatibilityFlags });
  }
  out('  largest parts (before gzip):');
  for (const [name, bytes] of largestParts(bundle)) out(`    ${kib(bytes).padStart(10)}  ${name}`);
  const within = bundle.gzipBytes <= TARGET_GZIP_BYTES;
  out(
    `\nworker bundle: ${kib(bundle.bytes)} raw, ${kib(bundle.gzipBytes)} gzipped — ${within ? 'within' : 'OVER'} the ${kib(TARGET_GZIP_BYTES)} gzipped target`,
  );
  if (!within) process.exitCode = 1;

  const withDashboard = wrangler.ok
    ? await bundleWithWrangler({ settings: { main: DASHBOARD_ENTRY } })
    : await bundleWorker(join(ROOT, DASHBOARD_ENTRY), {
        compatibilityFlags: config.compatibilityFlags,
      });
  const added = withDashboard.gzipBytes - bundle.gzipBytes;
  const fits = added <= DASHBOARD_BUDGET_GZIP_BYTES;
  out(
    `with the dashboard (${DASHBOARD_ENTRY}): ${kib(withDashboard.bytes)} raw, ${kib(withDashboard.gzipBytes)} gzipped — the dashboard adds ${kib(added)} gzipped, ${fits ? 'within' : 'OVER'} its ${kib(DASHBOARD_BUDGET_GZIP_BYTES)} budget`,
  );
  if (!fits) process.exitCode = 1;
  if (!wrangler.ok) return;

  out(
    "\nthe README's code as a user writes it (Quick start's jobs.ts, the Cloudflare Workers Worker):",
  );
  // Side by side: each is one wrangler process, mostly waiting on its own start-up.
  const bundles = await Promise.all(README_VARIANTS.map(bundleReadmeWorker));
  README_VARIANTS.forEach((variant, i) => {
    const { bytes, gzipBytes } = bundles[i] as WorkerBundle;
    out(
      `  ${variant.label.padEnd(46)} ${kib(bytes).padStart(11)} raw, ${kib(gzipBytes).padStart(10)} gzipped`,
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
