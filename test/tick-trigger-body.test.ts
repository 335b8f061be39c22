/**
 * A tick trigger reads no body before it must, and never more than its cap: real `Request`s
 * with streamed bodies that count the bytes pulled from them, the real runner over PostgreSQL.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { isValidationError } from '../src/errors.js';
import { SIGNATURE_HEADER, signBody } from '../src/http/http-auth.js';
import { qstashVerifier, signQStashToken } from '../src/http/qstash.js';
import { createTickTrigger, DEFAULT_MAX_BODY_BYTES } from '../src/http/tick-trigger.js';
import { createRunner, type Runner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const URL_ = 'https://app.example.com/api/eddy/tick';
const SECRET = 'a-signing-secret-of-at-least-32-chars';
const QSTASH_KEY = 'sig_current_signing_key_for_tests';
const CHUNK = 64 * 1024;
const HUGE = 200 * 1024 * 1024;

/** A request body of `total` bytes made on demand, counting what the handler pulls. */
function streamed(total: number) {
  const pulled = { bytes: 0 };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled.bytes >= total) return controller.close();
        const size = Math.min(CHUNK, total - pulled.bytes);
        pulled.bytes += size;
        controller.enqueue(new Uint8Array(size).fill(0x61));
      },
    },
    { highWaterMark: 0 }, // nothing is pulled until someone reads
  );
  return { body, pulled };
}

function post(body: ReadableStream<Uint8Array> | string, headers: Record<string, string>) {
  return new Request(URL_, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
}

describe('tick trigger bodies', () => {
  let river: RiverSchema;
  let runner: Runner;
  const deadlines = (at: number) => ({ deadline: at + 5000, hardDeadline: at + 15_000 });
  const states = async () => (await river.jobs()).map((row) => row.state);

  beforeAll(async () => {
    river = await riverSchema('body');
    runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [defineWorker('ping', async () => undefined)],
    });
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
    await createClient({ driver: river.driver, schema: river.schema }).insert('ping', {});
  });

  it('answers 401 without reading the body when no credential can match', async () => {
    const bearerOnly = createTickTrigger(runner, { auth: { bearerSecret: SECRET }, deadlines });
    const everything = createTickTrigger(runner, {
      auth: {
        bearerSecret: SECRET,
        signingSecret: SECRET,
        qstash: qstashVerifier({ currentSigningKey: QSTASH_KEY }),
      },
      deadlines,
    });
    const attempts: [ReturnType<typeof createTickTrigger>, Record<string, string>][] = [
      [bearerOnly, {}],
      [bearerOnly, { authorization: 'Bearer wrong' }],
      [bearerOnly, { [SIGNATURE_HEADER]: await signBody(SECRET, { url: URL_, body: 'x' }) }],
      [everything, {}],
      [everything, { authorization: 'Bearer wrong' }],
      [everything, { [SIGNATURE_HEADER]: 'garbage' }],
      // Dated ten minutes ago: refused on its header alone.
      [
        everything,
        {
          [SIGNATURE_HEADER]: await signBody(
            SECRET,
            { url: URL_, body: 'x' },
            Date.now() - 600_000,
          ),
        },
      ],
      // A QStash token signed with another key: refused before the body is read.
      [everything, { 'upstash-signature': await signQStashToken('sig_other', 'x', { url: URL_ }) }],
    ];
    for (const [handle, headers] of attempts) {
      const { body, pulled } = streamed(HUGE);
      const response = await handle(post(body, headers));
      expect(response.status).toBe(401);
      expect(pulled.bytes).toBe(0);
    }
    expect(await states()).toEqual(['available']);
  });

  it('runs a tick for a valid bearer token without reading the body', async () => {
    const handle = createTickTrigger(runner, { auth: { bearerSecret: SECRET }, deadlines });
    const { body, pulled } = streamed(HUGE);
    const response = await handle(post(body, { authorization: `Bearer ${SECRET}` }));
    expect(response.status).toBe(200);
    expect(pulled.bytes).toBe(0);
    expect(await states()).toEqual(['completed']);
  });

  it('answers 413 unread to a signed request whose Content-Length is over the cap', async () => {
    const handle = createTickTrigger(runner, { auth: { signingSecret: SECRET }, deadlines });
    const { body, pulled } = streamed(HUGE);
    const signature = await signBody(SECRET, { url: URL_, body: 'x' });
    const response = await handle(
      post(body, { [SIGNATURE_HEADER]: signature, 'content-length': String(HUGE) }),
    );
    expect(response.status).toBe(413);
    expect(pulled.bytes).toBe(0);
    expect(await states()).toEqual(['available']);
  });

  it.each([
    ['no Content-Length', {}],
    ['a Content-Length that lies', { 'content-length': '100' }],
  ])(
    'stops reading at the cap with %s, and answers 413',
    async (_, headers: Record<string, string>) => {
      const handle = createTickTrigger(runner, { auth: { signingSecret: SECRET }, deadlines });
      const { body, pulled } = streamed(HUGE);
      const signature = await signBody(SECRET, { url: URL_, body: 'x' });
      const response = await handle(post(body, { ...headers, [SIGNATURE_HEADER]: signature }));
      expect(response.status).toBe(413);
      expect(pulled.bytes).toBeLessThanOrEqual(DEFAULT_MAX_BODY_BYTES + CHUNK);
      expect(await states()).toEqual(['available']);
    },
  );

  it('takes its cap from maxBodyBytes, and refuses a cap that is not a positive integer', async () => {
    const body = JSON.stringify({ kick: true, padding: 'x'.repeat(100) });
    const sign = () => signBody(SECRET, { url: URL_, body });
    const small = createTickTrigger(runner, {
      auth: { signingSecret: SECRET },
      deadlines,
      maxBodyBytes: 64,
    });
    expect((await small(post(body, { [SIGNATURE_HEADER]: await sign() }))).status).toBe(413);
    expect(await states()).toEqual(['available']);
    const roomy = createTickTrigger(runner, {
      auth: { signingSecret: SECRET },
      deadlines,
      maxBodyBytes: 1024,
    });
    expect((await roomy(post(body, { [SIGNATURE_HEADER]: await sign() }))).status).toBe(200);
    expect(await states()).toEqual(['completed']);

    for (const maxBodyBytes of [0, -1, 1.5, Number.NaN]) {
      let path: string | undefined;
      try {
        createTickTrigger(runner, { auth: { signingSecret: SECRET }, deadlines, maxBodyBytes });
      } catch (error) {
        if (isValidationError(error)) path = error.issues[0]?.path;
      }
      expect(path).toBe('maxBodyBytes');
    }
  });
});
