import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTickGate } from './tick-gate.js';

const never = () => new Promise<never>(() => undefined);

describe('createTickGate', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_767_225_600_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts one, queues one, coalesces the rest, and starts the queued one after the first', async () => {
    const gate = createTickGate();
    let finishFirst: (value: string) => void = () => undefined;
    const starts: string[] = [];
    const first = gate.enter(() => {
      starts.push('first');
      return new Promise<string>((resolve) => {
        finishFirst = resolve;
      });
    }, Date.now() + 60_000);
    const second = gate.enter(async () => {
      starts.push('second');
      return 'second';
    }, Date.now() + 60_000);
    const rest = Array.from({ length: 5 }, () =>
      gate.enter(async () => {
        starts.push('extra');
        return 'extra';
      }, Date.now() + 60_000),
    );
    expect([first.state, second.state, ...rest.map((e) => e.state)]).toEqual([
      'started',
      'queued',
      ...Array(5).fill('coalesced'),
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toEqual(['first']);
    finishFirst('first');
    expect(await second.result).toBe('second');
    expect(await rest[0]?.result).toBe('second');
    expect(starts).toEqual(['first', 'second']);
    // Idle again: the next one starts.
    expect(gate.enter(async () => 'next', Date.now() + 60_000).state).toBe('started');
  });

  it('stops waiting for a tick that never settles once its invocation is over', async () => {
    const gate = createTickGate();
    gate.enter(never, Date.now() + 10_000);
    let queuedRan = false;
    const queued = gate.enter(async () => {
      queuedRan = true;
    }, Date.now() + 60_000);
    expect(queued.state).toBe('queued');
    await vi.advanceTimersByTimeAsync(9_000);
    expect(queuedRan).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(queuedRan).toBe(true);
  });

  it('stops coalescing into a queued tick whose invocation ended before it could start', async () => {
    const gate = createTickGate();
    gate.enter(never, Date.now() + 60_000);
    // Queued by an invocation that is over in 5 s (a client that went away, say).
    expect(gate.enter(never, Date.now() + 5_000).state).toBe('queued');
    expect(gate.enter(never, Date.now() + 60_000).state).toBe('coalesced');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(gate.enter(never, Date.now() + 60_000).state).toBe('queued');
  });

  it('treats a start that throws as a failed tick, and carries on', async () => {
    const gate = createTickGate();
    const failed = gate.enter(() => {
      throw new Error('boom');
    }, Date.now() + 60_000);
    await expect(failed.result).rejects.toThrow('boom');
    expect(gate.enter(async () => 'ok', Date.now() + 60_000).state).toBe('started');
  });
});
