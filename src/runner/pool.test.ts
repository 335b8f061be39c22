/**
 * The pool: slots that refill as they free, claims when the buffer runs low, the deadline, the
 * hand-over of a long-lived process, cancels, the statement budget. No database and no
 * sleeping: a fake claim and a fake recording, and fake timers.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { attemptOptions, claimedJob, T0 } from '../../test/support/runner-fixtures.js';
import type { Job } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import type { OutcomeRecord } from '../ops/record-outcomes.js';
import { defineWorker, type Worker } from '../worker.js';
import {
  type Claimed,
  type ClaimRequest,
  createPool,
  type Pool,
  type PoolOptions,
  type Running,
  Slots,
} from './pool.js';
import { createRecorder } from './recorder.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = () => new Promise<never>(() => undefined);

/** A queue table in memory, claimed as the statement would: per-queue limits, then the total. */
class FakeQueue {
  available: Job[] = [];
  claims: ClaimRequest[] = [];
  failNextClaim: unknown = undefined;

  add(kind: string, count = 1, overrides: Partial<Job> = {}): Job[] {
    const jobs = Array.from({ length: count }, () => claimedJob(kind, overrides));
    this.available.push(...jobs);
    return jobs;
  }

  claim = async (request: ClaimRequest): Promise<Claimed[]> => {
    this.claims.push(request);
    await Promise.resolve();
    if (this.failNextClaim !== undefined) {
      const error = this.failNextClaim;
      this.failNextClaim = undefined;
      throw error;
    }
    const taken: Job[] = [];
    for (const { name, limit } of request.queues) {
      const fromQueue = this.available.filter(
        (j) => j.queue === name && request.kinds.includes(j.kind),
      );
      taken.push(...fromQueue.slice(0, limit));
    }
    const claimed = taken.slice(0, request.total);
    this.available = this.available.filter((j) => !claimed.includes(j));
    return claimed.map((job) => ({ job, token: `eddy:1:n:${job.id}` }));
  };
}

interface Harness {
  queue: FakeQueue;
  recorded: OutcomeRecord[];
  flushes: number;
  cancelRequests: bigint[];
  failRecording: unknown;
  handedOver: Running[];
  stuck: Running[];
  options: PoolOptions;
  pool: Pool;
}

function harness(workers: Worker[], overrides: Partial<PoolOptions> = {}, queue = new FakeQueue()) {
  const h = {
    queue,
    recorded: [],
    flushes: 0,
    cancelRequests: [],
    failRecording: undefined,
    handedOver: [],
    stuck: [],
  } as unknown as Harness;
  let pool: Pool | undefined;
  const recorder = createRecorder({
    record: async (records, running) => {
      h.flushes++;
      await Promise.resolve();
      if (h.failRecording !== undefined) throw h.failRecording;
      h.recorded.push(...records);
      const cancelRequested = h.cancelRequests.filter((id) => running.includes(id));
      h.cancelRequests = h.cancelRequests.filter((id) => !cancelRequested.includes(id));
      return {
        applied: new Map(records.map((r) => [String(r.id), stateOf(r.outcome)])),
        cancelRequested,
      };
    },
    flushSize: 100,
    flushDelayMs: 50,
    mayFlushEarly: () => h.options.statementsLeft() >= 3,
    running: () => (pool ? [...pool.running].map((r) => r.job.id) : []),
    onCancelRequested: (ids) => {
      for (const id of ids) pool?.cancel(id);
    },
    onRecorded: () => undefined,
  });
  h.options = {
    workers: new Map(workers.map((w) => [w.kind, w])),
    queues: ['default'],
    slots: new Slots(2, new Map()),
    batchSize: 10,
    lowWater: 2,
    stopAt: T0 + 10_000,
    leaseUntil: T0 + 60_000,
    abortGraceMs: () => 500,
    maxJobs: Number.POSITIVE_INFINITY,
    statementsLeft: () => Number.POSITIVE_INFINITY,
    handOver: false,
    adopt: [],
    claim: queue.claim,
    recorder,
    attempt: attemptOptions(),
    onHandOver: (running) => h.handedOver.push(...running),
    onStuck: (running) => h.stuck.push(running),
    ...overrides,
  };
  pool = createPool(h.options);
  h.pool = pool;
  return h;
}

function stateOf(outcome: Outcome) {
  switch (outcome.type) {
    case 'completed':
      return 'completed' as const;
    case 'retry':
      return 'retryable' as const;
    case 'discard':
      return 'discarded' as const;
    case 'cancel':
      return 'cancelled' as const;
    default:
      return 'available' as const;
  }
}

