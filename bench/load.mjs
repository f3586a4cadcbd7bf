// One load run with autocannon, in its own process (pinned to the other core by the runner).
// argv[2]: JSON { url, path, connections, seconds, keys?, headers?, count? }; prints autocannon's result as JSON.
//   keys: { distinct: n } adds `?k=<random of n>`; 'unique' adds a `?k=` never sent before (this process's
//   id and start time, then a counter), so no two requests of any run share a key.
//   headers: request headers sent with every request (for example { 'accept-encoding': 'gzip' }).
//   count: response header names (lower case) whose values are tallied over every response, in `seen`
//   ({ 'x-cache': { HIT: 9000 }, 'content-encoding': { gzip: 9000 } }; a missing header counts as `none`).
//   With keys, `x-cache` is always counted and also reported as `xCache`.
import autocannon from 'autocannon';

const { url, path, connections, seconds, keys, headers, count = [] } = JSON.parse(process.argv[2]);

const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let sent = 0;
const nextKey =
  keys === 'unique'
    ? () => `${runId}-${(sent++).toString(36)}`
    : keys?.distinct !== undefined
      ? () => String(Math.floor(Math.random() * keys.distinct))
      : undefined;

const counted = [...new Set([...count, ...(nextKey !== undefined ? ['x-cache'] : [])])];
const seen = Object.fromEntries(counted.map((name) => [name, {}]));
const onResponse = (status, body, context, responseHeaders) => {
  const lower = {};
  for (const [name, value] of Object.entries(responseHeaders)) lower[name.toLowerCase()] = value;
  for (const name of counted) {
    const value = lower[name] ?? 'none';
    seen[name][value] = (seen[name][value] ?? 0) + 1;
  }
};
const request = {
  ...(nextKey !== undefined ? { setupRequest: (req) => ({ ...req, path: `${path}?k=${nextKey()}` }) } : {}),
  ...(counted.length > 0 ? { onResponse } : {}),
};
const result = await autocannon({
  url: `${url}${path}`,
  connections,
  duration: seconds,
  ...(headers !== undefined ? { headers } : {}),
  ...(Object.keys(request).length > 0 ? { requests: [request] } : {}),
});
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ...(counted.length > 0 ? { seen } : {}),
    ...(nextKey !== undefined ? { xCache: seen['x-cache'] } : {}),
  }),
);
