/**
 * node-postgres (`pg`) adapter. Also the one to use with Cloudflare Hyperdrive, which hands
 * Workers a connection string for `pg`.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { nodePostgres } from 'eddy/node-postgres';
 * const driver = nodePostgres(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * ```
 * Inside your own transaction, pass the client and say so:
 * `nodePostgres(client, { inTransaction: true })`.
 *
 * `driver.listen(channels, handlers)`: over a Pool, on one connection of its own for as long as
 * the listener is open (count it in `max`), replaced whenever it drops. Over a plain Client, on
 * that client: it cannot reconnect (its queries are dead too), so a drop is reported through
 * `onError` and the listener stays down; make a new Client and a new driver to listen again.
 */

import type { Driver } from '../../src/driver/index.js';
import { type PgClientLike, type PgSessionOptions, pgSession } from '../pg-session.js';

export type { PgClientLike, PgSessionOptions } from '../pg-session.js';

export function nodePostgres(client: PgClientLike, options: PgSessionOptions = {}): Driver {
  return pgSession('node-postgres', client, options);
}
