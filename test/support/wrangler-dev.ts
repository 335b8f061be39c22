/**
 * The real `wrangler dev` on the example Worker, offline: `--local` (workerd, no Cloudflare
 * account), loopback only, with the root wrangler.toml staged into a temporary folder (with
 * `main` made absolute) so that `.dev.vars`, `.wrangler/` and the persisted state live there
 * and never in the checkout. Vars go in a generated `.dev.vars`, as a developer writes them.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageWranglerConfig, wranglerBin, wranglerEnv } from '../../examples/bundle-worker.js';
import { freePort, watchService } from './processes.js';

export interface WranglerDev {
  readonly url: string;
  /** Everything wrangler and the Worker have printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * `.dev.vars` is dotenv: single quotes keep a value as written (JSON included), where double
 * quotes would keep a backslash before each escaped quote.
 */
export function devVars(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => {
      if (/['\n]/.test(value))
        throw new Error(`${key}: a .dev.vars value here has no ' or newline`);
      return `${key}='${value}'\n`;
    })
    .join('');
}

/** Starts `wrangler dev --local --test-scheduled` with `vars` in `.dev.vars`, once it answers. */
export async function startWranglerDev(vars: Record<string, string>): Promise<WranglerDev> {
  const bin = wranglerBin();
  if (!bin) throw new Error('wrangler is not installed (npm install)');
  const dir = mkdtempSync(join(tmpdir(), 'eddy-wrangler-dev-'));
  const config = stageWranglerConfig(dir);
  writeFileSync(join(dir, '.dev.vars'), devVars(vars));
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      bin,
      'dev',
      '--config',
      config,
      '--local',
      '--test-scheduled',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      join(dir, 'state'),
      '--show-interactive-dev-session=false',
    ],
    {
      cwd: dir,
      env: wranglerEnv({ WRANGLER_LOG_PATH: join(dir, 'logs') }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  // wrangler runs workerd as its own child: stopping ends the whole group started here.
  const service = watchService(child);
  const stop = async () => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited early:\n${service.output()}`);
    }
    if (/Ready on http/.test(service.output())) {
      try {
        await fetch(url, { signal: AbortSignal.timeout(5_000) });
        break;
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within 90 s:\n${service.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, output: service.output, stop };
}
