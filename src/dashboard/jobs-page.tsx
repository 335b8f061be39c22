/** @jsxImportSource hono/jsx */
/**
 * The job list: every filter of `jobs.list` in one GET form (so a filtered list is a link),
 * cursor paging, auto-refresh, and bulk retry, cancel and delete, for the jobs ticked or for
 * every job the filter matches.
 */

import type { JobPage } from '../admin/api.js';
import { JOB_STATES, type Job } from '../job.js';
import { type FilterForm, filterQuery, hasFilter } from './filter-form.js';
import { shortJson } from './format.js';
import { Csrf, Layout, StateBadge, Time } from './layout.js';
import { href, type View } from './view.js';

function TextField(props: {
  form: FilterForm;
  name: string;
  label: string;
  hint?: string;
  list?: string;
  type?: string;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        type={props.type ?? 'text'}
        id={id}
        name={props.name}
        value={props.form.values.get(props.name) ?? ''}
        list={props.list}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
      />
      {props.hint ? (
        <span id={`${id}-hint`} class="muted">
          {props.hint}
        </span>
      ) : null}
    </div>
  );
}

function Range(props: { form: FilterForm; prefix: string; label: string }) {
  return (
    <>
      <TextField
        form={props.form}
        name={`${props.prefix}_from`}
        label={`${props.label} from (UTC)`}
        type="datetime-local"
      />
      <TextField
        form={props.form}
        name={`${props.prefix}_to`}
        label={`${props.label} before (UTC)`}
        type="datetime-local"
      />
    </>
  );
}

