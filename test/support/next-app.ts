/**
 * The example Next.js app (examples/nextjs) under the real `next build` and `next start`, offline.
 *
 * Each run builds a copy of the app in `.scratch/nextjs-<id>/` (two folders below the repository,
 * as the app itself is, so its config finds the same workspace root), so runs side by side never
 * share a `.next` folder and the checkout stays clean. The app imports `eddy` through the
 * package's `exports`, i.e. the checkout's `dist/`; `ensureEddyBuilt` rebuilds it first when a
 * source file is newer (never in CI, where `npm ci` has just built it).
 */

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniqueName } from './postgres.js';
import { freePort, type Run, run, watchService } from './processes.js';

export type { Run } from './processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = join(ROOT, 'examples', 'nextjs');
const NEXT_BIN = join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
const TSC_BIN = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Variables that would reach the app from the developer's shell: never passed on. */
const APP_VARIABLES =
  /^(DATABASE_URL|NEON_CONFIG|CRON_SECRET|EDDY_SIGNING_SECRET|EDDY_ADMIN_TOKEN|QSTASH_.*|NODE_OPTIONS|NODE_ENV|VITEST.*|__NEXT.*|NEXT_.*|PORT)$/;

/** The environment for `next`: this process's, without the app's variables, plus `vars`. */
export function nextEnv(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!APP_VARIABLES.test(key)) env[key] = value;
  }
  // Offline: no telemetry, no update checks.
  env.NEXT_TELEMETRY_DISABLED = '1';
  return { ...env, ...vars };
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.test.ts')) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  }
  return newest;
}

/**
 * Makes sure `dist/` holds the current sources: when a file in src/ or adapters/ is newer than
 * dist/src/index.js, compiles them (`tsc -p tsconfig.build.json`) into a new folder and swaps it
 * in, so a reader never sees a half-written dist/.
 */
export async function ensureEddyBuilt(): Promise<'fresh' | 'rebuilt'> {
  const marker = join(ROOT, 'dist', 'src', 'index.js');
  const sources = Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'adapters')));
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) return 'fresh';
  const building = join(ROOT, `dist.building-${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  const result = await run(
    process.execPath,
    [TSC_BIN, '-p', 'tsconfig.build.json', '--outDir', relative(ROOT, building)],
    { cwd: ROOT, env: nextEnv(), timeoutMs: 180_000 },
  );
  if (result.code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`tsc -p tsconfig.build.json failed:\n${result.output}`);
  }
  const old = join(ROOT, `dist.old-${process.pid}`);
  if (existsSync(join(ROOT, 'dist'))) renameSync(join(ROOT, 'dist'), old);
  renameSync(building, join(ROOT, 'dist'));
  rmSync(old, { recursive: true, force: true });
  return 'rebuilt';
}

/** A copy of examples/nextjs in `.scratch/` (without build output), and a way to remove it. */
export function copyApp(): { dir: string; remove: () => void } {
  const dir = join(ROOT, '.scratch', uniqueName('nextjs'));
  mkdirSync(join(ROOT, '.scratch'), { recursive: true });
  cpSync(APP, dir, {
    recursive: true,
    filter: (source) => !/[/\\](\.next|node_modules|next-env\.d\.ts|\.env[^/\\]*)$/.test(source),
  });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `next build` of the app in `dir`. */
export function nextBuild(dir: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return run(process.execPath, [NEXT_BIN, 'build', dir], { cwd: ROOT, env, timeoutMs: 240_000 });
}

export interface StartedNext {
  readonly url: string;
  /** Everything the server has printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** `next start` of the built app in `dir` on a free loopback port, once it answers. */
export async function nextStart(dir: string, env: NodeJS.ProcessEnv): Promise<StartedNext> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [NEXT_BIN, 'start', dir, '--port', String(port), '--hostname', '127.0.0.1'],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const service = watchService(child);
  const { stop } = service;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited early:\n${service.output()}`);
    try {
      // Any answer means the server is up (the app has no page at /).
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`next start did not answer within 60 s:\n${service.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return { url, output: service.output, stop };
}
