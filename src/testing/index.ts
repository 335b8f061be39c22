/**
 * `eddy/testing`: helpers for your own tests, what River's rivertest gives Go users.
 *
 * - `requireInserted`, `requireNotInserted`, `requireManyInserted`: assert what code enqueued,
 *   in the database or in a client that records instead of writing (`createRecordingClient`);
 * - `workOnce(worker, args)`: one job through its worker, in-process, and how it ended;
 * - `runUntilIdle(runner)`: tick until every due job has been worked;
 * - `createTestClock()`: a clock to move by hand, for `now` on clients, runners and workOnce.
 */

export {
  createRecordingClient,
  isRecordingClient,
  type RecordingClient,
  type RecordingClientOptions,
} from './recording-client.js';
export {
  type ExpectedJob,
  type InsertedExpectation,
  type InsertedSource,
  requireInserted,
  requireManyInserted,
  requireNotInserted,
  TestAssertionError,
} from './require-inserted.js';
export {
  type RunUntilIdleOptions,
  type RunUntilIdleResult,
  runUntilIdle,
} from './run-until-idle.js';
export { createTestClock, type TestClock } from './test-clock.js';
export { type WorkOnceJob, type WorkOnceOptions, type WorkResult, workOnce } from './work-once.js';
