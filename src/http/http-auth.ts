/**
 * Authenticating tick triggers with Web Crypto only (Workers, Vercel Edge and Node alike).
 * Every secret comparison is constant-time: both sides are hashed first, so neither the
 * content nor the length of the secret shows in the timing.
 */

import { invalid } from '../errors.js';

export const encoder = new TextEncoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

export async function sha256(data: string | Uint8Array): Promise<Uint8Array> {
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

/** Shortest secret a trigger accepts: 32 characters (`openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

/** Refuses a secret too short to resist guessing; `path` names the option that holds it. */
export function checkSecret(secret: string, path: string, where: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    invalid(
      path,
      `must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`,
      where,
    );
  }
}

/** True when `Authorization: Bearer <secret>` carries the secret (Vercel's CRON_SECRET scheme). */
export async function verifyBearer(request: Request, secret: string): Promise<boolean> {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (!match || !secret) return false;
  return timingSafeEqual(match[1] as string, secret);
}

export async function hmac(
  secret: string | Uint8Array,
  data: string | Uint8Array,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    toBytes(secret) as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, toBytes(data) as BufferSource));
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Header carrying Eddy's own HMAC signature: `t=<unix seconds>,n=<nonce>,v1=<hex>`. */
export const SIGNATURE_HEADER = 'eddy-signature';
/** A signature older than this is refused. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;
/** A signature dated further ahead than this (clock skew) is refused. */
export const SIGNATURE_FUTURE_SKEW_MS = 30_000;

/** What a signature covers besides the body: the method and the request target. */
export interface SignedRequest {
  /** Default `POST`. */
  method?: string;
  /** The endpoint's URL, absolute or a path; only its path and query are signed. */
  url: string;
  body: string | Uint8Array;
}

/** The request target (`/api/tick?x=1`) of an absolute URL or a path. */
function requestTarget(url: string): string {
  const parsed = new URL(url, 'http://eddy.invalid');
  return parsed.pathname + parsed.search;
}

/**
 * The signed bytes: `v1\n<t>\n<nonce>\n<METHOD>\n<path?query>\n<body>`. Newlines separate the
 * fields because none can occur in the fields before the body (a URL's path percent-encodes
 * them), so no two requests sign the same bytes. The host is not signed: behind proxies, in
 * local development and on preview deployments the host an endpoint sees often differs from the
 * one the sender used; give each environment its own secret instead.
 */
function signedBytes(timestamp: number, nonce: string, request: SignedRequest): Uint8Array {
  const head = encoder.encode(
    `v1\n${timestamp}\n${nonce}\n${(request.method ?? 'POST').toUpperCase()}\n${requestTarget(request.url)}\n`,
  );
  const body = toBytes(request.body);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * Signs a request to a tick trigger: HMAC-SHA256 with `secret` over its method, path and body,
 * a timestamp and a fresh nonce (so no two signatures are alike and each is accepted once).
 *
 * @example
 * ```ts
 * const signature = await signBody(secret, { method: 'POST', url, body });
 * await fetch(url, { method: 'POST', body, headers: { [SIGNATURE_HEADER]: signature } });
 * ```
 */
export async function signBody(
  secret: string,
  request: SignedRequest,
  now = Date.now(),
): Promise<string> {
  const timestamp = Math.floor(now / 1000);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const signature = hex(await hmac(secret, signedBytes(timestamp, nonce, request)));
  return `t=${timestamp},n=${nonce},v1=${signature}`;
}

/** An `eddy-signature` header read, before the body is. */
export interface ParsedSignature {
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  /** The HMAC, lowercase hex: unique per signed request, so it identifies a replay. */
  signature: string;
}

/**
 * Reads an `eddy-signature` header and checks its date: not older than `toleranceMs`, not
 * ahead by more than `futureSkewMs`. Undefined when malformed or out of time.
 */
export function parseSignature(
  header: string | null,
  {
    now = Date.now(),
    toleranceMs = SIGNATURE_TOLERANCE_MS,
    futureSkewMs = SIGNATURE_FUTURE_SKEW_MS,
  }: { now?: number; toleranceMs?: number; futureSkewMs?: number } = {},
): ParsedSignature | undefined {
  if (!header) return undefined;
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const index = part.indexOf('=');
    if (index > 0) parts.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  const timestamp = Number(parts.get('t'));
  const nonce = parts.get('n') ?? '';
  const signature = (parts.get('v1') ?? '').toLowerCase();
  if (!Number.isSafeInteger(timestamp) || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) return undefined;
  const signedAt = timestamp * 1000;
  if (now - signedAt > toleranceMs || signedAt - now > futureSkewMs) return undefined;
  return { timestamp, nonce, signature };
}

/** Whether `parsed` is the HMAC of `request` with `secret`. Replays are the caller's to refuse. */
export async function verifySignature(
  parsed: ParsedSignature,
  request: SignedRequest,
  secret: string,
): Promise<boolean> {
  if (!secret) return false;
  const expected = hex(await hmac(secret, signedBytes(parsed.timestamp, parsed.nonce, request)));
  return timingSafeEqual(expected, parsed.signature);
}
