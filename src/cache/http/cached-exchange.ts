import { Logger, StreamableFile, type CallHandler } from '@nestjs/common';
import { catchError, of, type Observable } from 'rxjs';
import { observed } from './observables.js';
import { errorMessage } from '../cache.errors.js';
import type { Acquired } from '../engine/cache-engine.js';
import type { Ticket } from '../engine/ticket.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import type { CacheHeaders } from './cache-headers.js';
import type { CacheRequest } from './cache-key.js';
import { ifNoneMatchHits, strongEtag } from './etag.js';
import { compressForStorage, freshRepresentation, representationOf } from './stored-compression.js';
import { responseForbidsStore } from './request-directives.js';
import { varyOf } from './vary.js';
import type { ResponseAccess, SendFunction } from './response-access.js';
import type { RoutePlan } from './route-plan.js';

const logger = new Logger('Cache');

function isStreamResult(value: unknown): boolean {
  return (
    value instanceof StreamableFile ||
    (typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function')
  );
}

/**
 * One cacheable request after the engine decided: sends a stored entry (whatever the interceptors in front
 * made of the value), or runs the handler and captures its response at send time to complete the ticket.
 */
export class CachedExchange {
  /** The handler's value arrived (a send before that is the handler writing the response itself). */
  private handlerDone = false;
  /** The handler answered a stream, which is never captured. */
  private streamed = false;
  private value: unknown;

  constructor(
    private readonly next: CallHandler,
    private readonly plan: RoutePlan,
    private readonly request: CacheRequest,
    private readonly res: object,
    private readonly access: ResponseAccess,
    private readonly headers: CacheHeaders,
    private readonly key: string,
    /** Whether the computed entry will be stored (not for `HEAD` or `no-store`). */
    private readonly write: boolean,
  ) {}

  run(acquired: Acquired): Observable<unknown> {
    if (acquired.kind === 'compute') return this.miss(acquired.ticket);
    return this.hit(acquired.entry, acquired.label) ?? this.unreadable();
  }

  /** Answers with the entry; `undefined` when it cannot be read (a corrupt compressed body). */
  private hit(entry: StoredResponse, label: 'HIT' | 'STALE'): Observable<unknown> | undefined {
    const { access, res, plan, request } = this;
    const representation = representationOf(entry, request);
    if (representation === undefined) return undefined;
    access.onSend(res, (payload, send) => {
      // An interceptor or filter outside this one failed: its error response goes out, not the entry.
      if (access.status(res) >= 400) {
        this.headers.forbidStore(access, res, plan, request);
        return send(payload);
      }
      return this.headers.answer(access, res, plan, request, entry, label, send, representation);
    });
    return of(entry.body ?? null);
  }

  /** The entry found cannot be read: the handler answers, and nothing is stored (the entry expires). */
  private unreadable(): Observable<unknown> {
    logger.warn(`Entry ${this.key} cannot be read (corrupt compressed body); served uncached`);
    const { access, res, plan, request } = this;
    access.onSend(res, (payload, send) => {
      this.headers.status(access, res, 'MISS');
      this.headers.forbidStore(access, res, plan, request);
      return send(payload);
    });
    return this.next.handle();
  }

  private miss(ticket: Ticket): Observable<unknown> {
    const { access, res } = this;
    access.onSend(res, (payload, send) => {
      try {
        return this.sendMiss(ticket, send, payload);
      } catch (error) {
        // Capturing failed (for example a payload JSON cannot represent): send it the adapter's way, uncached.
        logger.warn(`Could not cache ${this.key}: ${errorMessage(error)}`);
        return this.sendUncached(ticket, send, payload);
      }
    });
    const handled = observed(this.next.handle(), {
      next: (value) => {
        this.handlerDone = true;
        this.value = value;
        if (isStreamResult(value)) {
          this.streamed = true;
          // Described now: Express pipes a stream into the response without `send()`.
          this.headers.status(access, res, 'MISS');
          this.headers.forbidStore(access, res, this.plan, this.request);
        }
      },
      error: () => ticket.abandon(),
      finalize: () => {
        // A stream, or a response the handler wrote (itself, or without `send()`), is never captured: release
        // followers now. (The flags are final here: the handler's value, if any, arrived before completion.)
        if (!this.handlerDone || this.streamed || access.headersSent(res)) ticket.abandon();
      },
    });
    const stale = ticket.stale;
    if (stale === undefined) return handled;
    return handled.pipe(
      catchError((error: unknown) => {
        logger.warn(`Refresh of ${this.key} failed (${errorMessage(error)}); serving the stale entry`);
        this.plan.policy.counters.stale++;
        const answered = this.hit(stale, 'STALE');
        if (answered === undefined) throw error;
        return answered;
      }),
    );
  }

  private sendMiss(ticket: Ticket, send: SendFunction, payload: unknown): unknown {
    const { access, res, plan, request } = this;
    const status = access.status(res);
    // Error responses (exception filters also send through here) and responses the handler wrote are skipped.
    if (!this.handlerDone || this.streamed || status < 200 || status >= 300) {
      return this.sendUncached(ticket, send, payload);
    }
    const body = access.serialize(res, payload);
    if (body === undefined) return this.sendUncached(ticket, send, payload);
    const bytes = body.binary ?? body.text;
    const vary = varyOf(access.header(res, 'vary'), request.headers);
    // A response that may not be stored gets no validators or lifetime from the cache, whatever the request.
    if (vary === '*' || !this.mayBeStored()) return this.sendUncached(ticket, send, bytes);
    const tags = this.resultTags();
    const contentType = access.header(res, 'content-type');
    // Compressed when stored, and for a HEAD, whose headers are those of the GET it stands for.
    const gzip =
      bytes === undefined || (!this.write && request.method !== 'HEAD')
        ? undefined
        : compressForStorage(bytes, contentType, this.headers.compressAbove);
    const etag = strongEtag(bytes);
    const entry = ticket.complete(
      gzip !== undefined
        ? {
            status,
            contentType,
            body: gzip.toString('base64'),
            encoding: 'base64',
            contentEncoding: 'gzip',
            etag,
            vary,
          }
        : {
            status,
            contentType,
            body: body.binary !== undefined ? body.binary.toString('base64') : body.text,
            // One shape either way (a conditional spread builds a temporary object and a slow literal).
            encoding: body.binary !== undefined ? 'base64' : undefined,
            etag,
            vary,
          },
      tags,
      plan.resultTags === undefined || tags !== undefined,
    );
    if (gzip !== undefined && bytes !== undefined) {
      const representation = freshRepresentation(etag, bytes, gzip, request);
      return this.headers.answer(access, res, plan, request, entry, 'MISS', send, representation);
    }
    // HEAD and no-store requests still describe the representation a GET would store.
    this.headers.describe(access, res, plan, request, 'MISS', entry.etag, entry.expiresAt);
    if (ifNoneMatchHits(request.headers['if-none-match'], entry.etag)) {
      return this.headers.notModified(access, res, send);
    }
    return send(bytes);
  }

  /** Sends a response the cache does not keep: `X-Cache: MISS`, no validators, `no-store` (see `forbidStore`). */
  private sendUncached(ticket: Ticket, send: SendFunction, body: unknown): unknown {
    const { access, res } = this;
    ticket.abandon();
    this.headers.status(access, res, 'MISS');
    this.headers.forbidStore(access, res, this.plan, this.request);
    return send(body);
  }

  /** The result's tags, deduplicated; `undefined` when the route has none or computing them failed. */
  private resultTags(): string[] | undefined {
    const tagsOf = this.plan.resultTags;
    if (tagsOf === undefined) return undefined;
    try {
      const tags = tagsOf(this.value, this.request);
      return [...new Set(tags.filter((tag): tag is string => typeof tag === 'string' && tag !== ''))];
    } catch (error) {
      logger.warn(
        `Tags of ${this.plan.className}.${this.plan.handlerName} failed (${errorMessage(error)}); not cached`,
      );
      return undefined;
    }
  }

  private mayBeStored(): boolean {
    const { access, res } = this;
    if (access.header(res, 'set-cookie') !== undefined) return false;
    const cacheControl = access.header(res, 'cache-control');
    return cacheControl === undefined || !responseForbidsStore(cacheControl, !this.plan.userScoped);
  }
}
