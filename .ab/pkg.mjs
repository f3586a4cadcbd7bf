// usage: node pkg.mjs profile.cpuprofile — self samples grouped by package / area
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const groups = new Map();
let busy = 0;
for (const [id, c] of counts) {
  const n = byId.get(id); const url = n.callFrame.url; const fn = n.callFrame.functionName;
  if (fn === '(idle)') continue;
  busy += c;
  let g;
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) g = m[1];
  else if (url.includes('/dist/cache/')) g = 'ours:' + url.split('/dist/cache/')[1].split('/')[0];
  else if (url.includes('/bench/')) g = 'bench';
  else if (url.startsWith('node:')) g = 'node:' + url.slice(5).split('/')[1];
  else g = fn.startsWith('(') ? fn : 'native:' + fn;
  groups.set(g, (groups.get(g) ?? 0) + c);
}
console.log('busy samples', busy);
for (const [k, v] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((100 * v / busy).toFixed(1).padStart(5), k);
