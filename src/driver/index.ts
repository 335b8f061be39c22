/**
 * `eddy/driver`: the seam between Eddy's core and a Postgres client, for adapter authors.
 *
 * **Unstable.** Like River's driver interface, this API may change in any release; application
 * code uses the adapters (`eddy/node-postgres`, `eddy/neon-http`, …) and the root export.
 */

export { assertChannelNames, listenStatement, unlistenStatement } from './channel-name.js';
export { Database, type Query, type Result, type Row } from './database.js';
export type {
  Driver,
  DriverCapabilities,
  Field,
  Listener,
  ListenHandlers,
  Notification,
  QueryOptions,
  RawResult,
  Statement,
} from './driver.js';
export {
  type GuardedHandlers,
  guardHandlers,
  reconnectDelay,
  sharedChannels,
  waitAtMost,
} from './listening.js';
export { assertSchemaName } from './schema-name.js';
export { decodeValue, encodeParam, type Param, parseTimestamp } from './values.js';
