import pg from 'pg';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { migrate } from '../src/migrate.js';
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', max: 8 });
await pool.query('drop schema if exists bench_probe cascade; create schema bench_probe');
await migrate(nodePostgres(pool), { schema: 'bench_probe' });
console.log('migrated');
