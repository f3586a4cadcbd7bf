import { randomBytes } from 'node:crypto';

/**
 * The current generation of each invalidation scope. An entry is valid only while every scope it belongs to
 * still has the generation the entry was stamped with; invalidating a scope gives it a new random
 * generation, in O(1) whatever the number of entries. Generations are random (not counters), so one that is
 * lost (evicted, or a restarted store) comes back as a value no entry was ever stamped with.
 */
export interface Generations {
  /** Current generations of `scopes`, in order; creates missing ones. */
  read(scopes: readonly string[]): string[] | Promise<string[]>;
  /** Gives each scope a new generation; resolves to the new generations, in order. */
  bump(scopes: readonly string[]): string[] | Promise<string[]>;
}

/** A fresh generation: 12 random bytes, base64url. */
export function newGeneration(): string {
  return randomBytes(12).toString('base64url');
}

/** The stamp of an entry: its scopes' generations, in scope order. */
export function stampOf(generations: readonly string[]): string {
  return generations.join('.');
}

/** Generations of one process, bounded: a forgotten scope comes back with a new generation (a miss, never stale). */
export class MemoryGenerations implements Generations {
  private readonly current = new Map<string, string>();
  /** Changes whenever any generation does (created, bumped, forgotten). */
  private version = 0;
  /** The last stamp computed for a scopes array (the interceptor reuses one array per key). */
  private readonly stamps = new WeakMap<readonly string[], { version: number; stamp: string }>();

  constructor(private readonly maxScopes = 100_000) {}

  read(scopes: readonly string[]): string[] {
    const out: string[] = [];
    for (const scope of scopes) {
      let generation = this.current.get(scope);
      if (generation === undefined) {
        generation = newGeneration();
        this.version++;
        this.current.set(scope, generation);
        if (this.current.size > this.maxScopes) {
          const oldest = this.current.keys().next().value;
          if (oldest !== undefined) this.current.delete(oldest);
        }
      }
      out.push(generation);
    }
    return out;
  }

  /** `stampOf(read(scopes))`, computed once for as long as no generation changes. */
  stamp(scopes: readonly string[]): string {
    const cached = this.stamps.get(scopes);
    if (cached !== undefined && cached.version === this.version) return cached.stamp;
    const stamp = stampOf(this.read(scopes));
    this.stamps.set(scopes, { version: this.version, stamp });
    return stamp;
  }

  bump(scopes: readonly string[]): string[] {
    this.version++;
    return scopes.map((scope) => {
      const generation = newGeneration();
      this.current.delete(scope);
      this.current.set(scope, generation);
      return generation;
    });
  }
}

/** The subset of a node-redis client that {@link RedisGenerations} uses. */
export interface GenerationClient {
  mGet(keys: string[]): Promise<unknown[]>;
  set(key: string, value: string, options?: { condition?: 'NX'; GET?: true }): Promise<unknown>;
}

/** Generations kept in Redis under `{prefix}:#gen:{scope}` (`#` never occurs in a namespace, so no entry clashes). */
export class RedisGenerations implements Generations {
  constructor(
    private readonly client: GenerationClient,
    private readonly prefix: string,
  ) {}

  keyOf(scope: string): string {
    return `${this.prefix}:#gen:${scope}`;
  }

  async read(scopes: readonly string[]): Promise<string[]> {
    const values = await this.client.mGet(scopes.map((scope) => this.keyOf(scope)));
    const out: string[] = [];
    const creating: Array<Promise<void>> = [];
    for (let i = 0; i < scopes.length; i++) {
      const value = values[i];
      if (typeof value === 'string' && value !== '') {
        out.push(value);
        continue;
      }
      // Missing: create it unless another process just did (SET NX GET answers the winner's value). Present
      // but not a generation (corrupt, or another type): replace it.
      const index = out.push('') - 1;
      const key = this.keyOf(scopes[i] ?? '');
      const mine = newGeneration();
      creating.push(
        (value === null || value === undefined
          ? this.client.set(key, mine, { condition: 'NX', GET: true }).catch(() => undefined)
          : Promise.resolve(undefined)
        ).then(async (previous) => {
          if (typeof previous === 'string' && previous !== '') {
            out[index] = previous;
            return;
          }
          if (previous !== null) await this.client.set(key, mine);
          out[index] = mine;
        }),
      );
    }
    if (creating.length > 0) await Promise.all(creating);
    return out;
  }

  async bump(scopes: readonly string[]): Promise<string[]> {
    const generations = scopes.map(() => newGeneration());
    await Promise.all(scopes.map((scope, i) => this.client.set(this.keyOf(scope), generations[i] ?? '')));
    return generations;
  }
}

/**
 * This instance's copies of Redis-held generations, for validating L1 entries without a round trip. Kept
 * coherent by the bus: an invalidation message forgets the scopes it names. A copy learned from a read that
 * was in flight while a message arrived is not kept (it may predate the change the message announced).
 */
export class LocalGenerations {
  private readonly known = new Map<string, string>();
  private epochValue = 0;

  constructor(private readonly maxScopes = 100_000) {}

  /** Changes whenever a copy is forgotten; a read records it before asking Redis. */
  get epoch(): number {
    return this.epochValue;
  }

  /** The local copies of all of `scopes`, or `undefined` when one is missing. */
  get(scopes: readonly string[]): string[] | undefined {
    const out: string[] = [];
    for (const scope of scopes) {
      const generation = this.known.get(scope);
      if (generation === undefined) return undefined;
      out.push(generation);
    }
    return out;
  }

  /** Keeps what a read returned, unless something was forgotten since the read started. */
  learn(scopes: readonly string[], generations: readonly string[], epochAtRead: number): void {
    if (epochAtRead !== this.epochValue) return;
    for (let i = 0; i < scopes.length; i++) {
      const scope = scopes[i];
      const generation = generations[i];
      if (scope !== undefined && generation !== undefined) this.known.set(scope, generation);
    }
    while (this.known.size > this.maxScopes) {
      const oldest = this.known.keys().next().value;
      if (oldest === undefined) break;
      this.known.delete(oldest);
    }
  }

  forget(scopes: readonly string[]): void {
    this.epochValue++;
    for (const scope of scopes) this.known.delete(scope);
  }

  clear(): void {
    this.epochValue++;
    this.known.clear();
  }
}
