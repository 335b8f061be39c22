/**
 * POST /api/orders over Neon's HTTP driver: the order and its confirmation job are written in
 * ONE non-interactive transaction (`sql.transaction([...])`), so either both exist or neither.
 * Works on the Edge and Node runtimes.
 */

import { neon } from '@neondatabase/serverless';
import { createClient, ValidationError } from 'eddy';
import { neonHttp, neonInsert } from 'eddy/neon-http';
import { orderInput, sendOrderConfirmation } from '../../../jobs';

const sql = neon(process.env.DATABASE_URL ?? 'postgres://localhost/app');
const eddy = createClient({ driver: neonHttp(sql), kinds: [sendOrderConfirmation] });

export async function POST(request: Request): Promise<Response> {
  const parsed = orderInput.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) return Response.json({ error: parsed.error.issues }, { status: 400 });
  const { email, total } = parsed.data;
  // A batch cannot feed one statement's result into the next, so the id is made here.
  const orderId = crypto.randomUUID();

  let prepared: Awaited<ReturnType<typeof eddy.prepareInsertMany>>;
  try {
    prepared = await eddy.prepareInsertMany([
      { kind: sendOrderConfirmation, args: { orderId, email } },
    ]);
  } catch (error) {
    if (error instanceof ValidationError)
      return Response.json({ error: error.message }, { status: 400 });
    throw error;
  }
  const enqueue = neonInsert(sql, prepared);
  const [, jobResult] = await sql.transaction([
    sql`INSERT INTO orders (id, email, total) VALUES (${orderId}, ${email}, ${total})`,
    enqueue.query,
  ]);
  const [inserted] = enqueue.read(jobResult);
  return Response.json({ orderId, jobId: inserted?.job.id.toString() }, { status: 201 });
}
