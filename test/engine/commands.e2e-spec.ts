import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS } from '../fixtures/cache-fixture.js';
import { getRow, OPERATION_TIMEOUT_MS, startEngineApp, type EngineApp } from '../helpers/engine-app.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { CommandLog, type MonitoredCommand } from '../helpers/resp.js';
import { CacheService } from '../../src/cache/index.js';
import { StorageLayout } from '../helpers/storage-layout.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('Redis commands per request', canSpawnRedis());

/** Commands that only read. Anything else a request sends counts as a write. */
const READS = new Set(['GET', 'MGET', 'EXISTS', 'PTTL', 'TTL', 'STRLEN', 'GETRANGE', 'PING', 'ECHO']);
const SCRIPTS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/** The keys a command names. */
function keysOf(command: MonitoredCommand): string[] {
  const { name, args } = command;
  if (SCRIPTS.has(name)) return args.slice(2, 2 + Number(args[1] ?? 0));
  if (['MGET', 'DEL', 'UNLINK', 'EXISTS', 'TOUCH'].includes(name)) return [...args];
  if (name === 'MSET') return args.filter((_, i) => i % 2 === 0);
  return args.length > 0 ? [args[0] ?? ''] : [];
}

const isWrite = (command: MonitoredCommand) => !READS.has(command.name);
const isSetNx = (command: MonitoredCommand) =>
  command.name === 'SETNX' || (command.name === 'SET' && command.args.some((a) => a.toUpperCase() === 'NX'));

/** One line per command, arguments shortened. */
function lines(commands: readonly MonitoredCommand[]): string[] {
  return commands.map(
    (c) =>
      `[${c.source}] ${c.name} ${c.args.map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(' ')}`,
  );
}

/** The whole log of a request, for assertion messages. */
function render(commands: readonly MonitoredCommand[]): string {
  return `\n${lines(commands).join('\n')}\n`;
}

/** Routes whose cold miss and hit are counted. */
const ROUTES: Array<{ name: string; path: string; headers?: Record<string, string>; tagged?: true }> = [
  { name: 'the default key', path: '/e/item/counted' },
  { name: 'a user-scoped key', path: '/e/me', headers: { 'x-user': 'counted-user' } },
  { name: 'a paginated list', path: '/e/list?page=7' },
  { name: 'a scoped key', path: '/e/scoped/ca/cb' },
  { name: 'a tagged entry', path: '/e/tagged/counted', tagged: true },
];

