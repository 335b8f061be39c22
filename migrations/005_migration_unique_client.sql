-- River migration line `main`, version 5: river_migration keyed by (line, version),
-- river_job.unique_key, and the (never used, dropped in version 7) client tables.

-- Rebuild river_migration with a `line` column, keeping every recorded version as line
-- `main`. The new primary key is named river_migration_pkey1 because the old table still
-- holds river_migration_pkey while the new one is created; River's schema has that name too.
-- Skipped when the table is absent (a schema installed by a tool that never ran version 1).
DO $rebuild$
BEGIN
  IF to_regclass('river_migration') IS NULL THEN
    RETURN;
  END IF;

  ALTER TABLE river_migration RENAME TO river_migration_old;

  CREATE TABLE river_migration (
    line text NOT NULL,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT line_length CHECK (char_length(line) > 0 AND char_length(line) < 128),
    CONSTRAINT version_gte_1 CHECK (version >= 1),
    PRIMARY KEY (line, version)
  );

  INSERT INTO river_migration (line, version, created_at)
    SELECT 'main', version, created_at FROM river_migration_old;

  DROP TABLE river_migration_old;
END;
$rebuild$;

-- IF NOT EXISTS: River tells owners of large tables to build this index CONCURRENTLY before
-- running the migration.
ALTER TABLE river_job ADD COLUMN IF NOT EXISTS unique_key bytea;
CREATE UNIQUE INDEX IF NOT EXISTS river_job_kind_unique_key_idx ON river_job (kind, unique_key)
  WHERE unique_key IS NOT NULL;

CREATE UNLOGGED TABLE river_client (
  id text PRIMARY KEY NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  metadata jsonb NOT NULL DEFAULT '{}',
  paused_at timestamptz,
  updated_at timestamptz NOT NULL,
  CONSTRAINT name_length CHECK (char_length(id) > 0 AND char_length(id) < 128)
);

CREATE UNLOGGED TABLE river_client_queue (
  river_client_id text NOT NULL REFERENCES river_client (id) ON DELETE CASCADE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  max_workers bigint NOT NULL DEFAULT 0,
  metadata jsonb NOT NULL DEFAULT '{}',
  num_jobs_completed bigint NOT NULL DEFAULT 0,
  num_jobs_running bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (river_client_id, name),
  CONSTRAINT name_length CHECK (char_length(name) > 0 AND char_length(name) < 128),
  CONSTRAINT num_jobs_completed_zero_or_positive CHECK (num_jobs_completed >= 0),
  CONSTRAINT num_jobs_running_zero_or_positive CHECK (num_jobs_running >= 0)
);

-- From this version on, rows name their line.
INSERT INTO river_migration (line, version) VALUES ('main', 5);
