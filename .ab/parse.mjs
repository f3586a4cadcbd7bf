const NAMES = Array.from({ length: 64 }, (_, i) => `item number ${i}`);
function fresh(id) { const items = []; for (let i = 0; i < 13; i++) items.push({ id: i, name: NAMES[i], tags: ['alpha', 'beta'], active: i % 2 === 0 }); return { id, items }; }
const json = JSON.stringify(fresh(1));
const j = 'j' + json;
const RE = /__proto__|constructor|prototype|\\u/;
function clone(v) {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) { const n = v.length, out = new Array(n); for (let i = 0; i < n; i++) out[i] = clone(v[i]); return out; }
  const out = {}; for (const k in v) out[k] = clone(v[k]); return out;
}
const tree = JSON.parse(json);
const cases = {
  parseFull: () => JSON.parse(json),
  parseSlice: () => JSON.parse(j.slice(1)),
  regex: () => RE.test(j),
  clone: () => clone(tree),
  structuredClone: () => structuredClone(tree),
};
let sink;
for (let r = 0; r < 3; r++) for (const [name, f] of Object.entries(cases)) {
  const N = 200000; const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink = f();
  console.log(r, name.padEnd(16), (Number(process.hrtime.bigint() - t) / N).toFixed(0), 'ns');
}
console.log(json.length);
function cloneKeys(v) {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) { const n = v.length, out = new Array(n); for (let i = 0; i < n; i++) out[i] = cloneKeys(v[i]); return out; }
  const out = {}; const keys = Object.keys(v); for (let i = 0; i < keys.length; i++) { const k = keys[i]; out[k] = cloneKeys(v[k]); } return out;
}
function cloneKeys2(v) {
  const out = {}; const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) { const k = keys[i]; const c = v[k]; out[k] = typeof c === 'object' && c !== null ? (Array.isArray(c) ? cloneArr(c) : cloneKeys2(c)) : c; }
  return out;
}
function cloneArr(a) { const n = a.length, out = new Array(n); for (let i = 0; i < n; i++) { const c = a[i]; out[i] = typeof c === 'object' && c !== null ? (Array.isArray(c) ? cloneArr(c) : cloneKeys2(c)) : c; } return out; }
const m = new Map([[j, tree]]);
const j2 = (' ' + j).slice(1);
for (let r = 0; r < 3; r++) for (const [name, f] of Object.entries({ clone: () => clone(tree), cloneKeys: () => cloneKeys(tree), cloneKeys2: () => cloneKeys2(tree), mapGetSame: () => m.get(j), mapGetNew: () => m.get(('x' + json).replace('x','j')) , concat: () => ('x' + json).replace('x','j') })) {
  const N = 200000; const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink = f();
  console.log(r, name.padEnd(16), (Number(process.hrtime.bigint() - t) / N).toFixed(0), 'ns');
}
