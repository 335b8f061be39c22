/**
 * What an action did, carried to the page it returns to in the query string (POST, then 303 to
 * a GET, so a reload repeats nothing) and written out as a sentence. Only known words and
 * numbers are read back, so a crafted link can say nothing the dashboard would not.
 */

const ACTIONS = { retry: 'Retried', cancel: 'Cancelled', delete: 'Deleted' } as const;
type Action = keyof typeof ACTIONS;

/** Each outcome of the management API, as the sentence after "Job 42: ". */
const OUTCOMES: Record<string, string> = {
  retried: 'retried; it is available now',
  running: 'left alone: it is running',
  alreadyAvailable: 'left alone: it is already available',
  cancelled: 'cancelled',
  cancelRequested: 'cancel requested; it is running, and its runner stops it',
  alreadyFinalized: 'left alone: it had already finished',
  deleted: 'deleted',
  notFound: 'not found',
};

export type Flash = Record<string, string>;

/** The flash of one job's action. */
export function jobFlash(action: Action, id: bigint, outcome: string): Flash {
  return { done: action, id: id.toString(), outcome };
}

/** The flash of a bulk action: jobs acted on, left alone, and whether more match. */
export function bulkFlash(action: Action, acted: number, skipped: number, more: boolean): Flash {
  return {
    done: action,
    n: String(acted),
    ...(skipped > 0 ? { skipped: String(skipped) } : {}),
    ...(more ? { more: '1' } : {}),
  };
}

export function queueFlash(action: 'pause' | 'resume', queue: string): Flash {
  return { done: action, queue };
}

const FLASH_KEYS = ['done', 'id', 'outcome', 'n', 'skipped', 'more', 'queue'];

/** `path` (which may hold a query) with the flash's fields set, any earlier flash removed. */
export function withFlash(path: string, flash: Flash): string {
  const url = new URL(path, 'http://dashboard.invalid');
  for (const key of FLASH_KEYS) url.searchParams.delete(key);
  for (const [key, value] of Object.entries(flash)) url.searchParams.set(key, value);
  return `${url.pathname}${url.search}`;
}

const plural = (n: number, one: string) =>
  `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** The sentence a page's query string carries, if it carries one. */
export function flashMessage(params: URLSearchParams): string | undefined {
  const done = params.get('done') ?? '';
  if (done === 'pause' || done === 'resume') {
    const queue = params.get('queue');
    // A queue name River accepts (or `*`), so a crafted link names nothing else.
    if (!queue || !/^(\*|[a-z0-9][a-z0-9_|-]{0,127})$/.test(queue)) return undefined;
    return queue === '*'
      ? `${done === 'pause' ? 'Paused' : 'Resumed'} every queue.`
      : `${done === 'pause' ? 'Paused' : 'Resumed'} queue ${queue}.`;
  }
  if (!Object.hasOwn(ACTIONS, done)) return undefined;
  const id = params.get('id') ?? '';
  const outcome = params.get('outcome') ?? '';
  if (/^\d{1,19}$/.test(id) && Object.hasOwn(OUTCOMES, outcome))
    return `Job ${id}: ${OUTCOMES[outcome]}.`;
  const n = params.get('n') ?? '';
  if (!/^\d{1,6}$/.test(n)) return undefined;
  const skipped = /^\d{1,6}$/.test(params.get('skipped') ?? '') ? Number(params.get('skipped')) : 0;
  let message = `${ACTIONS[done as Action]} ${plural(Number(n), 'job')}.`;
  if (skipped > 0)
    message += ` ${plural(skipped, 'job')} left alone (running, already finished or not found).`;
  if (params.get('more') === '1') message += ' More jobs match: run it again for the next ones.';
  return message;
}
