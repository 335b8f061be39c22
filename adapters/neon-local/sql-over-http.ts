/**
 * Neon's SQL-over-HTTP protocol, as `@neondatabase/serverless`'s `neon()` speaks it.
 *
 * `POST /sql` with `{query, params}` runs one statement (extended protocol, so one statement per
 * query, like Neon); `{queries: [...]}` runs them all in one transaction whose isolation level,
 * read-only and deferrable modes come from the `Neon-Batch-*` headers. The client's identity is
 * the `Neon-Connection-String` header; its user, password and database are used, its host never
 * is. Postgres errors come back as HTTP 400 with every field Postgres sent (the driver copies them
 * onto its `NeonDbError`), requests the endpoint cannot understand as 400 with a message, an
 * upstream that cannot be reached as 502, and a request that found no free upstream connection
 * in time as 503.
 */

import type { IncomingMessage } from 'node:http';
import { type SessionPool, TooManyConnections } from './connections.js';
import { paramToText, textToJson } from './json-values.js';
import {
  type Credentials,
  ServerError,
  type SqlResult,
  type SqlSession,
  type Upstream,
  UpstreamError,
} from './upstream.js';

/** A reply: status, JSON body and extra headers. */
export interface HttpReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** A failure the endpoint reports itself (bad request, unreachable upstream). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Statement {
  readonly query: string;
  readonly params: (string | null)[];
  readonly arrayMode: boolean | undefined;
}

const ISOLATION_LEVELS: Record<string, string> = {
  Serializable: 'SERIALIZABLE',
  RepeatableRead: 'REPEATABLE READ',
  ReadCommitted: 'READ COMMITTED',
  ReadUncommitted: 'READ UNCOMMITTED',
};

