/**
 * Authenticating a tick request, cheapest checks first, so an unauthenticated caller costs
 * little: a bearer token needs no body; a signature's date, its replay and a QStash token's
 * signature are checked from the headers; only then is the body read, capped, for the HMAC or
 * QStash's body hash.
 */

import { parseSignature, SIGNATURE_HEADER, verifyBearer, verifySignature } from './http-auth.js';
import type { QStashVerifier } from './qstash.js';
import type { ReplayGuard } from './replay-guard.js';

export interface TriggerAuth {
  /** `Authorization: Bearer <secret>` (Vercel cron's CRON_SECRET, simple push triggers). */
  bearerSecret?: string | undefined;
  /** HMAC-SHA256 `eddy-signature` over method, path and body (Eddy's kick, signed pushes). */
  signingSecret?: string | undefined;
  /**
   * Upstash QStash signatures: `qstashVerifier({ currentSigningKey, nextSigningKey, url })`. A
   * token is accepted only for the URL it was minted for: `url` when given, else the request's
   * own URL.
   */
  qstash?: QStashVerifier | undefined;
  /**
   * Accept unauthenticated requests. Only for local development; never set it when deployed.
   */
  insecureNoAuth?: boolean | undefined;
}

export type AuthResult = { ok: true } | { ok: false; status: 400 | 401 | 413 };

const OK: AuthResult = { ok: true };
const UNAUTHORIZED: AuthResult = { ok: false, status: 401 };

/**
 * The body, or undefined when it is larger than `maxBytes`: a declared `Content-Length` over the
 * cap is refused unread, and reading stops at the cap whatever the header says.
 */
export async function readCappedBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) return undefined;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Not awaited: a sender that stalls must not hold the answer.
      reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Whether the request carries valid credentials for a configured scheme. */
export async function authenticate(
  request: Request,
  auth: TriggerAuth,
  { maxBodyBytes, replays }: { maxBodyBytes: number; replays: ReplayGuard },
): Promise<AuthResult> {
  if (auth.insecureNoAuth) return OK;
  if (auth.bearerSecret && request.headers.has('authorization')) {
    if (await verifyBearer(request, auth.bearerSecret)) return OK;
  }
  if (request.method !== 'POST') return UNAUTHORIZED;

  let checkBody: (body: Uint8Array) => Promise<boolean>;
  const eddySignature = request.headers.get(SIGNATURE_HEADER);
  const qstashToken = request.headers.get('upstash-signature');
  if (auth.signingSecret && eddySignature) {
    const secret = auth.signingSecret;
    const parsed = parseSignature(eddySignature);
    if (!parsed || replays.seen(parsed.signature, parsed.timestamp * 1000)) return UNAUTHORIZED;
    checkBody = async (body) =>
      (await verifySignature(parsed, { method: request.method, url: request.url, body }, secret)) &&
      replays.accept(parsed.signature, parsed.timestamp * 1000);
  } else if (auth.qstash && qstashToken) {
    // QStash signs the destination URL; without a configured one, the URL this request came to.
    const check = await auth.qstash.check(qstashToken, request.url);
    if (!check) return UNAUTHORIZED;
    checkBody = check;
  } else {
    return UNAUTHORIZED;
  }

  let body: Uint8Array | undefined;
  try {
    body = await readCappedBody(request, maxBodyBytes);
  } catch {
    return { ok: false, status: 400 }; // the sender went away mid-body
  }
  if (!body) return { ok: false, status: 413 };
  return (await checkBody(body)) ? OK : UNAUTHORIZED;
}
