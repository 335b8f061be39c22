/**
 * `eddy serve` as a real process: the CLI bundled once per test file (esbuild, packages left
 * external, as the published `dist/` would load them), started with arguments and environment,
 * ready once it printed its banner.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('../..', import.meta.url).pathname;
const cacheDir = `${root}node_modules/.cache/eddy-test`;

export const TEST_API_KEY = 'serve-test-key-0123456789abcdef0123456789';

/** Bundles the CLI; returns its path and a function that removes it. */
export async function bundleCli(): Promise<{ entry: string; remove: () => void }> {
  mkdirSync(cacheDir, { recursive: true });
  const entry = `${cacheDir}/cli-${process.pid}-${Date.now().toString(36)}.mjs`;
  await build({
    entryPoints: [`${root}adapters/node/cli.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: entry,
    logLevel: 'silent',
  });
  return { entry, remove: () => rmSync(entry, { force: true }) };
}

export interface Served {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>`, once started. */
  readonly url: string;
  output(): string;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

export interface ServeOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** The subcommand: `serve` (default) or `dashboard`, which print the same banner. */
  command?: string;
}

/** Runs `eddy <args>`; resolves once `eddy serve` printed where it serves (or rejects). */
export async function startServe(
  entry: string,
  args: string[],
  options: ServeOptions = {},
): Promise<Served> {
  const env: NodeJS.ProcessEnv = { ...process.env, EDDY_API_KEY: TEST_API_KEY, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  delete env.NODE_OPTIONS;
  const child = spawn(
    process.execPath,
    [entry, options.command ?? 'serve', '--port', '0', ...args],
    {
      cwd: options.cwd ?? root,
      env,
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (url === undefined) {
    url = /serving .* on (http:\/\/[^\s]+)/.exec(output)?.[1];
    if (url) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `eddy ${options.command ?? 'serve'} did not start (exit ${child.exitCode}):\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    url,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `eddy <args>` to its end; its exit code and output. */
export function runCli(
  entry: string,
  args: string[],
  options: ServeOptions = {},
): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { cwd: options.cwd ?? root, env });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A JSON call to a served API with the test key. */
export async function callApi(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  key = TEST_API_KEY,
): Promise<{ status: number; body: unknown; text: string }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}
