import { describe, expect, it } from 'vitest';
import { isRawJson } from '../insert/json-args.js';
import { filterOf, filterQuery, readFilterForm } from './filter-form.js';

describe('readFilterForm', () => {
  it('reads every filter of jobs.list from the form, lists by comma, times in UTC', () => {
    const form = readFilterForm(
      new URLSearchParams(
        'id=1, 2&state=discarded&state=retryable&kind=a,b&queue=email&tag=x,y&priority=1&priority=3' +
          '&args={"user_id":12345678901234567890}&created_from=2026-01-02T03:04&finalized_to=2026-01-03T00:00:00Z' +
          '&order_by=finalized_at&order=asc&limit=50&cursor=abc',
      ),
    );
    expect(form.problems).toEqual([]);
    const { args, ...rest } = form.options;
    expect(rest).toEqual({
      id: ['1', '2'],
      state: ['discarded', 'retryable'],
      kind: ['a', 'b'],
      queue: 'email',
      tag: ['x', 'y'],
      priority: [1, 3],
      createdAt: { from: new Date('2026-01-02T03:04:00Z') },
      finalizedAt: { to: new Date('2026-01-03T00:00:00Z') },
      orderBy: 'finalizedAt',
      order: 'asc',
      limit: 50,
      cursor: 'abc',
    });
    // The fragment's text is kept, so an int8 beyond 2^53 reaches the database exactly.
    expect(isRawJson(args)).toBe(true);
  });

  it('names each field it cannot read, and reads nothing then', () => {
    const form = readFilterForm(new URLSearchParams('args={nope&created_to=yesterday&priority=x'));
    expect(form.problems.map((p) => p.field)).toEqual(['priority', 'args', 'created_to']);
  });

  it('writes the same filter back, the cursor only when asked', () => {
    const params = new URLSearchParams('state=running&kind=a&cursor=zz&refresh=1&done=retry');
    expect(filterQuery(params)).toBe('?state=running&kind=a&refresh=1');
    expect(filterQuery(params, { cursor: 'next', refresh: undefined })).toBe(
      '?state=running&kind=a&cursor=next',
    );
    expect(filterOf(readFilterForm(params).options)).toEqual({ state: 'running', kind: 'a' });
  });
});
