import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
const r = await build({ entryPoints: ['examples/worker/index.ts'], bundle: true, format: 'esm', platform: 'browser', conditions: ['workerd', 'worker', 'browser'], target: 'es2022', minify: true, write: false, metafile: true, external: ['node:*', 'cloudflare:*'] , logLevel: 'warning'});
const t = r.outputFiles[0].contents;
console.log(t.length, gzipSync(t).length);
const inputs = Object.entries(r.metafile.outputs['<stdout>']?.inputs ?? Object.values(r.metafile.outputs)[0].inputs).map(([k,v])=>[k.replace(/node_modules\/([^/]+(\/[^/]+)?)\/.*/, 'pkg:$1'), v.bytesInOutput]);
const agg = {}; for (const [k,b] of inputs) { const key = k.startsWith('pkg:')?k:k.split('/').slice(0,2).join('/'); agg[key]=(agg[key]??0)+b; }
console.log(Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,20));
const text = new TextDecoder().decode(t);
console.log('node imports:', [...text.matchAll(/from"(node:[^"]+)"|import\("(node:[^"]+)"\)|require\("([^"]+)"\)/g)].map(m=>m[1]??m[2]??m[3]));
