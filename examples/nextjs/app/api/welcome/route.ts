/**
 * A producer that knows the job kind only by its *type*: `import type` brings in no code at all
 * (neither the schema nor any worker), yet the kind name and its args are checked at compile
 * time. The database and the workers validate the args at run time.
 */

import { createClient } from 'eddy';
import { neonHttp } from 'eddy/neon-http';
import { sql } from '../../../db';
import type { SendOrderConfirmation } from '../../../jobs';

export async function POST(request: Request): Promise<Response> {
  const { orderId, email } = (await request.json()) as { orderId: string; email: string };
  const eddy = createClient<[SendOrderConfirmation]>({ driver: neonHttp(sql()) });
  // A typo in the kind or a missing field fails `tsc` (see ../../../type-checks.ts).
  const { job } = await eddy.insert('send_order_confirmation', { orderId, email });
  return Response.json({ jobId: job.id.toString() }, { status: 202 });
}
