/** @jsxImportSource hono/jsx */
/**
 * The overview: per queue, its jobs by state, how long its oldest available job has waited, the
 * jobs it finished in the last hour and day, and the share of those that failed for good.
 * Three statements (`queues.list`, and `counts` by queue for each window), as
 * `npm run bench:admin` measures them.
 */

import type { JobCounts } from '../admin/api.js';
import type { QueueInfo, StateCounts } from '../admin/counts.js';
import { formatDuration, formatRate } from './format.js';
import { Count, Layout } from './layout.js';
import { href, type View } from './view.js';

const SHOWN = ['available', 'scheduled', 'running', 'retryable', 'pending'] as const;

export interface Finished {
  completed: number;
  cancelled: number;
  discarded: number;
  exact: boolean;
}

/** A window's finished jobs of one queue (zero when the window's counts do not name it). */
export function finishedIn(counts: JobCounts, queue: string): Finished {
  const group = counts.groups.find((g) => g.name === queue)?.counts;
  if (!group) return { completed: 0, cancelled: 0, discarded: 0, exact: true };
  return {
    completed: group.completed.count,
    cancelled: group.cancelled.count,
    discarded: group.discarded.count,
    exact: group.completed.exact && group.cancelled.exact && group.discarded.exact,
  };
}

const total = (f: Finished) => f.completed + f.cancelled + f.discarded;
/** Discarded among the jobs that ran to an end: cancelled ones neither failed nor succeeded. */
const errorRate = (f: Finished) => formatRate(f.discarded, f.completed + f.discarded);
const approx = (f: Finished, text: string) => (f.exact ? text : `≈${text}`);

function sum(queues: readonly QueueInfo[]): StateCounts {
  const first = queues[0]?.counts;
  if (!first) return {} as StateCounts;
  const out = {} as StateCounts;
  for (const state of Object.keys(first) as (keyof StateCounts)[]) {
    out[state] = {
      count: queues.reduce((n, q) => n + q.counts[state].count, 0),
      exact: queues.every((q) => q.counts[state].exact),
    };
  }
  return out;
}

export function OverviewPage(props: {
  view: View;
  queues: QueueInfo[];
  hour: JobCounts;
  day: JobCounts;
  refresh: boolean;
}) {
  const { view, queues, hour, day } = props;
  const totals = sum(queues);
  const refreshLink = href(view, props.refresh ? '/' : '/?refresh=1');
  return (
    <Layout view={view} title="Overview" section="/" refresh={props.refresh}>
      <p class="actions">
        <a href={refreshLink} role="switch" aria-checked={props.refresh ? 'true' : 'false'}>
          Auto-refresh every 5 s: {props.refresh ? 'on' : 'off'}
        </a>
      </p>
      {queues.length === 0 ? (
        <p>No queues yet: no job has been inserted and no runner has registered a queue.</p>
      ) : (
        <>
          <h2>All queues</h2>
          <ul class="cards">
            {SHOWN.map((state) => (
              <li>
                <a href={href(view, `/jobs?state=${state}`)}>{state}</a>
                <span class="v">
                  <Count count={totals[state]} />
                </span>
              </li>
            ))}
          </ul>
          <h2>Per queue</h2>
          <table>
            <caption class="muted">
              Finished: completed, cancelled or discarded in the window. Error rate: discarded ÷
              (completed + discarded). ≈ marks an estimate.
            </caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Status</th>
                {SHOWN.map((state) => (
                  <th scope="col" class="n">
                    {state}
                  </th>
                ))}
                <th scope="col" class="n">
                  Oldest available
                </th>
                <th scope="col" class="n">
                  Finished, 1 h
                </th>
                <th scope="col" class="n">
                  Error rate, 1 h
                </th>
                <th scope="col" class="n">
                  Finished, 24 h
                </th>
                <th scope="col" class="n">
                  Error rate, 24 h
                </th>
              </tr>
            </thead>
            <tbody>
              {queues.map((queue) => {
                const h = finishedIn(hour, queue.name);
                const d = finishedIn(day, queue.name);
                const q = encodeURIComponent(queue.name);
                return (
                  <tr>
                    <th scope="row">
                      <a href={href(view, `/queues/${q}`)}>{queue.name}</a>
                    </th>
                    <td>
                      {queue.paused ? (
                        <span class="badge s-paused">paused</span>
                      ) : queue.registered ? (
                        'active'
                      ) : (
                        <span class="muted">never worked</span>
                      )}
                    </td>
                    {SHOWN.map((state) => (
                      <td class="n">
                        <a href={href(view, `/jobs?queue=${q}&state=${state}`)}>
                          <Count count={queue.counts[state]} />
                        </a>
                      </td>
                    ))}
                    <td class="n">
                      {queue.oldestAvailableAgeMs === null
                        ? '—'
                        : formatDuration(queue.oldestAvailableAgeMs)}
                    </td>
                    <td class="n">{approx(h, total(h).toLocaleString('en-US'))}</td>
                    <td class="n">{errorRate(h)}</td>
                    <td class="n">{approx(d, total(d).toLocaleString('en-US'))}</td>
                    <td class="n">{errorRate(d)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </Layout>
  );
}
