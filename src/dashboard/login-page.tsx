/** @jsxImportSource hono/jsx */
/**
 * The login form (answered 401 to any request without credentials) and the confirmation page
 * an action shows when the browser's script did not ask already.
 */

import { raw } from 'hono/html';
import { SCRIPT, STYLES } from './assets.js';
import { Csrf, Layout } from './layout.js';
import type { View } from './view.js';

export function LoginPage(props: {
  nonce: string;
  action: string;
  csrf: string;
  next: string;
  problem?: string;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>Sign in · Eddy</title>
        <style nonce={props.nonce}>{raw(STYLES)}</style>
      </head>
      <body>
        <main id="main" class="login">
          <h1>Eddy dashboard</h1>
          <p>Sign in with the dashboard's admin token.</p>
          {props.problem ? (
            <p class="problem" role="alert">
              {props.problem}
            </p>
          ) : null}
          <form method="post" action={props.action}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <input type="hidden" name="next" value={props.next} />
            <div class="field">
              <label for="token">Admin token</label>
              <input
                type="password"
                id="token"
                name="token"
                autocomplete="current-password"
                required
                autofocus
              />
            </div>
            <p>
              <button type="submit">Sign in</button>
            </p>
          </form>
        </main>
        <script nonce={props.nonce}>{raw(SCRIPT)}</script>
      </body>
    </html>
  );
}

export function ConfirmPage(props: {
  view: View;
  question: string;
  details?: string[];
  action: string;
  fields: [string, string][];
  label: string;
  danger?: boolean;
  back: string;
}) {
  const { view } = props;
  return (
    <Layout view={view} title="Confirm">
      <p>{props.question}</p>
      {props.details && props.details.length > 0 ? (
        <ul>
          {props.details.map((d) => (
            <li>{d}</li>
          ))}
        </ul>
      ) : null}
      <form method="post" action={props.action}>
        <Csrf view={view} />
        {props.fields
          .filter(([name]) => name !== '_csrf' && name !== 'confirm')
          .map(([name, value]) => (
            <input type="hidden" name={name} value={value} />
          ))}
        <input type="hidden" name="confirm" value="yes" />
        <div class="actions">
          <button type="submit" class={props.danger ? 'danger' : undefined}>
            {props.label}
          </button>
          <a href={props.back}>Go back</a>
        </div>
      </form>
    </Layout>
  );
}
