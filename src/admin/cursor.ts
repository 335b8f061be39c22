/**
 * Job-list cursors: opaque to callers (base64url of a small JSON document), they carry the last
 * job's id and, in a time order, its time as exact UTC text (microseconds: a JavaScript Date
 * would round it and skip or repeat jobs), with the order they belong to.
 */

import { invalid } from '../errors.js';
import type { Direction, ListOrder } from '../ops/job-list.js';

export interface CursorPosition {
  id: bigint;
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, or null in id order. */
  time: string | null;
}

interface CursorDocument {
  v: 1;
  o: ListOrder;
  d: Direction;
  id: string;
  t: string | null;
}

const ORDERS: readonly ListOrder[] = ['id', 'finalized_at', 'scheduled_at'];
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function toBase64Url(text: string): string {
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/');
  return atob(padded + '='.repeat((4 - (padded.length % 4)) % 4));
}

/** A cursor for the position, in this order. */
export function encodeCursor(order: ListOrder, direction: Direction, at: CursorPosition): string {
  const doc: CursorDocument = { v: 1, o: order, d: direction, id: at.id.toString(), t: at.time };
  return toBase64Url(JSON.stringify(doc));
}

/**
 * Reads a cursor a listing in this order returned; anything else is a `ValidationError` naming
 * `cursor` (a malformed one, or one from a listing in another order).
 */
export function decodeCursor(
  cursor: unknown,
  order: ListOrder,
  direction: Direction,
  where: string,
): CursorPosition {
  const bad = (why: string): never =>
    invalid('cursor', `${why}; pass the nextCursor of a page, or none to start again`, where);
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 512)
    bad('must be a cursor string');
  if (!BASE64URL.test(cursor as string)) bad('is not a cursor Eddy made');
  let doc: Partial<CursorDocument>;
  try {
    doc = JSON.parse(fromBase64Url(cursor as string)) as Partial<CursorDocument>;
  } catch {
    return bad('is not a cursor Eddy made');
  }
  if (
    typeof doc !== 'object' ||
    doc === null ||
    doc.v !== 1 ||
    !ORDERS.includes(doc.o as ListOrder) ||
    (doc.d !== 'asc' && doc.d !== 'desc') ||
    typeof doc.id !== 'string' ||
    !/^[1-9]\d{0,18}$/.test(doc.id) ||
    !(doc.o === 'id' ? doc.t === null : typeof doc.t === 'string' && TIME.test(doc.t))
  )
    return bad('is not a cursor Eddy made');
  if (doc.o !== order || doc.d !== direction)
    bad(`belongs to a listing ordered by ${doc.o} ${doc.d}, not ${order} ${direction}`);
  return { id: BigInt(doc.id), time: doc.t ?? null };
}
