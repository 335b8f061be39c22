/**
 * Neon serverless driver over WebSockets (`Pool` / `Client` from `@neondatabase/serverless`):
 * interactive transactions, pg-compatible. Shares its implementation with `eddy/node-postgres`.
 *
 * @example
 * ```ts
 * import { Pool } from '@neondatabase/serverless';
 * import { neonWebSocket } from 'eddy/neon-websocket';
 * const driver = neonWebSocket(new Pool({ connectionString: env.DATABASE_URL }));
 * ```
 */

import type { Driver } from '../../src/driver/index.js';
import { type PgClientLike, type PgSessionOptions, pgSession } from '../pg-session.js';

export function neonWebSocket(client: PgClientLike, options: PgSessionOptions = {}): Driver {
  return pgSession('neon-websocket', client, options);
}
