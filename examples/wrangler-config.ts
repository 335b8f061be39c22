/**
 * Reads the root `wrangler.toml` for the demo, the size check and the Miniflare tests. Only the
 * TOML this project's file uses: top-level and `[table]` keys with string, boolean, number and
 * string-array values (arrays may span lines), and `#` comments. No TOML package is needed.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WRANGLER_TOML = resolve(ROOT, 'wrangler.toml');

export interface WranglerConfig {
  name: string;
  /** Absolute path of the Worker's entry module. */
  main: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  crons: string[];
  vars: Record<string, string>;
}

type Value = string | number | boolean | string[];

/** Strips a trailing `# comment` outside of quoted strings. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#') return line.slice(0, i);
  }
  return line;
}

function parseValue(text: string, where: string): Value {
  const value = text.trim();
  if (value.startsWith('[')) {
    const inner = value.slice(1, value.lastIndexOf(']'));
    return inner
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .map((item) => {
        const parsed = parseValue(item, where);
        if (typeof parsed !== 'string') throw new Error(`${where}: only string arrays are read`);
        return parsed;
      });
  }
  if (value.startsWith('"')) return JSON.parse(value) as string;
  if (value.startsWith("'")) return value.slice(1, -1);
  if (value === 'true' || value === 'false') return value === 'true';
  const number = Number(value);
  if (value !== '' && Number.isFinite(number)) return number;
  throw new Error(`${where}: cannot read value ${value}`);
}

/** Parses the subset of TOML described above into `{ table: { key: value } }` ('' = top level). */
export function parseToml(
  text: string,
  file = 'wrangler.toml',
): Record<string, Record<string, Value>> {
  const tables: Record<string, Record<string, Value>> = { '': {} };
  let table = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = stripComment(lines[i] as string).trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    const header = /^\[([A-Za-z0-9_.-]+)\]$/.exec(line);
    if (header) {
      table = header[1] as string;
      tables[table] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`${where}: expected key = value`);
    // An array may continue over the next lines until its closing bracket.
    while (
      line
        .slice(eq + 1)
        .trim()
        .startsWith('[') &&
      !line.includes(']') &&
      i + 1 < lines.length
    ) {
      line += ` ${stripComment(lines[++i] as string).trim()}`;
    }
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    (tables[table] as Record<string, Value>)[key] = parseValue(line.slice(eq + 1), where);
  }
  return tables;
}

/** The settings of `wrangler.toml` that running the Worker locally needs. */
export function readWranglerConfig(path = WRANGLER_TOML): WranglerConfig {
  const tables = parseToml(readFileSync(path, 'utf8'), path);
  const top = tables[''] ?? {};
  const strings = (value: Value | undefined): string[] => (Array.isArray(value) ? value : []);
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(tables.vars ?? {})) vars[key] = String(value);
  if (typeof top.main !== 'string') throw new Error(`${path}: main is required`);
  return {
    name: typeof top.name === 'string' ? top.name : 'worker',
    main: resolve(dirname(path), top.main),
    compatibilityDate: String(top.compatibility_date ?? '2025-01-01'),
    compatibilityFlags: strings(top.compatibility_flags),
    crons: strings(tables.triggers?.crons),
    vars,
  };
}
