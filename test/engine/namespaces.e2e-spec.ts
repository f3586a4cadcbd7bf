import { Controller, Get, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cached,
  CacheDefinitionError,
  CacheStatusService,
  encodeKeySegment,
  InvalidationService,
  type CacheModuleOptions,
} from '../../src/cache/index.js';
import { startApp, type AdapterName } from '../fixtures/cache-fixture.js';
import { NamespacesModule, SPECIAL_NAMESPACES } from '../fixtures/namespaces-fixture.js';
import {
  canSpawnRedis,
  skipWithoutRedis,
  spawnCluster,
  spawnRedis,
  type OwnedCluster,
  type OwnedRedis,
} from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

const redisMissing = skipWithoutRedis('namespaces on Redis and Redis Cluster', canSpawnRedis());

type Backend = 'memory' | 'redis' | 'cluster';
const ALL_CASES: Array<[Backend, AdapterName]> = [
  ['memory', 'express'],
  ['memory', 'fastify'],
  ['redis', 'express'],
  ['redis', 'fastify'],
  ['cluster', 'express'],
  ['cluster', 'fastify'],
];
const CASES = ALL_CASES.filter(([backend]) => backend === 'memory' || !redisMissing);

/** One redis-server and one three-master cluster for the whole file, started by the first suite needing them. */
let server: Promise<OwnedRedis> | undefined;
let cluster: Promise<OwnedCluster> | undefined;
afterAll(async () => {
  await (await server)?.stop();
  await (await cluster)?.stop();
});

interface Answer {
  cache: string | null;
  status: number;
  text: string;
  body: Record<string, unknown>;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return { cache: res.headers.get('x-cache'), status: res.status, text, body: JSON.parse(text) as never };
}

const indexOf = (namespace: string): number => {
  const index = SPECIAL_NAMESPACES.indexOf(namespace);
  if (index === -1) throw new Error(`not a fixture namespace: ${namespace}`);
  return index;
};
const label = (namespace: string) =>
  JSON.stringify(namespace.length > 20 ? `${namespace.slice(0, 8)}…` : namespace);

