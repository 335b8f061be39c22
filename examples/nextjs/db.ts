/**
 * The app's database connection, read from the environment on first use rather than at import:
 * `next build` imports every route module without the deployment's variables.
 *
 * - `DATABASE_URL`: a Neon connection string.
 * - `NEON_CONFIG`, for local development only: a JSON object of `neonConfig` settings that point
 *   the driver at a local endpoint (`npx eddy neon-local`), such as
 *   `{"fetchEndpoint":"http://127.0.0.1:4444/sql","wsProxy":"127.0.0.1:4444/v2","useSecureWebSocket":false,"forceDisablePgSSL":true,"pipelineTLS":false,"pipelineConnect":false}`.
 *   Leave it unset in production.
 */

import { type NeonQueryFunction, neon, neonConfig } from '@neondatabase/serverless';

let configured = false;

/** The connection string, after applying `NEON_CONFIG` once. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (see examples/nextjs/db.ts)');
  if (!configured) {
    configured = true;
    if (process.env.NEON_CONFIG) Object.assign(neonConfig, JSON.parse(process.env.NEON_CONFIG));
  }
  return url;
}

let httpSql: NeonQueryFunction<false, false> | undefined;

/** Neon's HTTP driver: one `fetch` per statement, on the Edge and Node runtimes. */
export function sql(): NeonQueryFunction<false, false> {
  httpSql ??= neon(databaseUrl());
  return httpSql;
}
