/**
 * The `eddy` bin in a project that lacks the optional peers `ws` and `hono`: `eddy migrate` works
 * (the CLI loads the neon-local code, which needs `ws`, only when that command runs), and
 * `eddy neon-local` says in one line what to install instead of a module-not-found stack.
 *
 * The CLI's sources are transpiled file by file (no bundling, so every `import()` stays lazy as in
 * the published build) into a temporary project whose node_modules links every installed package
 * but the ones left out, outside this repository so nothing resolves from its node_modules.
 */

import { spawnSync } from 'node:child_process';
import {
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
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchema, DATABASE_URL } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const projects: string[] = [];

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** A project with Eddy's src/ and adapters/ as JavaScript and every package except `without`. */
async function projectWithout(without: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-cli-'));
  projects.push(dir);
  await build({
    entryPoints: [...sourcesUnder(join(root, 'src')), ...sourcesUnder(join(root, 'adapters'))],
    outbase: root,
    outdir: dir,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name.startsWith('.') || without.includes(name)) continue;
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
  }
  return dir;
}

function eddy(project: string, ...args: string[]) {
  const env = { ...process.env };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS; // vitest's loader hooks must not leak into the child
  const result = spawnSync(process.execPath, [join(project, 'adapters/node/cli.js'), ...args], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
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

beforeAll(async () => {
  [bare, withWs] = await Promise.all([projectWithout(['ws', 'hono']), projectWithout(['hono'])]);
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
