/**
 * Eddy's HMAC signature on push triggers, with real `Request`s and the real runner over
 * PostgreSQL: it binds the method and the path, each signature is accepted once, a signature
 * dated in the future is refused, and secrets have a minimum length.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { isValidationError } from '../src/errors.js';
import { SIGNATURE_HEADER, signBody } from '../src/http/http-auth.js';
import { createKick } from '../src/http/kick.js';
import { createTickTrigger } from '../src/http/tick-trigger.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const URL_ = 'https://app.example.com/api/eddy/tick';
const SECRET = 'a-signing-secret-of-at-least-32-chars';
const BODY = JSON.stringify({ kick: true, queues: [] });

function pathOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (isValidationError(error)) return error.issues[0]?.path;
    throw error;
  }
  return undefined;
}

describe('signed push triggers', () => {
  let river: RiverSchema;
  let handle: ReturnType<typeof createTickTrigger>;
  const enqueue = () =>
    createClient({ driver: river.driver, schema: river.schema }).insert('ping', {});
  const states = async () => (await river.jobs()).map((row) => row.state);
  const post = (signature: string, url = URL_, body = BODY) =>
    handle(new Request(url, { method: 'POST', body, headers: { [SIGNATURE_HEADER]: signature } }));

  beforeAll(async () => {
    river = await riverSchema('sig');
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('ping', async () => undefined)],
    });
    handle = createTickTrigger(runner, {
      auth: { signingSecret: SECRET },
      methods: ['POST'],
      deadlines: (at) => ({ deadline: at + 5000, hardDeadline: at + 15_000 }),
    });
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
  });

  it('accepts a signature for this method and path, from whatever host', async () => {
    await enqueue();
    const signature = await signBody(SECRET, {
      method: 'POST',
      url: 'https://public.example.com/api/eddy/tick',
      body: BODY,
    });
    expect((await post(signature)).status).toBe(200);
    expect(await states()).toEqual(['completed']);
  });

  it('refuses a signature made for another path or another method', async () => {
    await enqueue();
    const otherPath = await signBody(SECRET, {
      method: 'POST',
      url: 'https://app.example.com/api/other',
      body: BODY,
    });
    const withQuery = await signBody(SECRET, { method: 'POST', url: `${URL_}?x=1`, body: BODY });
    const otherMethod = await signBody(SECRET, { method: 'PUT', url: URL_, body: BODY });
    expect((await post(otherPath)).status).toBe(401);
    expect((await post(withQuery)).status).toBe(401);
    expect((await post(otherMethod)).status).toBe(401);
    // And the other way round: a signature for this endpoint, sent to another path.
    const mine = await signBody(SECRET, { method: 'POST', url: URL_, body: BODY });
    expect((await post(mine, 'https://app.example.com/api/other')).status).toBe(401);
    expect(await states()).toEqual(['available']);
  });

  it('accepts a signature once: a replay gets 401 and runs no tick', async () => {
    await enqueue();
    const signature = await signBody(SECRET, { method: 'POST', url: URL_, body: BODY });
    expect((await post(signature)).status).toBe(200);
    await enqueue();
    expect((await post(signature)).status).toBe(401);
    expect(await states()).toEqual(['completed', 'available']);
  });

  it('refuses a signature dated more than 30 s ahead, accepts one within the skew', async () => {
    await enqueue();
    const ahead = await signBody(SECRET, { url: URL_, body: BODY }, Date.now() + 90_000);
    expect((await post(ahead)).status).toBe(401);
    expect(await states()).toEqual(['available']);
    const skewed = await signBody(SECRET, { url: URL_, body: BODY }, Date.now() + 10_000);
    expect((await post(skewed)).status).toBe(200);
    expect(await states()).toEqual(['completed']);
  });

  it('refuses the old format, without a nonce and not bound to the request', async () => {
    await enqueue();
    const t = Math.floor(Date.now() / 1000);
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(SECRET),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const mac = new Uint8Array(
      await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${t}.${BODY}`)),
    );
    const hex = Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
    expect((await post(`t=${t},v1=${hex}`)).status).toBe(401);
    expect(await states()).toEqual(['available']);
  });

  it('takes two kicks sent in the same second: each signature carries its own nonce', async () => {
    await enqueue();
    const accepted: number[] = [];
    const kick = createKick({
      url: URL_,
      secret: SECRET,
      fetch: async (url, init) => {
        const response = await handle(new Request(url as string, init));
        accepted.push(response.status);
        return response;
      },
    });
    await Promise.all([kick(), kick()]);
    // The second either queued behind the first or ran after it: neither was refused.
    expect(accepted.sort()).toEqual([200, 200]);
    expect(await states()).toEqual(['completed']);
  });

  it('refuses secrets shorter than 32 characters, naming the option', () => {
    const options = { methods: ['POST'] as const, deadlines: () => ({}) };
    expect(
      pathOf(() =>
        createTickTrigger({} as never, { ...options, auth: { signingSecret: 'short' } }),
      ),
    ).toBe('auth.signingSecret');
    expect(
      pathOf(() =>
        createTickTrigger({} as never, { ...options, auth: { bearerSecret: 'x'.repeat(31) } }),
      ),
    ).toBe('auth.bearerSecret');
    expect(
      pathOf(() =>
        createTickTrigger({} as never, { ...options, auth: { bearerSecret: 'x'.repeat(32) } }),
      ),
    ).toBeUndefined();
    expect(pathOf(() => createKick({ url: URL_, secret: 'sixteen-chars-xx' }))).toBe('secret');
  });
});
