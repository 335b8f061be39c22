/**
 * The design's rules, checked by reading the imports (docs/architecture.md):
 * only `src/ops/` imports `src/sql/`; adapters reach the core only through its public entry
 * points (`src/index.ts`, `src/driver/index.ts`, `src/http/api.ts`, `src/dashboard/index.ts`);
 * `src/sql/` imports nothing but itself; hono stays in the REST API and the dashboard, zod in
 * the REST API, and nothing else in the core reaches either; JSX only in the dashboard.
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return /\.tsx?$/.test(path) && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** The repository-relative files a source file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)];
  return specifiers.map((m) => toSource(relative(root, resolve(dirname(file), m[1] as string))));
}

/** `foo.js` as written in an import → the source it names, `foo.ts` or `foo.tsx`. */
function toSource(target: string): string {
  const ts = target.replace(/\.js$/, '.ts');
  return existsSync(join(root, ts)) ? ts : `${ts}x`;
}

const rel = (file: string) => relative(root, file);

describe('architecture', () => {
  it('lets only src/ops/ import src/sql/', () => {
    const offenders = sourcesUnder(join(root, 'src'))
      .filter((file) => !rel(file).startsWith('src/ops/') && !rel(file).startsWith('src/sql/'))
      .flatMap((file) =>
        importsOf(file)
          .filter((target) => target.startsWith('src/sql/'))
          .map((target) => `${rel(file)} → ${target}`),
      );
    expect(offenders).toEqual([]);
  });

  it('keeps src/sql/ a leaf: statements import only each other', () => {
    const offenders = sourcesUnder(join(root, 'src/sql')).flatMap((file) =>
      importsOf(file)
        .filter((target) => !target.startsWith('src/sql/'))
        .map((target) => `${rel(file)} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it('has adapters reach the core only through its entry points (eddy, eddy/driver, eddy/http-api, eddy/dashboard)', () => {
    const allowed = new Set([
      'src/index.ts',
      'src/driver/index.ts',
      'src/http/api.ts',
      'src/dashboard/index.ts',
    ]);
    const offenders = sourcesUnder(join(root, 'adapters')).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('src/') && !allowed.has(target))
        .map((target) => `${rel(file)} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  // The REST API and the dashboard are the core's two Hono apps, each reached only through its
  // own entry point (eddy/http-api, eddy/dashboard), so a Worker that mounts neither bundles
  // neither, nor hono; zod stays in the REST API alone, and the dashboard does not reach it.
  const isApi = (file: string) => /^src\/http\/api(-[a-z-]+)?\.ts$/.test(file);
  const isDashboard = (file: string) => file.startsWith('src/dashboard/');
  const coreSources = () => sourcesUnder(join(root, 'src')).map(rel);
  const importing = (file: string, pattern: RegExp) =>
    pattern.test(readFileSync(join(root, file), 'utf8'));

  it('keeps hono in the REST API (src/http/api*.ts) and the dashboard (src/dashboard/), zod in the REST API', () => {
    const hono = coreSources().filter(
      (file) =>
        !isApi(file) && !isDashboard(file) && importing(file, /from ['"]hono(\/[^'"]*)?['"]/),
    );
    expect(hono).toEqual([]);
    const zod = coreSources().filter(
      (file) => !isApi(file) && importing(file, /from ['"]zod(\/[^'"]*)?['"]/),
    );
    expect(zod).toEqual([]);
  });

  it('lets nothing else in the core reach the REST API or the dashboard, nor either the other', () => {
    const reaching = coreSources().flatMap((file) =>
      importsOf(join(root, file))
        .filter(
          (target) =>
            (isApi(target) && !isApi(file)) || (isDashboard(target) && !isDashboard(file)),
        )
        .map((target) => `${file} → ${target}`),
    );
    expect(reaching).toEqual([]);
  });

  it('keeps JSX (.tsx, hono/jsx) in the dashboard alone', () => {
    const everywhere = [
      ...sourcesUnder(join(root, 'src')),
      ...sourcesUnder(join(root, 'adapters')),
    ].map(rel);
    expect(everywhere.filter((file) => file.endsWith('.tsx') && !isDashboard(file))).toEqual([]);
    expect(
      everywhere.filter(
        (file) => !isDashboard(file) && importing(file, /['"]hono\/(jsx|html)(\/[^'"]*)?['"]/),
      ),
    ).toEqual([]);
  });

  it('keeps the public concepts flat and the machinery one folder deep', () => {
    const flat = readdirSync(join(root, 'src')).filter((name) => name.endsWith('.ts'));
    expect(flat.sort()).toEqual(
      [
        'client.ts',
        'errors.ts',
        'index.ts',
        'job-kind.ts',
        'job-outcome.ts',
        'job.ts',
        'migrate.ts',
        'worker.ts',
      ].sort(),
    );
    const folders = readdirSync(join(root, 'src')).filter((name) =>
      statSync(join(root, 'src', name)).isDirectory(),
    );
    expect(folders.sort()).toEqual(
      [
        'admin',
        'dashboard',
        'driver',
        'http',
        'insert',
        'ops',
        'runner',
        'sql',
        'testing',
        'unique',
      ].sort(),
    );
    for (const folder of folders) {
      const nested = readdirSync(join(root, 'src', folder)).filter((name) =>
        statSync(join(root, 'src', folder, name)).isDirectory(),
      );
      expect(nested, `src/${folder}`).toEqual([]);
    }
  });
});
