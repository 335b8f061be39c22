/**
 * Builds the Go side once per `npm run test:river`: test/river-interop/go (River, pinned in its
 * go.mod) and River UI's own command (a `tool` of that module, so the same pin), into
 * test/river-interop/go/.bin. Go's build cache makes a rebuild of unchanged code take a second.
 * Prints the versions it runs.
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN_DIR, GO_MODULE, INTEROP_BIN, RIVER_UI_BIN } from './go.js';

function goCommand(): string {
  if (process.env.GO) return process.env.GO;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/go`)) return `${dir}/go`;
  }
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error(
    'npm run test:river needs Go 1.26 or later (https://go.dev/dl); set GO=/path/to/go if it is not on PATH',
  );
}

export default function setup(): void {
  const go = goCommand();
  const build = (args: string[]) =>
    execFileSync(go, ['build', '-trimpath', ...args], {
      cwd: GO_MODULE,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 900_000,
    });
  build(['-o', INTEROP_BIN, '.']);
  build(['-o', RIVER_UI_BIN, 'riverqueue.com/riverui/cmd/riverui']);
  const versions = execFileSync(INTEROP_BIN, ['versions'], { encoding: 'utf8' });
  const ui = execFileSync(go, ['version', '-m', RIVER_UI_BIN], { encoding: 'utf8' });
  const uiVersion = /\b(?:mod|dep)\s+riverqueue\.com\/riverui\s+(\S+)/.exec(ui)?.[1] ?? '?';
  const river = /github\.com\/riverqueue\/river (\S+)/.exec(versions)?.[1] ?? '?';
  const goVersion = /^go (\S+)/m.exec(versions)?.[1] ?? '?';
  process.stdout.write(
    `river-interop: River ${river}, River UI ${uiVersion}, Go ${goVersion.replace(/^go/, '')} (binaries in ${BIN_DIR})\n`,
  );
}
