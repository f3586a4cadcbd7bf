import KeyvRedis, { createClient, createCluster } from '@keyv/redis';
import { createCache, type Cache as CacheManager } from 'cache-manager';
import { Keyv } from 'keyv';
import { isStoredResponse, type CacheStore, type StoredResponse } from './cache-store.interface.js';

/** Connection events the owner of the store reacts to (logging, fallback). */
export interface RedisStoreEvents {
  ready(): void;
  error(error: Error): void;
}

/** Settings of {@link RedisStore}. */
export interface RedisStoreSettings {
  /** Connection URL; in cluster mode it supplies the password and TLS scheme for every node. */
  url: string;
  connectTimeout: number;
  /** `host:port` of some cluster nodes: selects Redis Cluster. */
  clusterNodes?: readonly string[];
}

/**
 * The commands this module sends outside cache-manager, common to a single-server client and a cluster
 * client (which routes each key to its slot's master).
 */
export interface RedisCommands {
  get(key: string): Promise<unknown>;
  set(key: string, value: string, options?: object): Promise<unknown>;
  incr(key: string): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  scriptLoad(script: string): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  /** Several keys at once: one MGET on a single server, one GET per key (in parallel) on a cluster. */
  mGet(keys: string[]): Promise<unknown[]>;
  duplicate(): unknown;
}

interface SocketSettings {
  connectTimeout: number;
  reconnectStrategy: (retries: number) => number;
}

function singleClient(url: string, socket: SocketSettings) {
  return createClient({ url, disableOfflineQueue: true, socket });
}

function clusterClient(nodes: readonly string[], url: URL, socket: SocketSettings) {
  const scheme = url.protocol === 'rediss:' ? 'rediss' : 'redis';
  return createCluster({
    rootNodes: nodes.map((node) => ({ url: `${scheme}://${node}` })),
    defaults: {
      ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
      disableOfflineQueue: true,
      socket,
    },
  });
}

type SingleClient = ReturnType<typeof singleClient>;
type ClusterClient = ReturnType<typeof clusterClient>;

/** Delay before reconnect attempt `retries` (0-based): exponential from 100 ms, capped at 5 s, with jitter. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 16), 5000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * Redis (one server, or a cluster) through cache-manager and `@keyv/redis`. The node-redis client runs with
 * its offline queue disabled, so a command issued while disconnected fails at once instead of waiting (and
 * replaying later). The same connection serves generations, tags, locks and the coherence bus through
 * {@link commands}.
 */
export class RedisStore implements CacheStore {
  readonly commands: RedisCommands;
  private readonly single: SingleClient | undefined;
  private readonly cluster: ClusterClient | undefined;
  private readonly cache: CacheManager;
  private clusterConnected = false;
  private closed = false;

  constructor(settings: RedisStoreSettings, events: RedisStoreEvents) {
    const socket = {
      connectTimeout: settings.connectTimeout,
      reconnectStrategy: (retries: number) => reconnectDelay(retries),
    };
    const onError = (error: unknown) =>
      events.error(error instanceof Error ? error : new Error(String(error)));
    let keyvRedis: KeyvRedis<unknown>;
    if (settings.clusterNodes !== undefined && settings.clusterNodes.length > 0) {
      const cluster = clusterClient(settings.clusterNodes, new URL(settings.url), socket);
      cluster.on('error', onError);
      cluster.on('node-error', onError);
      cluster.on('connect', () => {
        this.clusterConnected = true;
        events.ready();
      });
      cluster.on('node-ready', () => events.ready());
      cluster.on('disconnect', () => (this.clusterConnected = false));
      this.cluster = cluster;
      keyvRedis = new KeyvRedis(cluster, { throwOnConnectError: false, throwOnErrors: false });
      this.commands = Object.assign(cluster as unknown as Omit<RedisCommands, 'mGet'>, {
        // A cluster refuses MGET across slots: one GET per key, sent together.
        mGet: (keys: string[]) => Promise.all(keys.map((key) => cluster.get(key))),
      });
    } else {
      const client = singleClient(settings.url, socket);
      client.on('error', onError);
      client.on('ready', () => events.ready());
      this.single = client;
      keyvRedis = new KeyvRedis(client, { throwOnConnectError: false, throwOnErrors: false });
      this.commands = client;
    }
    // Errors of reads and writes surface as misses; connection state comes from the client's own events.
    keyvRedis.on('error', () => undefined);
    const keyv = new Keyv({ store: keyvRedis, useKeyPrefix: false, namespace: undefined });
    keyv.on('error', () => undefined);
    this.cache = createCache({ stores: [keyv] });
  }

  /** The single-server client (tests and diagnostics); `undefined` in cluster mode. */
  get client(): SingleClient | undefined {
    return this.single;
  }

  /**
   * Starts connecting; resolves once connected, rejects if the first attempt fails (the client keeps retrying
   * per reconnectStrategy either way, and reports through the 'error' events). Start-up waits for it, bounded.
   */
  async connect(): Promise<void> {
    await (this.single?.connect() ?? this.cluster?.connect());
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    if (this.closed) return false;
    return this.single !== undefined ? this.single.isReady : this.clusterConnected;
  }

  async get(key: string): Promise<StoredResponse | undefined> {
    const value = await this.cache.get<unknown>(key);
    return isStoredResponse(value) ? value : undefined;
  }

  async set(key: string, value: StoredResponse, ttlMs: number): Promise<void> {
    await this.cache.set(key, value, ttlMs);
  }

  /** A round trip to the server (the node of `key`'s slot in a cluster), for the circuit breaker's probe. */
  async ping(key: string): Promise<void> {
    await this.commands.get(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // destroy() drops the sockets at once: close() would wait for replies a hung server never sends.
    if (this.single?.isOpen === true) this.single.destroy();
    if (this.cluster?.isOpen === true) this.cluster.destroy();
  }
}
