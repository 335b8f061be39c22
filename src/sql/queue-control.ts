/**
 * Pausing and resuming queues with River's semantics (its QueuePause/QueueResume and the
 * client's notification): `paused_at` on the queue's row (`*`: every row), and a
 * `{"action":"pause","queue":"…"}` notification on `<schema>.river_control`, byte for byte what
 * Go River's client sends (Go's json.Marshal of its control payload), only when a row matched or
 * the name is `*`. Claims, Eddy's and River's, skip paused queues; River's clients act on the
 * notification at once.
 * $1 text queue name or '*', $2 text schema (NULL: the session's current schema), $3 now.
 */

import { clock } from './clock.js';

const notify = (action: 'pause' | 'resume') => `
SELECT (SELECT count(*) FROM updated)::int AS updated,
  CASE WHEN $1::text = '*' OR EXISTS (SELECT 1 FROM updated) THEN pg_notify(
    concat(coalesce($2::text, current_schema()), '.river_control'),
    '{"action":"${action}","queue":' || to_json($1::text)::text || '}') END AS notified`;

export const QueuePause = (p: string) => `
WITH updated AS (
  UPDATE ${p}river_queue
  SET paused_at = CASE WHEN paused_at IS NULL THEN ${clock(3)} ELSE paused_at END,
      updated_at = CASE WHEN paused_at IS NULL THEN ${clock(3)} ELSE updated_at END
  WHERE $1::text = '*' OR name = $1::text
  RETURNING name
)${notify('pause')}`;

export const QueueResume = (p: string) => `
WITH updated AS (
  UPDATE ${p}river_queue
  SET paused_at = NULL,
      updated_at = CASE WHEN paused_at IS NOT NULL THEN ${clock(3)} ELSE updated_at END
  WHERE $1::text = '*' OR name = $1::text
  RETURNING name
)${notify('resume')}`;
