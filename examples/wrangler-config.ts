/**
 * Reads the root `wrangler.toml` for the demo, the size check and the Miniflare tests, with
 * smol-toml (a devDependency: examples are not published), and picks the settings that running
 * the Worker locally needs.
 */

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, TomlDate, TomlError, type TomlTable, type TomlValue } from 'smol-toml';

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

/** Parses a TOML document (any TOML 1.0); a syntax error names the file, line and column. */
export function parseToml(text: string, file = 'wrangler.toml'): TomlTable {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new Error(`${file}:${error.line}:${error.column}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function table(value: TomlValue | undefined, where: string): TomlTable {
  if (value === undefined) return {};
  if (typeof value === 'object' && !Array.isArray(value) && !(value instanceof TomlDate)) {
    return value;
  }
  throw new Error(`${where} must be a table`);
}

function strings(value: TomlValue | undefined, where: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value) && value.every((item): item is string => typeof item === 'string'))
    return value;
  throw new Error(`${where} must be an array of strings`);
}

/** The settings of `wrangler.toml` that running the Worker locally needs. */
export function readWranglerConfig(path = WRANGLER_TOML): WranglerConfig {
  const top = parseToml(readFileSync(path, 'utf8'), path);
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(table(top.vars, `${path}: [vars]`))) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`${path}: vars.${key} must be a string, number or boolean`);
    }
    vars[key] = String(value);
  }
  if (typeof top.main !== 'string') throw new Error(`${path}: main is required`);
  const date = top.compatibility_date;
  return {
    name: typeof top.name === 'string' ? top.name : 'worker',
    main: resolve(dirname(path), top.main),
    // A bare TOML date (compatibility_date = 2025-10-01) reads as the same YYYY-MM-DD.
    compatibilityDate: date instanceof TomlDate ? date.toISOString() : String(date ?? '2025-01-01'),
    compatibilityFlags: strings(top.compatibility_flags, `${path}: compatibility_flags`),
    crons: strings(table(top.triggers, `${path}: [triggers]`).crons, `${path}: triggers.crons`),
    vars,
  };
}
