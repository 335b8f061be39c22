/**
 * The `eddy` bin in projects that lack some optional peers, as users install them:
 * - without `ws` (and `hono`), `eddy migrate` works, and `eddy neon-local` says in one line what
 *   to install instead of a module-not-found stack;
 * - without `hono`, `eddy serve` and `eddy dashboard` say in one line to install it;
 * - without `pg`, `eddy neon-local` serves its embedded PGlite, and asks for `pg` only to front a
 *   PostgreSQL URL; `eddy migrate` connects through `@neondatabase/serverless` (a WebSocket from
 *   `ws`, or the global one of Node 22) and otherwise names what to install.
 *
 * The CLI's sources are transpiled file by file (no bundling, so every `import()` stays lazy as in
 * the published build) into temporary projects whose node_modules link every installed package
 * but the ones left out, outside this repository so nothing resolves from its node_modules.
 */

import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { neon, Pool } from '@neondatabase/serverless';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { configureNeonDriver } from './support/neon-local.js';
import { createDatabase, createSchema, DATABASE_URL } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const projects: string[] = [];

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return /\.tsx?$/.test(path) && !path.endsWith('.test.ts') ? [path] : [];
  });
}

let built: string | undefined;

/** A project with Eddy's src/ and adapters/ as JavaScript and every package except `without`. */
async function projectWithout(without: string[]): Promise<string> {
  if (!built) {
    built = mkdtempSync(join(tmpdir(), 'eddy-cli-build-'));
    projects.push(built);
    await build({
      entryPoints: [...sourcesUnder(join(root, 'src')), ...sourcesUnder(join(root, 'adapters'))],
      outbase: root,
      outdir: built,
      bundle: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'eddy-cli-'));
  projects.push(dir);
  cpSync(built, dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  // What a user sets to point the Neon driver at a local endpoint rather than at Neon.
  writeFileSync(
    join(dir, 'neon-local-settings.mjs'),
    `import { neonConfig } from '@neondatabase/serverless';
    neonConfig.wsProxy = (host, port) => host + ':' + port + '/v2';
    neonConfig.useSecureWebSocket = false;`,
  );
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name.startsWith('.') || without.includes(name)) continue;
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
  }
  return dir;
}

function childEnv(extra: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS; // vitest's loader hooks must not leak into the child
  if (!('DATABASE_URL' in extra)) delete env.DATABASE_URL;
  return env;
}

function eddy(project: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [join(project, 'adapters/node/cli.js'), ...args], {
    cwd: project,
    env: childEnv(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the bin without blocking this process, which may host the endpoint it talks to. With
 * `untilPrinted`, resolves once stdout shows it, with the child still running.
 */
function eddyAsync(
  project: string,
  args: string[],
  options: { nodeFlags?: string[]; env?: Record<string, string>; untilPrinted?: string } = {},
) {
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), join(project, 'adapters/node/cli.js'), ...args],
    { cwd: project, env: childEnv(options.env) },
  );
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    out.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out.stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, ...out })),
  );
  const printed = new Promise<string>((resolve, reject) => {
    const { untilPrinted } = options;
    if (!untilPrinted) return;
    child.stdout.on('data', () => {
      if (out.stdout.includes(untilPrinted)) resolve(out.stdout);
    });
    exited.then(() => reject(new Error(`exited before printing: ${out.stdout}${out.stderr}`)));
  });
  return { child, exited, printed };
}

