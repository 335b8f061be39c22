/**
 * API keys for the REST API: each key carries scopes (`insert`, `work`, `read`, `admin`; admin
 * allows everything), several are valid at once so a key can be rotated, and a presented key is
 * compared with every configured key in constant time: each is hashed once, the digests compared
 * without an early exit, so neither which key matched nor how much of one did shows in the time.
 */

import { invalid } from '../errors.js';
import { checkSecret, sha256 } from './http-auth.js';

export const SCOPES = ['insert', 'work', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  /** The secret, sent as `Authorization: Bearer <key>`: at least 32 characters. */
  key: string;
  /** What it may do: `insert` jobs, `work` them (claims and outcomes), `read`, `admin` (all). */
  scopes: readonly Scope[];
  /** Names the key in logs and errors (never the key itself). Default `key <n>`. */
  name?: string;
}

/** A key that authenticated a request: its name and scopes, never its secret. */
export interface Caller {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

export type KeyCheck =
  | { ok: true; caller: Caller }
  | { ok: false; status: 401 | 403; detail: string };

/** Refuses keys that are missing, short, duplicated or scoped with unknown names. */
export function checkApiKeys(keys: unknown, where: string): ApiKey[] {
  if (!Array.isArray(keys) || keys.length === 0)
    invalid(
      'keys',
      'must list at least one API key: [{ key, scopes: ["insert", "work", "read", "admin"] }]',
      where,
    );
  const seen = new Set<string>();
  return keys.map((entry, i) => {
    const path = `keys[${i}]`;
    if (!entry || typeof entry !== 'object') invalid(path, 'must be { key, scopes, name? }', where);
    const { key, scopes, name } = entry as Partial<ApiKey>;
    checkSecret(key as string, `${path}.key`, where);
    if (seen.has(key as string)) invalid(`${path}.key`, 'is listed twice', where);
    seen.add(key as string);
    if (!Array.isArray(scopes) || scopes.length === 0)
      invalid(`${path}.scopes`, `must list scopes from ${SCOPES.join(', ')}`, where);
    for (const scope of scopes)
      if (!SCOPES.includes(scope))
        invalid(`${path}.scopes`, `has '${String(scope)}'; scopes are ${SCOPES.join(', ')}`, where);
    if (name !== undefined && (typeof name !== 'string' || name === ''))
      invalid(`${path}.name`, 'must be a non-empty string', where);
    return { key: key as string, scopes: [...scopes], name: name ?? `key ${i + 1}` };
  });
}

interface HashedKey {
  digest: Uint8Array;
  caller: Caller;
}

/** Checks bearer keys against a fixed set of keys. */
export class KeyRing {
  readonly #hashed: Promise<HashedKey[]>;

  constructor(keys: readonly ApiKey[]) {
    this.#hashed = Promise.all(
      keys.map(async (k, i) => ({
        digest: await sha256(k.key),
        caller: { name: k.name ?? `key ${i + 1}`, scopes: new Set(k.scopes) },
      })),
    );
  }

  /** The key `presented` is, or undefined; every key is compared, in constant time. */
  async find(presented: string): Promise<Caller | undefined> {
    const [digest, hashed] = await Promise.all([sha256(presented), this.#hashed]);
    let found: Caller | undefined;
    for (const key of hashed) {
      let difference = 0;
      for (let i = 0; i < digest.length; i++)
        difference |= (digest[i] as number) ^ (key.digest[i] as number);
      // No early exit: the loop costs the same whichever key matches.
      if (difference === 0) found = key.caller;
    }
    return found;
  }

  /**
   * Authenticates a request's `Authorization: Bearer <key>` and checks that its key has `scope`
   * (or `admin`): 401 without a known key, 403 without the scope.
   */
  async check(authorization: string | null | undefined, scope: Scope): Promise<KeyCheck> {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (!match) {
      return {
        ok: false,
        status: 401,
        detail: 'send an API key as `Authorization: Bearer <key>`',
      };
    }
    const caller = await this.find(match[1] as string);
    if (!caller) return { ok: false, status: 401, detail: 'unknown API key' };
    if (!caller.scopes.has(scope) && !caller.scopes.has('admin')) {
      return {
        ok: false,
        status: 403,
        detail: `API key '${caller.name}' lacks the '${scope}' scope this needs (it has ${[...caller.scopes].join(', ')})`,
      };
    }
    return { ok: true, caller };
  }
}