describe.each(CASES)('namespaces on the %s store, %s adapter', (backend, adapter) => {
  const prefix = `ns-e2e-${backend}-${adapter}`;
  let app: INestApplication;
  let url: string;
  let invalidation: InvalidationService;

  const item = (namespace: string, id = '1') => get(`${url}/ns/${indexOf(namespace)}/item/${id}`);
  const scoped = (namespace: string, k: string) =>
    get(`${url}/ns/${indexOf(namespace)}/scoped?k=${encodeURIComponent(k)}`);
  /** Makes sure an entry exists: requests it until a HIT (a MISS stores it). */
  const warm = async (request: () => Promise<Answer>, what: string) => {
    await request();
    expect((await request()).cache, `${what} is cached`).toBe('HIT');
  };

  beforeAll(async () => {
    const options: CacheModuleOptions = { enabled: true, keyPrefix: prefix };
    if (backend === 'redis') {
      server ??= spawnRedis();
      options.redis = { enabled: true, url: (await server).url, invalidationTimeout: 1000 };
    } else if (backend === 'cluster') {
      cluster ??= spawnCluster();
      options.redis = { enabled: true, clusterNodes: (await cluster).addresses, invalidationTimeout: 1000 };
    }
    ({ app, url } = await startApp(NamespacesModule.with(options), adapter));
    invalidation = app.get(InvalidationService);
    if (backend !== 'memory') {
      const status = app.get(CacheStatusService);
      await waitUntil(() => status.backendName === 'redis', 10_000, 'Redis to serve');
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it('caches every namespace on its own: MISS, then a HIT with the same body', async () => {
    for (const namespace of SPECIAL_NAMESPACES) {
      const miss = await item(namespace, 'own');
      expect(miss.status, label(namespace)).toBe(200);
      expect(miss.cache, label(namespace)).toBe('MISS');
      expect(miss.body).toEqual({ namespace, id: 'own', run: 1 });
      const hit = await item(namespace, 'own');
      expect(hit.cache, label(namespace)).toBe('HIT');
      expect(hit.text).toBe(miss.text);
    }
  });

  it("invalidateNamespace('a*') leaves a, ab, a?, a%2A and [a] cached", async () => {
    const others = ['a', 'ab', 'a?', 'a%2A', '[a]'];
    for (const namespace of ['a*', ...others]) await warm(() => item(namespace), label(namespace));
    await invalidation.invalidateNamespace('a*');
    for (const namespace of others) expect((await item(namespace)).cache, label(namespace)).toBe('HIT');
    expect((await item('a*')).cache).toBe('MISS');
  });

  it("'products:123' is a namespace of its own: invalidateNamespace('products') leaves it, and the reverse", async () => {
    for (const namespace of ['products', 'products:123']) await warm(() => item(namespace), namespace);
    await invalidation.invalidateNamespace('products');
    expect((await item('products:123')).cache).toBe('HIT');
    expect((await item('products')).cache).toBe('MISS');
    await invalidation.invalidateNamespace('products:123');
    expect((await item('products')).cache).toBe('HIT');
    expect((await item('products:123')).cache).toBe('MISS');
  });

  it('invalidateNamespace(ns) makes a miss of that namespace only, for every namespace', async () => {
    for (const namespace of SPECIAL_NAMESPACES) await warm(() => item(namespace), label(namespace));
    for (const target of SPECIAL_NAMESPACES) {
      await invalidation.invalidateNamespace(target);
      for (const namespace of SPECIAL_NAMESPACES) {
        // A MISS stores the entry again, so every namespace is cached once more for the next round.
        const answer = await item(namespace);
        expect(answer.cache, `${label(namespace)} after invalidateNamespace(${label(target)})`).toBe(
          namespace === target ? 'MISS' : 'HIT',
        );
        expect(answer.body['namespace']).toBe(namespace);
      }
    }
  });

  it("namespace 'user:evil' never shares an entry with user 'evil' in namespace 'user'", async () => {
    const asUser = () => get(`${url}/evil/as-user`, { 'x-user': 'evil' });
    const asNamespace = () => get(`${url}/evil/as-namespace`, { 'x-user': 'evil' });
    // Both key builders return the text `user:evil:profile`; only the namespace tells them apart.
    const first = await asUser();
    expect(first.cache).toBe('MISS');
    expect(first.body).toEqual({ route: 'as-user', run: 1 });
    const second = await asNamespace();
    expect(second.cache, 'the user:evil route after the user route').toBe('MISS');
    expect(second.body).toEqual({ route: 'as-namespace', run: 1 });
    const third = await asUser();
    expect(third.cache, "the user route's entry after the user:evil route stored its own").toBe('HIT');
    expect(third.body).toEqual({ route: 'as-user', run: 1 });
    const fourth = await asNamespace();
    expect(fourth.cache, "the user:evil route's entry").toBe('HIT');
    expect(fourth.body).toEqual({ route: 'as-namespace', run: 1 });

    const states = async () => ({ asUser: (await asUser()).cache, asNamespace: (await asNamespace()).cache });
    await invalidation.invalidateNamespace('user:evil');
    expect(await states(), "after invalidateNamespace('user:evil')").toEqual({
      asUser: 'HIT',
      asNamespace: 'MISS',
    });
    await invalidation.invalidateNamespace('user');
    expect(await states(), "after invalidateNamespace('user')").toEqual({
      asUser: 'MISS',
      asNamespace: 'HIT',
    });
    await invalidation.invalidateUser('evil');
    expect(await states(), "after invalidateUser('evil')").toEqual({ asUser: 'MISS', asNamespace: 'HIT' });
    await invalidation.invalidateScope('user', 'evil');
    expect(await states(), "after invalidateScope('user', 'evil')").toEqual({
      asUser: 'MISS',
      asNamespace: 'HIT',
    });
    expect((await asUser()).body).toEqual({ route: 'as-user', run: 4 });
    expect((await asNamespace()).body).toEqual({ route: 'as-namespace', run: 2 });
  });

  it('invalidateScope inside every namespace is exact: 5:12 never reaches 5:120, 5:1 or 50:12', async () => {
    const reached = ['5:12', '5:12:x'];
    const untouched = ['5:120', '5:1', '50:12', '5', '6:12'];
    for (const namespace of SPECIAL_NAMESPACES) {
      for (const k of [...reached, ...untouched])
        await warm(() => scoped(namespace, k), `${label(namespace)} ${k}`);
    }
    for (const target of SPECIAL_NAMESPACES) {
      await invalidation.invalidateScope(target, 5, 12);
      for (const k of reached) {
        expect((await scoped(target, k)).cache, `${label(target)} ${k}`).toBe('MISS');
      }
      for (const k of untouched) {
        expect((await scoped(target, k)).cache, `${label(target)} ${k}`).toBe('HIT');
      }
      for (const namespace of SPECIAL_NAMESPACES) {
        if (namespace === target) continue;
        const answer = await scoped(namespace, '5:12');
        expect(answer.cache, `${label(namespace)} 5:12 after invalidateScope(${label(target)}, 5, 12)`).toBe(
          'HIT',
        );
      }
    }
  });

  it("invalidateScope never crosses namespaces: 'products' 123:5:12 and 'products:123' 5:12 are apart", async () => {
    const inProducts = () => scoped('products', '123:5:12');
    const inProducts123 = () => scoped('products:123', '5:12');
    // The two key builders return the same text, `products:123:5:12`.
    await warm(inProducts, 'products 123:5:12');
    await warm(inProducts123, 'products:123 5:12');
    expect((await inProducts()).body['namespace']).toBe('products');
    expect((await inProducts123()).body['namespace']).toBe('products:123');
    await invalidation.invalidateScope('products', 123);
    expect((await inProducts123()).cache, "products:123 5:12 after invalidateScope('products', 123)").toBe(
      'HIT',
    );
    expect((await inProducts()).cache).toBe('MISS');
    await invalidation.invalidateScope('products:123', 5, 12);
    expect((await inProducts()).cache, "products 123:5:12 after invalidateScope('products:123', 5, 12)").toBe(
      'HIT',
    );
    expect((await inProducts123()).cache).toBe('MISS');
  });

  // Key names exist only where keys do: registered for Redis and the cluster (not skipped for memory, so that a
  // skip in the summary always means a missing component).
  (backend === 'memory' ? () => undefined : it)(
    'keeps entries under {prefix}:@e:{encoded namespace}, with no raw special character in any key',
    async () => {
      for (const namespace of SPECIAL_NAMESPACES)
        await warm(() => item(namespace, 'layout'), label(namespace));
      const nodes = backend === 'redis' ? [await server] : (await cluster)?.nodes;
      const keys = (nodes ?? [])
        .flatMap((node) => node?.cli('--scan', '--pattern', `${prefix}:*`).split('\n') ?? [])
        .filter((key) => key !== '');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key, 'every key is new-layout (`@` right after the prefix)').toMatch(
          new RegExp(`^${prefix}:@`),
        );
        // The scope record of invalidateAll() is the one fixed name with a `*`; every other part is encoded.
        if (key === `${prefix}:@s:*`) continue;
        expect(key, 'no raw glob, space, bracket or non-ASCII character').not.toMatch(
          /[*?[\] \u0080-\uffff]/,
        );
      }
      for (const namespace of SPECIAL_NAMESPACES) {
        const encoded = encodeKeySegment(namespace);
        if (Buffer.byteLength(encoded) > 64) continue; // long names may be hashed to fit a key
        expect(
          keys.some((key) => key.startsWith(`${prefix}:@e:${encoded}:`)),
          `an entry key starts with ${prefix}:@e:${encoded}:`,
        ).toBe(true);
      }
    },
  );
});

/** Defines a controller with one `@Cached` route in `namespace`, the way an application does. */
function defineRoute(namespace: unknown): void {
  @Controller('definition')
  class NamespaceRoutes {
    @Get()
    @Cached({ namespace: namespace as string })
    list() {
      return [];
    }
  }
  void NamespaceRoutes;
}

function definitionError(define: () => void): unknown {
  try {
    define();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('@Cached() namespace validation', () => {
  it.each([
    ['an empty string', ''],
    ['129 ASCII bytes', 'x'.repeat(129)],
    ['129 bytes in 65 characters', `${'é'.repeat(64)}x`],
    ['a number', 42],
    ['null', null],
    ['an object', { name: 'users' }],
  ])('refuses %s with a CacheDefinitionError naming the route', (_, namespace) => {
    const error = definitionError(() => defineRoute(namespace));
    expect(error).toBeInstanceOf(CacheDefinitionError);
    expect((error as CacheDefinitionError).code).toBe('E_CACHE_DEFINITION');
    expect((error as Error).message).toContain('NamespaceRoutes.list');
  });

  it('refuses an invalid namespace on a class, naming the class', () => {
    const error = definitionError(() => {
      @Cached({ namespace: '' })
      @Controller('definition-class')
      class NamespaceClassRoutes {}
      void NamespaceClassRoutes;
    });
    expect(error).toBeInstanceOf(CacheDefinitionError);
    expect((error as Error).message).toContain('NamespaceClassRoutes');
  });

  it('accepts every fixture namespace, up to 128 bytes of any characters', () => {
    for (const namespace of SPECIAL_NAMESPACES) {
      expect(
        definitionError(() => defineRoute(namespace)),
        label(namespace),
      ).toBeUndefined();
    }
    expect(Buffer.byteLength('🦄'.repeat(32))).toBe(128);
    expect(Buffer.byteLength('é'.repeat(64))).toBe(128);
  });
});
