import { describe, expect, it } from 'vitest';
import { parseListenQuery, withoutNotifications } from './pglite-notifications.js';
import { message } from './wire.js';

describe('parseListenQuery', () => {
  it('reads LISTEN and UNLISTEN statements as Postgres names their channels', () => {
    expect(
      parseListenQuery('LISTEN "app.river_insert"; listen "Up""per;x" ;UNLISTEN Jobs'),
    ).toEqual([
      { unlisten: false, channel: 'app.river_insert' },
      { unlisten: false, channel: 'Up"per;x' },
      { unlisten: true, channel: 'jobs' },
    ]);
    expect(parseListenQuery('  UNLISTEN *;  ')).toEqual([{ unlisten: true, channel: '*' }]);
  });

  it('leaves any other query alone', () => {
    for (const sql of [
      'SELECT 1',
      'LISTEN a; SELECT 1',
      'LISTEN *',
      'LISTEN a b',
      'LISTEN "unterminated',
      'LISTEN ""',
      '-- LISTEN a',
      '',
    ])
      expect(parseListenQuery(sql), sql).toBeUndefined();
  });
});

describe('withoutNotifications', () => {
  const notification = message('A', Buffer.from('\0\0\0\x01ch\0payload\0'));
  const complete = message('C', Buffer.from('SELECT 1\0'));
  const ready = message('Z', Buffer.from('I'));

  it('drops NotificationResponse messages and keeps every other one, in order', () => {
    const bytes = Buffer.concat([complete, notification, ready, notification]);
    expect(withoutNotifications(bytes)).toEqual(Buffer.concat([complete, ready]));
  });

  it('returns bytes it cannot frame untouched', () => {
    const truncated = Buffer.concat([complete, notification.subarray(0, 6)]);
    expect(withoutNotifications(truncated)).toEqual(truncated);
  });
});
