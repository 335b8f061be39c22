/**
 * What every page of the dashboard knows about the request it answers.
 */

export interface View {
  /** Where the dashboard is mounted: '' or a path like '/admin'. Every link starts with it. */
  base: string;
  /** The nonce of the page's inline style and script (the CSP allows nothing else). */
  nonce: string;
  /** The CSRF token forms repeat. */
  csrf: string;
  /** Mutations hidden (and refused). */
  readOnly: boolean;
  /** Served without authentication (`insecureNoAuth`): every page says so. */
  insecure: boolean;
  /** Signed in with the login form: a sign-out button. */
  session: boolean;
  now: Date;
  /** The request's path and query, for forms that come back to it. */
  here: string;
  /** The sentence a finished action left, if any. */
  flash: string | undefined;
}

/** A dashboard path under its mount point. */
export const href = (view: Pick<View, 'base'>, path: string) => `${view.base}${path}`;
