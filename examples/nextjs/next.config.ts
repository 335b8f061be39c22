/**
 * The example app's Next.js configuration. Nothing here is specific to Eddy: the app imports
 * `eddy` as any app does, through the package's `exports` (here the checkout's own build in
 * dist/, which `npm install` makes). Turbopack, the default bundler, compiles it for the Node and
 * Edge runtimes.
 *
 * The app lives two folders below the repository, whose node_modules it uses, so the workspace
 * root is the repository.
 */

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const nextConfig: NextConfig = {
  turbopack: { root },
  outputFileTracingRoot: root,
};

export default nextConfig;
