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
export const nextSnoozeCount = (metadata: string) => `(${metadataCount(metadata, 'snoozes')} + 1)`;

/** A counter in `metadata->key` read by the same rule (Eddy's `eddy:deadline_snoozes` too). */
export const metadataCount = (metadata: string, key: string) => `(
  CASE jsonb_typeof(${metadata}->'${key}')
    WHEN 'number' THEN trunc((${metadata}->>'${key}')::numeric)
    WHEN 'string' THEN CASE WHEN (${metadata}->>'${key}') ~ '^-?[0-9]+$'
      THEN (${metadata}->>'${key}')::numeric ELSE 0 END
    WHEN 'boolean' THEN CASE WHEN (${metadata}->'${key}')::boolean THEN 1 ELSE 0 END
    ELSE 0
  END)`;
