/**
 * `npm run size` measures what the real `wrangler deploy --dry-run --outdir` would upload: the
 * example Worker within its target, what mounting the dashboard adds to it within its budget,
 * and the README's code as a user writes it, as written and with each way to shrink it that the
 * README names.
 */

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from './support/processes.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `12.3 KiB` → bytes. */
const kibToBytes = (text: string | undefined) => Math.round(Number(text) * 1024);

describe('npm run size', () => {
  it('measures wrangler’s bundle of the example and of the README’s code', async () => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const { code, output } = await run(process.execPath, ['--import', 'tsx', 'examples/size.ts'], {
      cwd: root,
      env,
      timeoutMs: 170_000,
    });
    expect(output).toMatch(
      /eddy-example \(examples\/worker\/index\.ts\), as `wrangler deploy` bundles it \(wrangler 4\./,
    );
    expect(output).not.toContain('esbuild imitation');
    const example =
      /worker bundle: ([\d.]+) KiB raw, ([\d.]+) KiB gzipped — within the 150\.0 KiB/.exec(output);
    expect(example, output).not.toBeNull();
    expect(code, output).toBe(0);
    // The example's own choices (zod/mini) leave room; Eddy's core is held to its own budget,
    // so that room is not quietly spent: at most 100 KiB of it, before gzip and minified.
    const core = /([\d.]+) KiB {2}eddy core \(src\/\)/.exec(output);
    expect(core, output).not.toBeNull();
    expect(Number(core?.[1]), output).toBeLessThanOrEqual(100);
    // The dashboard mounted at /admin, as examples/worker/with-dashboard.ts does: what it adds.
    const dashboard =
      /with the dashboard \(examples\/worker\/with-dashboard\.ts\): ([\d.]+) KiB raw, ([\d.]+) KiB gzipped — the dashboard adds ([\d.]+) KiB gzipped, within its 40\.0 KiB budget/.exec(
        output,
      );
    expect(dashboard, output).not.toBeNull();
    expect(kibToBytes(dashboard?.[3])).toBeLessThanOrEqual(40 * 1024);
    expect(kibToBytes(dashboard?.[2])).toBeGreaterThan(kibToBytes(example?.[2]));

    const readme = [
      "as written: import { z } from 'zod', no minify",
      'minify = true in wrangler.toml',
      "minify, and import * as z from 'zod'",
      "minify, and import * as z from 'zod/mini'",
    ].map((label) => {
      const line = output.split('\n').find((l) => l.trim().startsWith(label));
      const gzip = /([\d.]+) KiB gzipped/.exec(line ?? '')?.[1];
      expect(gzip, `${label}\n${output}`).toBeDefined();
      return kibToBytes(gzip);
    });
    // Each way to shrink it makes it smaller; as written it is well over the example.
    for (let i = 1; i < readme.length; i++) {
      expect(readme[i]).toBeLessThan(readme[i - 1] as number);
    }
    expect(readme[0]).toBeGreaterThan(kibToBytes(example?.[2]) * 1.5);
  }, 180_000);
});
