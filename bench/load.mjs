// One load run with autocannon, in its own process (pinned to the other core by the runner).
// argv[2]: JSON { url, path, connections, seconds, keys? }; prints autocannon's result as JSON.
//   keys: { distinct: n } adds `?k=<random of n>`; 'unique' adds a `?k=` never sent before (this process's
//   id and start time, then a counter), so no two requests of any run share a key. With keys, the result
//   also counts the X-Cache response header's values (`xCache`, every response).
import autocannon from 'autocannon';

const { url, path, connections, seconds, keys } = JSON.parse(process.argv[2]);

const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let sent = 0;
const nextKey =
  keys === 'unique'
    ? () => `${runId}-${(sent++).toString(36)}`
    : keys?.distinct !== undefined
      ? () => String(Math.floor(Math.random() * keys.distinct))
      : undefined;

const xCache = {};
const result = await autocannon({
  url: `${url}${path}`,
  connections,
  duration: seconds,
  ...(nextKey !== undefined
    ? {
        requests: [
          {
            setupRequest: (request) => ({ ...request, path: `${path}?k=${nextKey()}` }),
            onResponse: (status, body, context, headers) => {
              const value = headers['x-cache'] ?? headers['X-Cache'] ?? 'none';
              xCache[value] = (xCache[value] ?? 0) + 1;
            },
          },
        ],
      }
    : {}),
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
    ...(nextKey !== undefined ? { xCache } : {}),
  }),
);
