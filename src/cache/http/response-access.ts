import { hookNextSend } from './send-hook.js';

/** The body-sending method of an adapter response (`res.send` on Express, `reply.send` on Fastify). */
export type SendFunction = (body?: unknown) => unknown;

/**
 * Decides what is actually sent. Called once, with the payload Nest (or an exception filter) passes to
 * `send`, after the status is final and after every interceptor has run.
 */
export type SendHook = (payload: unknown, send: SendFunction) => unknown;

interface ExpressLikeResponse {
  statusCode: number;
  readonly headersSent?: boolean;
  getHeader(name: string): number | string | string[] | undefined;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  removeHeader(name: string): void;
  send: SendFunction;
  /** Added by the `compression` middleware. */
  flush?: unknown;
}

interface FastifyLikeReply {
  raw: { readonly headersSent?: boolean };
  statusCode: number;
  code(status: number): unknown;
  getHeader(name: string): number | string | string[] | undefined;
  header(name: string, value: unknown): unknown;
  removeHeader(name: string): unknown;
  send: SendFunction;
  /** Set by `@fastify/compress` on the replies of the routes it compresses. */
  compress?: unknown;
}

/**
 * Uniform access to Express responses and Fastify replies; the rest of the module never branches on which.
 * Implementations are stateless singletons, so the hit path allocates nothing for them.
 */
export interface ResponseAccess<R extends object = object> {
  readonly kind: 'express' | 'fastify';
  status(res: R): number;
  setStatus(res: R, status: number): void;
  header(res: R, name: string): string | undefined;
  setHeader(res: R, name: string, value: string): void;
  removeHeader(res: R, name: string): void;
  /**
   * Whether application compression (`compression` on Express, `@fastify/compress` on Fastify) may encode this
   * response after the cache sent it.
   */
  compressed(res: R): boolean;
  /**
   * The `Vary` names of a response with several codings: `Accept-Encoding`, spelled as the adapter's
   * compression plugin spells it, so that the plugin finds it there and does not add it a second time
   * (`@fastify/compress` looks for `accept-encoding` case-sensitively; `compression` compares without case).
   */
  readonly varyAcceptEncoding: readonly string[];
  /** Runs `hook` in place of the next `send()` of this response. */
  onSend(res: R, hook: SendHook): void;
  /** Whether the response's headers are on their way already (written without `send()`). */
  headersSent(res: R): boolean;
  /**
   * Turns a payload into the bytes the adapter would send, setting the JSON content type when the payload is
   * an object (Express serializes in `res.json()` before `send()`, Fastify inside `send()`). `undefined` for
   * streams, which are never captured.
   */
  serialize(res: R, payload: unknown): SerializedBody | undefined;
}

/** A response body as sent: text, bytes, or nothing. */
export interface SerializedBody {
  readonly text: string | undefined;
  readonly binary: Buffer | undefined;
}

function firstHeader(value: number | string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY: SerializedBody = Object.freeze({ text: undefined, binary: undefined });

/**
 * The bytes the adapter would send for `payload`. Express has already serialized in `res.json()` (and sends
 * `String(value)` for primitives, nothing for `null`); Fastify serializes everything but strings, buffers and
 * streams as JSON, `null` included.
 */
function serializePayload(
  access: ResponseAccess,
  res: object,
  payload: unknown,
  jsonForNonText: boolean,
): SerializedBody | undefined {
  if (payload === undefined) return EMPTY_BODY;
  if (typeof payload === 'string') return { text: payload, binary: undefined };
  if (Buffer.isBuffer(payload)) return { text: undefined, binary: payload };
  if (typeof payload === 'object' && payload !== null) {
    if (typeof (payload as { pipe?: unknown }).pipe === 'function' || Symbol.asyncIterator in payload)
      return undefined;
  } else if (!jsonForNonText) {
    if (payload === null) return EMPTY_BODY;
    if (typeof payload === 'number' || typeof payload === 'boolean')
      return { text: String(payload), binary: undefined };
    return undefined;
  } else if (payload !== null && typeof payload !== 'number' && typeof payload !== 'boolean') {
    return undefined;
  }
  if (access.header(res, 'content-type') === undefined) access.setHeader(res, 'content-type', JSON_TYPE);
  return { text: JSON.stringify(payload), binary: undefined };
}

const expressAccess: ResponseAccess<ExpressLikeResponse> = {
  kind: 'express',
  status: (res) => res.statusCode,
  setStatus: (res, status) => {
    res.statusCode = status;
  },
  header: (res, name) => firstHeader(res.getHeader(name)),
  setHeader: (res, name, value) => void res.setHeader(name, value),
  removeHeader: (res, name) => res.removeHeader(name),
  compressed: (res) => typeof res.flush === 'function',
  varyAcceptEncoding: Object.freeze(['Accept-Encoding']),
  onSend: hookNextSend,
  headersSent: (res) => res.headersSent === true,
  serialize: (res, payload) => serializePayload(expressAccess, res, payload, false),
};

const fastifyAccess: ResponseAccess<FastifyLikeReply> = {
  kind: 'fastify',
  status: (res) => res.statusCode,
  // `code()` also marks the status as set by the application, which only matters for statuses other than 200.
  setStatus: (res, status) => {
    if (res.statusCode !== status) res.code(status);
  },
  header: (res, name) => firstHeader(res.getHeader(name)),
  setHeader: (res, name, value) => void res.header(name, value),
  removeHeader: (res, name) => void res.removeHeader(name),
  compressed: (res) => typeof res.compress === 'function',
  varyAcceptEncoding: Object.freeze(['accept-encoding']),
  onSend: hookNextSend,
  headersSent: (res) => res.raw.headersSent === true,
  serialize: (res, payload) => serializePayload(fastifyAccess, res, payload, true),
};

/** The accessor for a response object of either adapter. */
export function responseAccessFor(res: object): ResponseAccess {
  const isFastify = 'raw' in res && typeof (res as { code?: unknown }).code === 'function';
  return isFastify ? fastifyAccess : expressAccess;
}
