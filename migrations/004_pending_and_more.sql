-- River migration line `main`, version 4: the `pending` state, non-null args and metadata,
-- river_queue, a single default leader, and no more insert trigger.
--
-- `ALTER TYPE ... ADD VALUE` makes `pending` usable only once this transaction commits, which
-- is why each version runs in its own transaction.

-- Jobs always carried args and metadata, but the database did not insist on it.
UPDATE river_job SET args = '{}' WHERE args IS NULL;
ALTER TABLE river_job ALTER COLUMN args SET NOT NULL;

ALTER TABLE river_job ALTER COLUMN metadata SET DEFAULT '{}';
UPDATE river_job SET metadata = '{}' WHERE metadata IS NULL;
ALTER TABLE river_job ALTER COLUMN metadata SET NOT NULL;

ALTER TYPE river_job_state ADD VALUE IF NOT EXISTS 'pending' AFTER 'discarded';

-- Finalized states and finalized_at now imply each other in both directions.
ALTER TABLE river_job DROP CONSTRAINT finalized_or_finalized_at_null;
ALTER TABLE river_job ADD CONSTRAINT finalized_or_finalized_at_null CHECK (
  (finalized_at IS NULL AND state NOT IN ('cancelled', 'completed', 'discarded'))
  OR (finalized_at IS NOT NULL AND state IN ('cancelled', 'completed', 'discarded'))
);

DROP TRIGGER IF EXISTS river_notify ON river_job;
DROP FUNCTION IF EXISTS river_job_notify();

-- One row per queue; `paused_at` set means no client (River or Eddy) claims from the queue.
CREATE TABLE river_queue (
  name text PRIMARY KEY NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  paused_at timestamptz,
  updated_at timestamptz NOT NULL
);

-- Only one leader, named `default`, from now on.
ALTER TABLE river_leader
  ALTER COLUMN name SET DEFAULT 'default',
  DROP CONSTRAINT name_length,
  ADD CONSTRAINT name_length CHECK (name = 'default');

INSERT INTO river_migration (version) VALUES (4);
