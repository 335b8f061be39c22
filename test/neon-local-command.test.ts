/**
 * `eddy neon-local` as a user runs it: a separate process that prints the settings to use, serves
 * the Neon driver with them, and closes cleanly on SIGINT/SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { neon, neonConfig, Pool } from '@neondatabase/serverless';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ws from 'ws';
import { DATABASE_URL } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
// Inside node_modules so the bundle's bare imports (pg, ws, PGlite) resolve from the project.
const cacheDir = `${root}node_modules/.cache/eddy-test`;
const entry = `${cacheDir}/neon-local-cli-${process.pid}.mjs`;

beforeAll(async () => {
  mkdirSync(cacheDir, { recursive: true });
  await build({
    stdin: {
      contents: `import { runNeonLocalCommand } from './adapters/neon-local/command.ts';
        process.exitCode = await runNeonLocalCommand(process.argv.slice(2));`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: entry,
    logLevel: 'silent',
  });
});

afterAll(() => rmSync(entry, { force: true }));

interface Running {
  child: ChildProcess;
  /** Everything printed so far. */
  stdout: () => string;
  exited: Promise<{ code: number | null; stderr: string }>;
}

function run(args: string[]): Running {
  const child = spawn(process.execPath, [entry, ...args], { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  );
  return { child, stdout: () => stdout, exited };
}

/** Waits until the command printed its banner; returns the settings it printed. */
async function started(running: Running) {
  const deadline = Date.now() + 30_000;
  while (!running.stdout().includes('Ctrl-C stops it.')) {
    if (Date.now() > deadline || running.child.exitCode !== null) {
      throw new Error(`no banner: ${running.stdout()} ${(await running.exited).stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const out = running.stdout();
  const printed = (pattern: RegExp) => out.match(pattern)?.[1] ?? '';
  return {
    fetchEndpoint: printed(/neonConfig\.fetchEndpoint = '([^']+)'/),
    wsProxy: printed(/neonConfig\.wsProxy = '([^']+)'/),
    url: printed(/DATABASE_URL=(\S+)/),
  };
}

/** Uses the printed settings exactly as the banner tells a user to. */
async function queryThrough(settings: { fetchEndpoint: string; wsProxy: string; url: string }) {
  Object.assign(neonConfig, {
    fetchEndpoint: settings.fetchEndpoint,
    wsProxy: settings.wsProxy,
    useSecureWebSocket: false,
    pipelineConnect: false,
    webSocketConstructor: ws,
  });
  const [http] = await neon(settings.url)`SELECT 40 + 2 AS answer`;
  const pool = new Pool({ connectionString: settings.url });
  const { rows } = await pool.query('SELECT current_user AS who');
  await pool.end();
  return { http, ws: rows[0] };
}

describe('eddy neon-local', () => {
  it('prints its usage with --help', async () => {
    const running = run(['--help']);
    expect((await running.exited).code).toBe(0);
    expect(running.stdout()).toMatch(/Usage: eddy neon-local \[--database-url URL\]/);
  });

  it('refuses an unknown option', async () => {
    const { code, stderr } = await run(['--bogus']).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown option '--bogus'/);
  });

  it('serves a PostgreSQL server until SIGTERM, then exits cleanly', async () => {
    const running = run(['--database-url', DATABASE_URL, '--port', '0']);
    try {
      const settings = await started(running);
      expect(settings.fetchEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sql$/);
      expect(await queryThrough(settings)).toEqual({
        http: { answer: 42 },
        ws: { who: 'postgres' },
      });
      running.child.kill('SIGTERM');
      expect((await running.exited).code).toBe(0);
      expect(running.stdout()).toMatch(/SIGTERM, closing/);
    } finally {
      running.child.kill('SIGKILL');
    }
  });

  it('serves an embedded PGlite without a URL until SIGINT', async () => {
    const running = run(['--port=0']);
    try {
      const settings = await started(running);
      expect(running.stdout()).toMatch(/embedded in-memory PGlite/);
      expect(await queryThrough(settings)).toEqual({
        http: { answer: 42 },
        ws: { who: 'postgres' },
      });
      running.child.kill('SIGINT');
      expect((await running.exited).code).toBe(0);
    } finally {
      running.child.kill('SIGKILL');
    }
  });
});