/** Whether `specifier` can be imported from `project` (guards against a vacuous pass). */
function resolvable(project: string, specifier: string): boolean {
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)})`],
    { cwd: project, encoding: 'utf8', timeout: 30_000 },
  );
  return result.status === 0;
}

let bare: string;
let withWs: string;
let noPg: string;
let noPgNoWs: string;
let noDrivers: string;
let noPglite: string;

beforeAll(async () => {
  bare = await projectWithout(['ws', 'hono']);
  withWs = await projectWithout(['hono']);
  noPg = await projectWithout(['pg', 'hono']);
  noPgNoWs = await projectWithout(['pg', 'ws', 'hono']);
  noDrivers = await projectWithout(['pg', '@neondatabase', 'hono']);
  noPglite = await projectWithout(['@electric-sql', 'hono']);
});

afterAll(() => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true });
});

describe('eddy CLI without the optional peers ws and hono', () => {
  it('runs in a project where ws and hono cannot be imported', () => {
    expect(resolvable(bare, 'ws')).toBe(false);
    expect(resolvable(bare, 'hono')).toBe(false);
    expect(resolvable(bare, 'pg')).toBe(true);
    expect(relative(root, bare).startsWith('..')).toBe(true);
  });

  it('prints the migration SQL', () => {
    const { code, stdout, stderr } = eddy(bare, 'migrate', '--print');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('CREATE TABLE');
    expect(stdout).toContain('river_job');
  });

  it('migrates a database', async () => {
    const { schema, drop } = await createSchema('eddy_cli');
    try {
      const { code, stdout, stderr } = eddy(
        bare,
        'migrate',
        '--database-url',
        DATABASE_URL,
        '--schema',
        schema,
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(
        new RegExp(`^River schema in schema ${schema} migrated from version 0 to \\d+`),
      );
    } finally {
      await drop();
    }
  });

  it('says in one line that eddy neon-local needs ws', () => {
    const { code, stdout, stderr } = eddy(bare, 'neon-local');
    expect({ code, stdout, stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: 'eddy neon-local needs the ws package: npm install ws\n',
    });
  });

  it('runs eddy neon-local with ws but without hono', () => {
    expect(resolvable(withWs, 'ws')).toBe(true);
    const { code, stdout, stderr } = eddy(withWs, 'neon-local', '--help');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: eddy neon-local');
  });
});

describe('eddy serve without hono', () => {
  it('says in one line that it needs hono for the REST API', () => {
    expect(eddy(withWs, 'serve')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'eddy serve needs the hono package for the REST API: npm install hono\n',
    });
  });
});

describe('eddy dashboard without hono', () => {
  it('says in one line that it needs hono for the dashboard', () => {
    expect(eddy(withWs, 'dashboard', '--database-url', 'postgres://nowhere.invalid/db')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'eddy dashboard needs the hono package for the dashboard: npm install hono\n',
    });
  });
});

describe('eddy neon-local without pg', () => {
  it('serves and migrates its embedded PGlite', async () => {
    expect(resolvable(noPg, 'pg')).toBe(false);
    const running = eddyAsync(noPg, ['neon-local', '--port', '0', '--migrate'], {
      untilPrinted: 'Ctrl-C stops it.',
    });
    try {
      const banner = await running.printed;
      expect(banner).toMatch(/River schema migrated from version 0 to 8/);
      const url = /DATABASE_URL=(\S+)/.exec(banner)?.[1] as string;
      configureNeonDriver();
      const http = await neon(url)`SELECT max(version)::int AS v FROM river_migration`;
      const pool = new Pool({ connectionString: url });
      const { rows } = await pool.query('SELECT 40 + 2 AS answer');
      await pool.end();
      expect({ http, ws: rows }).toEqual({ http: [{ v: 8 }], ws: [{ answer: 42 }] });
      running.child.kill('SIGTERM');
      expect((await running.exited).code).toBe(0);
    } finally {
      running.child.kill('SIGKILL');
    }
  });

  it('asks for pg in one line to front a PostgreSQL URL', () => {
    expect(eddy(noPg, 'neon-local', '--database-url', DATABASE_URL, '--port', '0')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'eddy neon-local needs the pg package to front --database-url: npm install pg\n',
    });
  });

  it('asks for PGlite in one line when it has no URL and no PGlite', () => {
    expect(eddy(noPglite, 'neon-local', '--port', '0')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'eddy neon-local needs the @electric-sql/pglite package for its embedded database (or pass --database-url): npm install @electric-sql/pglite\n',
    });
  });
});

describe('eddy migrate without pg', () => {
  let local: NeonLocal;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let url: string;
  const settings = ['--import', './neon-local-settings.mjs'];

  beforeAll(async () => {
    local = await createNeonLocal({ databaseUrl: DATABASE_URL });
    database = await createDatabase('eddy_cli_neon');
    url = local.connectionString(new URL(database.url).pathname.slice(1));
  });
  afterAll(async () => {
    await local?.close();
    await database?.drop();
  });

  async function version(): Promise<number | null> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT max(version)::int AS v FROM river_migration WHERE line = 'main'",
      );
      return rows[0].v;
    } finally {
      await client.end();
    }
  }

  it('migrates $DATABASE_URL through the Neon driver and ws', async () => {
    const { code, stdout, stderr } = await eddyAsync(noPg, ['migrate'], {
      nodeFlags: settings,
      env: { DATABASE_URL: url },
    }).exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe(
      'River schema migrated from version 0 to 8 (applied 1, 2, 3, 4, 5, 6, 7, 8)\n',
    );
    expect(await version()).toBe(8);
  });

  it("uses the runtime's own WebSocket without ws", async () => {
    // Node 22 has a global WebSocket; Node 20 has it behind a flag.
    const flag = 'WebSocket' in globalThis ? [] : ['--experimental-websocket'];
    const { code, stdout, stderr } = await eddyAsync(noPgNoWs, ['migrate', '--database-url', url], {
      nodeFlags: [...flag, ...settings],
    }).exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe('River schema is at version 8; nothing to apply\n');
  });

  // Only where there is no global WebSocket (Node 20 without the flag); not registered elsewhere.
  if (!('WebSocket' in globalThis)) {
    it('asks for ws in one line on Node 20', () => {
      const { code, stdout, stderr } = eddy(noPgNoWs, 'migrate', '--database-url', url);
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
      expect(stderr).toMatch(/^eddy migrate: [^\n]*npm install ws[^\n]*\n$/);
    });
  }

  it('asks for pg in one line when there is no driver at all', () => {
    expect(eddy(noDrivers, 'migrate', '--database-url', url)).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "eddy migrate: connecting needs the 'pg' package (or '@neondatabase/serverless' for Neon); install it with: npm install pg\n",
    });
  });
});
