/**
 * The design's rules, checked by reading the imports (docs/architecture.md):
 * only `src/ops/` imports `src/sql/`; adapters reach the core only through its public entry
 * points (`src/index.ts`, `src/driver/index.ts`, `src/http/api.ts`); `src/sql/` imports nothing but itself;
 * hono and zod stay in the REST API, which nothing else reaches.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** The repository-relative files a source file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)];
  return specifiers.map((m) =>
    relative(root, resolve(dirname(file), m[1] as string)).replace(/\.js$/, '.ts'),
  );
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

  it('has adapters reach the core only through its entry points (eddy, eddy/driver, eddy/http-api)', () => {
    const allowed = new Set(['src/index.ts', 'src/driver/index.ts', 'src/http/api.ts']);
    const offenders = sourcesUnder(join(root, 'adapters')).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('src/') && !allowed.has(target))
        .map((target) => `${rel(file)} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps hono and zod in the REST API (src/http/api*.ts), which only its entry point reaches', () => {
    const isApi = (file: string) => /^src\/http\/api(-[a-z-]+)?\.ts$/.test(file);
    const sources = sourcesUnder(join(root, 'src')).map(rel);
    const packages = sources
      .filter((file) => !isApi(file))
      .filter((file) =>
        /from ['"](hono|zod)(\/[^'"]*)?['"]/.test(readFileSync(join(root, file), 'utf8')),
      );
    expect(packages).toEqual([]);
    const reaching = sources
      .filter((file) => !isApi(file))
      .flatMap((file) =>
        importsOf(join(root, file))
          .filter(isApi)
          .map((target) => `${file} → ${target}`),
      );
    expect(reaching).toEqual([]);
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
      ['admin', 'driver', 'http', 'insert', 'ops', 'runner', 'sql', 'testing', 'unique'].sort(),
    );
    for (const folder of folders) {
      const nested = readdirSync(join(root, 'src', folder)).filter((name) =>
        statSync(join(root, 'src', folder, name)).isDirectory(),
      );
      expect(nested, `src/${folder}`).toEqual([]);
    }
  });
});
