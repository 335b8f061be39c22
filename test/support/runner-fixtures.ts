/**
 * Fixtures for the runner's unit tests (attempt.test.ts, pool.test.ts): jobs as a claim returns
 * them, and attempt options with an injected clock. Test-only: src/ imports it only from its
 * tests.
 */

import type { Client } from '../../src/client.js';
import type { Job } from '../../src/job.js';
import type { AttemptHost, AttemptOptions } from '../../src/runner/attempt.js';

export const T0 = Date.parse('2026-01-01T00:00:00Z');
/** The injected clock: far from real time, so a stamp taken from real time would show. */
export const CLOCK = new Date('2030-06-01T12:00:00Z');

let nextId = 1n;
export function claimedJob(kind: string, overrides: Partial<Job> = {}): Job {
  return {
    id: nextId++,
    kind,
    args: {},
    queue: 'default',
    state: 'running',
    priority: 1,
    attempt: 1,
    maxAttempts: 25,
    attemptedAt: new Date(T0),
    attemptedBy: ['eddy:0:n:r'],
    createdAt: new Date(T0),
    finalizedAt: null,
    scheduledAt: new Date(T0),
    errors: [],
    metadata: {},
    tags: [],
    ...overrides,
  };
}

export function attemptOptions(overrides: Partial<AttemptOptions> = {}): AttemptOptions {
  return {
    leaseUntil: T0 + 60_000,
    abortGraceMs: 1_000,
    softDeadline: T0 + 11_000,
    defaultTimeoutMs: 5_000,
    client: {} as Client,
    clock: () => CLOCK,
    ...overrides,
  };
}

/** A host for one attempt, as the pool makes them. */
export function attemptHost(overrides: Partial<AttemptHost> = {}): AttemptHost {
  return { attempt: undefined, stopReason: undefined, ...overrides };
}
