/**
 * Vercel / Next.js route handlers with real `Request` objects against the real PostgreSQL:
 * cron GET with CRON_SECRET, signed POST, QStash signatures, tampering and missing credentials.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTickRoute } from '../adapters/vercel/index.js';
import { createClient } from '../src/client.js';
import { SIGNATURE_HEADER, signBody } from '../src/http/http-auth.js';
import { signQStashToken } from '../src/http/qstash.js';
import { createRunner, type Runner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const URL_ = 'https://app.example.com/api/eddy/tick';
const CRON_SECRET = 'cron-secret-value-of-32-characters';
const SIGNING_SECRET = 'signing-secret-value-of-32-characters';
// As the README configures it: no `url`, so the route checks tokens against its own URL.
const QSTASH = { currentSigningKey: 'sig_current_key', nextSigningKey: 'sig_next_key' };

describe('Vercel tick route', () => {
  let river: RiverSchema;
  let route: ReturnType<typeof createTickRoute>;
  let shared: Runner;
  const runner = () => shared;
  const worked: string[] = [];
  const enqueue = () =>
    createClient({ driver: river.driver, schema: river.schema }).insert('ping', {});
  const jobStates = async () => (await river.jobs()).map((r) => r.state);

  beforeAll(async () => {
    river = await riverSchema('vc');
    shared = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('ping', async (job) => void worked.push(String(job.id)))],
    });
    route = createTickRoute({
      runner: shared,
      maxDuration: 10,
      cronSecret: CRON_SECRET,
      signingSecret: SIGNING_SECRET,
      qstash: QSTASH,
    });
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
  });

  it('runs a tick for Vercel Cron with the right bearer secret and answers with its stats', async () => {
    await enqueue();
    const response = await route.GET(
      new Request(URL_, { headers: { authorization: `Bearer ${CRON_SECRET}` } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const stats = await response.json();
    expect(stats).toMatchObject({ claimed: 1, completed: 1 });
    expect(await jobStates()).toEqual(['completed']);
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong secret', { authorization: 'Bearer not-the-secret' }],
    ['a secret that only shares a prefix', { authorization: `Bearer ${CRON_SECRET}x` }],
    ['another scheme', { authorization: `Basic ${btoa(`user:${CRON_SECRET}`)}` }],
  ])('answers 401 and runs no tick for %s', async (_, headers) => {
    await enqueue();
    const response = await route.GET(new Request(URL_, { headers }));
    expect(response.status).toBe(401);
    expect((await response.json()).error).toMatch(/unauthorized/);
    expect(await jobStates()).toEqual(['available']);
  });

  it('answers 405 to other methods', async () => {
    const response = await route.handler(
      new Request(URL_, { method: 'DELETE', headers: { authorization: `Bearer ${CRON_SECRET}` } }),
    );
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });

  it('runs a tick for a POST signed with the signing secret', async () => {
    await enqueue();
    const body = JSON.stringify({ reason: 'push' });
    const response = await route.POST(
      new Request(URL_, {
        method: 'POST',
        body,
        headers: { [SIGNATURE_HEADER]: await signBody(SIGNING_SECRET, { url: URL_, body }) },
      }),
    );
    expect(response.status).toBe(200);
    expect(await jobStates()).toEqual(['completed']);
  });

  it('refuses a signed POST whose body was tampered with, signed with another secret, or replayed late', async () => {
    await enqueue();
    const body = JSON.stringify({ reason: 'push' });
    const signature = await signBody(SIGNING_SECRET, { url: URL_, body });
    const attempts = [
      new Request(URL_, {
        method: 'POST',
        body: JSON.stringify({ reason: 'evil' }),
        headers: { [SIGNATURE_HEADER]: signature },
      }),
      new Request(URL_, {
        method: 'POST',
        body,
        headers: {
          [SIGNATURE_HEADER]: await signBody('other-secret-also-32-characters-long', {
            url: URL_,
            body,
          }),
        },
      }),
      new Request(URL_, {
        method: 'POST',
        body,
        headers: {
          [SIGNATURE_HEADER]: await signBody(
            SIGNING_SECRET,
            { url: URL_, body },
            Date.now() - 10 * 60_000,
          ),
        },
      }),
      new Request(URL_, { method: 'POST', body, headers: { [SIGNATURE_HEADER]: 'garbage' } }),
    ];
    for (const request of attempts) expect((await route.POST(request)).status).toBe(401);
    expect(await jobStates()).toEqual(['available']);
  });

  it('accepts QStash signatures made with the current or the next signing key', async () => {
    for (const key of [QSTASH.currentSigningKey, QSTASH.nextSigningKey]) {
      await enqueue();
      const body = '{"scheduled":true}';
      const token = await signQStashToken(key, body, { url: URL_ });
      const response = await route.POST(
        new Request(URL_, { method: 'POST', body, headers: { 'upstash-signature': token } }),
      );
      expect(response.status).toBe(200);
    }
    expect(await jobStates()).toEqual(['completed', 'completed']);
  });

  it('refuses QStash tokens for another body, another URL, an unknown key or an expired time', async () => {
    await enqueue();
    const body = '{"scheduled":true}';
    const tokens = [
      await signQStashToken(QSTASH.currentSigningKey, 'other body', { url: URL_ }),
      await signQStashToken(QSTASH.currentSigningKey, body, {
        url: 'https://evil.example.com/tick',
      }),
      await signQStashToken('sig_unknown', body, { url: URL_ }),
      await signQStashToken(QSTASH.currentSigningKey, body, {
        url: URL_,
        now: Date.now() - 3600_000,
        ttlSeconds: 60,
      }),
    ];
    for (const token of tokens) {
      const response = await route.POST(
        new Request(URL_, { method: 'POST', body, headers: { 'upstash-signature': token } }),
      );
      expect(response.status).toBe(401);
    }
    expect(await jobStates()).toEqual(['available']);
  });

  it('takes its budget from maxDuration: the tick ends before the function would be cut off', async () => {
    const slow = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker(
          'nap',
          (_job, ctx) =>
            new Promise((_, reject) =>
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
            ),
        ),
      ],
    });
    const short = createTickRoute({ runner: slow, maxDuration: 2, cronSecret: CRON_SECRET });
    await createClient({ driver: river.driver, schema: river.schema }).insert('nap', {});
    const started = Date.now();
    const response = await short.GET(
      new Request(URL_, { headers: { authorization: `Bearer ${CRON_SECRET}` } }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await response.json()).toMatchObject({ claimed: 1, snoozed: 1 });
  });

  it('takes a QStash token only for the URL the request came to, or for the configured url', async () => {
    // A proxy forwards to an internal URL; the route is told the public one QStash signs.
    const internal = 'http://10.0.0.7:3000/api/eddy/tick';
    const behindProxy = createTickRoute({
      runner,
      maxDuration: 10,
      qstash: { ...QSTASH, url: URL_ },
    });
    const body = '{"scheduled":true}';
    const send = async (handler: typeof route, at: string, mintedFor: string) =>
      (
        await handler.POST(
          new Request(at, {
            method: 'POST',
            body,
            headers: {
              'upstash-signature': await signQStashToken(QSTASH.currentSigningKey, body, {
                url: mintedFor,
              }),
            },
          }),
        )
      ).status;
    await enqueue();
    // Another URL of the same QStash account: refused, by the derived and the configured URL.
    expect(await send(route, URL_, 'https://app.example.com/api/other')).toBe(401);
    expect(await send(behindProxy, internal, internal)).toBe(401);
    expect(await jobStates()).toEqual(['available']);
    expect(await send(behindProxy, internal, URL_)).toBe(200);
    expect(await jobStates()).toEqual(['completed']);
  });

  it.each([
    ['a header that is null', 'null', null],
    ['a header that is an array', '[]', null],
    ['claims that are null', null, 'null'],
  ])('answers 401, not 500, to a QStash token with %s', async (_, header, claims) => {
    await enqueue();
    const body = '{"scheduled":true}';
    const valid = (await signQStashToken(QSTASH.currentSigningKey, body, { url: URL_ })).split('.');
    const part = (json: string | null, fallback: string) =>
      json === null ? fallback : Buffer.from(json).toString('base64url');
    const signed = `${part(header, valid[0] as string)}.${part(claims, valid[1] as string)}`;
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(QSTASH.currentSigningKey),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(signed));
    const token = `${signed}.${Buffer.from(mac).toString('base64url')}`;
    const response = await route.POST(
      new Request(URL_, { method: 'POST', body, headers: { 'upstash-signature': token } }),
    );
    expect(response.status).toBe(401);
    expect(await jobStates()).toEqual(['available']);
  });

  it('builds without credentials, as `next build` does, and then refuses every request (500, logged once)', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const absent = process.env.EDDY_TEST_ABSENT_SECRET;
      // Module evaluation at build time: no secret in the environment, and it must not throw.
      const unconfigured = createTickRoute({
        runner: runner(),
        maxDuration: 10,
        cronSecret: absent,
        signingSecret: absent,
        qstash: { currentSigningKey: absent as string, nextSigningKey: absent },
      });
      await enqueue();
      for (const request of [
        new Request(URL_),
        new Request(URL_, { headers: { authorization: 'Bearer undefined' } }),
        new Request(URL_, { method: 'POST', body: '{}' }),
      ]) {
        const response = await unconfigured.handler(request);
        expect(response.status).toBe(500);
        expect((await response.json()).error).toMatch(/no credentials configured/);
      }
      expect(await jobStates()).toEqual(['available']);
      expect(errors.mock.calls.filter(([m]) => /tick route/.test(String(m)))).toHaveLength(1);
    } finally {
      errors.mockRestore();
    }
  });

  it('refuses a cron secret shorter than 32 characters at request time, naming it', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const weak = createTickRoute({ runner: runner(), maxDuration: 10, cronSecret: 'short' });
      await enqueue();
      const response = await weak.GET(
        new Request(URL_, { headers: { authorization: 'Bearer short' } }),
      );
      expect(response.status).toBe(500);
      expect((await response.json()).error).toMatch(/cronSecret must be at least 32 characters/);
      expect(await jobStates()).toEqual(['available']);
    } finally {
      errors.mockRestore();
    }
  });

  it('still refuses a bad maxDuration or maxBodyBytes when the route is built: they are code', () => {
    expect(() => createTickRoute({ runner: runner(), maxDuration: 0 })).toThrow(/maxDuration/);
    expect(() =>
      createTickRoute({
        runner: runner(),
        maxDuration: 10,
        maxBodyBytes: -1,
        cronSecret: CRON_SECRET,
      }),
    ).toThrow(/maxBodyBytes/);
    expect(() =>
      createTickRoute({
        runner: runner(),
        maxDuration: 10,
        maxStatements: 5,
        cronSecret: CRON_SECRET,
      }),
    ).toThrow(/maxStatements must be a whole number of at least 8/);
  });
});
