/**
 * Receiving a kick (`createKick`) in a long-lived process: `eddy serve` and the Node loop start
 * work the moment a producer anywhere commits a job, without a tick endpoint of their own. A
 * kick is Eddy's signed POST (`eddy-signature`, HMAC over method, path and body), accepted once
 * within its five-minute window, signed with any of several secrets (so one can be rotated).
 */

import { invalid } from '../errors.js';
import { readCappedBody } from './authenticate.js';
import {
  checkSecret,
  parseSignature,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_MS,
  verifySignature,
} from './http-auth.js';
import { ReplayGuard } from './replay-guard.js';

export interface KickReceiverOptions {
  /** The secrets a kick may be signed with (each at least 32 characters). */
  secrets: readonly string[];
  /** Called once per accepted kick, with the queues it names (empty: any). */
  onKick(queues: readonly string[]): void;
}

const MAX_KICK_BYTES = 16 * 1024;

function answer(status: number, body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/**
 * A Web-standard handler for `POST` kicks: 202 when accepted, 401 for a missing, wrong, stale or
 * replayed signature, 405 for another method, 413 for a body over 16 KiB.
 *
 * @example
 * ```ts
 * const receive = createKickReceiver({ secrets: [process.env.EDDY_SIGNING_SECRET!], onKick: () => loop.wake() });
 * // a producer: createClient({ driver, kick: createKick({ url: 'http://worker:8788/kick', secret }) })
 * ```
 */
export function createKickReceiver(
  options: KickReceiverOptions,
): (request: Request) => Promise<Response> {
  const where = 'createKickReceiver';
  if (!options || !Array.isArray(options.secrets) || options.secrets.length === 0)
    invalid('secrets', 'must list at least one signing secret', where);
  options.secrets.forEach((secret, i) => {
    checkSecret(secret, `secrets[${i}]`, where);
  });
  if (typeof options.onKick !== 'function') invalid('onKick', 'must be a function', where);
  const replays = new ReplayGuard(SIGNATURE_TOLERANCE_MS);
  return async function receiveKick(request) {
    if (request.method !== 'POST') return answer(405, { error: 'kicks are POSTed' });
    const parsed = parseSignature(request.headers.get(SIGNATURE_HEADER));
    if (!parsed || replays.seen(parsed.signature, parsed.timestamp * 1000))
      return answer(401, { error: 'unauthorized: missing, stale or replayed eddy-signature' });
    let body: Uint8Array | undefined;
    try {
      body = await readCappedBody(request, MAX_KICK_BYTES);
    } catch {
      return answer(400, { error: 'could not read the request body' });
    }
    if (!body) return answer(413, { error: 'request body too large' });
    const signed = { method: request.method, url: request.url, body };
    // Every secret is tried, so the time does not tell which one signed it.
    const checks = await Promise.all(
      options.secrets.map((secret) => verifySignature(parsed, signed, secret)),
    );
    if (!checks.includes(true) || !replays.accept(parsed.signature, parsed.timestamp * 1000))
      return answer(401, { error: 'unauthorized: wrong eddy-signature' });
    let queues: string[] = [];
    try {
      const value = JSON.parse(new TextDecoder().decode(body)) as { queues?: unknown };
      if (Array.isArray(value?.queues))
        queues = value.queues.filter((q): q is string => typeof q === 'string');
    } catch {
      // A kick's body is a hint; a signed kick with none still kicks.
    }
    options.onKick(queues);
    return answer(202, { accepted: true });
  };
}
