import { describe, expect, it } from 'vitest';
import { bulkFlash, flashMessage, jobFlash, queueFlash, withFlash } from './flash.js';

const say = (path: string) => flashMessage(new URL(path, 'http://x').searchParams);

describe('flash', () => {
  it('carries what an action did to the page it returns to, replacing an earlier one', () => {
    const path = withFlash(
      '/admin/jobs?state=discarded&done=delete&n=3',
      jobFlash('retry', 42n, 'retried'),
    );
    expect(path).toBe('/admin/jobs?state=discarded&done=retry&id=42&outcome=retried');
    expect(say(path)).toBe('Job 42: retried; it is available now.');
  });

  it('says how many jobs a bulk action changed, left alone, and whether more match', () => {
    expect(say(withFlash('/jobs', bulkFlash('cancel', 5, 2, true)))).toBe(
      'Cancelled 5 jobs. 2 jobs left alone (running, already finished or not found). More jobs match: run it again for the next ones.',
    );
    expect(say(withFlash('/jobs', bulkFlash('delete', 1, 0, false)))).toBe('Deleted 1 job.');
    expect(say(withFlash('/queues', queueFlash('pause', '*')))).toBe('Paused every queue.');
  });

  it('reads back only known words and numbers, so a crafted link says nothing new', () => {
    expect(say('/jobs?done=retry&id=42&outcome=<script>')).toBeUndefined();
    expect(say('/jobs?done=hack&n=1')).toBeUndefined();
    expect(say('/jobs?done=retry&n=lots')).toBeUndefined();
    expect(say('/queues?done=pause&queue=Your account is closed')).toBeUndefined();
  });
});
