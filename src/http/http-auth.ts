/**
 * Authenticating tick triggers with Web Crypto only (Workers, Vercel Edge and Node alike).
 * Every secret comparison is constant-time: both sides are hashed first, so neither the
 * content nor the length of the secret shows in the timing.
 */

const encoder = new TextEncoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

async function sha256(data: string | Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', toBytes(data) as BufferSource));
}

/** Compares two secrets in constant time. */
export async function timingSafeEqual(
  a: string | Uint8Array,
  b: string | Uint8Array,
): Promise<boolean> {
  const [x, y] = await Promise.all([sha256(a), sha256(b)]);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] as number) ^ (y[i] as number);
  return difference === 0;
}

/** True when `Authorization: Bearer <secret>` carries the secret (Vercel's CRON_SECRET scheme). */
export async function verifyBearer(request: Request, secret: string): Promise<boolean> {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (!match || !secret) return false;
  return timingSafeEqual(match[1] as string, secret);
}

async function hmac(secret: string | Uint8Array, data: string | Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    toBytes(secret) as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, toBytes(data) as BufferSource));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array {
  const padded =
    text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Header carrying Eddy's own HMAC signature: `t=<unix seconds>,v1=<hex>`. */
export const SIGNATURE_HEADER = 'eddy-signature';

/**
 * Signs a request body for a tick trigger: HMAC-SHA256 over `<timestamp>.<body>`.
 *
 * @example
 * ```ts
 * await fetch(url, { method: 'POST', body, headers: { [SIGNATURE_HEADER]: await signBody(secret, body) } });
 * ```
 */
export async function signBody(secret: string, body: string, now = Date.now()): Promise<string> {
  const timestamp = Math.floor(now / 1000);
  return `t=${timestamp},v1=${hex(await hmac(secret, `${timestamp}.${body}`))}`;
}

/**
 * Verifies an `eddy-signature` header over `body`: right secret, untampered body, and a
 * timestamp within `toleranceMs` (replays of an old request are refused).
 */
export async function verifyBodySignature(
  header: string | null,
  body: string,
  secret: string,
  { toleranceMs = 5 * 60_000, now = Date.now() }: { toleranceMs?: number; now?: number } = {},
): Promise<boolean> {
  if (!header || !secret) return false;
  const parts = new Map(
    header.split(',').map((part) => {
      const index = part.indexOf('=');
      return [part.slice(0, index).trim(), part.slice(index + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const signature = parts.get('v1');
  if (!Number.isInteger(timestamp) || !signature) return false;
  if (Math.abs(now - timestamp * 1000) > toleranceMs) return false;
  const expected = hex(await hmac(secret, `${timestamp}.${body}`));
  return timingSafeEqual(expected, signature.toLowerCase());
}

/**
 * Verifies an Upstash QStash `Upstash-Signature` JWT (HS256) for `body`: signed with the current
 * or the next signing key (QStash rotates them), not expired, not before its time, issued by
 * Upstash, for this URL when `url` is given, and carrying the SHA-256 of exactly this body.
 */
export async function verifyQStashSignature(
  token: string | null,
  body: string,
  keys: { currentSigningKey: string; nextSigningKey?: string },
  {
    url,
    now = Date.now(),
    clockToleranceMs = 5_000,
  }: { url?: string; now?: number; clockToleranceMs?: number } = {},
): Promise<boolean> {
  if (!token) return false;
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: { alg?: string; typ?: string };
  let claims: { iss?: string; sub?: string; exp?: number; nbf?: number; body?: string };
  try {
    header = JSON.parse(new TextDecoder().decode(fromBase64url(headerPart)));
    claims = JSON.parse(new TextDecoder().decode(fromBase64url(payloadPart)));
  } catch {
    return false;
  }
  if (header.alg !== 'HS256') return false;
  const signed = `${headerPart}.${payloadPart}`;
  let valid = false;
  for (const key of [keys.currentSigningKey, keys.nextSigningKey]) {
    if (!key) continue;
    if (await timingSafeEqual(base64url(await hmac(key, signed)), signaturePart)) valid = true;
  }
  if (!valid) return false;
  const seconds = now / 1000;
  const tolerance = clockToleranceMs / 1000;
  if (claims.iss !== 'Upstash') return false;
  if (typeof claims.exp !== 'number' || seconds - tolerance > claims.exp) return false;
  if (typeof claims.nbf === 'number' && seconds + tolerance < claims.nbf) return false;
  if (url !== undefined && claims.sub !== url) return false;
  const bodyHash = base64url(await sha256(body));
  // QStash has sent the hash both with and without base64 padding; compare unpadded.
  return (
    typeof claims.body === 'string' &&
    (await timingSafeEqual(claims.body.replace(/=+$/, ''), bodyHash))
  );
}

/** Builds a QStash-style token (for tests and local schedulers that imitate QStash). */
export async function signQStashToken(
  key: string,
  body: string,
  { url, now = Date.now(), ttlSeconds = 300 }: { url: string; now?: number; ttlSeconds?: number },
): Promise<string> {
  const seconds = Math.floor(now / 1000);
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(
    encoder.encode(
      JSON.stringify({
        iss: 'Upstash',
        sub: url,
        exp: seconds + ttlSeconds,
        nbf: seconds,
        iat: seconds,
        jti: `jwt_${hex(crypto.getRandomValues(new Uint8Array(8)))}`,
        body: base64url(await sha256(body)),
      }),
    ),
  );
  return `${header}.${payload}.${base64url(await hmac(key, `${header}.${payload}`))}`;
}
