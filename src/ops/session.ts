/**
 * About the session: what unqualified names resolve to.
 */

import type { Database } from '../driver/database.js';
import { SessionCurrentSchema } from '../sql/session.js';

/**
 * The session's current schema, where River qualifies its notification channels when a client
 * names no schema; `undefined` when the search path names none that exists.
 */
export async function currentSchema(db: Database): Promise<string | undefined> {
  const { rows } = await db.query<{ schema: string | null }>(SessionCurrentSchema);
  return rows[0]?.schema ?? undefined;
}
