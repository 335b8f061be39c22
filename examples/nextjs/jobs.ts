/**
 * Job kinds shared by the route handlers (producers) and the workers. Producers import only
 * this module — never worker code.
 */

import { defineJobKind } from 'eddy';
import { z } from 'zod';

export const sendOrderConfirmation = defineJobKind({
  kind: 'send_order_confirmation',
  args: z.object({ orderId: z.string().uuid(), email: z.string().email() }),
  queue: 'email',
  maxAttempts: 10,
  // One confirmation per order, however often the client retries the request.
  unique: { byArgs: ['orderId'] },
});

export type SendOrderConfirmation = typeof sendOrderConfirmation;

export const orderInput = z.object({ email: z.string().email(), total: z.number().positive() });
