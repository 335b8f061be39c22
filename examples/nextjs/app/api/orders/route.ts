/**
 * POST /api/orders over Neon's HTTP driver, on the Edge runtime: the order and its confirmation
 * job are written in ONE non-interactive transaction (`sql.transaction([...])`), so either both
 * exist or neither. The same code runs on the Node runtime.
 */

import { createClient, isValidationError } from 'eddy';
import { neonHttp, neonInsert } from 'eddy/neon-http';
import { sql } from '../../../db';
import { orderInput, sendOrderConfirmation } from '../../../jobs';

export const runtime = 'edge';

export async function POST(request: Request): Promise<Response> {
  const parsed = orderInput.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) return Response.json({ error: parsed.error.issues }, { status: 400 });
  const { email, total } = parsed.data;
  // A batch cannot feed one statement's result into the next, so the id is made here.
  const orderId = crypto.randomUUID();

  const db = sql();
  const eddy = createClient({ driver: neonHttp(db), kinds: [sendOrderConfirmation] });
  let prepared: Awaited<ReturnType<typeof eddy.prepareInsertMany>>;
  try {
    prepared = await eddy.prepareInsertMany([
      { kind: sendOrderConfirmation, args: { orderId, email } },
    ]);
  } catch (error) {
    if (isValidationError(error)) return Response.json({ error: error.message }, { status: 400 });
    throw error;
  }
  const enqueue = neonInsert(db, prepared);
  const [, jobResult] = await db.transaction([
    db`INSERT INTO orders (id, email, total) VALUES (${orderId}, ${email}, ${total})`,
    enqueue.query,
  ]);
  const [inserted] = enqueue.read(jobResult);
  // job.id is a bigint, which JSON cannot carry: send it as a string.
  return Response.json({ orderId, jobId: inserted?.job.id.toString() }, { status: 201 });
}
