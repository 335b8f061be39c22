/**
 * Configurations that would silently never run are refused when they are made: a worker whose
 * queue the runner does not work, a periodic job without a worker, periodic args that fail their
 * schema, a kind the client does not list, an option Eddy does not have. Each error names the
 * path to fix. A driver that fails every query stands in for a database wherever none is needed.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createClient,
  createRunner,
  defineJobKind,
  definePeriodicJob,
  defineWorker,
  jobToJSON,
  ValidationError,
} from '../src/index.js';
import { unreachableDriver } from './support/drivers.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const unreachable = unreachableDriver;

const email = defineJobKind({
  kind: 'send_email',
  args: z.object({ to: z.string().email() }),
  queue: 'email',
});
const report = defineJobKind({ kind: 'report', args: z.object({ day: z.string() }) });
const stray = defineJobKind({ kind: 'stray', args: z.object({}) });

/** The ValidationError `fn` throws (or its promise rejects with). */
async function refusal(fn: () => unknown): Promise<ValidationError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const paths = (error: ValidationError) => error.issues.map((issue) => issue.path);

describe('createRunner refuses what would never run', () => {
  const emailWorker = defineWorker(email, () => {});
  const reportWorker = defineWorker(report, () => {});

  it("refuses a worker whose kind's queue is not in queues, naming the queue to add", async () => {
    const error = await refusal(() =>
      createRunner({ driver: unreachable, workers: [reportWorker, emailWorker] }),
    );
    expect(paths(error)).toEqual(['workers[1]']);
    expect(error.message).toContain("kind 'send_email'");
    expect(error.message).toContain("queue 'email'");
    expect(error.message).toContain('"email": {} to queues');
    // A kind without a queue goes to `default`.
    expect(
      paths(
        await refusal(() =>
          createRunner({ driver: unreachable, workers: [reportWorker], queues: { email: {} } }),
        ),
      ),
    ).toEqual(['workers[0]']);
    // Listed: accepted. A worker registered by name has no known queue.
    createRunner({
      driver: unreachable,
      workers: [emailWorker, reportWorker, defineWorker('by_name', () => {})],
      queues: { default: {}, email: {} },
    });
  });

  it('refuses a periodic job no worker works, unless it is worked elsewhere', async () => {
    const nightly = definePeriodicJob({ kind: 'nightly', schedule: '0 3 * * *' });
    const error = await refusal(() =>
      createRunner({ driver: unreachable, workers: [reportWorker], periodic: [nightly] }),
    );
    expect(paths(error)).toEqual(['periodic[0]']);
    expect(error.message).toContain("kind 'nightly'");
    expect(error.message).toContain('workedElsewhere');
    // For Go River (or another deployment) to work: enqueued here, worked there.
    createRunner({
      driver: unreachable,
      workers: [],
      periodic: [
        definePeriodicJob({ kind: 'nightly', schedule: '0 3 * * *', workedElsewhere: true }),
      ],
    });
  });

  it("refuses a periodic job whose queue is not in queues, the kind's or its own", async () => {
    const inEmail = definePeriodicJob({
      kind: email,
      args: { to: 'a@example.com' },
      schedule: '@hourly',
    });
    const own = await refusal(() =>
      createRunner({
        driver: unreachable,
        workers: [emailWorker, reportWorker],
        queues: { default: {}, email: {} },
        periodic: [
          definePeriodicJob({
            kind: report,
            args: { day: 'today' },
            schedule: '@daily',
            options: { queue: 'reports' },
          }),
        ],
      }),
    );
    expect(paths(own)).toEqual(['periodic[0]']);
    expect(own.message).toContain("queue 'reports'");
    // By name, a periodic job goes to `default` whatever its worker's kind says.
    const byName = definePeriodicJob({
      name: 'by_name',
      kind: 'send_email',
      args: { to: 'a@example.com' },
      schedule: '@hourly',
    });
    const error = await refusal(() =>
      createRunner({
        driver: unreachable,
        workers: [emailWorker],
        queues: { email: {} },
        periodic: [inEmail, byName],
      }),
    );
    expect(paths(error)).toEqual(['periodic[1]']);
    expect(error.message).toContain("queue 'default'");
  });

  it("refuses static periodic args that fail the kind's schema, by the kind or by its worker", async () => {
    const bad = { to: 'not an address' };
    for (const kind of [email, 'send_email'] as const) {
      const error = await refusal(() =>
        createRunner({
          driver: unreachable,
          workers: [emailWorker],
          queues: { default: {}, email: {} },
          periodic: [
            definePeriodicJob({
              kind,
              args: bad,
              schedule: '@hourly',
              ...(typeof kind === 'string' ? { options: { queue: 'email' } } : {}),
            }),
          ],
        }),
      );
      expect(paths(error)).toEqual(['periodic[0].args.to']);
    }
    // Missing args count as {}.
    expect(
      paths(
        await refusal(() =>
          createRunner({
            driver: unreachable,
            workers: [reportWorker],
            periodic: [definePeriodicJob({ kind: report, schedule: '@daily' })],
          }),
        ),
      ),
    ).toEqual(['periodic[0].args.day']);
  });
});

