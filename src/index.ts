export { Database, type Query, type Result, type Row } from './database.js';
export type { Driver, DriverCapabilities, Field, RawResult, Statement } from './driver.js';
export {
  DatabaseError,
  type DatabaseErrorFields,
  EddyError,
  UnsupportedError,
  ValidationError,
} from './errors.js';
export {
  getMigrationVersion,
  LATEST_MIGRATION_VERSION,
  MIGRATIONS,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
  migrate,
  migrationSql,
} from './migrate.js';
export { decodeValue, encodeParam, type Param, parseTimestamp } from './values.js';
