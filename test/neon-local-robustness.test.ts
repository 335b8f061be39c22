/**
 * Bad input never takes the local endpoint down: malformed requests get a 400 with a message,
 * unknown paths a 404, an unreachable upstream a 502, garbage on a WebSocket a FATAL error and a
 * closed socket, and after all of it the endpoint still serves the driver.
 */

import { request as httpRequest } from 'node:http';
import { createServer, connect as tcpConnect } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { Client, neon } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { PROTOCOL_3, startupMessage } from '../adapters/neon-local/wire.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import { DATABASE_URL } from './support/postgres.js';
import { errorText, WireClient } from './support/wire-client.js';

let postgres: StartedNeonLocal;
let pgliteDb: PGlite;
let pglite: StartedNeonLocal;

beforeAll(async () => {
  postgres = await startNeonLocal();
  pgliteDb = await PGlite.create();
  pglite = await startNeonLocal({ pglite: pgliteDb });
});

afterAll(async () => {
  await postgres?.close();
  await pglite?.close();
  await pgliteDb?.close();
});

/** Both endpoints still answer the driver, over HTTP and over WebSockets. */
async function expectStillServing(): Promise<void> {
  for (const endpoint of [postgres, pglite]) {
    expect(await neon(endpoint.neonUrl())`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
    const client = new Client({ connectionString: endpoint.neonUrl() });
    await client.connect();
    expect((await client.query('SELECT 2 AS ok')).rows).toEqual([{ ok: 2 }]);
    await client.end();
  }
}

async function post(
  body: string,
  headers: Record<string, string> = { 'Neon-Connection-String': '' },
  path = '/sql',
) {
  const url = new URL(postgres.local.fetchEndpoint);
  url.pathname = path;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, message: (JSON.parse(text) as { message: string }).message };
}

describe('SQL over HTTP refuses bad requests with a clear 400', () => {
  const withConnection = () => ({ 'Neon-Connection-String': postgres.neonUrl() });
  const cases: [string, string, Record<string, string> | undefined, RegExp][] = [
    ['malformed JSON', '{"query": ', undefined, /not valid JSON/],
    ['an empty body', '', undefined, /empty request body/],
    ['a JSON array body', '[1, 2]', undefined, /JSON object/],
    ['a query that is not a string', '{"query": 42}', undefined, /string "query"/],
    ['params that are not an array', '{"query": "SELECT 1", "params": "x"}', undefined, /"params"/],
    ['a non-boolean arrayMode', '{"query": "SELECT 1", "arrayMode": 1}', undefined, /arrayMode/],
    ['both query and queries', '{"query": "SELECT 1", "queries": []}', undefined, /both/],
    ['queries that are not an array', '{"queries": {}}', undefined, /"queries" must be an array/],
    ['a bad batch entry', '{"queries": [{"query": "SELECT 1"}, 7]}', undefined, /queries\[1\]/],
  ];
  for (const [what, body, headers, message] of cases) {
    it(`refuses ${what}`, async () => {
      const reply = await post(body, headers ?? withConnection());
      expect(reply.status).toBe(400);
      expect(reply.message).toMatch(message);
    });
  }

  it('refuses a request without Neon-Connection-String', async () => {
    const reply = await post('{"query": "SELECT 1"}', {});
    expect(reply).toEqual({
      status: 400,
      message: expect.stringMatching(/Neon-Connection-String/),
    });
  });

  it('refuses connection strings it cannot use', async () => {
    for (const bad of ['not a url', 'mysql://root@localhost/db', 'postgres://localhost']) {
      const reply = await post('{"query": "SELECT 1"}', { 'Neon-Connection-String': bad });
      expect(reply.status).toBe(400);
      expect(reply.message).toMatch(/Neon-Connection-String/);
    }
  });

  it('refuses an unknown isolation level', async () => {
    const reply = await post('{"queries": []}', {
      ...withConnection(),
      'Neon-Batch-Isolation-Level': 'Chaos',
    });
    expect(reply.status).toBe(400);
    expect(reply.message).toMatch(/Neon-Batch-Isolation-Level 'Chaos'/);
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    const small = await createNeonLocal({ databaseUrl: DATABASE_URL, maxBodyBytes: 1024 });
    try {
      const big = JSON.stringify({ query: `SELECT '${'x'.repeat(4096)}'` });
      const declared = await fetch(small.fetchEndpoint, {
        method: 'POST',
        headers: { 'Neon-Connection-String': small.connectionString() },
        body: big,
      });
      expect(declared.status).toBe(400);
      expect(((await declared.json()) as { message: string }).message).toMatch(
        /exceeds the limit of 1024 bytes/,
      );

      const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(small.fetchEndpoint, {
          method: 'POST',
          headers: { 'Neon-Connection-String': small.connectionString() },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write(big.slice(i * 512, (i + 1) * 512));
        req.end(big.slice(4096));
      });
      expect(streamed.status).toBe(400);
      expect(streamed.body).toMatch(/exceeds the limit/);
      // Bodies within the limit still work.
      expect(await neon(small.connectionString())`SELECT 3 AS ok`).toEqual([{ ok: 3 }]);
    } finally {
      await small.close();
    }
  });
});

describe('HTTP routing', () => {
  it('answers an unknown path with 404 and a wrong method with 405', async () => {
    expect((await post('{}', {}, '/nope')).status).toBe(404);
    const get = await fetch(postgres.local.fetchEndpoint);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('survives bytes that are not HTTP at all', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = tcpConnect(postgres.local.port, '127.0.0.1');
      let data = '';
      socket.on('data', (c) => {
        data += c;
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
      socket.end('\x00\x01\x02 GARBAGE\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    await expectStillServing();
  });
});

describe('an unreachable upstream', () => {
  let dead: NeonLocal;

  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    dead = await createNeonLocal({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/test` });
  });
  afterAll(() => dead.close());

  it('answers SQL over HTTP with 502', async () => {
    const response = await fetch(dead.fetchEndpoint, {
      method: 'POST',
      headers: { 'Neon-Connection-String': dead.connectionString() },
      body: '{"query": "SELECT 1"}',
    });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { message: string }).message).toMatch(
      /cannot reach PostgreSQL at 127\.0\.0\.1/,
    );
    await expect(neon(dead.connectionString())`SELECT 1`).rejects.toThrow(/HTTP status 502/);
  });

  it('fails a WebSocket connection with a FATAL error that says why', async () => {
    const client = new Client({ connectionString: dead.connectionString() });
    await expect(client.connect()).rejects.toThrow(/cannot reach PostgreSQL/);
  });
});