describe.skipIf(skip).each(ADAPTERS)('Redis commands per request, from MONITOR, on %s', (adapter) => {
  let redis: OwnedRedis;
  let engine: EngineApp;
  let log: CommandLog;
  const prefix = `commands-${adapter}`;
  const layout = new StorageLayout(prefix);
  const clientOf = (commands: readonly MonitoredCommand[]) => commands.filter((c) => c.source !== 'lua');
  const isLockCommand = (command: MonitoredCommand) => {
    const keys = keysOf(command);
    return keys.length > 0 && keys.every((key) => layout.isLock(key));
  };
  /** A miss's log is complete once its write (not a lock's) has been seen, and a moment has passed. */
  const wroteEntry = (commands: MonitoredCommand[]) =>
    clientOf(commands).some((c) => isWrite(c) && !isLockCommand(c));

  beforeAll(async () => {
    redis = await spawnRedis();
    engine = await startEngineApp(adapter, redis, prefix);
    log = await CommandLog.start(redis.port);
    // Steady state: the scripts the engine uses are known to the server (a first EVALSHA may be refused with
    // NOSCRIPT and repeated as EVAL; that happens once per server, not per miss).
    for (const path of ['/e/item/warm-up', '/e/locked/warm-up', '/e/tagged/warm-up']) {
      await getRow(engine.url, path);
      await getRow(engine.url, path);
    }
    await engine.invalidation.invalidateNamespace('warm-up');
  });
  afterAll(async () => {
    log?.close();
    await engine?.close();
    await redis?.stop();
  });

  it.each(ROUTES)(
    'a cold miss on $name sends the read, then exactly one write, and no SET NX',
    async (route) => {
      let answer: Awaited<ReturnType<typeof getRow>> | undefined;
      const commands = await log.around(
        async () => (answer = await getRow(engine.url, route.path, route.headers)),
        { expect: wroteEntry },
      );
      expect(answer?.cache).toBe('MISS');
      const client = clientOf(commands);
      expect(lines(client.filter(isSetNx)), 'SET NX on the read path').toEqual([]);
      expect(
        client.map((c) => c.name),
        render(commands),
      ).toHaveLength(2);
      expect(client[0]?.name, render(commands)).toBe('MGET');
      expect(lines(client.filter(isWrite)), render(commands)).toHaveLength(1);
    },
  );

  it.each(ROUTES.filter((route) => route.tagged !== true))(
    'a hit on $name is one MGET and nothing else',
    async (route) => {
      await getRow(engine.url, route.path, route.headers);
      let answer: Awaited<ReturnType<typeof getRow>> | undefined;
      const commands = await log.around(
        async () => (answer = await getRow(engine.url, route.path, route.headers)),
      );
      expect(answer?.cache).toBe('HIT');
      expect(
        clientOf(commands).map((c) => c.name),
        render(commands),
      ).toEqual(['MGET']);
      expect(lines(commands.filter((c) => c.source === 'lua')), 'no script ran').toEqual([]);
    },
  );

  it('a value hit with fixed tags (the sample app account lookup) is one MGET and nothing else', async () => {
    const cache = engine.app.get(CacheService);
    const options = { namespace: 'auth', tags: ['user:counted'], expire: 60 };
    let runs = 0;
    const compute = async () => ({ id: 'counted', run: ++runs });
    await cache.getOrSet(['account', 'counted'], compute, options);
    // The miss's write is not awaited by the call: let it land before counting.
    for (let i = 0; i < 100 && (await cache.get(['account', 'counted'], options)) === undefined; i++) {
      await sleep(20);
    }
    const commands = await log.around(async () => {
      await cache.getOrSet(['account', 'counted'], compute, options);
    });
    expect(runs).toBe(1);
    expect(
      clientOf(commands).map((c) => c.name),
      render(commands),
    ).toEqual(['MGET']);
    // The tag's record is read in that MGET: invalidating the tag still reaches the entry.
    await engine.invalidation.invalidateTags(['user:counted']);
    await cache.getOrSet(['account', 'counted'], compute, options);
    expect(runs).toBe(2);
    // A reader that does not name the tag checks it too (it is stored with the entry).
    await engine.invalidation.invalidateTags(['user:counted']);
    expect(await cache.get(['account', 'counted'], { namespace: 'auth' })).toBeUndefined();
  });

  it('after the clock is lost, one cold miss adds the script that makes it, once', async () => {
    await getRow(engine.url, '/e/item/clock-before');
    redis.cli('DEL', `${prefix}:@clock`);
    let answer: Awaited<ReturnType<typeof getRow>> | undefined;
    const first = await log.around(async () => (answer = await getRow(engine.url, '/e/item/clock-lost')), {
      expect: wroteEntry,
    });
    expect(answer?.cache).toBe('MISS');
    const client = clientOf(first);
    // The read, the script that makes the clock (before the handler runs: its value is the stamp), the write.
    expect(
      client.map((c) => c.name),
      render(first),
    ).toHaveLength(3);
    expect(client[0]?.name, render(first)).toBe('MGET');
    expect(keysOf(client[1] as MonitoredCommand), render(first)).toEqual([`${prefix}:@clock`]);
    expect(Number(redis.cli('GET', `${prefix}:@clock`))).toBeGreaterThan(0);
    // The value computed after that is stored, and the next cold miss is the read and one write again.
    await sleep(100);
    expect((await getRow(engine.url, '/e/item/clock-lost')).cache).toBe('HIT');
    const next = await log.around(async () => (answer = await getRow(engine.url, '/e/item/clock-back')), {
      expect: wroteEntry,
    });
    expect(answer?.cache).toBe('MISS');
    expect(
      clientOf(next).map((c) => c.name),
      render(next),
    ).toHaveLength(2);
  });

  it('with lock: true, a cold miss adds only the lock commands; its hit is one MGET', async () => {
    let answer: Awaited<ReturnType<typeof getRow>> | undefined;
    const commands = await log.around(async () => (answer = await getRow(engine.url, '/e/locked/counted')), {
      expect: wroteEntry,
    });
    expect(answer?.cache).toBe('MISS');
    const client = clientOf(commands);
    const locking = client.filter(isLockCommand);
    const rest = client.filter((c) => !isLockCommand(c));
    expect(locking.length, `no lock command:${render(commands)}`).toBeGreaterThanOrEqual(1);
    expect(lines(rest.filter(isSetNx)), 'SET NX on the read path').toEqual([]);
    expect(
      rest.map((c) => c.name),
      render(commands),
    ).toHaveLength(2);
    expect(rest[0]?.name, render(commands)).toBe('MGET');
    expect(lines(rest.filter(isWrite)), render(commands)).toHaveLength(1);

    const hit = await log.around(async () => (answer = await getRow(engine.url, '/e/locked/counted')));
    expect(answer?.cache).toBe('HIT');
    expect(
      clientOf(hit).map((c) => c.name),
      render(hit),
    ).toEqual(['MGET']);
  });

  /** The write script of a miss (the one client command that is not the read), with what it ran inside. */
  const writeOf = (commands: readonly MonitoredCommand[]) => {
    const write = clientOf(commands).find((c) => isWrite(c) && !isLockCommand(c));
    const inside = commands.filter((c) => c.source === 'lua').map((c) => c.name);
    return { keys: write === undefined ? [] : keysOf(write), inside };
  };
  const missOf = async (path: string) => {
    let answer: Awaited<ReturnType<typeof getRow>> | undefined;
    const commands = await log.around(async () => (answer = await getRow(engine.url, path)), {
      expect: wroteEntry,
    });
    expect(answer?.cache, render(commands)).toBe('MISS');
    return { commands, ...writeOf(commands) };
  };

  it('while its records are known to outlive the entry, a miss writes without reading or raising their expiry', async () => {
    // The first write of this process for these records reads and raises their expiry (PTTL) ...
    await sleep(1_200); // past what earlier writes taught this instance (records are raised to live ttl + 1 s)
    const first = await missOf('/e/item/lifetime');
    expect(first.inside, render(first.commands)).toContain('PTTL');
    // ... the next misses of its records (here: the same key, invalidated) check the clock and the records in
    // one MGET and set the entry.
    await engine.invalidation.invalidateNamespace('ei');
    const next = await missOf('/e/item/lifetime');
    expect(next.inside, render(next.commands)).toEqual(['MGET', 'SET']);
    expect(next.keys).toEqual(first.keys);
    // Every record the entry depends on lives at least as long as the entry.
    const [entryKey, , ...records] = next.keys;
    const entryLeft = Number(redis.cli('PTTL', entryKey ?? ''));
    expect(entryLeft).toBeGreaterThan(0);
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      expect(Number(redis.cli('PTTL', record)), record).toBeGreaterThanOrEqual(entryLeft);
    }
    expect((await getRow(engine.url, '/e/item/lifetime')).cache).toBe('HIT');
  });

  it('a record lost after that is made again by the next miss, and its entries are hits again', async () => {
    await missOf('/e/item/lost');
    await engine.invalidation.invalidateNamespace('ei');
    const warm = await missOf('/e/item/lost');
    expect(warm.inside, render(warm.commands)).toEqual(['MGET', 'SET']);
    const [, , ...records] = warm.keys;
    const lost = records[records.length - 1] ?? '';
    redis.cli('DEL', lost);
    // The entry written before the loss is a miss now (a lost record is a miss) ...
    const again = await missOf('/e/item/lost');
    // ... whose lookup saw the loss: its one write is the full one, which makes the record again.
    expect(lines(clientOf(again.commands).filter(isWrite)), render(again.commands)).toHaveLength(1);
    expect(again.inside, render(again.commands)).toContain('PTTL');
    expect(Number(redis.cli('PTTL', lost)), lost).toBeGreaterThan(0);
    expect((await getRow(engine.url, '/e/item/lost')).cache).toBe('HIT');
  });

  it('without the expiry checks, a write is still refused when a record moved past its stamp', async () => {
    await missOf('/e/item/moved');
    await engine.invalidation.invalidateNamespace('ei');
    const gate = engine.data.hold('item:moved');
    const pending = getRow(engine.url, '/e/item/moved');
    await waitUntil(() => gate.arrived === 1, 10_000, 'the handler to start');
    // Invalidated while the value is computed (after the lookup that stamped it).
    await engine.invalidation.invalidateNamespace('ei');
    const commands = await log.around(
      async () => {
        gate.release();
        expect((await pending).cache).toBe('MISS');
      },
      { expect: wroteEntry },
    );
    // The records were read (and one had moved): the entry was not set.
    expect(writeOf(commands).inside, render(commands)).toEqual(['MGET']);
    expect((await getRow(engine.url, '/e/item/moved')).cache).toBe('MISS');
  });

  it('100 concurrent first GETs of one key: one handler run and one write', async () => {
    const server = engine.app.getHttpServer() as Server;
    let received = 0;
    const count = (request: IncomingMessage) => void (request.url === '/e/item/burst' && received++);
    server.on('request', count);
    let answers: Array<Awaited<ReturnType<typeof getRow>>> = [];
    try {
      const commands = await log.around(
        async () => {
          // The first handler run waits until every request has been received and has had the operation
          // deadline to finish its lookup: they are all concurrent, however slow this machine is.
          const gate = engine.data.hold('item:burst');
          const all = Promise.all(Array.from({ length: 100 }, () => getRow(engine.url, '/e/item/burst')));
          await waitUntil(() => received === 100 && gate.arrived === 1, 10_000, 'every request to arrive');
          await sleep(OPERATION_TIMEOUT_MS + 100);
          gate.release();
          answers = await all;
        },
        { expect: wroteEntry, settleMs: 250 },
      );
      expect(engine.data.runsOf('item:burst')).toBe(1);
      expect(answers.every((a) => a.status === 200 && a.row.run === 1)).toBe(true);
      const client = clientOf(commands);
      expect(lines(client.filter(isSetNx)), 'SET NX on the read path').toEqual([]);
      expect(lines(client.filter(isWrite)), 'writes').toHaveLength(1);
    } finally {
      server.off('request', count);
    }
  });
});
