/**
 * POST /api/orders-pool over Neon's WebSocket `Pool`, on the Node runtime: an interactive
 * transaction, so the job can use the id the database generated for the order.
 */

import { neonConfig, Pool } from '@neondatabase/serverless';
import { createClient } from 'eddy';
import { neonWebSocket } from 'eddy/neon-websocket';
import ws from 'ws';
import { databaseUrl } from '../../../db';
import { orderInput, sendOrderConfirmation } from '../../../jobs';

export const runtime = 'nodejs';

// Node before 22 has no global WebSocket: the driver then needs `ws`.
if (typeof WebSocket === 'undefined') neonConfig.webSocketConstructor = ws;

export async function POST(request: Request): Promise<Response> {
  const parsed = orderInput.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) return Response.json({ error: parsed.error.issues }, { status: 400 });

  // In serverless functions, a Pool lives only as long as the request.
  const pool = new Pool({ connectionString: databaseUrl() });
  const eddy = createClient({ driver: neonWebSocket(pool), kinds: [sendOrderConfirmation] });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(
      'INSERT INTO orders (id, email, total) VALUES (gen_random_uuid(), $1, $2) RETURNING id',
      [parsed.data.email, parsed.data.total],
    );
    const orderId = rows[0]?.id as string;
    const { job } = await eddy
      .with(neonWebSocket(client, { inTransaction: true }))
      .insert(sendOrderConfirmation, { orderId, email: parsed.data.email });
    await client.query('COMMIT');
    return Response.json({ orderId, jobId: job.id.toString() }, { status: 201 });
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
    await pool.end();
  }
}