describe('an upstream that does not speak PostgreSQL', () => {
  let confused: NeonLocal;

  beforeAll(async () => {
    // Another endpoint's HTTP port: it answers the startup packet with an HTTP error page.
    confused = await createNeonLocal({
      databaseUrl: `postgres://postgres@127.0.0.1:${postgres.local.port}/test`,
    });
  });
  afterAll(() => confused.close());

  it('answers with 502 over HTTP and a FATAL error over WebSockets, and keeps serving', async () => {
    await expect(neon(confused.connectionString())`SELECT 1`).rejects.toThrow(/HTTP status 502/);
    const client = new Client({ connectionString: confused.connectionString() });
    await expect(client.connect()).rejects.toThrow(/invalid message length/);
    await expectStillServing();
  });
});

describe('the WebSocket proxy survives garbage', () => {
  it('refuses upgrades on unknown paths and from foreign origins', async () => {
    const wsProxy = postgres.local.wsProxy;
    await expect(WireClient.open(wsProxy.replace('/v2', '/nope'))).rejects.toThrow(/404/);
    await expect(WireClient.open(wsProxy, { Origin: 'https://evil.example' })).rejects.toThrow(
      /403/,
    );
  });

  for (const which of ['postgres', 'pglite'] as const) {
    const endpoint = () => (which === 'postgres' ? postgres : pglite);

    it(`closes on a text frame (${which})`, async () => {
      const client = await WireClient.open(endpoint().local.wsProxy);
      client.send('SELECT 1');
      expect(await client.closed).toBe(1003);
    });

    it(`answers a malformed startup packet with FATAL 08P01 (${which})`, async () => {
      for (const garbage of [
        Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]), // absurd length
        Buffer.from([0, 0, 0, 12, 0, 9, 0, 0, 1, 2, 3, 4]), // protocol 9.0
        startupMessage(PROTOCOL_3, new Map([['database', 'x']])), // no user
      ]) {
        const client = await WireClient.open(endpoint().local.wsProxy);
        client.send(garbage);
        const [error] = await client.untilReady();
        expect(error?.type).toBe('E');
        expect(errorText(error as never)).toMatch(/^08P01 /);
        expect(await client.closed).toBe(1002);
      }
    });

    it(`ends a session that sends an invalid message, and keeps serving (${which})`, async () => {
      for (const garbage of [
        Buffer.from('z\0\0\0\x07abc'), // unknown message type
        Buffer.from([0x51, 0, 0, 0, 2]), // length below the minimum
        Buffer.from('p\0\0\0\x0bsecret\0'), // a password in the middle of a session
      ]) {
        const client = await WireClient.connect(endpoint().local.wsProxy);
        expect(await client.query('SELECT 1')).toEqual(['1']);
        client.send(garbage);
        const reply = await client.untilReady();
        // PGlite gets our FATAL; PostgreSQL answers with its own, or (for a bad length) just hangs up.
        if (which === 'pglite') expect(errorText(reply[0] as never)).toMatch(/^08P01 /);
        expect(reply.filter((m) => m.type !== 'E')).toEqual([]);
        await client.closed;
      }
      await expectStillServing();
    });

    it(`drops an unsolicited password right after startup, as the pipelining driver sends (${which})`, async () => {
      const client = await WireClient.connect(endpoint().local.wsProxy);
      client.send(Buffer.from('p\0\0\0\x0bsecret\0'));
      expect(await client.query('SELECT 5')).toEqual(['5']);
      client.terminate();
    });

    it(`survives broken WebSocket framing (${which})`, async () => {
      const { port } = endpoint().local;
      const closed = await new Promise<boolean>((resolve) => {
        const socket = tcpConnect(port, '127.0.0.1', () => {
          socket.write(
            'GET /v2 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          );
          // An unmasked frame with a reserved opcode, then noise.
          setTimeout(() => socket.write(Buffer.from([0x8b, 0x05, 1, 2, 3, 4, 5, 0xff, 0xfe])), 50);
        });
        socket.on('data', () => undefined);
        socket.on('close', () => resolve(true));
        socket.on('error', () => resolve(true));
      });
      expect(closed).toBe(true);
      await expectStillServing();
    });
  }
});
