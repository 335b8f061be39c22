import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { abortGraceMs, invocationDeadlines, tickDeadlines } from './deadlines.js';

const T0 = 1_767_225_600_000;

describe('invocationDeadlines', () => {
  it('works until shortly before a wall limit and calls the invocation dead at the limit', () => {
    // Vercel, maxDuration 60: 5 s kept back to record outcomes.
    expect(invocationDeadlines({ startedAt: T0, wallLimitMs: 60_000 })).toEqual({
      deadline: T0 + 55_000,
      hardDeadline: T0 + 60_000,
    });
    // A short limit keeps a fifth back rather than 5 s.
    expect(invocationDeadlines({ startedAt: T0, wallLimitMs: 10_000 })).toEqual({
      deadline: T0 + 8_000,
      hardDeadline: T0 + 10_000,
    });
  });

  it('lets a budget shorten the work inside a wall limit but never stretch it', () => {
    // A Cloudflare cron tick: 50 s of work, certainly dead at 15 minutes.
    expect(invocationDeadlines({ startedAt: T0, budgetMs: 50_000, wallLimitMs: 900_000 })).toEqual({
      deadline: T0 + 50_000,
      hardDeadline: T0 + 900_000,
    });
    expect(invocationDeadlines({ startedAt: T0, budgetMs: 90_000, wallLimitMs: 60_000 })).toEqual({
      deadline: T0 + 55_000,
      hardDeadline: T0 + 60_000,
    });
  });

  it('ends the hard deadline at the overrun when one is given inside a wall limit', () => {
    // A Cloudflare cron tick: 50 s of work, 30 s to record, not the 15-minute wall limit.
    expect(
      invocationDeadlines({
        startedAt: T0,
        budgetMs: 50_000,
        wallLimitMs: 900_000,
        overrunMs: 30_000,
      }),
    ).toEqual({ deadline: T0 + 50_000, hardDeadline: T0 + 80_000 });
    // The wall limit still wins when it comes first.
    expect(invocationDeadlines({ startedAt: T0, wallLimitMs: 60_000, overrunMs: 30_000 })).toEqual({
      deadline: T0 + 55_000,
      hardDeadline: T0 + 60_000,
    });
  });

  it('without a wall limit, allows an overrun past the budget (30 s unless told)', () => {
    expect(invocationDeadlines({ startedAt: T0, budgetMs: 25_000 })).toEqual({
      deadline: T0 + 25_000,
      hardDeadline: T0 + 55_000,
    });
    // The Node loop: the graceful stop is the overrun.
    expect(invocationDeadlines({ startedAt: T0, budgetMs: 30_000, overrunMs: 10_000 })).toEqual({
      deadline: T0 + 30_000,
      hardDeadline: T0 + 40_000,
    });
  });

  it('refuses limits that give no deadline at all', () => {
    expect(() => invocationDeadlines({ startedAt: T0 })).toThrow(ValidationError);
  });
});

describe('tickDeadlines', () => {
  it('derives stop-claiming, lease and reserve from a budget', () => {
    const d = tickDeadlines({ startedAt: T0, budgetMs: 10_000, leaseMarginMs: 15_000 });
    expect(d).toEqual({
      soft: T0 + 10_000,
      stopAt: T0 + 9_000, // 10 % of the budget kept back
      hard: T0 + 40_000, // soft + 30 s
      leaseUntil: T0 + 55_000, // hard + margin
      reserveMs: 1_000,
    });
  });

  it('keeps at most 2 s back, and prefers an explicit deadline to the budget', () => {
    const d = tickDeadlines({
      startedAt: T0,
      deadline: T0 + 60_000,
      budgetMs: 5_000,
      hardDeadline: T0 + 900_000,
      leaseMarginMs: 0,
    });
    expect(d.stopAt).toBe(T0 + 58_000);
    expect(d.leaseUntil).toBe(T0 + 900_000);
  });

  it('honours a configured finish reserve', () => {
    const d = tickDeadlines({
      startedAt: T0,
      budgetMs: 10_000,
      finishReserveMs: 4_000,
      leaseMarginMs: 0,
    });
    expect(d.stopAt).toBe(T0 + 6_000);
  });

  it('refuses a hard deadline before the soft one', () => {
    expect(() =>
      tickDeadlines({
        startedAt: T0,
        budgetMs: 10_000,
        hardDeadline: T0 + 5_000,
        leaseMarginMs: 0,
      }),
    ).toThrow(/hardDeadline is before the soft deadline/);
  });

  it('gives an aborted worker half the reserve to settle, never past the soft deadline', () => {
    const d = tickDeadlines({ startedAt: T0, budgetMs: 10_000, leaseMarginMs: 0 });
    expect(abortGraceMs(d, T0 + 9_000)).toBe(500);
    expect(abortGraceMs(d, T0 + 9_800)).toBe(200);
    expect(abortGraceMs(d, T0 + 11_000)).toBe(0);
  });
});
