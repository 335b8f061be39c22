/**
 * The REST API's answers: JSON that keeps big integers (an int8 id or an args value beyond 2^53
 * is written as its digits, never rounded), and errors as RFC 9457 problem details
 * (`application/problem+json`) whose `errors` name each field at fault by JSON Pointer.
 */

import { isValidationError } from '../errors.js';

/** One field at fault: RFC 9457's example extension, `{ pointer, detail }`. */
export interface FieldProblem {
  /** A JSON Pointer into the request body, as a URI fragment: `#/jobs/0/priority`. */
  pointer: string;
  detail: string;
}

export interface Problem {
  /** Names the kind of problem (see `PROBLEM_TYPES`); `about:blank` for a plain HTTP status. */
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** The fields at fault, for a request that failed validation. */
  errors?: FieldProblem[];
  /** A lease-lost or job-running answer: the state the job is in now. */
  state?: string;
}

/**
 * Eddy's problem types. A client tells a refused answer about a lost lease (`lease-lost`: stop
 * working the job, another attempt owns it or it was rescued) from a malformed request by them.
 */
export const PROBLEM_TYPES = {
  validation: 'urn:eddy:problem:validation',
  leaseLost: 'urn:eddy:problem:lease-lost',
  /** A delete refused because the job is running (River's ErrJobRunning); `state` says so. */
  jobRunning: 'urn:eddy:problem:job-running',
  notFound: 'urn:eddy:problem:not-found',
  unauthorized: 'urn:eddy:problem:unauthorized',
  forbidden: 'urn:eddy:problem:forbidden',
  tooLarge: 'urn:eddy:problem:payload-too-large',
  unsupportedMediaType: 'urn:eddy:problem:unsupported-media-type',
  internal: 'urn:eddy:problem:internal',
} as const;

// A bigint travels through JSON.stringify as this marker; NUL never occurs in stored text.
const BIGINT_MARK = '\0bigint:';
const BIGINT_MARKED = /"\\u0000bigint:(-?\d+)"/g;

/** JSON text with every bigint written as its digits and every Date as an ISO string. */
export function jsonText(value: unknown): string {
  let marked = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    marked = true;
    return BIGINT_MARK + v;
  });
  return marked ? text.replace(BIGINT_MARKED, '$1') : text;
}

export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(jsonText(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json; charset=utf-8', ...headers },
  });
}

/** `["jobs", 0, "args", "email"]` as the URI fragment `#/jobs/0/args/email`. */
export function pointerOf(path: readonly PropertyKey[]): string {
  const segment = (key: PropertyKey) =>
    encodeURIComponent(String(key).replace(/~/g, '~0').replace(/\//g, '~1'));
  return `#${path.map((key) => `/${segment(key)}`).join('')}`;
}

/** `args.user.email`, `tags[2]` (Eddy's ValidationError paths) as pointer segments. */
export function segmentsOf(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const part of path.split('.')) {
    const name = /^[^[]*/.exec(part)?.[0] ?? '';
    if (name !== '') segments.push(name);
    for (const index of part.matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

export function validationProblem(detail: string, errors: FieldProblem[]): Problem {
  return {
    type: PROBLEM_TYPES.validation,
    title: 'The request is not valid',
    status: 422,
    detail,
    errors,
  };
}

/**
 * An Eddy `ValidationError` (from the client or the remote-work checks) as a 422 problem;
 * `prefix` locates the value it was about in the body (`["jobs", 3]`).
 */
export function problemFromValidationError(
  error: unknown,
  prefix: readonly (string | number)[] = [],
): Problem | undefined {
  if (!isValidationError(error)) return undefined;
  const issues = error.issues.length > 0 ? error.issues : [{ path: '', message: error.message }];
  return validationProblem(
    error.message,
    issues.map((issue) => ({
      pointer: pointerOf([...prefix, ...segmentsOf(issue.path)]),
      detail: `${issue.path ? `${issue.path} ` : ''}${issue.message}`,
    })),
  );
}
