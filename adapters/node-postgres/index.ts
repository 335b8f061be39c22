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
 */

import type { Driver } from '../../src/driver/index.js';
import { type PgClientLike, type PgSessionOptions, pgSession } from '../pg-session.js';

export type { PgClientLike, PgSessionOptions } from '../pg-session.js';

export function nodePostgres(client: PgClientLike, options: PgSessionOptions = {}): Driver {
  return pgSession('node-postgres', client, options);
}
