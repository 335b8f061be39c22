/**
 * `eddy neon-local` as a user runs it: a separate process that prints the settings to use (and no
 * secret), serves the Neon driver with them, and closes cleanly on SIGINT/SIGTERM; misuse is one
 * line on stderr and exit code 1.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { neon, neonConfig, Pool } from '@neondatabase/serverless';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ws from 'ws';
import { createSchema, DATABASE_URL } from './support/postgres.js';

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
  stderr: () => string;
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
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
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
    expect(running.stdout()).toMatch(/^Usage: eddy neon-local \[options\]\n[\s\S]*--migrate/);
  });

  it('refuses an unknown option', async () => {
    const { code, stderr } = await run(['--bogus']).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^eddy neon-local: unknown option '--bogus'[^\n]*\n$/);
  });

  it('refuses a host other than loopback, unless --allow-remote and --token-file', async () => {
    for (const [args, message] of [
      [['--host', '0.0.0.0'], /--host 0\.0\.0\.0 is not a loopback address.*--allow-remote/],
      [['--host=::'], /not a loopback address/],
      [['--host', '0.0.0.0', '--allow-remote'], /--allow-remote needs --token-file PATH/],
      [['--max-connections', '0'], /--max-connections must be an integer from 1/],
      [['--allow-origin', 'localhost'], /--allow-origin: 'localhost' is not an origin/],
      [['--schema', 'jobs'], /--schema goes with --migrate/],
    ] as const) {
      const running = run([...args, '--port', '0']);
      const { code, stderr } = await Promise.race([
        running.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => {
            running.child.kill('SIGKILL');
            reject(new Error(`started with ${args.join(' ')}: ${running.stdout()}`));
          }, 20_000),
        ),
      ]);
      expect({ code, stdout: running.stdout() }).toEqual({ code: 1, stdout: '' });
      expect(stderr).toMatch(/^eddy neon-local: [^\n]+\n$/);
      expect(stderr).toMatch(message);
    }
  });

  it('prints no password, not even the one in --database-url', async () => {
    const url = new URL(DATABASE_URL);
    url.password = 's3cret-pw';
    const running = run(['--database-url', url.toString(), '--port', '0']);
    try {
      const settings = await started(running);
      expect(settings.url).not.toContain('s3cret');
      expect(await queryThrough(settings)).toEqual({
        http: { answer: 42 },
        ws: { who: 'postgres' },
      });
      running.child.kill('SIGTERM');
      const { stderr } = await running.exited;
      expect(`${running.stdout()}${stderr}`).not.toContain('s3cret');
    } finally {
      running.child.kill('SIGKILL');
    }
  });

  it('migrates a PostgreSQL server with --migrate before serving it', async () => {
    const { schema, drop } = await createSchema('eddy_nlc_migrate');
    const running = run([
      '--database-url',
      DATABASE_URL,
      '--port',
      '0',
      '--migrate',
      '--schema',
      schema,
    ]);
    try {
      const settings = await started(running);
      expect(running.stdout()).toMatch(
        new RegExp(`River schema in schema ${schema} migrated from version 0 to 8`),
      );
      Object.assign(neonConfig, { fetchEndpoint: settings.fetchEndpoint });
      const rows = await neon(settings.url).query(
        `SELECT max(version)::int AS v FROM ${schema}.river_migration`,
      );
      expect(rows).toEqual([{ v: 8 }]);
      running.child.kill('SIGTERM');
      expect((await running.exited).code).toBe(0);
    } finally {
      running.child.kill('SIGKILL');
      await drop();
    }
  });

  it('serves other machines with --allow-remote, with a token it writes to --token-file only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eddy-token-'));
    const tokenFile = join(dir, 'token');
    const running = run([
      ...['--database-url', DATABASE_URL, '--port', '0', '--host', '0.0.0.0'],
      ...['--allow-remote', '--token-file', tokenFile, '--allow-origin', 'http://localhost:5173'],
    ]);
    try {
      const settings = await started(running);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(tokenFile, 'utf8').trim();
      expect(token).toMatch(/^[\w-]{43}$/);
      expect(settings.fetchEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/<token>\/sql$/);
      const withToken = {
        ...settings,
        fetchEndpoint: settings.fetchEndpoint.replace('<token>', token),
        wsProxy: settings.wsProxy.replace('<token>', token),
      };
      expect(await queryThrough(withToken)).toEqual({
        http: { answer: 42 },
        ws: { who: 'postgres' },
      });
      const page = (origin: string) =>
        fetch(withToken.fetchEndpoint, {
          method: 'POST',
          headers: { Origin: origin, 'Neon-Connection-String': settings.url },
          body: JSON.stringify({ query: 'SELECT 1' }),
        }).then((response) => response.status);
      expect([await page('http://localhost:5173'), await page('http://localhost:3000')]).toEqual([
        200, 403,
      ]);
      const without = await fetch(settings.fetchEndpoint.replace('/<token>', ''), {
        method: 'POST',
        headers: { 'Neon-Connection-String': settings.url },
        body: JSON.stringify({ query: 'SELECT 1' }),
      });
      expect(without.status).toBe(401);
      running.child.kill('SIGTERM');
      const { code, stderr } = await running.exited;
      expect(code).toBe(0);
      expect(`${running.stdout()}${stderr}`).not.toContain(token);
      expect(existsSync(tokenFile)).toBe(false);
    } finally {
      running.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
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

  // One PGlite start for both: it takes seconds.
  it('serves an embedded PGlite without a URL, migrated by --migrate, until SIGINT', async () => {
    const running = run(['--port=0', '--migrate']);
    try {
      const settings = await started(running);
      expect(running.stdout()).toMatch(/embedded in-memory PGlite/);
      expect(running.stdout()).toMatch(/River schema migrated from version 0 to 8/);
      expect(await queryThrough(settings)).toEqual({
        http: { answer: 42 },
        ws: { who: 'postgres' },
      });
      const rows = await neon(settings.url)`SELECT max(version)::int AS v FROM river_migration`;
      expect(rows).toEqual([{ v: 8 }]);
      running.child.kill('SIGINT');
      expect((await running.exited).code).toBe(0);
    } finally {
      running.child.kill('SIGKILL');
    }
  });
});
