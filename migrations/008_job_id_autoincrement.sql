-- River migration line `main`, version 8 (River 0.50 and later). On PostgreSQL it changes
-- nothing: River added it for SQLite, whose job ids could be reused without AUTOINCREMENT,
-- while PostgreSQL's sequence already never hands an id out twice. River's own file for
-- PostgreSQL is a no-op as well. Recorded so that River's migrator sees this schema as up to
-- date and does not try to apply it.

INSERT INTO river_migration (line, version) VALUES ('main', 8);
