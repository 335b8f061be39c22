/**
 * Child processes for the tests that run real tools (next, wrangler): run one to its end, end
 * one with everything it started, find a free loopback port.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to its end (killed after `timeoutMs`); resolves with its combined output. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => killTree(child), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Ends a child started with `detached: true` and everything it started (its process group). */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** A long-running child (a server): its output so far, and a stop that ends its whole group. */
export interface Service {
  output(): string;
  readonly exited: Promise<void>;
  /** SIGTERM to the group, SIGKILL after 5 s; resolves once the child has closed. */
  stop(): Promise<void>;
}

/** Watches a child started with `detached: true` and piped stdout/stderr. */
export function watchService(child: ChildProcess): Service {
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    output: () => output,
    exited,
    async stop() {
      killTree(child, 'SIGTERM');
      const timer = setTimeout(() => killTree(child), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
