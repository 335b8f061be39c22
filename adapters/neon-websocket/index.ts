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
 *
 * `driver.listen(channels, handlers)` works as in `eddy/node-postgres`: over a Pool, on one
 * WebSocket connection of its own, replaced whenever it drops; over a Client, on that client,
 * which cannot reconnect: a drop is reported through `onError` and the listener stays down.
 * Only where a WebSocket may stay open (Node, a long-lived server): a Worker's request ends it.
 */

import type { Driver } from '../../src/driver/index.js';
import { type PgClientLike, type PgSessionOptions, pgSession } from '../pg-session.js';

export function neonWebSocket(client: PgClientLike, options: PgSessionOptions = {}): Driver {
  return pgSession('neon-websocket', client, options);
}
