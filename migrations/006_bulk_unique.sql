-- River migration line `main`, version 6: uniqueness by (unique_key, states in a bit mask).

-- Whether `state` is in `bitmask`, River's `bit(8)` of unique states: the rightmost bit
-- (index 7) is `available`, the leftmost (index 0) is `scheduled`, in enum-label order.
-- The body names no schema-qualified object (the literals take the type of `state`), so the
-- function works from sessions whose search_path does not include its schema.
CREATE OR REPLACE FUNCTION river_job_state_in_bitmask(bitmask bit(8), state river_job_state)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
AS $fn$
  SELECT CASE
    -- River's answer for a null state; a null mask gives null, as in River.
    WHEN state IS NULL THEN false
    ELSE get_bit(
      bitmask,
      CASE state
        WHEN 'scheduled' THEN 0
        WHEN 'running' THEN 1
        WHEN 'retryable' THEN 2
        WHEN 'pending' THEN 3
        WHEN 'discarded' THEN 4
        WHEN 'completed' THEN 5
        WHEN 'cancelled' THEN 6
        WHEN 'available' THEN 7
      END
    ) = 1
  END;
$fn$;

-- IF NOT EXISTS: River tells owners of large tables to add these CONCURRENTLY beforehand.
ALTER TABLE river_job ADD COLUMN IF NOT EXISTS unique_states bit(8);
CREATE UNIQUE INDEX IF NOT EXISTS river_job_unique_idx ON river_job (unique_key)
  WHERE unique_key IS NOT NULL
    AND unique_states IS NOT NULL
    AND river_job_state_in_bitmask(unique_states, state);

-- Superseded by river_job_unique_idx.
DROP INDEX IF EXISTS river_job_kind_unique_key_idx;

INSERT INTO river_migration (line, version) VALUES ('main', 6);