function Choices(props: {
  form: FilterForm;
  name: string;
  legend: string;
  options: readonly string[];
}) {
  const chosen = new Set(props.form.values.getAll(props.name));
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      <div class="choices">
        {props.options.map((option) => (
          <label>
            <input type="checkbox" name={props.name} value={option} checked={chosen.has(option)} />{' '}
            {option}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function FilterFields({ form, view, kinds }: { form: FilterForm; view: View; kinds: string[] }) {
  const select = (name: string, options: [string, string][]) => {
    const value = form.values.get(name) ?? '';
    return options.map(([v, label]) => (
      <option value={v} selected={v === value}>
        {label}
      </option>
    ));
  };
  return (
    <form method="get" action={href(view, '/jobs')} aria-label="Filter jobs">
      <Choices form={form} name="state" legend="State" options={JOB_STATES} />
      <div class="filters">
        <TextField
          form={form}
          name="kind"
          label="Kind"
          list="kinds"
          hint="one, or several by comma"
        />
        <TextField form={form} name="queue" label="Queue" hint="one, or several by comma" />
        <TextField form={form} name="tag" label="Tags" hint="every one of them, by comma" />
        <TextField form={form} name="id" label="Job ids" hint="by comma" />
        <TextField
          form={form}
          name="args"
          label="Args contain (JSON)"
          hint='like {"user_id": 42}'
        />
        <TextField
          form={form}
          name="metadata"
          label="Metadata contains (JSON)"
          hint='like {"periodic": "report"}'
        />
        <Range form={form} prefix="created" label="Created" />
        <Range form={form} prefix="scheduled" label="Scheduled" />
        <Range form={form} prefix="finalized" label="Finalized" />
        <div class="field">
          <label for="f-order_by">Order by</label>
          <select id="f-order_by" name="order_by">
            {select('order_by', [
              ['id', 'id'],
              ['finalized_at', 'finalized time (finished jobs)'],
              ['scheduled_at', 'scheduled time (unfinished jobs)'],
            ])}
          </select>
        </div>
        <div class="field">
          <label for="f-order">Order</label>
          <select id="f-order" name="order">
            {select('order', [
              ['desc', 'newest first'],
              ['asc', 'oldest first'],
            ])}
          </select>
        </div>
        <div class="field">
          <label for="f-limit">Jobs per page</label>
          <select id="f-limit" name="limit">
            {select('limit', [
              ['', '100'],
              ['20', '20'],
              ['50', '50'],
              ['500', '500'],
            ])}
          </select>
        </div>
      </div>
      <Choices form={form} name="priority" legend="Priority" options={['1', '2', '3', '4']} />
      <datalist id="kinds">
        {kinds.map((kind) => (
          <option value={kind} />
        ))}
      </datalist>
      <div class="actions">
        <button type="submit">Apply filters</button>
        <a class="button secondary" href={href(view, '/jobs')}>
          Clear
        </a>
        <label>
          <input type="checkbox" id="refresh" name="refresh" value="1" checked={form.refresh} />{' '}
          Auto-refresh every 5 s
        </label>
      </div>
    </form>
  );
}

function when(job: Job): Date {
  return (
    job.finalizedAt ??
    (job.state === 'running' ? (job.attemptedAt ?? job.scheduledAt) : job.scheduledAt)
  );
}

function JobTable({ jobs, view, selectable }: { jobs: Job[]; view: View; selectable: boolean }) {
  return (
    <table>
      <thead>
        <tr>
          {selectable ? (
            <th scope="col">
              <span data-select-all hidden>
                <input type="checkbox" id="select-all" aria-label="Select every job on this page" />
              </span>
              <span class="muted">Select</span>
            </th>
          ) : null}
          <th scope="col">Id</th>
          <th scope="col">Kind</th>
          <th scope="col">Queue</th>
          <th scope="col">State</th>
          <th scope="col" class="n">
            Attempt
          </th>
          <th scope="col" class="n">
            Priority
          </th>
          <th scope="col">Scheduled or finished</th>
          <th scope="col">Args</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => {
          const id = job.id.toString();
          return (
            <tr>
              {selectable ? (
                <td>
                  <input type="checkbox" name="id" value={id} aria-label={`Select job ${id}`} />
                </td>
              ) : null}
              <td>
                <a href={href(view, `/jobs/${id}`)}>{id}</a>
              </td>
              <td>{job.kind}</td>
              <td>{job.queue}</td>
              <td>
                <StateBadge state={job.state} />
              </td>
              <td class="n">
                {job.attempt}/{job.maxAttempts}
              </td>
              <td class="n">{job.priority}</td>
              <td>
                <Time time={when(job)} view={view} />
              </td>
              <td>
                <code>{shortJson(job.args, 60)}</code>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function BulkButtons({ scope }: { scope: 'selected' | 'filter' }) {
  const what =
    scope === 'selected'
      ? 'the selected jobs'
      : 'every job the filter matches (up to 1,000 at a time)';
  const suffix = scope === 'selected' ? 'selected' : 'all matching';
  return (
    <>
      <button type="submit" name="action" value="retry" data-confirm={`Retry ${what}?`}>
        Retry {suffix}
      </button>
      <button type="submit" name="action" value="cancel" data-confirm={`Cancel ${what}?`}>
        Cancel {suffix}
      </button>
      <button
        type="submit"
        name="action"
        value="delete"
        class="danger"
        data-confirm={`Delete ${what}? This cannot be undone.`}
      >
        Delete {suffix}
      </button>
    </>
  );
}

export function JobsPage(props: {
  view: View;
  form: FilterForm;
  kinds: string[];
  page: JobPage | undefined;
  /** Why the list could not be read (the API refused the filter). */
  problem: string | undefined;
}) {
  const { view, form, page } = props;
  const problems = [
    ...form.problems.map((p) => `${p.field}: ${p.message}`),
    ...(props.problem ? [props.problem] : []),
  ];
  const filtered = hasFilter(form.values);
  const selectable = !view.readOnly && (page?.jobs.length ?? 0) > 0;
  return (
    <Layout view={view} title="Jobs" section="/jobs" refresh={form.refresh}>
      <FilterFields form={form} view={view} kinds={props.kinds} />
      {problems.length > 0 ? (
        <div class="problem" role="alert">
          {problems.map((p) => (
            <p>{p}</p>
          ))}
        </div>
      ) : null}
      {page ? (
        <>
          <h2>
            {page.jobs.length === 0
              ? 'No jobs match'
              : `${page.jobs.length} job${page.jobs.length === 1 ? '' : 's'}${page.nextCursor ? ', more on the next page' : ''}`}
          </h2>
          {page.truncated ? (
            <p class="muted">
              This page stopped after looking through {page.scanned.toLocaleString('en-US')} jobs
              for the tag, priority or time filters; later jobs may still match: see the next page,
              or add a state, kind or queue to narrow the search.
            </p>
          ) : null}
          {selectable ? (
            <form method="post" action={href(view, '/jobs/bulk')} aria-label="Jobs on this page">
              <Csrf view={view} />
              <input type="hidden" name="return" value={view.here} />
              <input type="hidden" name="scope" value="selected" />
              <JobTable jobs={page.jobs} view={view} selectable />
              <div class="actions">
                <BulkButtons scope="selected" />
              </div>
            </form>
          ) : page.jobs.length > 0 ? (
            <JobTable jobs={page.jobs} view={view} selectable={false} />
          ) : null}
          <nav class="pager" aria-label="Pages">
            {form.values.get('cursor') ? (
              <a href={href(view, `/jobs${filterQuery(form.values)}`)}>First page</a>
            ) : null}
            {page.nextCursor ? (
              <a
                href={href(
                  view,
                  `/jobs${filterQuery(form.values, { cursor: page.nextCursor, refresh: undefined })}`,
                )}
                rel="next"
              >
                Next page
              </a>
            ) : null}
          </nav>
          {filtered && !view.readOnly && page.jobs.length > 0 ? (
            <form method="post" action={href(view, '/jobs/bulk')} aria-label="Every matching job">
              <Csrf view={view} />
              <input type="hidden" name="return" value={view.here} />
              <input type="hidden" name="scope" value="filter" />
              <input
                type="hidden"
                name="filter"
                value={filterQuery(form.values, { refresh: undefined })}
              />
              <fieldset>
                <legend>Every job the filter matches</legend>
                <div class="actions">
                  <BulkButtons scope="filter" />
                </div>
              </fieldset>
            </form>
          ) : null}
        </>
      ) : null}
    </Layout>
  );
}
