/**
 * Push triggers under a flood, with real `Request`s and the real runner over PostgreSQL: a
 * replayed kick is accepted once, and however many distinct kicks arrive, one handler runs at
 * most one tick and queues one more; the rest are answered and start nothing.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { SIGNATURE_HEADER, signBody } from '../src/http/http-auth.js';
import { createTickTrigger } from '../src/http/tick-trigger.js';
import { createRunner, type Runner, type TickStats } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const URL_ = 'https://app.example.com/api/eddy/tick';
const SECRET = 'a-signing-secret-of-at-least-32-chars';
const BODY = JSON.stringify({ kick: true, queues: [] });

describe('a tick trigger under a flood of kicks', () => {
  let river: RiverSchema;
  let release: () => void = () => undefined;
  let blocked: Promise<void> = Promise.resolve();
  let blockStarted: () => void = () => undefined;
  let blockRunning: Promise<void> = Promise.resolve();
  let runner: Runner;
  /** Ticks started and the statements they sent, counted around the real runner. */
  let ticks: { started: number; statements: number };
  const counting: Runner = {
    get id() {
      return runner.id;
    },
    async tick(options) {
      ticks.started++;
      const stats: TickStats = await runner.tick(options);
      ticks.statements += stats.statements;
      return stats;
    },
  };
  const trigger = () =>
    createTickTrigger(counting, {
      auth: { signingSecret: SECRET },
      methods: ['POST'],
      deadlines: (at) => ({ deadline: at + 5000, hardDeadline: at + 15_000 }),
    });
  const kickRequest = (signature: string) =>
    new Request(URL_, {
      method: 'POST',
      body: BODY,
      headers: { prefer: 'respond-async', [SIGNATURE_HEADER]: signature },
    });
  const states = async () => (await river.jobs()).map((row) => row.state);

  beforeAll(async () => {
    river = await riverSchema('flood');
    runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker('ping', async () => undefined),
        defineWorker('block', async () => {
          blockStarted();
          await blocked;
        }),
      ],
    });
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
    ticks = { started: 0, statements: 0 };
  });

  it('runs one tick for 200 replays of one signed kick, and refuses the other 199', async () => {
    const eddy = createClient({ driver: river.driver, schema: river.schema });
    await eddy.insertMany(Array.from({ length: 50 }, () => ({ kind: 'ping', args: {} })));
    const handle = trigger();
    const signature = await signBody(SECRET, { method: 'POST', url: URL_, body: BODY });
    const running: Promise<unknown>[] = [];
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        handle(kickRequest(signature), { waitUntil: (p) => void running.push(p) }),
      ),
    );
    await Promise.all(running);
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(199);
    expect(ticks.started).toBe(1);
    expect(await states()).toEqual(Array(50).fill('completed'));
  });

  it('runs at most one tick and queues one for 200 distinct kicks; the rest start nothing', async () => {
    blocked = new Promise((resolve) => {
      release = resolve;
    });
    blockRunning = new Promise((resolve) => {
      blockStarted = resolve;
    });
    const eddy = createClient({ driver: river.driver, schema: river.schema });
    await eddy.insert('block', {});
    const handle = trigger();
    const running: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void running.push(p);
    const sign = () => signBody(SECRET, { method: 'POST', url: URL_, body: BODY });

    const first = await handle(kickRequest(await sign()), { waitUntil });
    expect(first.status).toBe(202);
    await blockRunning; // the first tick holds the job
    await eddy.insertMany(Array.from({ length: 20 }, () => ({ kind: 'ping', args: {} })));
    const signatures = await Promise.all(Array.from({ length: 199 }, sign));
    const responses = await Promise.all(
      signatures.map((s) => handle(kickRequest(s), { waitUntil })),
    );
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    expect(bodies.filter((b) => b.coalesced)).toHaveLength(198);
    expect(ticks.started).toBe(1);

    release();
    await Promise.all(running);
    // The queued tick ran after the first and worked what arrived meanwhile.
    expect(ticks.started).toBe(2);
    expect(await states()).toEqual(Array(21).fill('completed'));
  });

  it('answers a request that finds a tick running and one queued with 202, starting nothing', async () => {
    blocked = new Promise((resolve) => {
      release = resolve;
    });
    blockRunning = new Promise((resolve) => {
      blockStarted = resolve;
    });
    await createClient({ driver: river.driver, schema: river.schema }).insert('block', {});
    const handle = createTickTrigger(counting, {
      auth: { bearerSecret: SECRET },
      deadlines: (at) => ({ deadline: at + 5000, hardDeadline: at + 15_000 }),
    });
    const cron = () =>
      handle(new Request(URL_, { headers: { authorization: `Bearer ${SECRET}` } }));
    const first = cron();
    await blockRunning;
    // Two more while the first runs. Which one reaches the gate first (after authentication,
    // which is asynchronous) is not fixed: one is queued and waits for the running tick, the
    // other is coalesced and answered at once.
    const second = cron();
    const third = cron();
    const answeredAtOnce = await Promise.race([second, third]);
    expect(answeredAtOnce.status).toBe(202);
    expect(await answeredAtOnce.json()).toEqual({ accepted: true, coalesced: true });
    expect(ticks.started).toBe(1);
    release();
    expect((await first).status).toBe(200);
    const statuses = (await Promise.all([second, third])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 202]);
    expect(ticks.started).toBe(2);
  });
});