const outcomeOf = (h: Harness, job: Job) => h.recorded.find((r) => r.id === job.id)?.outcome;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the pool', () => {
  it('keeps every slot busy while a slow job runs: no job waits for a slower one', async () => {
    const started: string[] = [];
    const worker = defineWorker('w', async (job) => {
      started.push(String(job.args.name));
      await sleep(job.args.name === 'slow' ? 1_000 : 10);
    });
    const h = harness([worker]);
    h.queue.add('w', 1, { args: { name: 'slow' } });
    h.queue.add('w', 20, { args: { name: 'fast' } });
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(300);
    // Two slots: the slow job holds one, the other worked through all 20 fast ones.
    expect(started).toHaveLength(21);
    expect(h.recorded.filter((r) => r.outcome.type === 'completed')).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await done).toEqual({});
    expect(h.recorded).toHaveLength(21);
    // Claims of batchSize when the buffer ran low; the last came back short: drained.
    expect(h.queue.claims.every((c) => c.total === 10)).toBe(true);
    expect(h.queue.claims.length).toBeGreaterThanOrEqual(3);
  });

  it('never runs more jobs of a queue at once than its limit, nor claims far past it', async () => {
    let running = 0;
    let most = 0;
    const worker = defineWorker('w', async () => {
      running++;
      most = Math.max(most, running);
      await sleep(100);
      running--;
    });
    const h = harness([worker], {
      queues: ['narrow', 'wide'],
      slots: new Slots(4, new Map([['narrow', 1]])),
      lowWater: 4,
    });
    h.queue.add('w', 6, { queue: 'narrow' });
    h.queue.add('w', 6, { queue: 'wide' });
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(5_000);
    await done;
    expect(h.recorded.filter((r) => r.outcome.type === 'completed')).toHaveLength(12);
    expect(most).toBe(4);
    // The narrow queue is asked for at most twice its limit less what it holds.
    for (const claim of h.queue.claims) {
      const narrow = claim.queues.find((q) => q.name === 'narrow');
      if (narrow) expect(narrow.limit).toBeLessThanOrEqual(2);
    }
  });

  it('at the stop time snoozes what runs and hands back what never started', async () => {
    const polite = defineWorker(
      'polite',
      (_job, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
      { timeoutMs: 60_000 },
    );
    const h = harness([polite], { stopAt: T0 + 3_000, slots: new Slots(1, new Map()) });
    const [first, second] = h.queue.add('polite', 2);
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(3_000);
    await done;
    expect(outcomeOf(h, first as Job)).toEqual({ type: 'snooze', delayMs: 0, deadline: true });
    expect(outcomeOf(h, second as Job)).toEqual({ type: 'release' });
  });

  it('abandons a worker that ignores its signal, keeping its job away until the lease ends', async () => {
    const deaf = defineWorker('deaf', never, { timeoutMs: 60_000 });
    const h = harness([deaf], { stopAt: T0 + 3_000, leaseUntil: T0 + 20_000 });
    const [job] = h.queue.add('deaf');
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(3_500);
    await done;
    // Abandoned at T0 + 3.5 s: snoozed until the lease, when this invocation is surely gone.
    expect(outcomeOf(h, job as Job)).toEqual({ type: 'snooze', delayMs: 16_500 });
  });

  it('in a long-lived process hands what runs at the stop time to the next tick, which records it', async () => {
    const worker = defineWorker('long', () => sleep(5_000).then(() => 'done'));
    const slots = new Slots(2, new Map());
    const first = harness([worker], { stopAt: T0 + 1_000, handOver: true, slots });
    const [job] = first.queue.add('long');
    const done = first.pool.run();
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(first.recorded).toEqual([]);
    expect(first.handedOver.map((r) => r.job.id)).toEqual([job?.id]);
    expect(slots.running).toBe(1); // still holds its slot

    const adopted = first.handedOver;
    for (const running of adopted) running.owner = { settle: () => undefined };
    const second = harness([worker], {
      stopAt: T0 + 30_000,
      handOver: true,
      slots,
      adopt: adopted,
    });
    const next = second.pool.run();
    await vi.advanceTimersByTimeAsync(4_000);
    await next;
    expect(outcomeOf(second, job as Job)).toEqual({ type: 'completed', output: '"done"' });
    expect(slots.running).toBe(0);
  });

  it('in a long-lived process keeps a worker that ignores its timeout (stuck), then records how it ended', async () => {
    let finish!: () => void;
    const deaf = defineWorker(
      'deaf',
      () => new Promise<void>((_resolve, reject) => (finish = () => reject(new Error('gave up')))),
      { timeoutMs: 1_000 },
    );
    const h = harness([deaf], { handOver: true, stopAt: T0 + 30_000 });
    const [job] = h.queue.add('deaf');
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(1_600);
    expect(h.stuck.map((r) => r.job.id)).toEqual([job?.id]);
    expect(h.recorded).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.recorded).toEqual([]); // still its own: never abandoned, so never run elsewhere
    finish();
    await vi.advanceTimersByTimeAsync(100);
    await done;
    expect(outcomeOf(h, job as Job)).toMatchObject({
      type: 'retry',
      error: { error: 'job timed out after 1000 ms (gave up)' },
    });
  });

  it('aborts a running job whose cancel was requested, and cancels a waiting one unstarted', async () => {
    const polite = defineWorker(
      'polite',
      (_job, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    );
    const h = harness([polite], { slots: new Slots(1, new Map()) });
    const [runningJob, waitingJob] = h.queue.add('polite', 2);
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(10);
    expect(h.pool.cancel((waitingJob as Job).id)).toBe(true);
    expect(h.pool.cancel((runningJob as Job).id)).toBe(true);
    expect(h.pool.cancel(999_999n)).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    await done;
    expect(outcomeOf(h, runningJob as Job)).toMatchObject({
      type: 'cancel',
      error: { error: 'JobCancelError: job cancelled remotely' },
    });
    expect(outcomeOf(h, waitingJob as Job)).toMatchObject({
      type: 'cancel',
      error: { error: 'JobCancelError: job cancelled remotely' },
    });
  });

  it('learns of a requested cancel from a flush, without a listener', async () => {
    const polite = defineWorker('polite', (_job, ctx) =>
      ctx.signal.aborted
        ? Promise.reject(new Error('aborted'))
        : new Promise((_resolve, reject) =>
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
          ),
    );
    const quick = defineWorker('quick', () => sleep(20));
    const h = harness([polite, quick]);
    const [victim] = h.queue.add('polite');
    h.queue.add('quick');
    h.cancelRequests.push((victim as Job).id);
    const done = h.pool.run();
    // The quick job's flush (after flushDelayMs) carries the cancel request back.
    await vi.advanceTimersByTimeAsync(200);
    await done;
    expect(outcomeOf(h, victim as Job)).toMatchObject({ type: 'cancel' });
  });

  it('stops claiming when the statement budget is down to the last flush, and still finishes', async () => {
    let left = 5;
    const worker = defineWorker('w', () => sleep(10));
    const h = harness([worker], {
      statementsLeft: () => left - h.queue.claims.length - h.flushes,
    });
    h.queue.add('w', 100);
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(5_000);
    await done;
    // 5 statements: claims and flushes together, the last a flush of everything claimed.
    expect(h.queue.claims.length + h.flushes).toBeLessThanOrEqual(5);
    const claimed = h.queue.claims.length * 10;
    expect(h.recorded).toHaveLength(Math.min(claimed, 100));
    expect(h.recorded.every((r) => r.outcome.type === 'completed')).toBe(true);
    expect(h.queue.available.length).toBe(100 - h.recorded.length);
    left = 0;
  });

  it('once drained claims again only when woken, or after repollMs while jobs still run', async () => {
    const worker = defineWorker('w', (job) => sleep(job.args.slow ? 2_000 : 1));
    const h = harness([worker], { repollMs: 500 });
    h.queue.add('w', 1, { args: { slow: true } });
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.queue.claims).toHaveLength(1);
    h.queue.add('w', 3);
    await vi.advanceTimersByTimeAsync(300);
    expect(h.queue.claims).toHaveLength(1); // drained: no polling before repollMs
    await vi.advanceTimersByTimeAsync(200);
    expect(h.queue.claims).toHaveLength(2);
    h.queue.add('w', 2);
    h.pool.wake('default');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.queue.claims).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    expect(h.recorded).toHaveLength(6);
  });

  it('when a claim fails, finishes what it holds and reports the failure', async () => {
    const worker = defineWorker('w', () => sleep(100));
    const h = harness([worker], { batchSize: 2, lowWater: 2 });
    h.queue.add('w', 10);
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(1);
    h.queue.failNextClaim = new Error('connection reset');
    await vi.advanceTimersByTimeAsync(1_000);
    const failure = await done;
    expect(failure.claim).toBeInstanceOf(Error);
    expect(h.recorded.length).toBeGreaterThanOrEqual(2);
    expect(h.recorded.every((r) => r.outcome.type === 'completed')).toBe(true);
  });

  it('when recording keeps failing, claims nothing more and reports it with the outcomes kept', async () => {
    const worker = defineWorker('w', () => sleep(10));
    const h = harness([worker]);
    h.queue.add('w', 30);
    h.failRecording = new Error('database down');
    const done = h.pool.run();
    await vi.advanceTimersByTimeAsync(5_000);
    const failure = await done;
    expect(failure.record).toBeInstanceOf(Error);
    expect(h.recorded).toEqual([]);
    expect(h.queue.claims.length).toBeLessThanOrEqual(2);
  });

  it('hands back a job whose kind has no worker here', async () => {
    const h = harness([defineWorker('known', () => undefined)]);
    const [job] = h.queue.add('unknown');
    h.queue.claim = async () => [{ job: job as Job, token: 'eddy:1:n:x' }];
    const pool = createPool({ ...h.options, claim: h.queue.claim, maxJobs: 1 });
    const done = pool.run();
    await vi.advanceTimersByTimeAsync(100);
    await done;
    expect(outcomeOf(h, job as Job)).toEqual({ type: 'release' });
  });
});
