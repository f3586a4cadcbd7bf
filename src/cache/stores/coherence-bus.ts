import { randomBytes } from 'node:crypto';

/** What instances tell each other so that no in-process (L1) copy outlives a change. */
export type CoherenceMessage =
  /** These scopes have new generations: forget the local copies of their generations. */
  | { readonly type: 'invalidate'; readonly scopes: readonly string[] }
  /** This key was overwritten in Redis: drop the local copy of its entry. */
  | { readonly type: 'overwrite'; readonly key: string };

/** The part of a node-redis client the bus uses. */
export interface BusClient {
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): BusSubscriber;
}

/** A dedicated subscriber connection. */
export interface BusSubscriber {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  on(event: 'ready' | 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
}

/** Receives messages of other instances, and learns when messages may have been missed. */
export interface BusListener {
  message(message: CoherenceMessage): void;
  /** The subscription is down: messages may be lost until {@link up}. */
  down(): void;
  /** Subscribed again. */
  up(): void;
}

/**
 * Redis pub/sub between the instances that share a key prefix. Each message carries the sender's id, so an
 * instance ignores its own (it has already applied them locally).
 */
export class CoherenceBus {
  readonly instanceId = randomBytes(8).toString('base64url');
  private readonly subscriber: BusSubscriber;
  private subscribed = false;
  private closed = false;

  constructor(
    private readonly client: BusClient,
    private readonly channel: string,
    private readonly listener: BusListener,
  ) {
    this.subscriber = client.duplicate();
    this.subscriber.on('error', () => this.lost());
    this.subscriber.on('end', () => this.lost());
    this.subscriber.on('ready', () => {
      // node-redis subscribes again on reconnect; the instance starts over with nothing local to trust.
      if (this.subscribed) this.listener.up();
    });
  }

  /** Connects and subscribes in the background. */
  start(): void {
    this.subscriber
      .connect()
      .then(() =>
        this.subscriber.subscribe(this.channel, (raw) => {
          const parsed = this.parse(raw);
          if (parsed !== undefined) this.listener.message(parsed);
        }),
      )
      .then(() => {
        this.subscribed = true;
        this.listener.up();
      })
      .catch(() => this.lost());
  }

  /** Tells the other instances; resolves when Redis has taken the message. */
  async publish(message: CoherenceMessage): Promise<void> {
    await this.client.publish(this.channel, JSON.stringify({ ...message, from: this.instanceId }));
  }

  close(): void {
    this.closed = true;
    try {
      this.subscriber.destroy();
    } catch {
      // already closed
    }
  }

  private lost(): void {
    if (this.closed) return;
    this.listener.down();
  }

  private parse(raw: string): CoherenceMessage | undefined {
    try {
      const value = JSON.parse(raw) as { type?: unknown; scopes?: unknown; key?: unknown; from?: unknown };
      if (value.from === this.instanceId) return undefined;
      if (value.type === 'invalidate' && Array.isArray(value.scopes)) {
        return { type: 'invalidate', scopes: value.scopes.filter((s): s is string => typeof s === 'string') };
      }
      if (value.type === 'overwrite' && typeof value.key === 'string')
        return { type: 'overwrite', key: value.key };
    } catch {
      // not ours
    }
    return undefined;
  }
}
