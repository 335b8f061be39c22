/**
 * A PostgreSQL server as the upstream, through node-postgres (loaded only when a `databaseUrl` is
 * given, so the embedded PGlite works without `pg`). Host and port are fixed by the URL; user,
 * password and database come from each request, and the server authenticates every one of them.
 */

import { connect as tcpConnect } from 'node:net';
import pg from 'pg';
import {
  type Credentials,
  ServerError,
  type SqlResult,
  type SqlSession,
  type Upstream,
  UpstreamError,
} from './upstream.js';

/** Fields of a Postgres error, named as the driver's `NeonDbError` names them. */
const ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

// Every column as the server's text; conversions (if asked for) happen in json-values.ts.
const rawText = (value: string) => value;
const RAW_TYPES = { getTypeParser: () => rawText };

/** A client asked for a password-protected session without sending a password. */
class NoPassword extends Error {}

function serverError(error: pg.DatabaseError): ServerError {
  const fields: Record<string, string | undefined> = {};
  for (const field of ERROR_FIELDS) fields[field] = error[field];
  return new ServerError(error.message, fields);
}

export function postgresUpstream(databaseUrl: string): Upstream {
  const url = new URL(databaseUrl);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new TypeError(`databaseUrl must be a postgres:// URL, got ${url.protocol}//…`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(url.port || 5432);
  const label = `PostgreSQL at ${host}:${port}`;
  const defaults: Credentials = {
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    options: url.searchParams.get('options') ?? undefined,
  };

  async function open(credentials: Credentials): Promise<SqlSession> {
    const client = new pg.Client({
      host,
      port,
      user: credentials.user,
      // Only what the client sent. A function also keeps node-postgres from falling back to
      // $PGPASSWORD or ~/.pgpass, which would lend the endpoint's secrets to any caller.
      password: () => {
        if (credentials.password === undefined) throw new NoPassword();
        return credentials.password;
      },
      database: credentials.database,
      options: credentials.options,
      application_name: 'eddy-neon-local',
      connectionTimeoutMillis: 10_000,
    });
    let lost = false;
    // A connection the server drops must not crash the process; the next use reports it.
    client.on('error', () => {
      lost = true;
    });
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      if (error instanceof NoPassword) {
        throw new ServerError(
          `password authentication failed for user "${credentials.user}": the connection string has no password`,
          { severity: 'FATAL', code: '28P01' },
        );
      }
      if (error instanceof pg.DatabaseError) throw serverError(error);
      throw new UpstreamError(`cannot reach ${label}: ${(error as Error).message}`);
    }
    return {
      get reusable() {
        return !lost && client.getTransactionStatus() === 'I';
      },
      async run(text, params) {
        // Extended protocol even without parameters: one statement per query, as on Neon.
        const config = { text, values: params, rowMode: 'array', types: RAW_TYPES };
        try {
          const result = await client.query({ ...config, queryMode: 'extended' } as never);
          const { fields, rows, command, rowCount } = result as pg.QueryResult;
          return { fields, rows, command, rowCount } as unknown as SqlResult;
        } catch (error) {
          if (error instanceof pg.DatabaseError) throw serverError(error);
          lost = true;
          throw new UpstreamError(`lost the connection to ${label}: ${(error as Error).message}`);
        }
      },
      close: () => client.end().catch(() => undefined),
    };
  }

  return {
    label,
    defaults,
    open,
    connect: () => tcpConnect({ host, port }),
    async close() {},
  };
}
