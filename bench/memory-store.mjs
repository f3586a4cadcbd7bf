// Micro-benchmark of the in-process store: ns per set that evicts (store full at 10k and 100k entries), per set
// that replaces a key (no eviction), per hit, and a mixed workload (hits on a hot set, misses that set and
// evict). It measures compiled JavaScript, never dist/ (which other builds overwrite): compile each version into
// a private folder first, e.g.
//   npx tsc -p tsconfig.build.json --outDir /tmp/memstore-dist
//   node bench/memory-store.mjs new=/tmp/memstore-dist/cache/stores/memory.store.js \
//     old=/tmp/memstore-old/cache/stores/memory.store.js
// Each module is measured in its own process (so that one version's JIT state cannot skew the other) and the
// table shows the median of RUNS runs (default 5). MEMORY_STORE_MODULE may name a single module instead.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './util.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const CHILD = process.env.MEMORY_STORE_BENCH_CHILD === '1';
const UNBOUNDED_BYTES = 2 ** 50;

const value = {
  status: 200,
  contentType: 'application/json',
  body: '{"id":1,"name":"item","tags":["a","b"]}',
  etag: '"5d41402abc4b2a76b9719d911017c592"',
  expiresAt: Number.MAX_SAFE_INTEGER,
  staleUntil: Number.MAX_SAFE_INTEGER,
  tick: 1,
  computeMs: 3,
};

/** Deterministic pseudo-random integers in [0, n). */
function randomIndexes(count, n, seed = 42) {
  const out = new Uint32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    out[i] = s % n;
  }
  return out;
}

function keysFor(count) {
  return Array.from({ length: count }, (_, i) => `GET:/items/${i}?page=1`);
}

function filled(MemoryStore, n, keys) {
  const store = new MemoryStore(n, UNBOUNDED_BYTES);
  for (let i = 0; i < n; i++) store.set(keys[i], value, 60_000);
  return store;
}

function nsPerOp(ops, fn) {
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / ops;
}

/** Every set is a new key into a full store, so each one evicts. Spans several rehash cycles of the Map. */
function setWithEviction(MemoryStore, n, ops) {
  const keys = keysFor(n + ops);
  const store = filled(MemoryStore, n, keys);
  return nsPerOp(ops, () => {
    for (let i = n; i < n + ops; i++) store.set(keys[i], value, 60_000);
  });
}

/** Sets of keys already present, so nothing is evicted: the cost of copying and freezing an entry. */
function replace(MemoryStore, n, ops) {
  const keys = keysFor(n);
  const store = filled(MemoryStore, n, keys);
  const order = randomIndexes(ops, n, 5);
  return nsPerOp(ops, () => {
    for (let i = 0; i < ops; i++) store.set(keys[order[i]], value, 60_000);
  });
}

/** Reads of random keys that are all present. */
function hit(MemoryStore, n, ops) {
  const keys = keysFor(n);
  const store = filled(MemoryStore, n, keys);
  const order = randomIndexes(ops, n);
  let found = 0;
  const ns = nsPerOp(ops, () => {
    for (let i = 0; i < ops; i++) if (store.get(keys[order[i]]) !== undefined) found++;
  });
  if (found !== ops) throw new Error(`hit: ${ops - found} misses`);
  return ns;
}

/** 80% reads of a hot tenth of the store, 20% new keys (a miss, then a set that evicts). */
function mixed(MemoryStore, n, ops) {
  const keys = keysFor(n + ops);
  const store = filled(MemoryStore, n, keys);
  const hot = Math.max(1, Math.floor(n / 10));
  const roll = randomIndexes(ops, 10, 7);
  const pick = randomIndexes(ops, hot, 9);
  let next = n;
  return nsPerOp(ops, () => {
    for (let i = 0; i < ops; i++) {
      if (roll[i] < 8) {
        // The hot keys are the most recently written ones, so they stay resident.
        const key = keys[next - 1 - pick[i]];
        if (store.get(key) === undefined) store.set(key, value, 60_000);
      } else {
        const key = keys[next++];
        if (store.get(key) === undefined) store.set(key, value, 60_000);
      }
    }
  });
}

// [name, workload, entries, operations]. The set+evict counts span several rehash cycles of a V8 Map holding
// that many entries (the old store's cost grows through each cycle).
const WORKLOADS = [
  ['set+evict, 10k entries', setWithEviction, 10_000, 200_000],
  ['set+evict, 100k entries', setWithEviction, 100_000, 400_000],
  ['set replacing a key, 10k entries', replace, 10_000, 500_000],
  ['hit, 10k entries', hit, 10_000, 2_000_000],
  ['hit, 100k entries', hit, 100_000, 2_000_000],
  ['mixed 80/20, 10k entries', mixed, 10_000, 500_000],
  ['mixed 80/20, 100k entries', mixed, 100_000, 500_000],
];

async function measure(modulePath) {
  const { MemoryStore } = await import(pathToFileURL(modulePath).href);
  const result = {};
  for (const [name, run, entries, ops] of WORKLOADS) {
    run(MemoryStore, Math.min(entries, 10_000), 50_000); // warm-up: the same code, small enough to be quick
    const samples = [];
    for (let r = 0; r < RUNS; r++) samples.push(run(MemoryStore, entries, ops));
    result[name] = { median: median(samples), samples };
  }
  return result;
}

if (CHILD) {
  process.stdout.write(JSON.stringify(await measure(process.argv[2])));
} else {
  const args = process.argv.slice(2);
  if (args.length === 0 && process.env.MEMORY_STORE_MODULE) args.push(process.env.MEMORY_STORE_MODULE);
  if (args.length === 0) {
    console.error('usage: node bench/memory-store.mjs [label=]<compiled memory.store.js> ...');
    process.exit(2);
  }
  const columns = [];
  for (const arg of args) {
    const at = arg.indexOf('=');
    const [label, path] = at < 0 ? [arg, arg] : [arg.slice(0, at), arg.slice(at + 1)];
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), path], {
      env: { ...process.env, MEMORY_STORE_BENCH_CHILD: '1' },
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) {
      console.error(child.stderr);
      process.exit(1);
    }
    columns.push({ label, result: JSON.parse(child.stdout) });
  }
  console.log(`node ${process.version}, median of ${RUNS} runs, ns per operation`);
  const width = Math.max(...WORKLOADS.map(([name]) => name.length));
  console.log(['workload'.padEnd(width), ...columns.map((c) => c.label.padStart(12))].join('  '));
  for (const [name] of WORKLOADS) {
    const cells = columns.map((c) => c.result[name].median.toFixed(0).padStart(12));
    console.log([name.padEnd(width), ...cells].join('  '));
  }
  if (process.env.VERBOSE === '1') console.log(JSON.stringify(columns, null, 2));
}
