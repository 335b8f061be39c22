/**
 * Schedules in River's dialect: the cron expressions River's periodic jobs take (robfig/cron's
 * standard parser, which River's examples use) and River's fixtures pin
 * (../shared/river-compat/maintenance_values.json, tested in test/river-fixtures.test.ts).
 *
 * - five fields, minute hour day-of-month month day-of-week; `*` and `?` for any value, lists
 *   (`1,15`), ranges (`9-17`), steps (`*\/15`, `5/15` = from 5 to the end, `0-10/5`), month and
 *   weekday names in any case (`jan`, `MON`); Sunday is 0 and only 0;
 * - day of month and day of week: when either field is a wildcard, a day must match both; when
 *   both are restricted, either will do. A field is a wildcard when it starts with `*` or `?`
 *   and has no step above 1 (`*\/1` stays a wildcard, `*\/2` does not);
 * - `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`, and
 *   `@every <Go duration>` (`1h30m`, `1.5h`, `90s`; below a second rounds up to one, otherwise
 *   whole seconds);
 * - a `CRON_TZ=<zone>` or `TZ=<zone>` prefix.
 *
 * Eddy also accepts a sixth, leading seconds field (sub-minute schedules in the Node loop and
 * in tests); River refuses it. README: "River's fixtures" lists each difference and why.
 *
 * This module reads River's dialect and refuses what River refuses; the times themselves come
 * from cron-parser (time zones and daylight saving through its luxon), given the expression
 * normalised: names as numbers, River's wildcards as `*` and every other field as the list of
 * the values it allows, so cron-parser's day-of-month/day-of-week rule is River's.
 */

import { CronExpressionParser } from 'cron-parser';
import { invalid } from '../errors.js';

export interface Schedule {
  /** The expression as given. */
  readonly expression: string;
  /** The zone cron fields are read in (`UTC` unless a prefix or the `timezone` option says). */
  readonly timeZone: string;
  /** `@every`'s interval in ms; undefined for a cron expression. */
  readonly everyMs: number | undefined;
  /**
   * River's next run strictly after `after`, in whole seconds; undefined when there is none in
   * the next five years (`0 0 30 2 *`). For `@every`, `after` plus the interval, as River counts
   * from its last run.
   */
  next(after: Date): Date | undefined;
  /**
   * The latest slot strictly before `before`: a cron expression's times, or for `@every` the
   * multiples of its interval since the Unix epoch (stateless ticks need slots every process
   * agrees on; River instead counts from when its client started). Undefined when none in the
   * five years before.
   */
  previous(before: Date): Date | undefined;
}

