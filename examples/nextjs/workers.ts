/**
 * The workers the tick route runs. Only the tick route imports this module; producers import the
 * kinds from ./jobs.
 */

import { defineWorker, type Worker } from 'eddy';
import { sendOrderConfirmation } from './jobs';

export const workers: Worker[] = [
  defineWorker(sendOrderConfirmation, async (job, ctx) => {
    // Call your mail API here, passing ctx.signal so a tick's deadline can stop it.
    ctx.signal.throwIfAborted();
    console.log(`order ${job.args.orderId}: confirmation sent to ${job.args.email}`);
  }),
];

/** Every queue the workers' kinds use (a kind's queue must be listed to be worked). */
export const queues = { default: {}, email: {} };
