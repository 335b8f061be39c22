export type { Driver, DriverCapabilities, Field, RawResult, Statement } from './driver.js';
export { Database, type Query, type Result, type Row } from './database.js';
export {
  DatabaseError,
  type DatabaseErrorFields,
  EddyError,
  UnsupportedError,
  ValidationError,
} from './errors.js';
export { decodeValue, encodeParam, type Param, parseTimestamp } from './values.js';
