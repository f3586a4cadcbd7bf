// One load run with autocannon, in its own process (pinned to the other core by the runner).
// argv[2]: JSON { url, path, connections, seconds, distinctKeys? }; prints autocannon's result as JSON.
import autocannon from 'autocannon';

const { url, path, connections, seconds, distinctKeys } = JSON.parse(process.argv[2]);
const result = await autocannon({
  url: `${url}${path}`,
  connections,
  duration: seconds,
  ...(distinctKeys !== undefined
    ? {
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              path: `${path}?k=${Math.floor(Math.random() * distinctKeys)}`,
            }),
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
  }),
);
