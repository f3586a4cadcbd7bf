// Micro-benchmark of the method cache's value codec (src/cache/values/value-codec.ts): ns per encodeValue and
// per decodeValue for a 1 KB JSON object, a 100 KB one and a value with Dates and Maps, beside
// JSON.stringify / JSON.parse and structuredClone on the same value. The `vs JSON` column is
// (encode + decode) / (stringify + parse); for the Dates/Maps value JSON loses the types, so read it beside
// structuredClone there.
//   npm run build && node bench/value-codec.mjs
// It reads dist/ by default; VALUE_CODEC_MODULE may name another build of the module (dist/ is shared with
// other builds), e.g. `npx tsc -p tsconfig.build.json --outDir /tmp/codec-dist` and
// VALUE_CODEC_MODULE=/tmp/codec-dist/cache/values/value-codec.js. Each cell is the median of 4 x RUNS
// (default 7) slices of MIN_MS / 4 (default 200 / 4) ms, the candidates of a row interleaved slice by slice;
// the ratios are medians of per-round ratios, so that load from other processes cancels out.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, root } from './util.mjs';

const RUNS = Number(process.env.RUNS ?? 7);
const MIN_MS = Number(process.env.MIN_MS ?? 200);
const modulePath = process.env.VALUE_CODEC_MODULE ?? join(root, 'dist/cache/values/value-codec.js');
const { encodeValue, decodeValue } = await import(pathToFileURL(modulePath).href);

/** Deterministic pseudo-random floats in [0, 1). */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 4_294_967_296;
  };
}

function record(random, i) {
  return {
    id: i,
    uuid: `5f0c${Math.floor(random() * 1e12).toString(16)}`,
    name: `User number ${i}`,
    email: `user${i}@example.com`,
    active: random() < 0.5,
    score: Math.round(random() * 1e6) / 100,
    roles: ['reader', random() < 0.3 ? 'admin' : 'editor'],
    address: { street: `${i} Main Street`, city: 'Springfield', zip: String(10_000 + i) },
    createdAt: '2026-01-02T03:04:05.678Z',
  };
}

/** A JSON array of records, about `bytes` long once stringified. */
function jsonOf(bytes) {
  const random = prng(bytes);
  const out = [];
  while (JSON.stringify(out).length < bytes) out.push(record(random, out.length));
  return out;
}

function withDatesAndMaps() {
  const random = prng(7);
  const byId = new Map();
  const users = [];
  for (let i = 0; i < 20; i++) {
    const user = { ...record(random, i), createdAt: new Date(1_767_000_000_000 + i), lastSeen: new Date() };
    users.push(user);
    byId.set(i, { name: user.name, tags: new Set(user.roles), balance: BigInt(i) * 10n ** 12n });
  }
  return { generatedAt: new Date(), users, byId, missing: undefined };
}

const values = [
  ['1 KB JSON object', { page: 1, items: jsonOf(850), total: 3, next: null }],
  ['100 KB JSON object', { page: 1, items: jsonOf(100_000), total: 400, next: 'cursor-2' }],
  ['Dates/Maps (20 users)', withDatesAndMaps()],
];

let sink;

/** Calls per slice of about `ms` milliseconds. */
function calibrate(fn, ms) {
  let batch = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink = fn();
    const ns = Number(process.hrtime.bigint() - start);
    if (ns >= ms * 1e6 * 0.25) return Math.max(1, Math.round((batch * ms * 1e6) / ns));
    batch *= 2;
  }
}

/**
 * ns per call of every candidate, median of RUNS rounds; in each round every candidate runs one slice, so
 * load on the machine hits all of them alike. `ratio(ns)` is also taken per round (paired) and its median kept.
 */
function measure(candidates, ratios) {
  const names = Object.keys(candidates);
  const batches = names.map((name) => calibrate(candidates[name], MIN_MS / 4));
  const samples = names.map(() => []);
  const paired = Object.fromEntries(Object.keys(ratios).map((name) => [name, []]));
  for (let run = 0; run < RUNS * 4; run++) {
    const round = {};
    names.forEach((name, i) => {
      const fn = candidates[name];
      const batch = batches[i];
      const start = process.hrtime.bigint();
      for (let j = 0; j < batch; j++) sink = fn();
      round[name] = Number(process.hrtime.bigint() - start) / batch;
      samples[i].push(round[name]);
    });
    for (const [name, ratio] of Object.entries(ratios)) paired[name].push(ratio(round));
  }
  return {
    ns: Object.fromEntries(names.map((name, i) => [name, median(samples[i])])),
    ratios: Object.fromEntries(Object.entries(paired).map(([name, xs]) => [name, median(xs)])),
  };
}

const format = (ns) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${Math.round(ns)} ns`);

console.log(
  `node ${process.version}, ${RUNS * 4} interleaved slices of ~${MIN_MS / 4} ms per cell, median; ` +
    `module ${modulePath}\n`,
);
const rows = [];
for (const [name, value] of values) {
  // A stored text comes back flat (from Redis, or flattened by the first read of a memory entry).
  const text = Buffer.from(encodeValue(value)).toString();
  // JSON.stringify cannot write a BigInt: only the value that has some gets a replacer (which slows it down).
  const replacer = hasBigInt(value) ? bigints : undefined;
  const json = JSON.stringify(value, replacer);
  if (decodeValue(text) === undefined) throw new Error(`${name}: decodes as a miss`);
  const { ns, ratios } = measure(
    {
      encodeValue: () => encodeValue(value),
      decodeValue: () => decodeValue(text),
      'JSON.stringify': () => JSON.stringify(value, replacer),
      'JSON.parse': () => JSON.parse(json),
      structuredClone: () => globalThis.structuredClone(value),
    },
    {
      'vs JSON': (r) => (r.encodeValue + r.decodeValue) / (r['JSON.stringify'] + r['JSON.parse']),
      'vs clone': (r) => (r.encodeValue + r.decodeValue) / r.structuredClone,
      'decode vs parse': (r) => r.decodeValue / r['JSON.parse'],
    },
  );
  rows.push({
    value: name,
    shape: text[0] === 'j' ? 'fast' : 'tagged',
    'text bytes': Buffer.byteLength(text),
    ...Object.fromEntries(Object.entries(ns).map(([key, x]) => [key, format(x)])),
    ...Object.fromEntries(Object.entries(ratios).map(([key, x]) => [key, `${x.toFixed(2)}x`])),
  });
}
console.table(rows);
if (sink === Symbol.for('never')) console.log(sink);

function bigints(_key, v) {
  return typeof v === 'bigint' ? String(v) : v;
}

function hasBigInt(value) {
  try {
    JSON.stringify(value);
    return false;
  } catch {
    return true;
  }
}