describe('unknown options are refused, naming the nearest known one', () => {
  const worker = defineWorker(email, () => {});
  const base = { driver: unreachable, workers: [worker], queues: { email: {} } };

  it('in createRunner, its queues and its retention', async () => {
    const top = await refusal(() => createRunner({ ...base, concurency: 5 } as never));
    expect(paths(top)).toEqual(['concurency']);
    expect(top.message).toContain("did you mean 'concurrency'?");
    const queue = await refusal(() =>
      createRunner({ ...base, queues: { email: { concurrency: 2, maxWorkers: 3 } } } as never),
    );
    expect(paths(queue)).toEqual(['queues.email.maxWorkers']);
    const retention = await refusal(() =>
      createRunner({ ...base, retention: { completed: 1000 } } as never),
    );
    expect(paths(retention)).toEqual(['retention.completed']);
    expect(retention.message).toContain("did you mean 'completedMs'?");
  });

  it('in createClient, defineWorker and definePeriodicJob', async () => {
    const client = await refusal(() =>
      createClient({ driver: unreachable, kind: [email] } as never),
    );
    expect(paths(client)).toEqual(['kind']);
    expect(client.message).toContain("did you mean 'kinds'?");
    const workerOptions = await refusal(() =>
      defineWorker(email, () => {}, { timeout: 5 } as never),
    );
    expect(paths(workerOptions)).toEqual(['options.timeout']);
    expect(workerOptions.message).toContain("did you mean 'timeoutMs'?");
    const periodic = await refusal(() =>
      definePeriodicJob({ kind: email, schedule: '@daily', timeZone: 'Europe/Berlin' } as never),
    );
    expect(paths(periodic)).toEqual(['timeZone']);
    expect(periodic.message).toContain("did you mean 'timezone'?");
    // Nothing near: no guess.
    const far = await refusal(() => createClient({ driver: unreachable, xyzzy: 1 } as never));
    expect(far.message).not.toContain('did you mean');
  });
});

describe("a client's kinds: one rule for names and kind objects", () => {
  const eddy = createClient({ driver: unreachable, kinds: [email] });

  it('refuses a kind object it does not list, as it refuses a name', async () => {
    const byObject = await refusal(() => eddy.insert(stray, {}));
    const byName = await refusal(() => eddy.insert('stray' as never, {} as never));
    expect([paths(byObject), paths(byName)]).toEqual([['kind'], ['kind']]);
    expect(byObject.message).toMatch(
      /^insert\(stray\): kind 'stray' is not a kind this client knows/,
    );
    const many = await refusal(() =>
      eddy.prepareInsertMany([
        { kind: email, args: { to: 'a@example.com' } },
        { kind: stray, args: {} },
      ]),
    );
    expect(many.message).toMatch(/^insertMany\[1\] \(stray\): kind/);
  });

  it('accepts its kinds by object and by name', async () => {
    const prepared = await eddy.prepareInsertMany([
      { kind: email, args: { to: 'a@example.com' } },
      { kind: 'send_email', args: { to: 'b@example.com' } },
    ]);
    expect(prepared.text).toContain('INSERT');
  });
});

describe('jobToJSON', () => {
  it('turns every bigint into a decimal string and every Date into an ISO string, at any depth', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const json = jobToJSON({
      id: 2n ** 63n - 1n,
      createdAt: at,
      finalizedAt: null,
      args: { accountId: 9007199254740993n, items: [{ n: 1n, when: at }], note: 'x' },
      tags: ['a'],
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual({
      id: '9223372036854775807',
      createdAt: '2026-01-02T03:04:05.678Z',
      finalizedAt: null,
      args: {
        accountId: '9007199254740993',
        items: [{ n: '1', when: '2026-01-02T03:04:05.678Z' }],
        note: 'x',
      },
      tags: ['a'],
    });
  });
});

describe('with a database', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('cfg');
  });
  afterAll(() => river.close());

  it('inserts any kind object when the client lists no kinds', async () => {
    const eddy = createClient({ driver: river.driver, schema: river.schema });
    await eddy.insert(stray, {});
    expect((await river.jobs()).map((row) => row.kind)).toEqual(['stray']);
  });

  it('gives a job in a form Response.json accepts: ids as strings, dates as ISO strings', async () => {
    const eddy = createClient({ driver: river.driver, schema: river.schema, kinds: [email] });
    const { job } = await eddy.insert(email, { to: 'ada@example.com' });
    expect(() => JSON.stringify({ job })).toThrow(/BigInt/);
    const body = await Response.json({ job: jobToJSON(job) }).json();
    expect(body.job).toMatchObject({
      id: job.id.toString(),
      kind: 'send_email',
      queue: 'email',
      args: { to: 'ada@example.com' },
      scheduledAt: job.scheduledAt.toISOString(),
      createdAt: job.createdAt.toISOString(),
    });
    const [row] = await river.jobs('id = $1', [body.job.id]);
    expect(row?.kind).toBe('send_email');
  });
});
