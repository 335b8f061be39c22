/**
 * Pause and resume a queue as River does (`sql/queue-control.ts`), one statement each. The
 * groundwork of the management API: River UI and Go River's clients see the same rows and get
 * the same notification.
 */

import type { Database } from '../driver/database.js';
import { invalid } from '../errors.js';
import { queueNameProblem } from '../insert/job-fields.js';
import { QueuePause, QueueResume } from '../sql/queue-control.js';
import { PREPARED } from './prepared.js';

export interface QueueTarget {
  /** `schemaPrefix(schema)`. */
  prefix: string;
  /** The schema named by the caller, if any (the notification channel's qualifier). */
  schema: string | undefined;
  now?: Date | undefined;
}

function checkName(name: unknown, where: string): string {
  if (name === '*') return name;
  const problem = queueNameProblem(name);
  if (problem) invalid('queue', `${problem}, or '*' for every queue`, where);
  return name as string;
}

/** Pauses `name` (`*`: every queue); false when there is no such queue. */
export async function pauseQueue(
  db: Database,
  target: QueueTarget,
  name: string,
): Promise<boolean> {
  const queue = checkName(name, 'pauseQueue');
  const { rows } = await db.query(
    QueuePause(target.prefix),
    [queue, target.schema ?? null, target.now ?? null],
    PREPARED,
  );
  return queue === '*' || Number(rows[0]?.updated) > 0;
}

/** Resumes `name` (`*`: every queue); false when there is no such queue. */
export async function resumeQueue(
  db: Database,
  target: QueueTarget,
  name: string,
): Promise<boolean> {
  const queue = checkName(name, 'resumeQueue');
  const { rows } = await db.query(
    QueueResume(target.prefix),
    [queue, target.schema ?? null, target.now ?? null],
    PREPARED,
  );
  return queue === '*' || Number(rows[0]?.updated) > 0;
}
