/**
 * Health probes. `/livez`: the process answers. `/readyz`: the database answers and River's
 * schema is at the version Eddy ships (or later), so every statement will find its tables;
 * otherwise 503 with the reason, so a load balancer or Kubernetes holds traffic back until a
 * migration has run or the database is back.
 */

import type { Driver } from '../driver/driver.js';
import { getMigrationVersion, LATEST_MIGRATION_VERSION } from '../migrate.js';

export type Readiness =
  | { ready: true; migrationVersion: number }
  | { ready: false; reason: string; migrationVersion?: number };

/** Whether the database is reachable and migrated; never throws. */
export async function checkReadiness(
  driver: Driver,
  options: { schema?: string | undefined; timeoutMs?: number } = {},
): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const version = await Promise.race([
      getMigrationVersion(driver, options.schema === undefined ? {} : { schema: options.schema }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    if (version < LATEST_MIGRATION_VERSION) {
      return {
        ready: false,
        migrationVersion: version,
        reason:
          version === 0
            ? `River's schema is not installed: run \`eddy migrate\` (version ${LATEST_MIGRATION_VERSION})`
            : `River's schema is at version ${version}, Eddy needs ${LATEST_MIGRATION_VERSION}: run \`eddy migrate\``,
      };
    }
    return { ready: true, migrationVersion: version };
  } catch (error) {
    return {
      ready: false,
      reason: `database unreachable: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}
