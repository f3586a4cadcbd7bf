// usage: node self.mjs profile.cpuprofile [N] — self time and inclusive time per function
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const N = Number(process.argv[3] ?? 40);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const counts = new Map();
for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const total = p.samples.length;
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const incl = new Map();
for (const [id, c] of counts) {
  const n = byId.get(id);
  self.set(name(n), (self.get(name(n)) ?? 0) + c);
  const seen = new Set();
  let cur = id;
  while (cur !== undefined) {
    const nm = name(byId.get(cur));
    if (!seen.has(nm)) { seen.add(nm); incl.set(nm, (incl.get(nm) ?? 0) + c); }
    cur = parent.get(cur);
  }
}
const show = (m, title) => {
  console.log(`== ${title} (total ${total})`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log((100 * v / total).toFixed(1).padStart(5), k);
};
show(self, 'self');
if (process.argv[4] === 'incl') show(incl, 'inclusive');
