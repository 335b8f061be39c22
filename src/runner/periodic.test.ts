import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { definePeriodicJob, periodicInserts, slotKey } from './periodic.js';

const at = (iso: string) => new Date(iso);

describe('periodic slots', () => {
  it('finds the latest cron slot, counting a slot at exactly now', () => {
    const job = definePeriodicJob({ kind: 'report', schedule: '*/15 * * * *' });
    expect(job.dueSlots(at('2026-03-01T10:31:00Z'))).toEqual([at('2026-03-01T10:30:00Z')]);
    expect(job.dueSlots(at('2026-03-01T10:45:00Z'))).toEqual([at('2026-03-01T10:45:00Z')]);
  });

  it('reads cron expressions in a named time zone', () => {
    const job = definePeriodicJob({
      kind: 'daily',
      schedule: '0 9 * * *',
      timezone: 'America/New_York',
    });
    // 09:00 in New York in March (after DST starts on the 8th) is 13:00 UTC.
    expect(job.dueSlots(at('2026-03-10T13:05:00Z'))).toEqual([at('2026-03-10T13:00:00Z')]);
  });

  it('aligns fixed intervals to the epoch', () => {
    const job = definePeriodicJob({ kind: 'beat', schedule: { everyMs: 30_000 } });
    expect(job.dueSlots(at('2026-03-01T10:00:47Z'))).toEqual([at('2026-03-01T10:00:30Z')]);
  });

  it('applies the catch-up policies to missed slots', () => {
    const now = at('2026-03-01T10:07:30Z');
    const none = definePeriodicJob({ kind: 'a', schedule: '*/5 * * * *', catchUp: 'none' });
    expect(none.dueSlots(now)).toEqual([]); // the 10:05 slot is 2.5 minutes late
    expect(none.dueSlots(at('2026-03-01T10:05:40Z'))).toEqual([at('2026-03-01T10:05:00Z')]);
    const latest = definePeriodicJob({ kind: 'a', schedule: '*/5 * * * *', catchUp: 'latest' });
    expect(latest.dueSlots(now)).toEqual([at('2026-03-01T10:05:00Z')]);
    const all = definePeriodicJob({
      kind: 'a',
      schedule: '*/5 * * * *',
      catchUp: 'all',
      catchUpWindowMs: 16 * 60_000,
    });
    expect(all.dueSlots(now)).toEqual([
      at('2026-03-01T09:55:00Z'),
      at('2026-03-01T10:00:00Z'),
      at('2026-03-01T10:05:00Z'),
    ]);
  });

  it('refuses bad schedules with a clear error', () => {
    expect(() => definePeriodicJob({ kind: 'x', schedule: 'every tuesday' })).toThrow(
      ValidationError,
    );
    expect(() => definePeriodicJob({ kind: 'x', schedule: 'every tuesday' })).toThrow(
      /not a valid cron expression/,
    );
    expect(() =>
      definePeriodicJob({ kind: 'x', schedule: '* * * * *', timezone: 'Mars/Olympus' }),
    ).toThrow(/time zone/);
    expect(() => definePeriodicJob({ kind: 'x', schedule: { everyMs: 10 } })).toThrow(
      /at least 1000/,
    );
    expect(() =>
      definePeriodicJob({ kind: 'x', schedule: '* * * * *', catchUp: 'some' as any }),
    ).toThrow(/catchUp/);
  });

  it('gives every slot its own key, the same in every process', async () => {
    const a = await slotKey('report', at('2026-03-01T10:30:00Z'));
    const b = await slotKey('report', at('2026-03-01T10:30:00Z'));
    const c = await slotKey('report', at('2026-03-01T10:45:00Z'));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toHaveLength(32);
  });

  it('builds inserts for due slots, with run-on-start only on a first tick', async () => {
    const job = definePeriodicJob({
      kind: 'sync',
      schedule: '0 * * * *',
      runOnStart: true,
      args: (slot) => ({ hour: slot.getUTCHours() }),
    });
    const first = await periodicInserts([job], at('2026-03-01T10:20:00Z'), true);
    expect(first.map((i) => i.args)).toEqual([{ hour: 10 }, { hour: 10 }]);
    expect(first[0]?.uniqueOverride?.states).toBe('11111111');
    expect(first[1]?.uniqueOverride).toBeUndefined();
    const later = await periodicInserts([job], at('2026-03-01T10:20:00Z'), false);
    expect(later).toHaveLength(1);
  });
});
