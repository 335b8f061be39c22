/**
 * River's snooze counter, in SQL: the `snoozes` a snoozed job's metadata gets next. River reads
 * the current value with gjson's `Int()` (internal/jobexecutor, NextSnoozeCount) and adds one,
 * so whatever another client left there counts the way River counts it
 * (../shared/river-compat/maintenance_values.json `snooze_counters`):
 *
 * - a number, truncated toward zero and kept exact beyond 2^53 (`2.9` → 3, `-2.5` → -1,
 *   `9007199254740993` → 9007199254740994);
 * - a string of an optional `-` and digits only, as that integer (`"4"` → 5; `"4.5"`, `" 5"`,
 *   `"abc"` → 1);
 * - `true` as 1, `false`, `null`, arrays and objects as 0.
 *
 * `metadata` is a jsonb expression. The result is numeric, stored as a JSON number.
 */
export const nextSnoozeCount = (metadata: string) => `(
  CASE jsonb_typeof(${metadata}->'snoozes')
    WHEN 'number' THEN trunc((${metadata}->>'snoozes')::numeric)
    WHEN 'string' THEN CASE WHEN (${metadata}->>'snoozes') ~ '^-?[0-9]+$'
      THEN (${metadata}->>'snoozes')::numeric ELSE 0 END
    WHEN 'boolean' THEN CASE WHEN (${metadata}->'snoozes')::boolean THEN 1 ELSE 0 END
    ELSE 0
  END + 1)`;
