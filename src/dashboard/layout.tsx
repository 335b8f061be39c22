/** @jsxImportSource hono/jsx */
/**
 * The page shell every dashboard page shares (navigation, banners, the inline style and script
 * under the CSP nonce), and the small pieces pages share: state badges, counts, times, forms
 * that carry the CSRF token.
 */

import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { JobCount } from '../admin/counts.js';
import { SCRIPT, STYLES } from './assets.js';
import { formatCount, formatRelative, formatTime } from './format.js';
import { href, type View } from './view.js';

const NAV = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/queues', 'Queues'],
  ['/periodic', 'Periodic jobs'],
] as const;

/** Seconds between reloads when auto-refresh is on. */
export const REFRESH_SECONDS = 5;

export function Layout(props: {
  view: View;
  title: string;
  /** The navigation entry to mark current. */
  section?: string;
  refresh?: boolean;
  children?: Child;
}) {
  const { view, title } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${title} · Eddy`}</title>
        <style nonce={view.nonce}>{raw(STYLES)}</style>
        {props.refresh ? (
          <noscript>
            <meta http-equiv="refresh" content={String(REFRESH_SECONDS)} />
          </noscript>
        ) : null}
      </head>
      <body data-refresh={props.refresh ? String(REFRESH_SECONDS) : undefined}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <span class="brand">Eddy</span>
          <nav aria-label="Dashboard">
            <ul>
              {NAV.map(([path, label]) => (
                <li>
                  <a
                    href={href(view, path)}
                    aria-current={props.section === path ? 'page' : undefined}
                  >
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {view.session ? (
            <form method="post" action={href(view, '/logout')}>
              <Csrf view={view} />
              <button type="submit" class="secondary">
                Sign out
              </button>
            </form>
          ) : null}
        </header>
        {view.insecure ? (
          <p class="banner danger-banner" role="alert">
            No authentication (insecureNoAuth): anyone who can reach this page can see and change
            every job.
          </p>
        ) : null}
        {view.readOnly ? (
          <p class="banner note-banner">Read-only: actions are hidden and refused.</p>
        ) : null}
        <main id="main" tabindex={-1}>
          <h1>{title}</h1>
          {view.flash ? (
            <p class="flash" role="status">
              {view.flash}
            </p>
          ) : null}
          {props.children}
        </main>
        <script nonce={view.nonce}>{raw(SCRIPT)}</script>
      </body>
    </html>
  );
}

/** The hidden field every form that changes something carries. */
export function Csrf({ view }: { view: View }) {
  return <input type="hidden" name="_csrf" value={view.csrf} />;
}

/** A job state as a coloured badge (the colour repeats the word, never replaces it). */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge s-${state}`}>{state}</span>;
}

/** A count, `≈` and a tooltip when it is an estimate. */
export function Count({ count }: { count: JobCount }) {
  return count.exact ? (
    <span>{formatCount(count)}</span>
  ) : (
    <abbr title="an estimate: past the exact-count cap">{formatCount(count)}</abbr>
  );
}

/** A time in UTC, with how long ago or ahead it is. */
export function Time({ time, view }: { time: Date | null | undefined; view: View }) {
  if (!time) return <span class="muted">—</span>;
  return (
    <time datetime={time.toISOString()} title={formatRelative(time, view.now)}>
      {formatTime(time)}
    </time>
  );
}

/**
 * A button that POSTs one action, asking first (`confirm`: the script's dialog, or without it
 * the server's confirmation page).
 */
export function ActionButton(props: {
  view: View;
  action: string;
  label: string;
  confirm?: string;
  danger?: boolean;
  /** Where to come back to. Default: this page. */
  back?: string;
  fields?: Record<string, string>;
}) {
  const { view } = props;
  return (
    <form
      class="inline"
      method="post"
      action={props.action}
      data-confirm={props.confirm ?? undefined}
    >
      <Csrf view={view} />
      <input type="hidden" name="return" value={props.back ?? view.here} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={props.danger ? 'danger' : undefined}>
        {props.label}
      </button>
    </form>
  );
}

/** A page saying what went wrong. */
export function ProblemPage(props: { view: View; title: string; message: string }) {
  return (
    <Layout view={props.view} title={props.title}>
      <p class="problem" role="alert">
        {props.message}
      </p>
      <p>
        <a href={href(props.view, '/')}>Back to the overview</a>
      </p>
    </Layout>
  );
}
