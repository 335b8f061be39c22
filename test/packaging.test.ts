/**
 * The published package: what `npm pack` puts in the tarball (docs and the license, no tests),
 * and what CommonJS gets from `require('eddy')`. Eddy is ESM-only; every entry point's `default`
 * condition points at the ESM build, so Node's require(esm) (Node ≥ 20.19 and 22.12) loads it and
 * older Node answers with its own ERR_REQUIRE_ESM, which says to use `import()`, rather than an
 * opaque "No exports main defined".
 *
 * The require test transpiles src/ and adapters/ file by file (as `npm run build` would, without
 * types) into node_modules/eddy of a temporary project outside this repository, next to the real
 * package.json, so resolution goes through the package's real `exports`.
 */

import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return /\.tsx?$/.test(path) && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the tarball', () => {
  let files: string[];
  beforeAll(() => {
    // --ignore-scripts: no build (prepare); the file list comes from `files` alone.
    const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(0);
    files = JSON.parse(result.stdout)[0].files.map((f: { path: string }) => f.path);
  });

  it('ships the docs, the license, the migrations and the sources, and no tests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'docs/architecture.md',
        'docs/neon-local.md',
        'migrations/001_create_river_migration.sql',
        'src/index.ts',
        'adapters/node/cli.ts',
      ]),
    );
    expect(files.filter((f) => /\.test\.|(^|\/)test\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('examples/') || f.startsWith('bench/'))).toEqual([]);
  });

  it('says where it comes from and under which license', () => {
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/eddy-jobs/eddy.git',
    });
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the Eddy authors\n/);
  });
});

describe('require() from CommonJS', () => {
  let project: string;
  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'eddy-cjs-'));
    const installed = join(project, 'node_modules', 'eddy');
    mkdirSync(installed, { recursive: true });
    await build({
      entryPoints: [...sourcesUnder(join(root, 'src')), ...sourcesUnder(join(root, 'adapters'))],
      outbase: root,
      outdir: join(installed, 'dist'),
      bundle: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
    copyFileSync(join(root, 'package.json'), join(installed, 'package.json'));
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name.startsWith('.') || name === 'eddy') continue;
      symlinkSync(join(root, 'node_modules', name), join(project, 'node_modules', name));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  }, 60_000);
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  function node(flags: string[], code: string) {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // vitest's loader hooks must not leak into the child
    const result = spawnSync(process.execPath, [...flags, '-e', code], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('loads every entry point where Node can require ES modules', () => {
    const entries = Object.keys(pkg.exports).filter(
      (key) => !key.includes('*') && key !== './package.json',
    );
    const specifiers = entries.map((key) => `eddy${key.slice(1)}`);
    for (const key of entries) expect(pkg.exports[key].default, key).toMatch(/^\.\/dist\/.*\.js$/);
    // The optional peers an entry point needs are installed here (the dev dependencies).
    const run = node(
      [],
      `for (const s of ${JSON.stringify(specifiers)}) { const m = require(s); if (Object.keys(m).length === 0) throw new Error(s + ' is empty'); }
       console.log(typeof require('eddy').createClient);`,
    );
    expect(run.stderr).not.toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED|No "exports" main/);
    expect(run.stdout.trim()).toBe('function');
    expect(run.code).toBe(0);
  });

  it('answers with ERR_REQUIRE_ESM, pointing at import(), where it cannot', () => {
    const run = node(['--no-experimental-require-module'], "require('eddy')");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('ERR_REQUIRE_ESM');
    expect(run.stderr).toContain('dynamic import()');
    expect(run.stderr).not.toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED|No "exports" main/);
  });

  it('imports from an ES module as before', () => {
    const run = node(
      ['--input-type=module'],
      "const { createClient } = await import('eddy'); console.log(typeof createClient);",
    );
    expect(run.stdout.trim()).toBe('function');
  });
});
