/**
 * Wall-clock time in a time zone, with Web-standard `Intl` only (no time-zone library): what a
 * cron schedule needs to find "09:00 in Berlin" as an instant.
 *
 * A zone is an IANA name (`Europe/Berlin`, `UTC`) or a fixed offset (`+05:30`, `-05:00`).
 */

/** Calendar fields as a clock on the wall shows them; `month` 1-12. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface TimeZone {
  /** As given: `Europe/Berlin`, `UTC`, `+05:30`. */
  readonly name: string;
  /** What the wall clock shows at `epochMs`. */
  wallAt(epochMs: number): WallTime;
  /**
   * The instant the wall clock shows `wall`. A time skipped by a daylight-saving change is read
   * with the offset before the change (so it lands after the gap, as Go's `time.Date` does); a
   * time shown twice is its first instant.
   */
  instantOf(wall: WallTime): number;
}

const FIXED_OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/** A time zone by name, or a string saying why there is none. */
export function timeZone(name: string): TimeZone | string {
  if (name === 'UTC' || name === 'Z') return fixed(name, 0);
  const offset = FIXED_OFFSET.exec(name);
  if (offset) {
    const hours = Number(offset[2]);
    const minutes = Number(offset[3]);
    if (hours > 18 || minutes > 59) return `offset '${name}' is out of range (at most ±18:00)`;
    return fixed(name, (offset[1] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000);
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return `'${name}' is not a time zone this runtime knows (an IANA name such as Europe/Berlin, UTC, or an offset such as +05:30)`;
  }
  return named(name, format);
}

function fixed(name: string, offsetMs: number): TimeZone {
  return {
    name,
    wallAt: (epochMs) => utcWall(epochMs + offsetMs),
    instantOf: (wall) => utcMs(wall) - offsetMs,
  };
}

function named(name: string, format: Intl.DateTimeFormat): TimeZone {
  const wallAt = (epochMs: number): WallTime => {
    const parts: Record<string, string> = {};
    for (const part of format.formatToParts(epochMs)) parts[part.type] = part.value;
    return {
      year: Number(parts.year),
      month: Number(parts.month),
      day: Number(parts.day),
      hour: Number(parts.hour),
      minute: Number(parts.minute),
      second: Number(parts.second),
    };
  };
  const offsetAt = (epochMs: number) => utcMs(wallAt(epochMs)) - Math.floor(epochMs / 1000) * 1000;
  return {
    name,
    wallAt,
    instantOf(wall) {
      const asUtc = utcMs(wall);
      // A zone changes its offset at most once in two days: the offsets a day either side are
      // the only ones this wall time can have. Each that reads back is an instant showing it.
      const before = offsetAt(asUtc - DAY_MS);
      const candidates = [before, offsetAt(asUtc), offsetAt(asUtc + DAY_MS)]
        .map((offset) => asUtc - offset)
        .filter((instant) => offsetAt(instant) === asUtc - instant)
        .sort((a, b) => a - b);
      // Shown twice: the first. Skipped (a gap): read with the offset before the change.
      return candidates[0] ?? asUtc - before;
    },
  };
}

const DAY_MS = 86_400_000;

/** Wall fields of `ms` read as UTC. */
export function utcWall(ms: number): WallTime {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** The instant `wall` names when read as UTC (years before 100 included). */
export function utcMs(wall: WallTime): number {
  const d = new Date(0);
  d.setUTCFullYear(wall.year, wall.month - 1, wall.day);
  d.setUTCHours(wall.hour, wall.minute, wall.second, 0);
  return d.getTime();
}
