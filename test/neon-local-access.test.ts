/**
 * Who gets in (docs/neon-local.md, "Trust model"): the server authenticates every client and the
 * endpoint lends none of its own credentials; no browser page unless its origin is allowed, and
 * no page on a rebound DNS name; loopback only, unless `allowRemote`, which then requires the
 * generated access token on every request.
 */

import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';
import { Client, neon, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { errorResponse, message } from '../adapters/neon-local/wire.js';
import { configureNeonDriver } from './support/neon-local.js';
import { DATABASE_URL } from './support/postgres.js';
import { WireClient } from './support/wire-client.js';

beforeAll(() => configureNeonDriver());

/** POSTs one statement to `fetchEndpoint` as a client other than the driver would. */
async function post(local: NeonLocal, headers: Record<string, string> = {}, url?: string) {
  const response = await fetch(url ?? local.fetchEndpoint, {
    method: 'POST',
    headers: { 'Neon-Connection-String': local.connectionString(), ...headers },
    body: JSON.stringify({ query: 'SELECT 1 AS ok' }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/**
 * A server that asks every client for a cleartext password and records what it gets: the test
 * server trusts everyone, so it could not tell whose password the endpoint sent.
 */
function passwordRecorder(): Promise<{ server: Server; port: number; received: string[] }> {
  const received: string[] = [];
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!started && buffer.length >= 4 && buffer.length >= buffer.readInt32BE(0)) {
        buffer = buffer.subarray(buffer.readInt32BE(0));
        started = true;
        socket.write(message('R', Buffer.from([0, 0, 0, 3]))); // AuthenticationCleartextPassword
      }
      while (started && buffer.length >= 5 && buffer.length >= buffer.readInt32BE(1) + 1) {
        const length = buffer.readInt32BE(1);
        if (buffer[0] === 0x70) {
          // PasswordMessage: the password, NUL-terminated.
          received.push(buffer.toString('utf8', 5, length));
          socket.end(errorResponse('FATAL', '28P01', 'password authentication failed'));
        }
        buffer = buffer.subarray(length + 1);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, port, received });
    }),
  );
}

describe('credentials', () => {
  let recorder: Awaited<ReturnType<typeof passwordRecorder>>;
  let local: NeonLocal;

  beforeAll(async () => {
    recorder = await passwordRecorder();
    local = await createNeonLocal({
      databaseUrl: `postgres://app:configured-secret@127.0.0.1:${recorder.port}/app`,
    });
  });
  afterAll(async () => {
    await local.close();
    recorder.server.close();
  });

  it('never sends the configured password for a client that sent none', async () => {
    const reply = await post(local, {
      'Neon-Connection-String': `postgres://app@127.0.0.1:${local.port}/app`,
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: '28P01', message: expect.stringMatching(/password/) });
    expect(recorder.received).toEqual([]);
  });

  it("sends the client's own password, and the server decides", async () => {
    const reply = await post(local, {
      'Neon-Connection-String': `postgres://app:its-own@127.0.0.1:${local.port}/app`,
    });
    expect(reply).toMatchObject({ status: 400, body: { code: '28P01' } });
    expect(recorder.received).toEqual(['its-own']);
  });
});

describe('browser pages', () => {
  let closed: NeonLocal;
  let open: NeonLocal;

  beforeAll(async () => {
    closed = await createNeonLocal({ databaseUrl: DATABASE_URL });
    open = await createNeonLocal({
      databaseUrl: DATABASE_URL,
      allowOrigins: ['http://localhost:5173'],
    });
  });
  afterAll(async () => {
    await closed.close();
    await open.close();
  });

  it('refuses every page by default, loopback ones included, over HTTP and WebSockets', async () => {
    for (const origin of [
      'http://localhost:5173',
      'http://127.0.0.1:3000',
      'https://evil.example',
    ]) {
      const reply = await post(closed, { Origin: origin });
      expect(reply.status).toBe(403);
      expect(reply.headers.get('access-control-allow-origin')).toBeNull();
      await expect(WireClient.open(closed.wsProxy, { Origin: origin })).rejects.toThrow(/403/);
    }
    // Node, workerd and the driver in them send no Origin.
    expect((await post(closed)).body).toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('lets in exactly the origins allowed', async () => {
    const allowed = await post(open, { Origin: 'http://localhost:5173' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const preflight = await fetch(open.fetchEndpoint, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Neon-Connection-String/);
    const client = await WireClient.open(open.wsProxy, { Origin: 'http://localhost:5173' });
    client.terminate();

    expect((await post(open, { Origin: 'http://localhost:3000' })).status).toBe(403);
    await expect(
      WireClient.open(open.wsProxy, { Origin: 'http://localhost:3000' }),
    ).rejects.toThrow(/403/);
  });

  it('refuses a request for another host name, as a page on a rebound DNS name sends', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(closed.fetchEndpoint, {
        method: 'POST',
        headers: {
          Host: `rebound.example:${closed.port}`,
          'Neon-Connection-String': closed.connectionString(),
        },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.end(JSON.stringify({ query: 'SELECT 1' }));
    });
    expect(status).toBe(403);
  });
});

describe('hosts other than loopback', () => {
  let remote: NeonLocal;

  beforeAll(async () => {
    remote = await createNeonLocal({
      databaseUrl: DATABASE_URL,
      host: '0.0.0.0',
      allowRemote: true,
    });
  });
  afterAll(() => remote.close());

  it('are refused without allowRemote', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      await expect(createNeonLocal({ databaseUrl: DATABASE_URL, host })).rejects.toThrow(
        /not a loopback address.*allowRemote/,
      );
    }
  });

  it('need the generated access token on every request', async () => {
    const token = remote.accessToken as string;
    expect(token).toMatch(/^[\w-]{43}$/);
    const base = `http://127.0.0.1:${remote.port}`;
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const path of ['/sql', `/${wrong}/sql`, '//sql', `/${token}x/sql`]) {
      const reply = await post(remote, {}, `${base}${path}`);
      expect(reply.status).toBe(401);
      expect(JSON.stringify(reply.body)).not.toContain(token);
    }
    for (const path of ['/v2', `/${wrong}/v2`]) {
      await expect(WireClient.open(`127.0.0.1:${remote.port}${path}`)).rejects.toThrow(/401/);
    }
  });

  it('can require the token on loopback too, for a machine shared with other users', async () => {
    const local = await createNeonLocal({ databaseUrl: DATABASE_URL, allowRemote: true });
    try {
      expect(local.host).toBe('127.0.0.1');
      expect((await post(local, {}, `http://127.0.0.1:${local.port}/sql`)).status).toBe(401);
      expect((await post(local)).body).toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      await local.close();
    }
  });

  it('serve the driver configured with the settings that carry the token', async () => {
    expect(remote.fetchEndpoint).toBe(`http://127.0.0.1:${remote.port}/${remote.accessToken}/sql`);
    try {
      neonConfig.fetchEndpoint = remote.neonConfig.fetchEndpoint;
      expect(await neon(remote.connectionString())`SELECT 2 AS ok`).toEqual([{ ok: 2 }]);
    } finally {
      configureNeonDriver();
    }
    const client = new Client({ connectionString: remote.connectionString() });
    Object.assign(client.neonConfig, remote.neonConfig);
    await client.connect();
    expect((await client.query('SELECT 3 AS ok')).rows).toEqual([{ ok: 3 }]);
    await client.end();
  });
});
