/**
 * The published surface: every adapter folder has its `exports` entry, ESM for `import` and for
 * every other condition (`default`: see test/packaging.test.ts), and nothing points at a
 * folder that does not exist; `eddy/driver` exposes the driver seam, packages only some entry
 * points need are optional peers, and the core never imports Node built-ins or driver packages.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('package exports', () => {
  const adapterFolders = readdirSync(join(root, 'adapters')).filter((name) =>
    statSync(join(root, 'adapters', name)).isDirectory(),
  );

  it('has an adapter folder for every driver the design names', () => {
    expect(adapterFolders).toEqual(
      expect.arrayContaining([
        'neon-http',
        'neon-websocket',
        'node-postgres',
        'postgres-js',
        'pglite',
      ]),
    );
  });

  it.each(adapterFolders)('exports adapters/%s under its own subpath, with types', (folder) => {
    expect(pkg.exports[`./${folder}`]).toEqual({
      types: `./dist/adapters/${folder}/index.d.ts`,
      import: `./dist/adapters/${folder}/index.js`,
      default: `./dist/adapters/${folder}/index.js`,
    });
    expect(statSync(join(root, 'adapters', folder, 'index.ts')).isFile()).toBe(true);
  });

  it('has no export entry without its folder', () => {
    const coreEntries: Record<string, string> = {
      './driver': 'src/driver/index.ts',
      './http-api': 'src/http/api.ts',
      './testing': 'src/testing/index.ts',
      './dashboard': 'src/dashboard/index.ts',
    };
    const adapterEntries = Object.keys(pkg.exports).filter(
      (key) =>
        key !== '.' && !key.includes('*') && key !== './package.json' && !(key in coreEntries),
    );
    for (const key of adapterEntries) expect(adapterFolders).toContain(key.slice(2));
    for (const [key, source] of Object.entries(coreEntries)) {
      expect(pkg.exports[key], key).toBeDefined();
      expect(statSync(join(root, source)).isFile()).toBe(true);
    }
  });

  it('exports the driver seam as eddy/driver, with types', () => {
    expect(pkg.exports['./driver']).toEqual({
      types: './dist/src/driver/index.d.ts',
      import: './dist/src/driver/index.js',
      default: './dist/src/driver/index.js',
    });
    expect(statSync(join(root, 'src', 'driver', 'index.ts')).isFile()).toBe(true);
  });

  it('exports the dashboard as eddy/dashboard, with types', () => {
    expect(pkg.exports['./dashboard']).toEqual({
      types: './dist/src/dashboard/index.d.ts',
      import: './dist/src/dashboard/index.js',
      default: './dist/src/dashboard/index.js',
    });
  });

  it('exports the test helpers as eddy/testing, with types', () => {
    expect(pkg.exports['./testing']).toEqual({
      types: './dist/src/testing/index.d.ts',
      import: './dist/src/testing/index.js',
      default: './dist/src/testing/index.js',
    });
    expect(statSync(join(root, 'src', 'testing', 'index.ts')).isFile()).toBe(true);
  });

  it('keeps hono and ws optional peer dependencies, installed only for the tests', () => {
    for (const name of ['hono', 'ws']) {
      expect(pkg.dependencies?.[name], name).toBeUndefined();
      expect(pkg.peerDependencies?.[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
      expect(pkg.devDependencies?.[name], name).toBeDefined();
    }
  });

  it('keeps driver packages optional peer dependencies, never bundled dependencies', () => {
    for (const driver of ['@neondatabase/serverless', 'pg', 'postgres', '@electric-sql/pglite']) {
      expect(pkg.dependencies?.[driver]).toBeUndefined();
      expect(pkg.peerDependencies?.[driver]).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[driver]?.optional).toBe(true);
    }
  });

  it('keeps the core free of node:* imports and driver packages', () => {
    const offenders = filesUnder(join(root, 'src'))
      .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.test.ts'))
      .filter((f) =>
        /from ['"](node:|pg['"]|postgres['"]|@neondatabase|@electric-sql|ws['"])/.test(
          readFileSync(f, 'utf8'),
        ),
      );
    expect(offenders).toEqual([]);
  });
});