/** Handles one `POST /sql`. Never throws: every failure becomes a reply. */
export async function handleSql(
  request: IncomingMessage,
  upstream: Upstream,
  sessions: SessionPool,
  maxBodyBytes: number,
): Promise<HttpReply> {
  try {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const credentials = parseConnectionString(header('neon-connection-string'));
    const rawTextOutput = header('neon-raw-text-output') === 'true';
    const arrayMode = header('neon-array-mode') === 'true';
    const isolationHeader = header('neon-batch-isolation-level');
    const isolation = isolationHeader === undefined ? undefined : ISOLATION_LEVELS[isolationHeader];
    if (isolationHeader !== undefined && !isolation) {
      throw new HttpError(
        400,
        `invalid Neon-Batch-Isolation-Level '${isolationHeader}'; use one of ${Object.keys(ISOLATION_LEVELS).join(', ')}`,
      );
    }
    const readOnly = header('neon-batch-read-only') === 'true';
    const deferrable = header('neon-batch-deferrable') === 'true';
    const payload = parsePayload(await readBody(request, maxBodyBytes));
    const shape = (result: SqlResult, statement: Statement) =>
      resultJson(result, statement.arrayMode ?? arrayMode, rawTextOutput);

    if (!Array.isArray(payload)) {
      const result = await withSession(sessions, credentials, (session) =>
        session.run(payload.query, payload.params),
      );
      return { status: 200, body: shape(result, payload) };
    }
    let begin = 'BEGIN';
    if (isolation) begin += ` ISOLATION LEVEL ${isolation}`;
    if (readOnly) begin += ' READ ONLY';
    if (deferrable) begin += ' DEFERRABLE';
    const results = await withSession(sessions, credentials, async (session) => {
      await session.run(begin, []);
      try {
        const all: SqlResult[] = [];
        for (const statement of payload)
          all.push(await session.run(statement.query, statement.params));
        await session.run('COMMIT', []);
        return all;
      } catch (error) {
        await session.run('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
    });
    // Like Neon, echo the transaction modes the batch ran with.
    const headers: Record<string, string> = {};
    if (isolationHeader) headers['Neon-Batch-Isolation-Level'] = isolationHeader;
    if (readOnly) headers['Neon-Batch-Read-Only'] = 'true';
    if (deferrable) headers['Neon-Batch-Deferrable'] = 'true';
    return {
      status: 200,
      headers,
      body: { results: results.map((result, i) => shape(result, payload[i] as Statement)) },
    };
  } catch (error) {
    return errorReply(error, upstream);
  }
}

function parseConnectionString(value: string | undefined): Credentials {
  if (!value) {
    throw new HttpError(
      400,
      'missing Neon-Connection-String header: send the postgres:// connection string to run as',
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HttpError(400, 'Neon-Connection-String is not a valid URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new HttpError(400, 'Neon-Connection-String must be a postgres:// or postgresql:// URL');
  }
  const user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!user || !database) {
    throw new HttpError(400, 'Neon-Connection-String must name a user and a database');
  }
  return {
    user,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database,
    options: url.searchParams.get('options') ?? undefined,
  };
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (size: number | string) =>
    new HttpError(400, `request body of ${size} bytes exceeds the limit of ${limit} bytes`);
  const declared = Number(request.headers['content-length']);
  const chunks: Buffer[] = [];
  let size = 0;
  // Over the limit, the rest is read and dropped so the client still gets its 400; a body far
  // beyond it is cut off.
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit && !(declared > limit)) chunks.push(chunk);
    else if (size > limit * 4 + 1_048_576) {
      request.destroy();
      break;
    }
  }
  if (declared > limit || size > limit) throw tooLarge(Math.max(size, declared || 0));
  return Buffer.concat(chunks);
}

/** The request body as one statement, or a batch (an array). */
function parsePayload(body: Buffer): Statement | Statement[] {
  if (body.length === 0) {
    throw new HttpError(
      400,
      'empty request body: send {"query": "...", "params": [...]} or {"queries": [...]}',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(json)) {
    throw new HttpError(400, 'request body must be a JSON object with "query" or "queries"');
  }
  if ('query' in json && 'queries' in json) {
    throw new HttpError(400, 'request body has both "query" and "queries"; send one');
  }
  if ('queries' in json) {
    if (!Array.isArray(json.queries)) throw new HttpError(400, '"queries" must be an array');
    return json.queries.map((q, i) => parseStatement(q, `queries[${i}]`));
  }
  return parseStatement(json, 'request body');
}

function parseStatement(value: unknown, where: string): Statement {
  if (!isObject(value) || typeof value.query !== 'string') {
    throw new HttpError(400, `${where} must be an object with a string "query"`);
  }
  const { params = [], arrayMode } = value;
  if (!Array.isArray(params)) throw new HttpError(400, `${where}: "params" must be an array`);
  if (arrayMode !== undefined && typeof arrayMode !== 'boolean') {
    throw new HttpError(400, `${where}: "arrayMode" must be a boolean`);
  }
  return { query: value.query, params: params.map(paramToText), arrayMode };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Runs `fn` on a pooled session; one left inside a transaction is closed, not reused. */
async function withSession<T>(
  sessions: SessionPool,
  credentials: Credentials,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  const lease = await sessions.lease(credentials);
  try {
    return await fn(lease.session);
  } finally {
    // A statement like BEGIN leaves the session in a transaction that no later request could end.
    lease.done();
  }
}

function resultJson(result: SqlResult, arrayMode: boolean, rawTextOutput: boolean) {
  const fields = result.fields.map((f) => ({
    name: f.name,
    dataTypeID: f.dataTypeID,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: 'text',
  }));
  const value = (text: string | null, i: number) =>
    text === null || rawTextOutput ? text : textToJson(text, fields[i]?.dataTypeID ?? 0);
  const rows = result.rows.map((row) =>
    arrayMode
      ? row.map(value)
      : Object.fromEntries(fields.map((f, i) => [f.name, value(row[i] ?? null, i)])),
  );
  return {
    fields,
    command: result.command ?? '',
    rowCount: result.rowCount,
    rows,
    rowAsArray: arrayMode,
  };
}

function errorReply(error: unknown, upstream: Upstream): HttpReply {
  if (error instanceof HttpError) return { status: error.status, body: { message: error.message } };
  if (error instanceof ServerError) {
    const body: Record<string, unknown> = { message: error.message };
    for (const [field, value] of Object.entries(error.fields)) {
      if (value !== undefined) body[field] = value;
    }
    return { status: 400, body };
  }
  if (error instanceof UpstreamError) return { status: 502, body: { message: error.message } };
  if (error instanceof TooManyConnections) {
    return { status: 503, headers: { 'Retry-After': '1' }, body: { message: error.message } };
  }
  // Anything else is a fault in the endpoint itself.
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { message: `neon-local (${upstream.label}): ${message}` } };
}
