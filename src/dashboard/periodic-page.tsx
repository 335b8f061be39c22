/** @jsxImportSource hono/jsx */
/**
 * Periodic jobs: per schedule, its latest slots and how each ended, and (for the schedules the
 * runner's definitions describe) its cron expression or interval and the next slot.
 */

import { formatRelative } from './format.js';
import { Layout, StateBadge, Time } from './layout.js';
import { type ScheduleView, SLOTS_PER_SCHEDULE, slotOf } from './periodic.js';
import { href, type View } from './view.js';

function describeSchedule(schedule: ScheduleView['definition']) {
  if (!schedule) return undefined;
  const { schedule: when, timezone } = schedule;
  const text = typeof when === 'string' ? when : `every ${when.everyMs / 1000} s`;
  return timezone ? `${text} (${timezone})` : text;
}

function Schedule({ schedule, view }: { schedule: ScheduleView; view: View }) {
  const { definition } = schedule;
  const kind = definition
    ? typeof definition.kind === 'string'
      ? definition.kind
      : definition.kind.kind
    : schedule.jobs[0]?.kind;
  const metadata = encodeURIComponent(JSON.stringify({ 'river:periodic_job_id': schedule.name }));
  return (
    <section aria-labelledby={`schedule-${schedule.name}`}>
      <h2 id={`schedule-${schedule.name}`}>{schedule.name}</h2>
      <dl class="facts">
        <dt>Kind</dt>
        <dd>{kind ?? '—'}</dd>
        <dt>Schedule</dt>
        <dd>
          {describeSchedule(definition) ?? (
            <span class="muted">
              not known here (pass the runner's periodic jobs to the dashboard)
            </span>
          )}
        </dd>
        {schedule.next ? (
          <>
            <dt>Next slot</dt>
            <dd>
              <Time time={schedule.next} view={view} />{' '}
              <span class="muted">({formatRelative(schedule.next, view.now)})</span>
            </dd>
          </>
        ) : null}
      </dl>
      {schedule.jobs.length === 0 ? (
        <p class="muted">No slot of it is stored.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Slot</th>
              <th scope="col">Job</th>
              <th scope="col">Outcome</th>
              <th scope="col" class="n">
                Attempt
              </th>
              <th scope="col">Finished</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {schedule.jobs.map((job) => (
              <tr>
                <td>
                  <Time time={slotOf(job)} view={view} />
                </td>
                <td>
                  <a href={href(view, `/jobs/${job.id}`)}>{job.id.toString()}</a>
                </td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td class="n">
                  {job.attempt}/{job.maxAttempts}
                </td>
                <td>
                  <Time time={job.finalizedAt} view={view} />
                </td>
                <td>{job.errors.at(-1)?.error ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <a href={href(view, `/jobs?metadata=${metadata}`)}>Every job of {schedule.name}</a>
      </p>
    </section>
  );
}

export function PeriodicPage({ schedules, view }: { schedules: ScheduleView[]; view: View }) {
  return (
    <Layout view={view} title="Periodic jobs" section="/periodic">
      <p class="muted">
        Every schedule the runner's definitions name or a stored job names (periodic jobs carry
        their schedule's name in metadata <code>river:periodic_job_id</code>, Go River's too), with
        its latest {SLOTS_PER_SCHEDULE} slots.
      </p>
      {schedules.length === 0 ? <p>No periodic jobs found.</p> : null}
      {schedules.map((schedule) => (
        <Schedule schedule={schedule} view={view} />
      ))}
    </Layout>
  );
}
