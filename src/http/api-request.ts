/**
 * Reading a REST API request: its body as JSON (capped, big integers kept as bigints) and
 * validated by a zod schema, or the problem to answer instead.
 */

import type * as z from 'zod';
import { parseJson } from '../driver/json.js';
import { PROBLEM_TYPES, type Problem, pointerOf, validationProblem } from './api-problem.js';
import { readCappedBody } from './authenticate.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: Problem };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The body as a JSON value, or the problem: 415 not JSON, 413 too large, 400 malformed. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<Parsed<unknown>> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    return {
      ok: false,
      problem: {
        type: PROBLEM_TYPES.unsupportedMediaType,
        title: 'The body must be JSON',
        status: 415,
        detail: `send \`content-type: application/json\` (got ${type ? `'${type}'` : 'none'})`,
      },
    };
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readCappedBody(request, maxBytes);
  } catch {
    bytes = new Uint8Array(0);
  }
  if (!bytes) {
    return {
      ok: false,
      problem: {
        type: PROBLEM_TYPES.tooLarge,
        title: 'The body is too large',
        status: 413,
        detail: `this API reads at most ${maxBytes} bytes per request`,
      },
    };
  }
  try {
    return { ok: true, value: parseJson(decoder.decode(bytes)) };
  } catch (error) {
    return {
      ok: false,
      problem: {
        ...validationProblem(`the body is not JSON: ${(error as Error).message}`, [
          { pointer: '#', detail: 'is not JSON' },
        ]),
        status: 400,
      },
    };
  }
}

type Issue = z.core.$ZodIssue;

/**
 * A union's issues as those of the one branch the value had the type of, where only one did
 * (`state: ["bogus"]` against one-state-or-a-list: the list's issue at `state[0]`, not "Invalid
 * input" at `state`); otherwise the union's own issue.
 */
function unionIssues(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  let typed = issue.errors.filter(
    (branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0),
  );
  // An enum refuses a value of another type as it refuses a wrong member, at the root: the
  // branch that got as far as the value's members is the one meant.
  if (typed.length > 1) {
    const deeper = typed.filter((branch) => branch.every((i) => i.path.length > 0));
    if (deeper.length === 1) typed = deeper;
  }
  const [branch] = typed;
  if (typed.length !== 1 || !branch || branch.length === 0) return [issue];
  return branch.flatMap((i) => unionIssues({ ...i, path: [...issue.path, ...i.path] } as Issue));
}

/** The issues of a failed zod parse as a 422 problem, each naming its field. */
export function zodProblem(error: z.ZodError, prefix: readonly (string | number)[] = []): Problem {
  const errors = error.issues.flatMap(unionIssues).flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    // An unknown key is an issue of its object: name each key as the field at fault.
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({
        pointer: pointerOf([...path, key]),
        detail: `${key} is not a field here`,
      }));
    const field = path.length === 0 ? 'the body' : path.join('.');
    return [{ pointer: pointerOf(path), detail: `${field}: ${issue.message}` }];
  });
  return validationProblem(errors.map((e) => e.detail).join('; '), errors);
}

/**
 * Parses `value` with `schema`, or the problem naming every field at fault; `prefix` locates
 * the value (`["id"]` for a path parameter).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: readonly (string | number)[] = [],
): Parsed<z.output<S>> {
  const result = schema.safeParse(value);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, problem: zodProblem(result.error, prefix) };
}
