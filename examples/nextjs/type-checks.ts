/**
 * Compile-time checks for the examples (never run): what `tsc` must refuse. Each
 * `@ts-expect-error` fails the type-check if the line ever stops being an error.
 */

import type { Client } from 'eddy';
import type { SendOrderConfirmation } from './jobs';

export function typeChecks(eddy: Client<[SendOrderConfirmation]>): void {
  const orderId = '6f1c2b1e-3d4a-4c5b-8e9f-0a1b2c3d4e5f';
  // @ts-expect-error -- unknown kind name
  void eddy.insert('send_order_confirmaton', { orderId, email: 'a@example.com' });
  // @ts-expect-error -- args miss a required field
  void eddy.insert('send_order_confirmation', { orderId });
  // @ts-expect-error -- a field of the wrong type
  void eddy.insert('send_order_confirmation', { orderId: 7, email: 'a@example.com' });
  void eddy.insert('send_order_confirmation', { orderId, email: 'a@example.com' });
}
