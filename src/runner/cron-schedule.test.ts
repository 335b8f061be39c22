import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { parseGoDuration, parseSchedule } from './cron-schedule.js';

const at = (iso: string) => new Date(iso);

function nextTimes(expression: string, from: string, n: number, timezone?: string): string[] {
  const schedule = parseSchedule(expression, { timezone });
  const out: string[] = [];
  let t: Date | undefined = at(from);
  for (let i = 0; i < n && t; i++) {
    t = schedule.next(t);
    if (t) out.push(t.toISOString());
  }
  return out;
}

describe('cron schedules', () => {
  it('finds the previous time, strictly before the given one', () => {
    const schedule = parseSchedule('*/15 * * * *');
    expect(schedule.previous(at('2026-03-01T10:30:00Z'))).toEqual(at('2026-03-01T10:15:00Z'));
    expect(schedule.previous(at('2026-03-01T10:30:00.001Z'))).toEqual(at('2026-03-01T10:30:00Z'));
    expect(parseSchedule('0 0 1 1 *').previous(at('2026-03-01T00:00:00Z'))).toEqual(
      at('2026-01-01T00:00:00Z'),
    );
  });

  it('takes a leading seconds field as a sixth', () => {
    expect(nextTimes('*/20 * * * * *', '2026-01-02T03:04:05Z', 3)).toEqual([
      '2026-01-02T03:04:20.000Z',
      '2026-01-02T03:04:40.000Z',
      '2026-01-02T03:05:00.000Z',
    ]);
  });

  it('reads its fields in a named zone across daylight-saving changes', () => {
    // New York springs forward on 2026-03-08 (02:00 EST becomes 03:00 EDT).
    expect(nextTimes('0 9 * * *', '2026-03-07T00:00:00Z', 2, 'America/New_York')).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
    ]);
    // A time the change skips runs at the instant after the gap, once.
    expect(nextTimes('30 2 * * *', '2026-03-07T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    // A time shown twice when clocks fall back (2026-11-01, 02:00 EDT becomes 01:00 EST) runs
    // at its first instant only.
    expect(nextTimes('30 1 * * *', '2026-10-31T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(
      parseSchedule('CRON_TZ=Europe/Berlin 0 9 * * *').previous(at('2026-07-01T12:00:00Z')),
    ).toEqual(at('2026-07-01T07:00:00Z'));
  });

  it('takes fixed offsets as zones', () => {
    expect(nextTimes('30 0 * * *', '2026-03-07T18:00:00Z', 1, '+05:30')).toEqual([
      '2026-03-07T19:00:00.000Z',
    ]);
    expect(() => parseSchedule('* * * * *', { timezone: '+19:00' })).toThrow(/out of range/);
  });

  it('refuses a zone given twice, differently', () => {
    expect(() => parseSchedule('CRON_TZ=UTC 0 9 * * *', { timezone: 'Europe/Berlin' })).toThrow(
      /names time zone 'UTC' while timezone is 'Europe\/Berlin'/,
    );
    expect(parseSchedule('TZ=UTC 0 9 * * *', { timezone: 'UTC' }).timeZone).toBe('UTC');
  });

  it('places @every slots on multiples of the interval since the epoch', () => {
    const schedule = parseSchedule('@every 90s');
    expect(schedule.everyMs).toBe(90_000);
    expect(schedule.previous(at('2026-01-02T03:04:05Z'))).toEqual(at('2026-01-02T03:03:00Z'));
  });

  it('refuses what is not a schedule, naming the field', () => {
    const refusal = (() => {
      try {
        parseSchedule('0 9 * * 7', { where: 'definePeriodicJob(report)' });
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(ValidationError);
    expect((refusal as ValidationError).issues[0]?.path).toBe('schedule');
    expect((refusal as ValidationError).message).toBe(
      "definePeriodicJob(report): schedule '0 9 * * 7' is not a valid cron expression: its day of week field '7': 7 is above the maximum 6",
    );
    for (const bad of ['@Daily', '* * * * * * *', '*-5 * * * *', 'CRON_TZ=UTC', '@every 0s']) {
      expect(() => parseSchedule(bad), bad).toThrow(ValidationError);
    }
    expect(() => parseSchedule('* * * * *', { timezone: 'Mars/Olympus' })).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ path: 'timezone' })] }),
    );
  });

  it("reads Go's durations", () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('.5s')).toBe(500);
    expect(parseGoDuration('1500us')).toBe(1.5);
    expect(parseGoDuration('2h45m30.5s')).toBe(9_930_500);
    for (const bad of ['', '5', '5x', '-5s', '1h 30m', 'h']) {
      expect(typeof parseGoDuration(bad), bad).toBe('string');
    }
  });
});
