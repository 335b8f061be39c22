/** @jsxImportSource hono/jsx */
/**
 * Queues: each one's jobs by state, whether it is paused, how long its oldest available job has
 * waited, and pause and resume (River's QueuePause and QueueResume, with their notifications).
 */

import type { QueueInfo } from '../admin/counts.js';
import { JOB_STATES } from '../job.js';
import { formatDuration, prettyJson } from './format.js';
import { ActionButton, Count, Layout, Time } from './layout.js';
import { href, type View } from './view.js';

function PauseButton({ queue, view }: { queue: QueueInfo; view: View }) {
  if (view.readOnly || !queue.registered) return null;
  const q = encodeURIComponent(queue.name);
  return queue.paused ? (
    <ActionButton
      view={view}
      action={href(view, `/queues/${q}/resume`)}
      label={`Resume ${queue.name}`}
    />
  ) : (
    <ActionButton
      view={view}
      action={href(view, `/queues/${q}/pause`)}
      label={`Pause ${queue.name}`}
    />
  );
}

function Status({ queue }: { queue: QueueInfo }) {
  if (queue.paused) return <span class="badge s-paused">paused</span>;
  return queue.registered ? <span>active</span> : <span class="muted">never worked</span>;
}

export function QueuesPage({ queues, view }: { queues: QueueInfo[]; view: View }) {
  return (
    <Layout view={view} title="Queues" section="/queues">
      {!view.readOnly && queues.some((q) => q.registered) ? (
        <div class="actions">
          <ActionButton
            view={view}
            action={href(view, '/queues/*/pause')}
            label="Pause every queue"
            confirm="Pause every queue?"
          />
          <ActionButton
            view={view}
            action={href(view, '/queues/*/resume')}
            label="Resume every queue"
          />
        </div>
      ) : null}
      {queues.length === 0 ? (
        <p>No queues yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Status</th>
              {JOB_STATES.map((state) => (
                <th scope="col" class="n">
                  {state}
                </th>
              ))}
              <th scope="col" class="n">
                Oldest available
              </th>
              {view.readOnly ? null : <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {queues.map((queue) => (
              <tr>
                <th scope="row">
                  <a href={href(view, `/queues/${encodeURIComponent(queue.name)}`)}>{queue.name}</a>
                </th>
                <td>
                  <Status queue={queue} />
                </td>
                {JOB_STATES.map((state) => (
                  <td class="n">
                    <Count count={queue.counts[state]} />
                  </td>
                ))}
                <td class="n">
                  {queue.oldestAvailableAgeMs === null
                    ? '—'
                    : formatDuration(queue.oldestAvailableAgeMs)}
                </td>
                {view.readOnly ? null : (
                  <td>
                    <PauseButton queue={queue} view={view} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

/**
 * Flow control's place (issue 14): a queue's limits (concurrency, per partition, rate) and how
 * much of each is in use now. They are stored in `river_queue.metadata`; until the flow-control
 * API reads them and their use, the page shows the metadata they live in.
 */
function QueueLimits({ queue }: { queue: QueueInfo }) {
  return (
    <section aria-labelledby="limits">
      <h2 id="limits">Limits and their current use</h2>
      <p class="muted">
        Flow control (concurrency, rate limits, partitions) is not in this version of the dashboard
        yet. The queue's metadata, where its limits are kept:
      </p>
      <pre>{prettyJson(queue.metadata)}</pre>
    </section>
  );
}

export function QueuePage({ queue, view }: { queue: QueueInfo; view: View }) {
  const q = encodeURIComponent(queue.name);
  return (
    <Layout view={view} title={`Queue ${queue.name}`} section="/queues">
      <div class="actions">
        <PauseButton queue={queue} view={view} />
        <a href={href(view, `/jobs?queue=${q}`)}>Its jobs</a>
      </div>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <Status queue={queue} />
        </dd>
        <dt>Paused at</dt>
        <dd>
          <Time time={queue.pausedAt} view={view} />
        </dd>
        <dt>Oldest available</dt>
        <dd>
          {queue.oldestAvailableAgeMs === null
            ? 'none waiting'
            : `waiting ${formatDuration(queue.oldestAvailableAgeMs)}`}
        </dd>
        <dt>Registered</dt>
        <dd>
          <Time time={queue.createdAt} view={view} />
        </dd>
        <dt>Last seen by a runner</dt>
        <dd>
          <Time time={queue.updatedAt} view={view} />
        </dd>
      </dl>
      <h2>Jobs by state</h2>
      <ul class="cards">
        {JOB_STATES.map((state) => (
          <li>
            <a href={href(view, `/jobs?queue=${q}&state=${state}`)}>{state}</a>
            <span class="v">
              <Count count={queue.counts[state]} />
            </span>
          </li>
        ))}
      </ul>
      <QueueLimits queue={queue} />
    </Layout>
  );
}
