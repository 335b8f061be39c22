/**
 * `npm run size`: bundles the example Worker as `wrangler deploy --minify` would and prints its
 * size, raw and gzipped, against the target (150 KiB gzipped; Cloudflare's own limit is 3 MiB
 * on the Free plan), and what takes the room. Exits 1 when over the target.
 *
 * Findings that shaped the example (esbuild metafile, minified bytes):
 * - `import { z } from 'zod'` keeps zod's whole namespace, every locale included (~450 KB);
 *   `import * as z from 'zod'` lets esbuild drop what is unused (~90 KB). `zod/mini` would save
 *   about 20 KB gzipped more.
 * - cron-parser reads crontab files with `fs`; its `browser` field maps `fs` away, so the
 *   Workers conditions leave that module out and no `nodejs_compat` is needed. Its dependency
 *   luxon (~70 KB, time zones for cron expressions) stays.
 * - @neondatabase/serverless (~145 KB) is the largest part; it ships pre-bundled.
 */

import { relative } from 'node:path';
import { bundleWorker } from './bundle-worker.js';
import { ROOT, readWranglerConfig } from './wrangler-config.js';

const TARGET_GZIP_BYTES = 150 * 1024;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** `node_modules/<pkg>/…` → the package; Eddy's own files → core, adapter or example. */
function owner(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match) return match[1] as string;
  const [top, folder] = input.split('/');
  if (top === 'src') return 'eddy core (src/)';
  if (top === 'adapters') return `eddy/${folder}`;
  return 'the example worker';
}

const config = readWranglerConfig();
const bundle = await bundleWorker(config.main, { compatibilityFlags: config.compatibilityFlags });
const output = Object.values(bundle.metafile.outputs)[0];
const byOwner = new Map<string, number>();
for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
  byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + bytesInOutput);
}

process.stdout.write(
  `${config.name} (${relative(ROOT, config.main)}), minified ESM for workerd\n\n`,
);
process.stdout.write('  largest parts (minified, before gzip):\n');
for (const [name, bytes] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  process.stdout.write(`    ${kib(bytes).padStart(10)}  ${name}\n`);
}
const within = bundle.gzipBytes <= TARGET_GZIP_BYTES;
process.stdout.write(
  `\nworker bundle: ${kib(bundle.bytes)} raw, ${kib(bundle.gzipBytes)} gzipped — ${within ? 'within' : 'OVER'} the ${kib(TARGET_GZIP_BYTES)} gzipped target\n`,
);
if (!within) process.exitCode = 1;
