/**
 * Job kinds: declared once with a schema for their args, shared by producers and workers.
 */

import { invalid } from './errors.js';
import type { StandardSchemaV1 } from './insert/standard-schema.js';
import type { UniqueOptions } from './unique/unique-key.js';

/** Insert settings a kind (or a single insert) can choose. */
export interface JobDefaults {
  /** Queue name, 1–127 characters. Default `default`. */
  queue?: string;
  /** 1 (highest) to 4. Default 1. */
  priority?: number;
  /** 1–32767 (River stores a smallint). Default 25. */
  maxAttempts?: number;
  /** Each at most 255 characters, without commas. */
  tags?: readonly string[];
  /** JSON object stored in `river_job.metadata`. */
  metadata?: Record<string, unknown>;
  /** Deduplicate inserts like Go River's UniqueOpts. */
  unique?: UniqueOptions;
}

/**
 * A declared job kind. `Args` is what workers receive (the schema's output); `Input` is what
 * producers pass (the schema's input).
 */
export interface JobKind<Name extends string = string, Args = unknown, Input = Args> {
  readonly kind: Name;
  readonly args: StandardSchemaV1<Input, Args>;
  readonly defaults: Readonly<JobDefaults>;
}

/** Any job kind, whatever its args. */
// biome-ignore lint/suspicious/noExplicitAny: variance over args types needs `any` here
export type AnyJobKind = JobKind<string, any, any>;

export type ArgsOf<K> = K extends JobKind<string, infer A, unknown> ? A : never;
export type InputOf<K> = K extends JobKind<string, unknown, infer I> ? I : never;

/**
 * Declares a job kind. Put declarations in a module of their own so producers import only the
 * kind (or just its type), never the worker code.
 *
 * @example
 * ```ts
 * export const sendEmail = defineJobKind({
 *   kind: 'send_email',
 *   args: z.object({ to: z.string().email(), subject: z.string() }),
 *   queue: 'email',
 *   maxAttempts: 5,
 *   unique: { byArgs: ['to'], byPeriodMs: 60 * 60_000 },
 * });
 * export type SendEmail = typeof sendEmail;
 * ```
 */
export function defineJobKind<const Name extends string, Input, Output>(
  definition: { kind: Name; args: StandardSchemaV1<Input, Output> } & JobDefaults,
): JobKind<Name, Output, Input> {
  const { kind, args, ...defaults } = definition;
  const where = `defineJobKind('${String(kind)}')`;
  if (typeof kind !== 'string' || kind.length === 0)
    invalid('kind', 'must be a non-empty string', where);
  // arktype's schemas are functions.
  if (!args || (typeof args !== 'object' && typeof args !== 'function') || !('~standard' in args)) {
    invalid('args', 'must be a Standard Schema (a zod, valibot or arktype schema)', where);
  }
  return Object.freeze({ kind, args, defaults: Object.freeze({ ...defaults }) });
}
