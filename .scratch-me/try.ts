import { Miniflare } from 'miniflare';
import { neon, neonConfig } from '@neondatabase/serverless';
import { createNeonLocal } from '../adapters/neon-local/index.js';
import { migrate } from '../src/migrate.js';
import { neonHttp } from '../adapters/neon-http/index.js';
import { bundleWorker } from '../examples/bundle-worker.js';
import { readWranglerConfig } from '../examples/wrangler-config.js';
import { CREATE_USERS_TABLE } from '../examples/worker/users.js';

const cfg = readWranglerConfig();
console.log(cfg);
const local = await createNeonLocal();
neonConfig.fetchEndpoint = local.fetchEndpoint;
const sql = neon(local.connectionString());
console.log(await migrate(neonHttp(sql)));
await sql.query(CREATE_USERS_TABLE);
const b = await bundleWorker(cfg.main);
console.log(b.bytes, b.gzipBytes);
const mf = new Miniflare({
  name: cfg.name, modules: true, script: b.code, compatibilityDate: cfg.compatibilityDate,
  bindings: { DATABASE_URL: local.connectionString(), TICK_SECRET: 's3cret', NEON_FETCH_ENDPOINT: local.fetchEndpoint },
  structuredWorkerdLogs: true,
  handleStructuredLogs: (l) => console.log('LOG', l.level, l.message),
});
const url = await mf.ready;
console.log('url', url.href);
const w = await mf.getWorker();
console.log(await w.scheduled({ cron: '* * * * *', scheduledTime: new Date() }));
const r = await fetch(new URL('/signup', url), { method: 'POST', body: JSON.stringify({ email: 'ada@example.com' }) });
console.log(r.status, await r.text());
await new Promise((r) => setTimeout(r, 4000));
const t = await fetch(new URL('/tick', url), { method: 'POST', headers: { authorization: 'Bearer s3cret' } });
console.log(t.status, await t.text());
console.log(await (await fetch(url)).text());
await mf.dispose();
await local.close();
