import { describe, expect, it } from 'vitest';
import { isSameOrigin, securityHeaders } from './security.js';

const post = (headers: Record<string, string>, url = 'http://dash.test/jobs/1/retry') =>
  new Request(url, { method: 'POST', headers });

describe('isSameOrigin', () => {
  it('takes a browser’s own form post (Origin naming the Host, or the URL’s host)', () => {
    expect(
      isSameOrigin(post({ origin: 'http://dash.test', 'sec-fetch-site': 'same-origin' })),
    ).toBe(true);
    expect(
      isSameOrigin(
        post(
          { origin: 'http://localhost:8081', host: 'localhost:8081' },
          'http://127.0.0.1:8081/x',
        ),
      ),
    ).toBe(true);
  });

  it('refuses another origin, another site, an opaque origin', () => {
    expect(isSameOrigin(post({ origin: 'https://evil.example' }))).toBe(false);
    expect(isSameOrigin(post({ origin: 'http://dash.test.evil.example' }))).toBe(false);
    expect(isSameOrigin(post({ origin: 'http://dash.test', 'sec-fetch-site': 'same-site' }))).toBe(
      false,
    );
    expect(isSameOrigin(post({ 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(isSameOrigin(post({ origin: 'null' }))).toBe(false);
  });

  it('lets a client that is no browser page through to the CSRF check', () => {
    expect(isSameOrigin(post({}))).toBe(true);
  });
});

describe('securityHeaders', () => {
  it('allows only the nonce’s style and script, and no framing', () => {
    const csp = securityHeaders('abc')['content-security-policy'];
    expect(csp).toBe(
      "default-src 'none'; script-src 'nonce-abc'; style-src 'nonce-abc'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
  });
});
