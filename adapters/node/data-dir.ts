/**
 * The embedded database's directory for `eddy serve`: created if missing, and locked so a second
 * process cannot open the same PGlite files (two writers would corrupt them). The lock is a file
 * created exclusively, holding the owner's pid; one left by a process that died is taken over.
 */

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'eddy-serve.lock';

export class DataDirLocked extends Error {
  override name = 'DataDirLocked';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, run by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks `dir` for this process; the returned function releases it. */
export function lockDataDir(dir: string): () => void {
  const path = resolve(dir);
  mkdirSync(path, { recursive: true });
  const lock = join(path, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lock, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new DataDirLocked(
          `${path} is in use by another eddy serve (pid ${owner}); stop it first, or pass another --data-dir`,
        );
      }
      // Left by a process that is gone: take it over.
      rmSync(lock, { force: true });
    }
  }
  throw new DataDirLocked(`could not lock ${path}: another process keeps taking ${LOCK_FILE}`);
}
