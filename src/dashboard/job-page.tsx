/** @jsxImportSource hono/jsx */
/**
 * One job: its fields, args, metadata and output (`metadata.output`, where River keeps it), each
 * attempt's error and trace, who attempted it (an Eddy claim's lease and when it expires), a
 * timeline, and the actions its state allows.
 */

import type { Job } from '../job.js';
import { parseLeaseToken } from '../ops/lease.js';
import { formatRelative, prettyJson } from './format.js';
import { ActionButton, Layout, StateBadge, Time } from './layout.js';
import { href, type View } from './view.js';

const FINALIZED = new Set(['cancelled', 'completed', 'discarded']);

interface Event {
  at: Date;
  what: string;
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/** What happened to the job, oldest first, from its own columns and River's metadata. */
export function timeline(job: Job): Event[] {
  const events: Event[] = [{ at: job.createdAt, what: 'created' }];
  if (job.scheduledAt.getTime() !== job.createdAt.getTime())
    events.push({ at: job.scheduledAt, what: job.attempt === 0 ? 'due' : 'due again' });
  for (const error of job.errors) {
    const at = dateOf(error.at);
    if (at) events.push({ at, what: `attempt ${error.attempt} failed: ${error.error}` });
  }
  if (job.attemptedAt) events.push({ at: job.attemptedAt, what: `attempt ${job.attempt} started` });
  const cancel = dateOf(job.metadata.cancel_attempted_at);
  if (cancel) events.push({ at: cancel, what: 'cancel requested' });
  if (job.finalizedAt) events.push({ at: job.finalizedAt, what: job.state });
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}

function AttemptedBy({ job, view }: { job: Job; view: View }) {
  if (job.attemptedBy.length === 0) return <p class="muted">Not attempted yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Claimed by</th>
          <th scope="col">Lease</th>
        </tr>
      </thead>
      <tbody>
        {job.attemptedBy.map((entry, i) => {
          const lease = parseLeaseToken(entry);
          const current = i === job.attemptedBy.length - 1 && job.state === 'running';
          const expired = lease ? lease.expiresAt <= view.now.getTime() : false;
          return (
            <tr>
              <td>{i + 1}</td>
              <td>
                {lease ? (
                  <>
                    Eddy runner <code>{lease.runnerId}</code>{' '}
                    <span class="muted">(claim {lease.nonce})</span>
                  </>
                ) : (
                  <>
                    <code>{entry}</code> <span class="muted">(a River client)</span>
                  </>
                )}
              </td>
              <td>
                {lease ? (
                  <>
                    {current ? (expired ? 'expired ' : 'expires ') : 'lease until '}
                    <Time time={new Date(lease.expiresAt)} view={view} />{' '}
                    {current ? (
                      <span class="muted">
                        ({formatRelative(new Date(lease.expiresAt), view.now)})
                      </span>
                    ) : null}
                    {current && expired ? (
                      <span class="muted"> — the next maintenance rescues it</span>
                    ) : null}
                  </>
                ) : (
                  <span class="muted">River's rescuer watches it</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Actions({ job, view }: { job: Job; view: View }) {
  if (view.readOnly) return null;
  const id = job.id.toString();
  const path = (action: string) => href(view, `/jobs/${id}/${action}`);
  const running = job.state === 'running';
  return (
    <div class="actions">
      {!running && job.state !== 'available' ? (
        <ActionButton
          view={view}
          action={path('retry')}
          label="Retry"
          confirm={`Retry job ${id} now?`}
        />
      ) : null}
      {!FINALIZED.has(job.state) ? (
        <ActionButton
          view={view}
          action={path('cancel')}
          label="Cancel"
          confirm={
            running ? `Job ${id} is running: ask its runner to stop it?` : `Cancel job ${id}?`
          }
        />
      ) : null}
      {!running ? (
        <ActionButton
          view={view}
          action={path('delete')}
          label="Delete"
          danger
          confirm={`Delete job ${id}? This cannot be undone.`}
          back={href(view, '/jobs')}
        />
      ) : null}
    </div>
  );
}

export function JobPage({ job, view }: { job: Job; view: View }) {
  const { output, ...metadata } = job.metadata;
  const q = encodeURIComponent(job.queue);
  return (
    <Layout view={view} title={`Job ${job.id}`} section="/jobs">
      <Actions job={job} view={view} />
      <dl class="facts">
        <dt>Kind</dt>
        <dd>
          <a href={href(view, `/jobs?kind=${encodeURIComponent(job.kind)}`)}>{job.kind}</a>
        </dd>
        <dt>State</dt>
        <dd>
          <StateBadge state={job.state} />
        </dd>
        <dt>Queue</dt>
        <dd>
          <a href={href(view, `/queues/${q}`)}>{job.queue}</a>
        </dd>
        <dt>Attempt</dt>
        <dd>
          {job.attempt} of {job.maxAttempts}
        </dd>
        <dt>Priority</dt>
        <dd>{job.priority}</dd>
        <dt>Tags</dt>
        <dd>{job.tags.length > 0 ? job.tags.join(', ') : <span class="muted">none</span>}</dd>
        <dt>Created</dt>
        <dd>
          <Time time={job.createdAt} view={view} />
        </dd>
        <dt>Scheduled</dt>
        <dd>
          <Time time={job.scheduledAt} view={view} />
        </dd>
        <dt>Last attempted</dt>
        <dd>
          <Time time={job.attemptedAt} view={view} />
        </dd>
        <dt>Finalized</dt>
        <dd>
          <Time time={job.finalizedAt} view={view} />
        </dd>
      </dl>

      <h2>Args</h2>
      <pre>{prettyJson(job.args)}</pre>
      <h2>Output</h2>
      {output === undefined ? <p class="muted">None recorded.</p> : <pre>{prettyJson(output)}</pre>}
      <h2>Metadata</h2>
      <pre>{prettyJson(metadata)}</pre>

      <h2>Errors</h2>
      {job.errors.length === 0 ? (
        <p class="muted">No attempt has failed.</p>
      ) : (
        job.errors.map((error) => (
          <section aria-label={`Attempt ${error.attempt}`}>
            <h3>
              Attempt {error.attempt}, <Time time={new Date(error.at)} view={view} />
            </h3>
            <p class="problem">{error.error}</p>
            {error.trace ? (
              <details open>
                <summary>Trace</summary>
                <pre>{error.trace}</pre>
              </details>
            ) : (
              <p class="muted">No trace.</p>
            )}
          </section>
        ))
      )}

      <h2>Attempted by</h2>
      <AttemptedBy job={job} view={view} />

      <h2>Timeline</h2>
      <ol class="timeline">
        {timeline(job).map((event) => (
          <li>
            <Time time={event.at} view={view} /> — {event.what}
          </li>
        ))}
      </ol>
    </Layout>
  );
}
