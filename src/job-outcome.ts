/**
 * How a worker says something other than "done" or "failed": throw one of these (or call
 * `ctx.snooze()` / `ctx.cancel()`, which throw them for you). They mirror River's JobSnooze and
 * JobCancel.
 */

/** Try again later without counting an attempt or an error. */
export class JobSnooze extends Error {
  override name = 'JobSnooze';
  constructor(readonly delayMs: number) {
    super(`snoozed for ${delayMs} ms`);
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `JobSnooze: delay must be a non-negative number of milliseconds (got ${delayMs})`,
      );
    }
  }
}

/** Stop for good: the job is cancelled, the reason recorded as its last error. */
export class JobCancel extends Error {
  override name = 'JobCancel';
  constructor(reason: string | Error = 'cancelled by worker') {
    super(typeof reason === 'string' ? reason : reason.message, {
      cause: typeof reason === 'string' ? undefined : reason,
    });
  }
}

/** Turns anything thrown into an error message and trace worth recording. */
export function describeThrown(thrown: unknown): { message: string; trace: string } {
  if (thrown instanceof Error) {
    return {
      message: `${thrown.name === 'Error' ? '' : `${thrown.name}: `}${thrown.message}`,
      trace: thrown.stack ?? '',
    };
  }
  if (typeof thrown === 'string') return { message: thrown, trace: '' };
  let rendered: string;
  try {
    rendered = JSON.stringify(thrown) ?? String(thrown);
  } catch {
    rendered = String(thrown);
  }
  return { message: `non-Error value thrown: ${rendered}`, trace: '' };
}
