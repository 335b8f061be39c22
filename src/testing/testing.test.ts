import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isEddyError, isValidationError } from '../errors.js';
import { defineJobKind } from '../job-kind.js';
import { JobSnooze } from '../job-outcome.js';
import { defineWorker } from '../worker.js';
import { createRecordingClient } from './recording-client.js';
import {
  containsJson,
  requireInserted,
  requireManyInserted,
  requireNotInserted,
  TestAssertionError,
} from './require-inserted.js';
import { createTestClock } from './test-clock.js';
import { workOnce } from './work-once.js';

const sendEmail = defineJobKind({
  kind: 'send_email',
  args: z.object({ to: z.string().email(), subject: z.string() }),
  queue: 'email',
  maxAttempts: 5,
  tags: ['mail'],
});
const syncCrm = defineJobKind({
  kind: 'sync_crm',
  args: z.object({ userId: z.string() }),
  unique: { byArgs: true },
});

const fails = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TestAssertionError);
  return error as TestAssertionError;
};

describe('a recording client', () => {
  it('validates as createClient does and records what it would have inserted', async () => {
    const clock = createTestClock(new Date('2031-01-01T00:00:00Z'));
    const client = createRecordingClient({ kinds: [sendEmail, syncCrm], now: clock.now });
    const { job, skipped } = await client.insert(sendEmail, {
      to: 'ada@example.com',
      subject: 'Hi',
    });
    expect(skipped).toBe(false);
    expect(job).toMatchObject({
      kind: 'send_email',
      queue: 'email',
      state: 'available',
      maxAttempts: 5,
      tags: ['mail'],
      scheduledAt: clock.now(),
    });
    await client.insert(
      sendEmail,
      { to: 'bob@example.com', subject: 'Later' },
      { performIn: 60_000 },
    );
    expect(client.inserted.map((j) => j.state)).toEqual(['available', 'scheduled']);
    expect(
      isValidationError(
        await client.insert(sendEmail, { to: 'nope', subject: 'x' }).catch((e) => e),
      ),
    ).toBe(true);
    expect(
      isValidationError(await client.insert('other' as never, {} as never).catch((e) => e)),
    ).toBe(true);
    // A unique duplicate is skipped and returns the recorded job, as the database would.
    const first = await client.insert(syncCrm, { userId: 'u1' });
    const again = await client.insert(syncCrm, { userId: 'u1' });
    expect(again).toEqual({ job: first.job, skipped: true });
    expect(client.inserted).toHaveLength(3);
    await client.with({} as never).insert(syncCrm, { userId: 'u2' });
    expect(client.inserted).toHaveLength(4);
    await client.kick();
    expect(client.kicks).toBe(1);
    client.clear();
    expect(client.inserted).toEqual([]);
  });
});

