/**
 * Vercel / Next.js route handlers with real `Request` objects against the real PostgreSQL:
 * cron GET with CRON_SECRET, signed POST, QStash signatures, tampering and missing credentials.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTickRoute } from '../adapters/vercel/index.js';
import { createClient } from '../src/client.js';
import { SIGNATURE_HEADER, signBody, signQStashToken } from '../src/http/http-auth.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const URL_ = 'https://app.example.com/api/eddy/tick';
const CRON_SECRET = 'cron-secret-value';
const SIGNING_SECRET = 'signing-secret-value';
const QSTASH = { currentSigningKey: 'sig_current_key', nextSigningKey: 'sig_next_key', url: URL_ };

describe('Vercel tick route', () => {
  let river: RiverSchema;
  let route: ReturnType<typeof createTickRoute>;
  const worked: string[] = [];
  const enqueue = () =>
    createClient({ driver: river.driver, schema: river.schema }).insert('ping', {});
  const jobStates = async () => (await river.jobs()).map((r) => r.state);

  beforeAll(async () => {
    river = await riverSchema('vc');
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('ping', async (job) => void worked.push(String(job.id)))],
    });
    route = createTickRoute({
      runner,
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
        headers: { [SIGNATURE_HEADER]: await signBody(SIGNING_SECRET, body) },
      }),
    );
    expect(response.status).toBe(200);
    expect(await jobStates()).toEqual(['completed']);
  });

  it('refuses a signed POST whose body was tampered with, signed with another secret, or replayed late', async () => {
    await enqueue();
    const body = JSON.stringify({ reason: 'push' });
    const signature = await signBody(SIGNING_SECRET, body);
    const attempts = [
      new Request(URL_, {
        method: 'POST',
        body: JSON.stringify({ reason: 'evil' }),
        headers: { [SIGNATURE_HEADER]: signature },
      }),
      new Request(URL_, {
        method: 'POST',
        body,
        headers: { [SIGNATURE_HEADER]: await signBody('other-secret', body) },
      }),
      new Request(URL_, {
        method: 'POST',
        body,
        headers: {
          [SIGNATURE_HEADER]: await signBody(SIGNING_SECRET, body, Date.now() - 10 * 60_000),
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

  it('refuses to build a route that would run ticks for anyone', () => {
    expect(() =>
      createTickRoute({
        runner: () => {
          throw new Error('unused');
        },
        maxDuration: 10,
      }),
    ).toThrow(/no credentials configured/);
  });
});
