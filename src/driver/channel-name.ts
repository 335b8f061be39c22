/**
 * LISTEN / NOTIFY channel names. River's are `<schema>.river_insert` and `<schema>.river_control`:
 * they contain a dot, so a channel is always sent as a quoted identifier, exactly as given.
 */

import { invalid } from '../errors.js';
import { quoteIdentifier } from './schema-name.js';

// NAMEDATALEN - 1. LISTEN silently truncates a longer identifier (and pg_notify refuses one), so
// a listener on it would never hear the NOTIFY that names the channel in full.
const MAX_BYTES = 63;

/**
 * Returns `channels` without repeats if every one is a usable channel name, otherwise throws
 * `ValidationError` naming the first bad one (`channels[1]`).
 *
 * @example
 * ```ts
 * assertChannelNames(['jobs.river_insert', 'jobs.river_control']); // both, unchanged
 * assertChannelNames(['x'.repeat(64)]); // throws: 64 bytes, Postgres allows 63
 * ```
 */
export function assertChannelNames(channels: readonly unknown[], where = 'listen'): string[] {
  if (!Array.isArray(channels)) invalid('channels', 'must be an array of channel names', where);
  if (channels.length === 0) invalid('channels', 'is empty: name at least one channel', where);
  channels.forEach((channel, i) => {
    const problem = channelNameProblem(channel);
    if (problem) invalid(`channels[${i}]`, problem, where);
  });
  return [...new Set(channels as string[])];
}

function channelNameProblem(channel: unknown): string | undefined {
  if (typeof channel !== 'string') return `must be a string, got ${typeof channel}`;
  if (channel === '') return 'is empty';
  if (channel.includes('\0')) return 'contains NUL (U+0000), which no identifier can';
  // With the `u` flag a paired surrogate is one code point, so this finds only lone halves.
  if (/[\uD800-\uDFFF]/u.test(channel))
    return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  const bytes = new TextEncoder().encode(channel).length;
  if (bytes > MAX_BYTES)
    return `${JSON.stringify(channel)} is ${bytes} bytes; Postgres allows ${MAX_BYTES} (it would truncate it and never hear the NOTIFY)`;
  return undefined;
}

/** `LISTEN "jobs.river_insert"`: the channel quoted as an identifier, `"` doubled inside. */
export function listenStatement(channel: string): string {
  return `LISTEN ${quoteIdentifier(channel)}`;
}

/** `UNLISTEN "jobs.river_insert"`. */
export function unlistenStatement(channel: string): string {
  return `UNLISTEN ${quoteIdentifier(channel)}`;
}