describe('requireInserted and friends, on a recording client', () => {
  it('find exactly one job of a kind, matching what is expected', async () => {
    const client = createRecordingClient();
    await client.insert(sendEmail, { to: 'ada@example.com', subject: 'Hi' }, { priority: 2 });
    const job = await requireInserted(client, sendEmail, {
      args: { to: 'ada@example.com' },
      queue: 'email',
      priority: 2,
      tags: ['mail'],
    });
    expect(job.args.subject).toBe('Hi');
    const wrong = await fails(
      requireInserted(client, 'send_email', { queue: 'other', priority: 3 }),
    );
    expect(wrong.message).toMatch(/queue is "email", expected "other"/);
    expect(wrong.message).toMatch(/priority is 2, expected 3/);
    expect((await fails(requireInserted(client, syncCrm))).message).toMatch(
      /No jobs found with kind: sync_crm/,
    );
    await client.insert(sendEmail, { to: 'bob@example.com', subject: 'Hi' });
    expect((await fails(requireInserted(client, sendEmail))).message).toMatch(/More than one job/);
    expect(isEddyError(await requireInserted(client, sendEmail).catch((e) => e))).toBe(true);
  });

  it('requireNotInserted fails only when a job matches everything given', async () => {
    const client = createRecordingClient();
    await requireNotInserted(client, sendEmail);
    await client.insert(sendEmail, { to: 'ada@example.com', subject: 'Hi' });
    await fails(requireNotInserted(client, sendEmail));
    await requireNotInserted(client, sendEmail, { args: { to: 'bob@example.com' } });
    await requireNotInserted(client, sendEmail, {
      args: { to: 'ada@example.com' },
      queue: 'other',
    });
    await fails(requireNotInserted(client, sendEmail, { args: { to: 'ada@example.com' } }));
  });

  it('requireManyInserted wants the kinds in order and number', async () => {
    const client = createRecordingClient();
    await client.insertMany([
      { kind: sendEmail, args: { to: 'a@example.com', subject: '1' } },
      { kind: syncCrm, args: { userId: 'u' } },
      { kind: sendEmail, args: { to: 'b@example.com', subject: '2' } },
    ]);
    const jobs = await requireManyInserted(client, [
      { kind: sendEmail, args: { subject: '1' } },
      { kind: 'sync_crm' },
      { kind: sendEmail, args: { to: 'b@example.com' } },
    ]);
    expect(jobs.map((j) => j.kind)).toEqual(['send_email', 'sync_crm', 'send_email']);
    expect(
      (await fails(requireManyInserted(client, [{ kind: sendEmail }, { kind: syncCrm }]))).message,
    ).toMatch(/expected: \[send_email, sync_crm\], actual: \[send_email, sync_crm, send_email\]/);
    const differs = await fails(
      requireManyInserted(client, [
        { kind: sendEmail },
        { kind: syncCrm, queue: 'crm' },
        { kind: sendEmail },
      ]),
    );
    expect(differs.message).toMatch(/job 1 \(sync_crm, id 2\): queue is "default", expected "crm"/);
  });

  it('match JSON fragments as Postgres containment does', () => {
    expect(containsJson({ a: 1, b: [1, 2, { c: 3 }] }, { b: [{ c: 3 }, 1] })).toBe(true);
    expect(containsJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(containsJson({ n: 2n ** 60n }, { n: 2n ** 60n })).toBe(true);
    expect(containsJson({ n: 1 }, { n: 1n })).toBe(true);
    expect(containsJson({ n: 1.5 }, { n: 1n })).toBe(false);
    expect(containsJson([1, 2], [3])).toBe(false);
  });
});

describe('workOnce', () => {
  const clock = createTestClock(new Date('2031-01-01T00:00:00Z'));

  it('completes a job and gives its output and the jobs it inserted', async () => {
    const worker = defineWorker(sendEmail, async (job, ctx) => {
      await ctx.client.insert(syncCrm, { userId: job.args.to });
      return { sent: job.args.subject };
    });
    const result = await workOnce(worker, { to: 'ada@example.com', subject: 'Hi' });
    expect(result).toMatchObject({ outcome: 'completed', output: { sent: 'Hi' } });
    expect(result.job).toMatchObject({
      kind: 'send_email',
      queue: 'email',
      attempt: 1,
      state: 'running',
    });
    expect(result.inserted.map((j) => [j.kind, j.args])).toEqual([
      ['sync_crm', { userId: 'ada@example.com' }],
    ]);
  });

  it("retries a failed attempt after River's backoff, and discards the last one", async () => {
    const worker = defineWorker('flaky', () => {
      throw new Error('upstream down');
    });
    const first = await workOnce(worker, {}, { now: clock.now });
    if (first.outcome !== 'retry') throw new Error(`got ${first.outcome}`);
    // (errors + 1)^4 s ± 10 %: about a second for the first failure.
    expect(first.delayMs).toBeGreaterThanOrEqual(900);
    expect(first.delayMs).toBeLessThanOrEqual(1100);
    expect(first.retryAt.getTime()).toBe(clock.now().getTime() + first.delayMs);
    expect(first.error).toMatchObject({
      attempt: 1,
      error: 'upstream down',
      at: clock.now().toISOString(),
    });
    const last = await workOnce(worker, {}, { job: { attempt: 3, maxAttempts: 3 } });
    expect(last).toMatchObject({
      outcome: 'discard',
      error: { attempt: 3, error: 'upstream down' },
    });
  });

  it('reports a snooze and a cancel as the runner records them', async () => {
    const snoozed = await workOnce(
      defineWorker('poll', (_job, ctx) => ctx.snooze(30_000)),
      {},
      { now: clock.now },
    );
    expect(snoozed).toMatchObject({
      outcome: 'snooze',
      delayMs: 30_000,
      retryAt: new Date(clock.now().getTime() + 30_000),
    });
    const thrown = await workOnce(
      defineWorker('poll2', () => {
        throw new JobSnooze(5);
      }),
      {},
    );
    expect(thrown).toMatchObject({ outcome: 'snooze', delayMs: 5 });
    const cancelled = await workOnce(
      defineWorker('stop', (_job, ctx) => ctx.cancel('not needed')),
      {},
    );
    expect(cancelled).toMatchObject({
      outcome: 'cancel',
      error: { error: 'JobCancelError: not needed' },
    });
  });

  it('times an attempt out as a runner does', async () => {
    const slow = defineWorker(
      'slow',
      (_job, ctx) =>
        new Promise((_r, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    );
    const result = await workOnce(slow, {}, { timeoutMs: 50 });
    expect(result).toMatchObject({
      outcome: 'retry',
      error: { error: expect.stringMatching(/timed out after 50 ms/) },
    });
  });

  it('sees args as a worker would after an insert, and refuses args the insert would refuse', async () => {
    let seen: unknown;
    const worker = defineWorker('dates', (job) => {
      seen = job.args;
    });
    await workOnce(worker, { at: new Date('2031-01-01T00:00:00Z'), big: 2n ** 60n });
    expect(seen).toEqual({ at: '2031-01-01T00:00:00.000Z', big: 2n ** 60n });
    const typed = defineWorker(sendEmail, () => undefined);
    const refused = await workOnce(typed, { to: 'not-an-email', subject: 'x' }).catch((e) => e);
    expect(isValidationError(refused)).toBe(true);
    expect(refused.issues[0].path).toBe('args.to');
  });
});

describe('a test clock', () => {
  it('stands still until moved', () => {
    const clock = createTestClock(new Date('2031-01-01T00:00:00Z'));
    expect(clock.now()).toEqual(new Date('2031-01-01T00:00:00Z'));
    expect(clock.advance(1500)).toEqual(new Date('2031-01-01T00:00:01.500Z'));
    expect(clock.now()).toEqual(new Date('2031-01-01T00:00:01.500Z'));
    expect(clock.set(new Date('2032-01-01T00:00:00Z'))).toEqual(new Date('2032-01-01T00:00:00Z'));
    expect(() => clock.advance(-1)).toThrow(/non-negative/);
  });
});
