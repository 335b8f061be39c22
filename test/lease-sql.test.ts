/**
 * The lease token's SQL and its JavaScript parser are one format (src/ops/lease.ts): what the
 * claim's SQL writes, the parser reads, and the rescue's SQL reads what the parser reads.
 */

import { afterAll, describe, expect, it } from 'vitest';
import {
  isLeaseSql,
  leaseExpirySql,
  leaseRunnerSql,
  leaseTokenSql,
  parseLeaseToken,
} from '../src/ops/lease.js';
import { testPool } from './support/postgres.js';

const pool = testPool();
afterAll(() => pool.end());

describe('lease token SQL', () => {
  it('builds a token the parser reads, expiring the lease length after the given time', async () => {
    const at = '2026-01-01T00:00:00.123Z';
    const { rows } = await pool.query(
      `SELECT ${leaseTokenSql('$1::timestamptz', '$2::int8', '$3::text', '$4::text')} AS token`,
      [at, 45_000, 'a1b2c3', 'host:runner-7'],
    );
    expect(parseLeaseToken(rows[0].token)).toEqual({
      expiresAt: Date.parse(at) + 45_000,
      nonce: 'a1b2c3',
      runnerId: 'host:runner-7',
    });
  });

  it('reads in SQL exactly the entries the parser accepts, with the same expiry and runner', async () => {
    const entries = [
      'eddy:1767225600000:3f2a9c:worker-1',
      'eddy:1767225600000:3f2a9c:host:worker-1',
      'eddy:not-a-lease',
      'eddy:1234567890123456789:n:r',
      'river-client-1',
    ];
    const { rows } = await pool.query(
      `SELECT e AS entry, ${isLeaseSql('e')} AS is_lease,
         CASE WHEN ${isLeaseSql('e')} THEN ${leaseExpirySql('e')} END AS expiry,
         CASE WHEN ${isLeaseSql('e')} THEN ${leaseRunnerSql('e')} END AS runner
       FROM unnest($1::text[]) AS e`,
      [entries],
    );
    for (const row of rows) {
      const parsed = parseLeaseToken(row.entry);
      expect(row.is_lease, row.entry).toBe(parsed !== undefined);
      if (!parsed) continue;
      expect(Number(row.expiry)).toBe(parsed.expiresAt);
      expect(row.runner).toBe(parsed.runnerId);
    }
  });
});