interface Field {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const SECOND: Field = { label: 'second', min: 0, max: 59 };
const MINUTE: Field = { label: 'minute', min: 0, max: 59 };
const HOUR: Field = { label: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: Field = { label: 'day of month', min: 1, max: 31 };
const MONTH: Field = {
  label: 'month',
  min: 1,
  max: 12,
  names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
};
const DAY_OF_WEEK: Field = {
  label: 'day of week',
  min: 0,
  max: 6,
  names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
};

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** The values one field allows, ascending, and whether it is a wildcard. */
interface FieldSet {
  readonly values: readonly number[];
  readonly has: ReadonlySet<number>;
  readonly wildcard: boolean;
}

/** A zone by name: what cron-parser (luxon) reads it as, or why there is none. */
function zoneFor(name: string): { name: string; tz: string } | string {
  if (name === 'UTC' || name === 'Z') return { name, tz: 'UTC' };
  const offset = /^([+-])(\d{2}):(\d{2})$/.exec(name);
  if (offset) {
    const [hours, minutes] = [Number(offset[2]), Number(offset[3])];
    if (hours > 18 || minutes > 59) return `offset '${name}' is out of range (at most ±18:00)`;
    return { name, tz: `UTC${offset[1]}${hours}:${offset[3]}` };
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return `'${name}' is not a time zone this runtime knows (an IANA name such as Europe/Berlin, UTC, or an offset such as +05:30)`;
  }
  return { name, tz: name };
}

/**
 * Parses a schedule, or throws a `ValidationError` naming `schedule` (or `timezone`) and what
 * is wrong.
 *
 * @example
 * ```ts
 * parseSchedule('CRON_TZ=Europe/Berlin 0 9 * * mon-fri').next(new Date());
 * parseSchedule('@every 1h30m').everyMs; // 5_400_000
 * ```
 */
export function parseSchedule(
  expression: string,
  options: { timezone?: string | undefined; where?: string | undefined } = {},
): Schedule {
  const { where } = options;
  const refuse = (message: string): never =>
    invalid('schedule', `'${expression}' is not a valid cron expression: ${message}`, where);
  if (typeof expression !== 'string') invalid('schedule', 'must be a string', where);
  if (expression.trim() === '') refuse('it is empty (one that runs daily at 03:00 is "0 3 * * *")');

  let spec = expression;
  let zoneName = options.timezone;
  const prefix = /^(CRON_TZ|TZ)=(\S*)(?:\s+|$)/.exec(spec);
  if (prefix) {
    const named = prefix[2] as string;
    if (zoneName !== undefined && zoneName !== named)
      refuse(`it names time zone '${named}' while timezone is '${zoneName}': give the zone once`);
    zoneName = named;
    spec = spec.slice(prefix[0].length);
    if (spec.trim() === '') refuse(`it has a ${prefix[1]}= prefix but no schedule after it`);
  }
  const zone = zoneFor(zoneName ?? 'UTC');
  if (typeof zone === 'string') {
    if (prefix) refuse(`its time zone: ${zone}`);
    invalid('timezone', zone, where);
  }

  const trimmed = spec.trim();
  if (trimmed.startsWith('@every')) {
    const duration = trimmed.slice('@every'.length).trim();
    if (trimmed !== '@every' && !/^@every\s/.test(trimmed))
      refuse(`'${trimmed.split(/\s/)[0]}' is not a descriptor River knows`);
    const ms = parseGoDuration(duration);
    if (typeof ms === 'string') refuse(ms);
    return everySchedule(expression, zone, ms as number);
  }
  let fields = trimmed;
  if (trimmed.startsWith('@')) {
    const descriptor = DESCRIPTORS[trimmed];
    if (!descriptor)
      refuse(
        `'${trimmed}' is not a descriptor River knows (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)`,
      );
    fields = descriptor as string;
  }
  const parts = fields.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6)
    refuse(
      `it has ${parts.length} field${parts.length === 1 ? '' : 's'}; a cron expression has 5 (minute hour day-of-month month day-of-week), or 6 with seconds first`,
    );
  const layout =
    parts.length === 6
      ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
      : [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];
  const sets = parts.map((part, i) => {
    const field = layout[i] as Field;
    const set = parseField(part, field);
    if (typeof set === 'string') refuse(`its ${field.label} field '${part}': ${set}`);
    return set as FieldSet;
  });
  const [second, minute, hour, dom, month, dow] =
    sets.length === 6 ? sets : [parseField('0', SECOND) as FieldSet, ...sets];
  const normalised = [second, minute, hour, dom, month, dow]
    .map((set) => ((set as FieldSet).wildcard ? '*' : (set as FieldSet).values.join(',')))
    .join(' ');
  return cronSchedule(expression, zone, normalised);
}

/** One field: a comma-separated list of ranges, each `*`, `?`, `n`, `a-b`, with `/step`. */
function parseField(text: string, field: Field): FieldSet | string {
  const has = new Set<number>();
  let wildcard = false;
  for (const range of text.split(',')) {
    const steps = range.split('/');
    if (steps.length > 2) return 'too many slashes';
    const bounds = (steps[0] as string).split('-');
    if (bounds.length > 2) return 'too many hyphens';
    let start: number;
    let end: number;
    let star = false;
    if (bounds[0] === '*' || bounds[0] === '?') {
      if (bounds.length > 1) return `'${bounds[0]}' cannot start a range`;
      star = true;
      start = field.min;
      end = field.max;
    } else {
      if (bounds[0] === '') return 'a range needs a start (negative numbers are not allowed)';
      const low = fieldValue(bounds[0] as string, field);
      if (typeof low === 'string') return low;
      start = low;
      if (bounds.length === 2) {
        const high = fieldValue(bounds[1] as string, field);
        if (typeof high === 'string') return high;
        end = high;
      } else {
        end = start;
      }
    }
    let step = 1;
    if (steps.length === 2) {
      const parsed = integer(steps[1] as string);
      if (typeof parsed === 'string') return `step ${parsed}`;
      step = parsed;
      if (bounds.length === 1) end = field.max; // "5/15" means from 5 to the end
    }
    if (start < field.min) return `${start} is below the minimum ${field.min}`;
    if (end > field.max) return `${end} is above the maximum ${field.max}`;
    if (start > end) return `range starts at ${start}, after its end ${end}`;
    if (step < 1) return 'step must be a positive number';
    if (star && step === 1) wildcard = true;
    for (let v = start; v <= end; v += step) has.add(v);
  }
  return { values: [...has].sort((a, b) => a - b), has, wildcard };
}

function fieldValue(text: string, field: Field): number | string {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + field.min;
  const number = integer(text);
  if (typeof number === 'string' && field.names && !/^[+-]?[0-9]/.test(text))
    return `'${text}' is neither a number nor a ${field.label} name (${field.names.join(', ')})`;
  return number;
}

function integer(text: string): number | string {
  if (!/^[+-]?[0-9]+$/.test(text)) return `'${text}' is not a number`;
  const value = Number(text);
  if (value < 0) return `${text}: negative numbers are not allowed`;
  return value;
}

function cronSchedule(
  expression: string,
  zone: { name: string; tz: string },
  normalised: string,
): Schedule {
  const at = (date: Date) => {
    try {
      return CronExpressionParser.parse(normalised, { currentDate: date, tz: zone.tz });
    } catch {
      return undefined; // a day no month has (30 February): never
    }
  };
  return {
    expression,
    timeZone: zone.name,
    everyMs: undefined,
    next(after) {
      // Strictly after `after`, in whole seconds.
      try {
        return at(new Date(Math.floor(after.getTime() / 1000) * 1000))
          ?.next()
          .toDate();
      } catch {
        return undefined;
      }
    },
    previous(before) {
      try {
        return at(new Date(Math.ceil(before.getTime() / 1000) * 1000))
          ?.prev()
          .toDate();
      } catch {
        return undefined;
      }
    },
  };
}

function everySchedule(expression: string, zone: { name: string }, durationMs: number): Schedule {
  // River's rule: under a second becomes a second; otherwise whole seconds.
  const everyMs = durationMs < 1000 ? 1000 : Math.floor(durationMs / 1000) * 1000;
  return {
    expression,
    timeZone: zone.name,
    everyMs,
    next: (after) => new Date(Math.floor(after.getTime() / 1000) * 1000 + everyMs),
    previous: (before) => new Date((Math.ceil(before.getTime() / everyMs) - 1) * everyMs),
  };
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's `time.ParseDuration`, in ms; a reason when it is not one, or not positive. */
export function parseGoDuration(text: string): number | string {
  if (text === '') return '@every needs a duration (@every 1h30m)';
  const whole = /^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
  if (!whole.test(text))
    return `'${text}' is not a duration: numbers with units ns, us, ms, s, m or h (1h30m, 1.5h, 90s)`;
  let ms = 0;
  for (const [, number, unit] of text.matchAll(/([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ms += Number(number) * (DURATION_UNITS[unit as string] as number);
  }
  // Go's durations are int64 nanoseconds: about 292 years.
  if (ms > 9_223_372_036_854) return `'${text}' is longer than Go's longest duration (~292 years)`;
  if (ms <= 0) return `'${text}': the interval must be positive`;
  return ms;
}
