/**
 * Eddy's core: River-compatible jobs for serverless runtimes. Drivers and runtimes live in their
 * own entry points (`eddy/node-postgres`, `eddy/neon-http`, `eddy/cloudflare`, …); the driver
 * seam, for adapter authors, is `eddy/driver` (unstable).
 */

export {
  type Admin,
  type AdminOptions,
  type BulkOptions,
  type BulkResult,
  type CancelOutcome,
  type CountOptions,
  createAdmin,
  type DeleteOutcome,
  type JobActionResult,
  type JobCounts,
  type JobListOptions,
  type JobListOrderBy,
  type JobPage,
  type RetryOutcome,
} from './admin/admin.js';
export type { JobCount, QueueInfo, StateCounts } from './admin/counts.js';
export type { JobFilter, JobId, TimeRange } from './admin/job-filter.js';
export {
  type Client,
  type ClientOptions,
  createClient,
  type InsertedJob,
  type Inserter,
  type InsertManyItem,
  type InsertResult,
  type JobJSON,
  jobToJSON,
  type PreparedInsert,
} from './client.js';
export type { Listener } from './driver/driver.js';
export {
  DatabaseError,
  type DatabaseErrorFields,
  EddyError,
  isDatabaseError,
  isEddyError,
  isNotFoundError,
  isTickError,
  isValidationError,
  NotFoundError,
  TickError,
  UnsupportedError,
  ValidationError,
} from './errors.js';
export { SIGNATURE_HEADER, signBody } from './http/http-auth.js';
export { createKick, type Kick, type KickOptions } from './http/kick.js';
export { createKickReceiver, type KickReceiverOptions } from './http/kick-receiver.js';
export { type QStashKeys, type QStashVerifier, qstashVerifier } from './http/qstash.js';
export { createTickGate, type GateEntry, type TickGate } from './http/tick-gate.js';
export {
  createTickTrigger,
  type TickTriggerOptions,
  type TriggerAuth,
  type TriggerContext,
} from './http/tick-trigger.js';
export { type RawJson, rawJson } from './insert/json-args.js';
export type { InsertOptions } from './insert/prepare-job.js';
export type { StandardSchemaV1 } from './insert/standard-schema.js';
export type { AttemptError, Job, JobState } from './job.js';
export {
  type AnyJobKind,
  type ArgsOf,
  defineJobKind,
  type InputOf,
  type JobDefaults,
  type JobKind,
} from './job-kind.js';
export { isJobCancel, isJobSnooze, JobCancel, JobSnooze } from './job-outcome.js';
export {
  getMigrationVersion,
  LATEST_MIGRATION_VERSION,
  type MigrateOptions,
  type MigrateResult,
  migrate,
  migrationSql,
} from './migrate.js';
export {
  type InvocationLimits,
  invocationDeadlines,
} from './runner/deadlines.js';
export type {
  JobEndEvent,
  JobStartEvent,
  JobStuckEvent,
  RunnerHooks,
  TickEndEvent,
} from './runner/hooks.js';
export {
  canListen,
  createHandOver,
  type HandOver,
  type ListenOptions,
  listenForRiver,
  type RunnerControl,
} from './runner/long-lived.js';
export {
  type CatchUp,
  definePeriodicJob,
  type PeriodicJob,
  type PeriodicJobDefinition,
} from './runner/periodic.js';
export { defaultRetryPolicy, type RetryPolicy } from './runner/retry-policy.js';
export {
  createRunner,
  type QueueOptions,
  type RetentionOptions,
  type Runner,
  type RunnerOptions,
  type TickOptions,
  type TickStats,
} from './runner/runner.js';
export {
  computeUniqueKey,
  DEFAULT_UNIQUE_STATES,
  type UniqueOptions,
} from './unique/unique-key.js';
export {
  defineWorker,
  type PreparedCompletion,
  type Worker,
  type WorkerContext,
  type WorkerOptions,
  type WorkFunction,
} from './worker.js';
