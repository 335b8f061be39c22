import { describe, expect, it } from 'vitest';
import type { Notification } from './driver.js';
import { guardHandlers, reconnectDelay, sharedChannels, waitAtMost } from './listening.js';

describe('guardHandlers', () => {
  it('delivers only the listened channels, an absent payload as empty', () => {
    const seen: Notification[] = [];
    const handlers = guardHandlers({ onNotification: (n) => seen.push(n) }, ['a.b']);
    handlers.notification('a.b', 'x');
    handlers.notification('A.B', 'not ours');
    handlers.notification('a.b', undefined);
    expect(seen).toEqual([
      { channel: 'a.b', payload: 'x' },
      { channel: 'a.b', payload: '' },
    ]);
  });

  it('drops what a handler throws, and calls nothing once closed', () => {
    const calls: string[] = [];
    const handlers = guardHandlers(
      {
        onNotification: ({ payload }) => {
          calls.push(payload);
          throw new Error('handler bug');
        },
        onListening: () => {
          calls.push('listening');
          throw new Error('handler bug');
        },
        onError: () => calls.push('error'),
      },
      ['c'],
    );
    expect(() => handlers.notification('c', '1')).not.toThrow();
    expect(() => handlers.listening()).not.toThrow();
    handlers.error(new Error('drop'));
    handlers.close();
    handlers.notification('c', '2');
    handlers.listening();
    handlers.error(new Error('drop'));
    expect(calls).toEqual(['1', 'listening', 'error']);
    expect(handlers.closed).toBe(true);
  });
});

describe('reconnectDelay', () => {
  it('starts near 100 ms and doubles to 5 s, drawn from the upper half of each step', () => {
    const low = (attempt: number) => reconnectDelay(attempt, () => 0);
    const high = (attempt: number) => reconnectDelay(attempt, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6].map(high)).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
    expect([0, 1, 2, 3, 6].map(low)).toEqual([50, 100, 200, 400, 2500]);
    expect(high(1_000)).toBe(5000);
    expect(reconnectDelay(0, () => 0.5)).toBe(75);
  });
});

describe('sharedChannels', () => {
  it('releases a channel only when the last listener on a session lets go of it', () => {
    const session = {};
    sharedChannels.add(session, ['a', 'b']);
    sharedChannels.add(session, ['b']);
    expect(sharedChannels.remove(session, ['a', 'b'])).toEqual(['a']);
    expect(sharedChannels.remove(session, ['b'])).toEqual(['b']);
    expect(sharedChannels.remove({}, ['c'])).toEqual(['c']);
  });
});

describe('waitAtMost', () => {
  it('resolves, never rejects, when the promise rejects', async () => {
    await expect(waitAtMost(Promise.reject(new Error('gone')), 60_000)).resolves.toBeUndefined();
  });
});
