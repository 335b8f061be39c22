/**
 * The example app's own table: the users that `POST /signup` creates, in the same transaction
 * as their jobs. `npm run demo` creates it next to River's tables; in production, create it with
 * your own migrations.
 */

export const USERS_TABLE = 'demo_users';

export const CREATE_USERS_TABLE = `CREATE TABLE IF NOT EXISTS ${USERS_TABLE} (
  id uuid PRIMARY KEY,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
)`;
