/**
 * Bundles a Worker the way `wrangler deploy --minify` does: one ES module, the `workerd`,
 * `worker` and `browser` export conditions (and `browser` fields, which is how cron-parser's
 * file-reading module drops out), and external only what Workers provide (`cloudflare:*`, and
 * `node:*` under `nodejs_compat`). The `eddy` and `eddy/*` imports resolve through the root
 * tsconfig's `paths`, as they do for wrangler.
 */

import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

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
