/**
 * A Worker's bundle, as Cloudflare gets it.
 *
 * `bundleWithWrangler` runs the real `wrangler deploy --dry-run --outdir` (the devDependency) on
 * a wrangler config and reads what it would upload, with esbuild's metafile for what takes the
 * room. Wrangler runs offline: no metrics, no update check, no `cf` download.
 *
 * `bundleWorker` imitates it with esbuild alone (one ES module, the `workerd`, `worker` and
 * `browser` conditions and `browser` fields, external only what Workers provide): `npm run
 * demo` hands its output to Miniflare, and `npm run size` falls back to it when wrangler cannot
 * run here. Both resolve `eddy` and `eddy/*` through the root tsconfig's `paths`.
 */

import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { stringify } from 'smol-toml';
import { parseToml, ROOT, WRANGLER_TOML } from './wrangler-config.js';

export interface WorkerBundle {
  code: string;
  /** Raw size in bytes. */
  bytes: number;
  /** Gzip size in bytes (what Cloudflare's size limit counts). */
  gzipBytes: number;
  metafile: Metafile;
}

export interface BundleOptions {
  /** Default true, as for a deploy. */
  minify?: boolean;
  compatibilityFlags?: readonly string[];
}

export async function bundleWorker(
  entry: string,
  options: BundleOptions = {},
): Promise<WorkerBundle> {
  const nodeCompat = (options.compatibilityFlags ?? []).some((f) => f.startsWith('nodejs_compat'));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: options.minify ?? true,
    external: ['cloudflare:*', ...(nodeCompat ? ['node:*'] : [])],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  return {
    code: output.text,
    bytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents).byteLength,
    metafile: result.metafile,
  };
}

/**
 * The environment that keeps wrangler offline and quiet: no metrics, no banner (whose update
 * check asks the npm registry), no download of the `cf` request properties, no interactive UI.
 */
export function wranglerEnv(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Loader hooks of the calling process (tsx, vitest) must not reach wrangler.
  delete env.NODE_OPTIONS;
  return {
    ...env,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    CI: 'true',
    ...vars,
  };
}

/** The installed wrangler's CLI script, or undefined when it is not installed. */
export function wranglerBin(): string | undefined {
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const bin = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Copies a wrangler config into `dir` with `main` made absolute, so wrangler's working files
 * (`.wrangler/`, and `.dev.vars` for `wrangler dev`) live in `dir` and not in the checkout.
 * Returns the copy's path. `settings` are merged over the top-level keys (`main` among them).
 */
export function stageWranglerConfig(
  dir: string,
  config = WRANGLER_TOML,
  settings: Record<string, unknown> = {},
): string {
  const top = parseToml(readFileSync(config, 'utf8'), config);
  if (typeof top.main !== 'string') throw new Error(`${config}: main is required`);
  // `settings.main` (relative to the config, as `main` is) deploys another entry point.
  const main = typeof settings.main === 'string' ? settings.main : top.main;
  const staged = { ...top, ...settings, main: resolve(dirname(config), main) };
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, stringify(staged));
  return path;
}

export interface WranglerRun {
  code: number | null;
  output: string;
}

/** Runs the installed wrangler with `args` to its end (killed after `timeoutMs`). */
export function runWrangler(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<WranglerRun> {
  const bin = wranglerBin();
  if (!bin) return Promise.reject(new Error('wrangler is not installed (npm install)'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? wranglerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

export interface WranglerBundleOptions {
  /** The wrangler config to deploy. Default: the root wrangler.toml. */
  config?: string;
  /** Settings merged over the config's, e.g. `{ minify: true }`. */
  settings?: Record<string, unknown>;
  /** Where wrangler works and writes; default a new temporary folder, removed afterwards. */
  dir?: string;
}

/** What `wrangler deploy` would upload for `config`: `wrangler deploy --dry-run --outdir`. */
export async function bundleWithWrangler(
  options: WranglerBundleOptions = {},
): Promise<WorkerBundle> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'eddy-wrangler-'));
  try {
    const config = stageWranglerConfig(dir, options.config, options.settings);
    const outdir = join(dir, 'out');
    const metafile = join(dir, 'bundle-meta.json');
    const run = await runWrangler(
      ['deploy', '--dry-run', '--config', config, '--outdir', outdir, '--metafile', metafile],
      { cwd: dir },
    );
    if (run.code !== 0) {
      throw new Error(`wrangler deploy --dry-run failed (exit ${run.code}):\n${run.output}`);
    }
    // Named after the entry point: index.js for the example, with-dashboard.js for its variant.
    const script = readdirSync(outdir).find((name) => name.endsWith('.js'));
    if (!script) throw new Error(`wrangler deploy --dry-run wrote no script to ${outdir}`);
    const contents = readFileSync(join(outdir, script));
    return {
      code: contents.toString('utf8'),
      bytes: contents.byteLength,
      gzipBytes: gzipSync(contents).byteLength,
      metafile: relativeToRoot(JSON.parse(readFileSync(metafile, 'utf8')), dir),
    };
  } finally {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The metafile's paths, which esbuild gives relative to wrangler's folder, made relative to ROOT. */
function relativeToRoot(metafile: Metafile, dir: string): Metafile {
  const fix = (path: string) => relative(ROOT, resolve(dir, path));
  const rekey = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).map(([path, value]) => [fix(path), value]));
  return {
    inputs: rekey(metafile.inputs),
    outputs: Object.fromEntries(
      Object.entries(metafile.outputs).map(([path, output]) => [
        fix(path),
        { ...output, inputs: rekey(output.inputs) },
      ]),
    ),
  };
}

/** Whether the installed wrangler runs here (`wrangler --version`); the reason when it does not. */
export async function wranglerRuns(): Promise<
  { ok: true; version: string } | { ok: false; reason: string }
> {
  if (!wranglerBin()) return { ok: false, reason: 'wrangler is not installed' };
  try {
    const run = await runWrangler(['--version'], { timeoutMs: 60_000 });
    if (run.code === 0) return { ok: true, version: run.output.trim().split('\n').at(-1) ?? '' };
    return { ok: false, reason: run.output.trim().split('\n').slice(-3).join(' ') };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}
