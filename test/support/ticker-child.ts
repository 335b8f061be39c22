/**
 * The parent side of `ticker-process.ts`: builds it once into a plain Node bundle (spawning
 * `node` on a bundle costs a tenth of spawning tsx), runs it, and kills it with SIGKILL at a
 * chosen step of its tick.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export type { TickerProcessOptions } from './ticker-process.js';

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
 * Where to kill the child: at a step it reports (the first line starting with `step`), `jitterMs`
 * later (a random delay up to it), or never.
 */
export interface KillPoint {
  step: 'ready' | 'claim' | 'claimed' | 'started' | 'executed' | 'record' | 'recorded' | 'never';
  jitterMs: number;
}

export interface ChildRun {
  /** Whether SIGKILL ended it (false: it finished its tick first). */
  killed: boolean;
  /** Steps it reported, in order. */
  steps: string[];
  exitCode: number | null;
  stderr: string;
}

/** Runs the child for one tick and kills it at `kill`. Resolves when it has exited. */
export function runTickerChild(
  bundle: TickerBundle,
  options: TickerProcessOptions,
  kill: KillPoint,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle.file, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const steps: string[] = [];
    let stderr = '';
    let buffered = '';
    let aimed = false;
    let killed = false;
    const fire = () => {
      if (child.exitCode === null && child.signalCode === null) killed = child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      buffered += data;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        steps.push(line);
        if (!aimed && kill.step !== 'never' && line.split(' ')[0] === kill.step) {
          aimed = true;
          const delay = Math.random() * kill.jitterMs;
          if (delay < 0.5) fire();
          else setTimeout(fire, delay);
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (data: string) => {
      stderr += data;
    });
    child.on('error', reject);
    // A child that never reaches its step is killed anyway once its tick must be over.
    const guard = setTimeout(fire, options.hardMs + 5000);
    child.on('exit', (exitCode) => {
      clearTimeout(guard);
      resolve({ killed, steps, exitCode, stderr });
    });
  });
}
