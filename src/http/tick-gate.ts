/**
 * At most one tick in flight and one pending per gate. A trigger that arrives while a tick runs
 * queues one to start when it ends (it may find new jobs); any trigger after that is coalesced
 * into the pending one and starts nothing, however many arrive. So replayed or flooded pushes
 * cost at most two ticks at a time per isolate or process.
 *
 * Each entry says until when its invocation can be alive (its hard deadline). A platform may
 * kill an invocation without settling its promises (a Worker past its `waitUntil` time, a client
 * gone); past that time the gate stops waiting for it, so a dead tick cannot block it for good.
 */

export type GateEntry<T> =
  | { state: 'started' | 'queued'; result: Promise<T> }
  | { state: 'coalesced'; result: Promise<unknown> };

export interface TickGate {
  /**
   * Runs `start` now if nothing runs, after the running tick if none is pending, or not at all.
   * `until` (epoch ms) is when the caller's invocation is certainly over. A queued `start` runs
   * in a continuation this caller created, so on Workers (which deliver a continuation to the
   * request that created it) its I/O belongs to the request that queued it.
   */
  enter<T>(start: () => Promise<T>, until: number): GateEntry<T>;
}

interface Slot {
  until: number;
  settled: boolean;
  done: Promise<void>;
}

/** Resolves when `slot` settles, or at its `until` if it never does. */
function over(slot: Slot): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, slot.until - Date.now()));
  });
  return Promise.race([slot.done, expired]).finally(() => clearTimeout(timer));
}

export function createTickGate(): TickGate {
  let running: Slot | undefined;
  let pending: { until: number; result: Promise<unknown> } | undefined;
  const run = <T>(start: () => Promise<T>, until: number): Promise<T> => {
    // Started from a promise, so a `start` that throws rejects instead of breaking the gate.
    const tick = Promise.resolve().then(start);
    const slot: Slot = { until, settled: false, done: Promise.resolve() };
    const settle = () => {
      slot.settled = true;
    };
    slot.done = tick.then(settle, settle);
    running = slot;
    return tick;
  };
  return {
    enter<T>(start: () => Promise<T>, until: number): GateEntry<T> {
      const now = Date.now();
      if (running && (running.settled || running.until <= now)) running = undefined;
      // Past its invocation's end a queued tick will never start: stop coalescing into it.
      if (pending && pending.until <= now) pending = undefined;
      if (pending) return { state: 'coalesced', result: pending.result };
      if (!running) return { state: 'started', result: run(start, until) };
      const result = over(running).then(() => {
        if (pending?.result === result) pending = undefined;
        return run(start, until);
      });
      pending = { until, result };
      return { state: 'queued', result };
    },
  };
}
