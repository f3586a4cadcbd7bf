import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';

/** One request as the application's HTTP server received it, and what it answered. */
export interface Exchange {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  /** The request headers as they arrived (what the client's cache added included). */
  readonly request: IncomingHttpHeaders;
  /** The status line's code. */
  status: number;
  /** The response headers, lower-cased names, values joined with `, `. */
  response: Record<string, string>;
}

function headerText(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(', ') : String(value);
}

/** The headers a `writeHead(status, [reason], headers)` call passes (Fastify sends every header this way). */
function writeHeadHeaders(args: unknown[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const given = args.find((arg) => typeof arg === 'object' && arg !== null);
  if (Array.isArray(given)) {
    // Raw pairs: [name, value, name, value, ...].
    for (let i = 0; i + 1 < given.length; i += 2) {
      headers[String(given[i]).toLowerCase()] = headerText(given[i + 1]);
    }
  } else if (given !== undefined) {
    for (const [name, value] of Object.entries(given)) {
      if (value !== undefined) headers[name.toLowerCase()] = headerText(value);
    }
  }
  return headers;
}

/**
 * Records, from the server side, every request the application receives and the status and headers it
 * answers: what a client's cache sent (`If-None-Match`) and whether the app answered `304` from its entry
 * (`X-Cache: HIT`, no handler run), independently of what the client reports.
 */
export class ServerTraffic {
  readonly exchanges: Exchange[] = [];
  private readonly pending = new Set<Promise<void>>();

  private readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const exchange: Exchange = {
      method: req.method ?? '',
      path: req.url ?? '',
      request: { ...req.headers },
      status: 0,
      response: {},
    };
    this.exchanges.push(exchange);
    let passed: Record<string, string> = {};
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = (...args: unknown[]) => {
      passed = { ...passed, ...writeHeadHeaders(args.slice(1)) };
      return writeHead(...args);
    };
    const done = new Promise<void>((resolve) => {
      res.once('close', () => {
        exchange.status = res.statusCode;
        const set = Object.fromEntries(
          Object.entries(res.getHeaders()).map(([name, value]) => [name.toLowerCase(), headerText(value)]),
        );
        exchange.response = { ...set, ...passed };
        resolve();
      });
    });
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
  };

  constructor(private readonly server: Server) {
    // First, so that the headers the framework passes to writeHead are seen.
    server.prependListener('request', this.listener);
  }

  /** The position from which {@link since} lists exchanges. */
  mark(): number {
    return this.exchanges.length;
  }

  /** The exchanges from `mark` on, once every response in flight has finished. */
  async since(mark: number, path?: string): Promise<Exchange[]> {
    await Promise.all([...this.pending]);
    return this.exchanges.slice(mark).filter((e) => path === undefined || e.path === path);
  }

  stop(): void {
    this.server.removeListener('request', this.listener);
  }
}

/** One line of a trace: the request's cache-relevant headers, then the status and the cache's headers. */
export function traceOf(exchange: Exchange): string {
  const req = exchange.request;
  const credentials =
    req['authorization'] !== undefined ? 'Bearer' : req['x-api-key'] !== undefined ? 'X-API-Key' : 'none';
  const sent = [
    `credentials=${credentials}`,
    req['if-none-match'] !== undefined ? `If-None-Match: ${headerText(req['if-none-match'])}` : undefined,
    req['if-modified-since'] !== undefined
      ? `If-Modified-Since: ${headerText(req['if-modified-since'])}`
      : undefined,
    req['cache-control'] !== undefined ? `Cache-Control: ${headerText(req['cache-control'])}` : undefined,
    req['pragma'] !== undefined ? `Pragma: ${headerText(req['pragma'])}` : undefined,
  ].filter((part) => part !== undefined);
  const res = exchange.response;
  const answered = ['x-cache', 'etag', 'cache-control', 'vary']
    .filter((name) => res[name] !== undefined)
    .map((name) => `${name}: ${res[name]}`);
  return `${exchange.method} ${exchange.path} [${sent.join('; ')}] -> ${exchange.status} [${answered.join('; ')}]`;
}

/**
 * With `INTEROP_TRACE=1`, prints what the server saw during one step of a test (the traces quoted when a
 * client's behaviour is reported); otherwise prints nothing.
 */
export function printTrace(label: string, exchanges: readonly Exchange[]): void {
  if (process.env['INTEROP_TRACE'] !== '1') return;
  console.log(`--- ${label}\n${exchanges.map(traceOf).join('\n')}`);
}

/** Counts the calls of one method of an object (a provider the handler calls), keeping its behaviour. */
export function countCalls<T extends object, K extends keyof T & string>(target: T, method: K): () => number {
  const original = target[method];
  if (typeof original !== 'function') throw new TypeError(`${method} is not a method`);
  let calls = 0;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    calls++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  Object.defineProperty(target, method, { value: wrapped, configurable: true, writable: true });
  return () => calls;
}
