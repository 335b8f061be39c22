import pg from 'pg';
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', max: 8 });
const sql = `INSERT INTO bench_probe.river_job (args, kind, max_attempts) VALUES ($1, $2, $3)`;
for (const trunc of [false, true, false]) {
  if (trunc) { await pool.query('truncate bench_probe.river_job'); await pool.query('checkpoint'); }
  const until = performance.now() + 2000; let n = 0;
  await Promise.all(Array.from({length: 8}, async () => { while (performance.now() < until) { await pool.query(sql, ['{"a":1}', 'k', 25]); n++; } }));
  console.log(trunc, n / 2);
}
await pool.end();
