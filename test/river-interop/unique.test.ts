/**
 * Scenario 4: unique keys across languages. The same unique job inserted by Go River then by
 * Eddy, and by Eddy then Go River, is one row each time, whatever the unique options; and Go
 * River, inserting each case of ../shared/river-compat/unique_keys.json, stores the key and
 * states the file says (so the file is River's, complete, and Eddy's unit test of it is too).
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { compactJson, type JsonNode, parseJsonExact } from '../../src/unique/json-canonical.js';
import { type GoJob, goInsert } from './support/go.js';
import { type InteropSchema, interopSchema } from './support/interop.js';
import { asEddyItem } from './support/parity.js';

const OPTION_SETS: { name: string; job: Omit<GoJob, 'kind'> }[] = [
  { name: 'by args', job: { args: { to: 'ada', n: 1 }, unique: { by_args: true } } },
  { name: 'by period', job: { args: { n: 2 }, unique: { by_period_ms: 15 * 60_000 } } },
  {
    name: 'by queue and args',
    job: { args: { n: 3 }, queue: 'other', unique: { by_queue: true, by_args: true } },
  },
  {
    name: 'by state',
    job: {
      args: { n: 4 },
      unique: {
        by_args: true,
        by_state: ['available', 'completed', 'pending', 'running', 'retryable', 'scheduled'],
      },
    },
  },
  {
    name: 'excluding the kind',
    job: { args: { n: 5 }, queue: 'other', unique: { by_queue: true, exclude_kind: true } },
  },
  {
    name: 'scheduled, by period',
    job: {
      args: { n: 6 },
      scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
      unique: { by_period_ms: 3_600_000, by_args: true },
    },
  },
];

describe('unique keys across languages', () => {
  let db: InteropSchema;
  beforeAll(async () => {
    db = await interopSchema('runi');
  });
  afterAll(() => db.close());

  const rowsOfKind = async (kind: string) =>
    (
      await db.pool.query(
        `SELECT id::text, encode(unique_key, 'hex') AS key FROM ${db.schema}.river_job WHERE kind = $1`,
        [kind],
      )
    ).rows;

  for (const { name, job } of OPTION_SETS) {
    it(`${name}: Go then Eddy, and Eddy then Go, give one row each`, async () => {
      const eddy = createClient({ driver: db.driver, schema: db.schema });
      const goFirst = `unique_go_first_${OPTION_SETS.findIndex((o) => o.name === name)}`;
      const [fromGo] = await goInsert(db.go, { jobs: [{ ...job, kind: goFirst }] });
      const item = asEddyItem({ ...job, kind: goFirst });
      const second = await eddy.insert(goFirst, item.args as Record<string, unknown>, item.options);
      expect(fromGo?.skipped).toBe(false);
      expect({ skipped: second.skipped, id: second.job.id }).toEqual({
        skipped: true,
        id: BigInt(fromGo?.id ?? -1),
      });
      expect(await rowsOfKind(goFirst)).toHaveLength(1);

      const eddyFirst = `unique_eddy_first_${OPTION_SETS.findIndex((o) => o.name === name)}`;
      // Without the kind in the key, the first half's row would already hold it.
      const later = job.unique?.exclude_kind ? { ...job, queue: 'third' } : job;
      const other = asEddyItem({ ...later, kind: eddyFirst });
      const first = await eddy.insert(
        eddyFirst,
        other.args as Record<string, unknown>,
        other.options,
      );
      const [thenGo] = await goInsert(db.go, { jobs: [{ ...later, kind: eddyFirst }] });
      expect(first.skipped).toBe(false);
      expect(thenGo).toEqual({ id: Number(first.job.id), skipped: true });
      expect(await rowsOfKind(eddyFirst)).toHaveLength(1);
    });
  }

  it("stores the key and states unique_keys.json gives for every case Go's client can insert as raw JSON", async () => {
    const text = readFileSync(
      new URL('../../../shared/river-compat/unique_keys.json', import.meta.url),
      'utf8',
    );
    const exact = parseJsonExact(text, 'unique_keys');
    const member = (node: JsonNode | undefined, key: string) =>
      node?.type === 'object' ? node.members.find((m) => m.key === key)?.value : undefined;
    const list = member(exact, 'cases');
    const cases = (JSON.parse(text) as { cases: Record<string, any>[] }).cases;
    const checked: string[] = [];
    for (const [i, golden] of cases.entries()) {
      // Selected fields come from Go struct tags (`river:"unique"`), which raw JSON has not.
      if (golden.selected_unique_paths) continue;
      const argsText = compactJson(
        member(list?.type === 'array' ? list.items[i] : undefined, 'args') as JsonNode,
      );
      // PostgreSQL's jsonb cannot hold NUL, so no client can store such args.
      if (argsText.includes('\\u0000')) continue;
      const o = golden.options;
      const jobText = JSON.stringify({
        kind: golden.kind,
        queue: golden.queue,
        ...(golden.scheduled_at ? { scheduled_at: golden.scheduled_at } : {}),
        unique: {
          by_args: o.by_args,
          by_period_ms: o.by_period_nanos / 1e6,
          by_queue: o.by_queue,
          exclude_kind: o.exclude_kind,
          ...(o.by_state ? { by_state: o.by_state } : {}),
        },
        args: '\u0000ARGS',
      }).replace('"\\u0000ARGS"', argsText);
      const [inserted] = await goInsert(db.go, `{"now":"${golden.now}","jobs":[${jobText}]}`);
      const { rows } = await db.pool.query(
        `SELECT encode(unique_key, 'hex') AS key, unique_states::text AS states FROM ${db.schema}.river_job WHERE id = $1`,
        [inserted?.id],
      );
      expect({ key: rows[0].key, mask: Number.parseInt(rows[0].states, 2) }, golden.name).toEqual({
        key: golden.expected_sha256,
        mask: golden.expected_state_mask,
      });
      await db.pool.query(`DELETE FROM ${db.schema}.river_job WHERE id = $1`, [inserted?.id]);
      checked.push(golden.name);
    }
    expect(checked.length).toBeGreaterThan(10);
  });
});
