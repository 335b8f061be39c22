/**
 * The Go side of the interop tests: the binaries global-setup.ts builds from
 * test/river-interop/go (River v0.51.2 and River UI v0.22.0, pinned in its go.mod), run as a
 * Go River application would run them.
 *
 * @example
 * ```ts
 * const ids = await goInsert(db, { jobs: [{ kind: 'email', args: { to: 'a' } }] });
 * const worker = await startGoWorker(db, { queues: { default: 10 } });
 * await worker.stop(); // SIGTERM: River's graceful Stop
 * ```
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DATABASE_URL } from '../../support/postgres.js';
import { killTree } from '../../support/processes.js';

export const GO_MODULE = fileURLToPath(new URL('../go/', import.meta.url));
export const BIN_DIR = fileURLToPath(new URL('../go/.bin/', import.meta.url));
export const INTEROP_BIN = `${BIN_DIR}river-interop`;
export const RIVER_UI_BIN = `${BIN_DIR}riverui`;

/** Where the Go side connects: a database URL and a schema. */
export interface GoTarget {
  schema: string;
  databaseUrl?: string;
}

const targetFlags = (target: GoTarget) => [
  '--database-url',
  target.databaseUrl ?? DATABASE_URL,
  '--schema',
  target.schema,
];

export interface GoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one subcommand to its end. */
export function runGo(command: string, args: string[], stdin?: string): Promise<GoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(INTEROP_BIN, [command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** Runs a subcommand against `target` to its end, whatever its exit code. */
export function runGoAt(command: string, target: GoTarget, ...args: string[]): Promise<GoRun> {
  return runGo(command, [...targetFlags(target), ...args]);
}

/** Runs a subcommand against `target` and returns its stdout; throws with stderr on failure. */
export async function go(command: string, target: GoTarget, ...args: string[]): Promise<string> {
  const result = await runGoAt(command, target, ...args);
  if (result.code !== 0)
    throw new Error(`river-interop ${command} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** One job as Go River's client inserts it (InsertOpts, in River's JSON names). */
export interface GoJob {
  kind: string;
  args?: unknown;
  queue?: string;
  priority?: number;
  max_attempts?: number;
  tags?: string[];
  metadata?: unknown;
  scheduled_at?: string;
  pending?: boolean;
  unique?: {
    by_args?: boolean;
    by_period_ms?: number;
    by_queue?: boolean;
    by_state?: string[];
    exclude_kind?: boolean;
  };
}

/**
 * Inserts with River's `Insert` (one call per job) or `InsertMany` (`many`); `now` stops River's
 * clock (unique periods). A string is the spec as JSON text, for args JSON.stringify would
 * change (integers beyond 2^53).
 */
export async function goInsert(
  target: GoTarget,
  spec: { jobs: GoJob[]; many?: boolean; now?: string } | string,
): Promise<{ id: number; skipped: boolean }[]> {
  const text = typeof spec === 'string' ? spec : JSON.stringify(spec);
  const result = await runGo('insert', targetFlags(target), text);
  if (result.code !== 0) throw new Error(`river-interop insert: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

export interface GoWorkerOptions {
  /** Queue name to MaxWorkers. */
  queues: Record<string, number>;
  id?: string;
  /** The name its runs are recorded under in `interop_run` (default `go`). */
  runner?: string;
  /** River's RescueStuckJobsAfter, e.g. `2s` (default River's 1 h). */
  rescueAfter?: string;
  /** River's JobTimeout, e.g. `1s` (default River's 1 min). */
  jobTimeout?: string;
}

export interface GoWorker {
  readonly process: ChildProcess;
  output(): string;
  /** SIGTERM (River's graceful Stop), SIGKILL after 15 s; resolves when it has exited. */
  stop(): Promise<number | null>;
}

/** Starts a Go River client working `queues`; resolves once `client.Start` has returned. */
export function startGoWorker(target: GoTarget, options: GoWorkerOptions): Promise<GoWorker> {
  const args = [
    'work',
    ...targetFlags(target),
    '--queues',
    Object.entries(options.queues)
      .map(([name, n]) => `${name}=${n}`)
      .join(','),
    ...(options.id ? ['--id', options.id] : []),
    ...(options.runner ? ['--runner', options.runner] : []),
    ...(options.rescueAfter ? ['--rescue-after', options.rescueAfter] : []),
    ...(options.jobTimeout ? ['--job-timeout', options.jobTimeout] : []),
  ];
  const child = spawn(INTEROP_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('started\n')) {
        child.stdout.off('data', onData);
        child.stdout.on('data', (more) => {
          output += more;
        });
        resolve({
          process: child,
          output: () => output,
          async stop() {
            killTree(child, 'SIGTERM');
            const timer = setTimeout(() => killTree(child), 15_000);
            const code = await exited;
            clearTimeout(timer);
            return code;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`Go worker exited ${code}: ${output}`)));
  });
}
