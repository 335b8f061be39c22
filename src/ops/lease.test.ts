import { describe, expect, it } from 'vitest';
import { currentLease, newNonce, parseLeaseToken } from './lease.js';

describe('lease tokens', () => {
  it('reads expiry, nonce and a runner id that itself contains colons', () => {
    expect(parseLeaseToken('eddy:1767225600000:3f2a9c:host:worker-1')).toEqual({
      expiresAt: 1767225600000,
      nonce: '3f2a9c',
      runnerId: 'host:worker-1',
    });
  });

  it('refuses what is not a well-formed Eddy token', () => {
    for (const token of [
      'river-client-1',
      'eddy:not-a-lease',
      'eddy:1767225600000',
      'eddy:1767225600000:nonce',
      'eddy:1234567890123456789:n:r', // 19 digits: not an int8 the SQL would read
      'Eddy:1:n:r',
    ]) {
      expect(parseLeaseToken(token), token).toBeUndefined();
    }
  });

  it("takes a job's current lease from its last attempted_by entry", () => {
    expect(currentLease([])).toBeUndefined();
    expect(currentLease(['eddy:1:a:old', 'go-river-client'])).toBeUndefined();
    expect(currentLease(['go-river-client', 'eddy:2:b:new'])?.runnerId).toBe('new');
  });

  it('makes nonces that are unique enough and never contain a colon', () => {
    const nonces = new Set(Array.from({ length: 1000 }, newNonce));
    expect(nonces.size).toBe(1000);
    for (const nonce of nonces) expect(nonce).toMatch(/^[0-9a-f]{12}$/);
  });
});
