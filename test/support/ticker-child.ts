/**
 * The parent side of `ticker-process.ts`: builds it once into a plain Node bundle (spawning
 * `node` on a bundle costs a fifth of spawning tsx), runs it, and kills (SIGKILL) or freezes
 * (SIGSTOP) it at a chosen step of its tick.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export type { TickerProcessOptions } from './ticker-process.js';

import type { TickStats } from '../../src/runner/runner.js';
import type { TickerProcessOptions } from './ticker-process.js';

/** The side table the child's worker writes, one row per execution. */
export const executionsTable = (schema: string) => `
CREATE TABLE ${schema}.executions (
  job_id bigint NOT NULL,
  token text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz
)`;

export interface TickerBundle {
  readonly file: string;
  remove(): Promise<void>;
}

/** Bundles `ticker-process.ts` with its dependencies into one CommonJS file in a temp dir. */
export async function buildTickerBundle(): Promise<TickerBundle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'eddy-ticker-'));
  const file = path.join(dir, 'ticker.cjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./ticker-process.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: file,
    external: ['pg-native'],
    logLevel: 'silent',
  });
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Where to stop the child: at a step it reports (a line starting with `step`), plus a random
 * delay up to `jitterMs`; `never` lets it finish its tick.
 */
export interface KillPoint {
  step: 'ready' | 'claim' | 'claimed' | 'started' | 'executed' | 'record' | 'recorded' | 'never';
  jitterMs: number;
  /** Signal at the `count`-th line of that step (default the first). */
  count?: number;
  /** SIGKILL (default) ends it; SIGSTOP freezes it until `resume()`. */
  signal?: 'SIGKILL' | 'SIGSTOP';
}

export interface ChildRun {
  /** Whether the signal was sent before the child finished its tick. */
  signalled: boolean;
  /** Steps it reported, in order. */
  steps: string[];
  /** The stats its tick returned, when it got that far. */
  stats: TickStats | undefined;
  exitCode: number | null;
  stderr: string;
}

export interface TickerChild {
  /** Resolves when the signal has been sent (never, if the child finishes first). */
  readonly signalled: Promise<void>;
  readonly exited: Promise<ChildRun>;
  /** Continues a child frozen with SIGSTOP. */
  resume(): void;
}

/** Starts the child for one tick and signals it at `at`. */
export function startTickerChild(
  bundle: TickerBundle,
  options: TickerProcessOptions,
  at: KillPoint,
): TickerChild {
  const signal = at.signal ?? 'SIGKILL';
  const child = spawn(process.execPath, [bundle.file, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const steps: string[] = [];
  let stats: TickStats | undefined;
  let stderr = '';
  let buffered = '';
  let aimed = false;
  let seen = 0;
  let sent = false;
  let markSignalled: () => void = () => undefined;
  const signalled = new Promise<void>((resolve) => {
    markSignalled = resolve;
  });
  const fire = (which: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.kill(which) && which === signal) {
      sent = true;
      markSignalled();
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (data: string) => {
    buffered += data;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      steps.push(line);
      if (line.startsWith('done ')) stats = JSON.parse(line.slice(5)) as TickStats;
      if (line.split(' ')[0] === at.step) seen++;
      if (!aimed && at.step !== 'never' && seen === (at.count ?? 1)) {
        aimed = true;
        const delay = Math.random() * at.jitterMs;
        if (delay < 0.5) fire(signal);
        else setTimeout(() => fire(signal), delay);
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (data: string) => {
    stderr += data;
  });
  // A child that never reaches its step is killed anyway once its tick must be over.
  const guard =
    signal === 'SIGKILL' ? setTimeout(() => fire('SIGKILL'), options.hardMs + 5000) : undefined;
  const exited = new Promise<ChildRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(guard);
      resolve({ signalled: sent, steps, stats, exitCode, stderr });
    });
  });
  return { signalled, exited, resume: () => fire('SIGCONT') };
}

/** Runs the child for one tick, killing it at `at`; resolves when it has exited. */
export function runTickerChild(
  bundle: TickerBundle,
  options: TickerProcessOptions,
  at: KillPoint,
): Promise<ChildRun> {
  return startTickerChild(bundle, options, at).exited;
}
