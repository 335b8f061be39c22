/**
 * River's notifications, as its Go clients send and read them (`../shared/river-compat/
 * protocol_values.json`): `<schema>.river_insert` carries `{"queue": …}` when jobs become
 * available, `<schema>.river_control` carries `{"action": "cancel", "job_id": …, "queue": …}`,
 * `{"action": "pause" | "resume", "queue": …}` (`*` for every queue) and metadata changes.
 */

import { parseJson } from '../driver/json.js';

/** What a runner acts on. */
export type RiverNotification =
  | { readonly action: 'insert'; readonly queue: string }
  | { readonly action: 'cancel'; readonly jobId: bigint; readonly queue: string }
  | { readonly action: 'pause' | 'resume'; readonly queue: string };

/** River's channel names for a schema (no schema: the search path's, unprefixed). */
export function riverChannels(schema: string | undefined): { insert: string; control: string } {
  const prefix = schema ? `${schema}.` : '';
  return { insert: `${prefix}river_insert`, control: `${prefix}river_control` };
}

/**
 * Reads one notification; `undefined` for anything a runner does not act on (another action,
 * a malformed payload: other writers share these channels).
 */
export function parseRiverNotification(
  channel: string,
  payload: string,
  channels: { insert: string; control: string },
): RiverNotification | undefined {
  let body: unknown;
  try {
    body = parseJson(payload);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { action, queue, job_id: jobId } = body as Record<string, unknown>;
  if (typeof queue !== 'string') return undefined;
  if (channel === channels.insert) return { action: 'insert', queue };
  if (channel !== channels.control) return undefined;
  if (action === 'pause' || action === 'resume') return { action, queue };
  if (action === 'cancel' && (typeof jobId === 'number' || typeof jobId === 'bigint')) {
    if (typeof jobId === 'number' && !Number.isSafeInteger(jobId)) return undefined;
    return { action, jobId: BigInt(jobId), queue };
  }
  return undefined;
}
