-- River migration line `main`, version 1: the table that records applied versions.
--
-- Apply each numbered file in its own transaction, in order. Names are unqualified: set
-- `search_path` (e.g. `SET LOCAL search_path TO jobs`) to install into another schema.
-- Every file records its own version in river_migration, so a database migrated with these
-- files by any tool is recognised by River's migrator and by `eddy migrate`.

CREATE TABLE river_migration (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  version bigint NOT NULL,
  CONSTRAINT version CHECK (version >= 1)
);

CREATE UNIQUE INDEX river_migration_version_idx ON river_migration USING btree (version);

-- Until version 5 the table has no `line` column: every row belongs to line `main`.
INSERT INTO river_migration (version) VALUES (1);
