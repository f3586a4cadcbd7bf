import { Injectable, Module, Scope, SetMetadata, type DynamicModule } from '@nestjs/common';
import { Observable, of } from 'rxjs';
import {
  CacheModule,
  Cacheable,
  CachePut,
  InvalidateCache,
  type CacheModuleOptions,
} from '../../src/cache/index.js';

/** Counts how often each method body really ran. */
export class Calls {
  private readonly counts = new Map<string, number>();
  hit(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }
  of(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}

/** Metadata another decorator (an `@OnEvent`/`@Cron` stand-in) puts on the method. */
export const EVENT = 'fixture:event';

export interface Profile {
  id: number;
  name: string;
  joined: Date;
  roles: Set<string>;
  scores: Map<string, number>;
}

@Injectable()
export class ProfilesService {
  readonly calls = new Calls();
  names = new Map<number, string>([[1, 'Ada']]);
  failing = false;

  @Cacheable({ expire: 60, tags: (profile: Profile) => [`profile:${profile.id}`] })
  async profile(id: number): Promise<Profile> {
    this.calls.hit('profile');
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.failing) throw new Error(`profile ${id} failed`);
    return {
      id,
      name: this.names.get(id) ?? `user ${id}`,
      joined: new Date(Date.UTC(2020, 0, id)),
      roles: new Set(['reader']),
      scores: new Map([['a', id]]),
    };
  }

  @SetMetadata(EVENT, 'before')
  @Cacheable({ expire: 60 })
  square(n: number): number {
    this.calls.hit('square');
    return n * n;
  }

  @Cacheable({ expire: 60 })
  @SetMetadata(EVENT, 'after')
  sum(a: number, b: number): number {
    this.calls.hit('sum');
    return a + b;
  }

  /** Calls a cached method of its own through `this`. */
  sumOfSquares(a: number, b: number): number {
    return this.square(a) + this.square(b);
  }

  @Cacheable({ expire: 60 })
  async anything(value: unknown): Promise<unknown> {
    this.calls.hit('anything');
    return value;
  }

  @Cacheable({
    expire: 60,
    condition: (id: number) => id > 0,
    unless: (result: string | undefined) => result === 'secret',
  })
  async guarded(id: number): Promise<string | undefined> {
    this.calls.hit('guarded');
    return id === 13 ? 'secret' : id === 99 ? undefined : `value ${id}`;
  }

  @Cacheable({ expire: 60 })
  events(topic: string): Observable<string> {
    this.calls.hit('events');
    return of(`${topic}:1`, `${topic}:2`);
  }

  @Cacheable({ namespace: 'names', key: (id: number) => id, expire: 60, grace: 30 })
  async name(id: number): Promise<string> {
    this.calls.hit('name');
    if (this.failing) throw new Error('database down');
    return this.names.get(id) ?? '?';
  }

  /** Read by `key` and `condition` through `this`: they must run with the real instance. */
  readonly tenant = 'acme';

  @Cacheable({
    expire: 1,
    grace: 30,
    key(this: ProfilesService, id: number) {
      return [this.tenant, id];
    },
    condition(this: ProfilesService) {
      return this.tenant === 'acme';
    },
  })
  async flaky(id: number): Promise<string> {
    this.calls.hit('flaky');
    if (this.failing) throw new Error('flaky failed');
    return `flaky ${id} #${this.calls.of('flaky')}`;
  }

  @CachePut({ namespace: 'names', key: (id: number) => id, expire: 60 })
  async rename(id: number, name: string): Promise<string> {
    this.names.set(id, name);
    return name;
  }

  @InvalidateCache({ keys: (_result: unknown, id: number) => [`names:${id}`] })
  async forget(id: number): Promise<void> {
    if (this.failing) throw new Error('forget failed');
    this.names.delete(id);
  }

  @InvalidateCache({ keys: (_result: unknown, id: number) => [`names:${id}`], beforeInvocation: true })
  async forgetFirst(_id: number): Promise<void> {
    if (this.failing) throw new Error('forgetFirst failed');
  }
}

@Injectable()
export class AdminProfilesService extends ProfilesService {}

@Injectable({ scope: Scope.REQUEST })
export class RequestScopedService {
  @Cacheable({ expire: 60 })
  async mine(id: number): Promise<number> {
    return id;
  }
}

@Injectable({ scope: Scope.REQUEST })
export class KeyedRequestScopedService {
  @Cacheable({ expire: 60, key: (id: number) => ['scoped', id] })
  async mine(id: number): Promise<number> {
    return id;
  }
}

/** One testing module per scenario. */
@Module({})
export class MethodFixtureModule {
  static with(
    options: CacheModuleOptions,
    providers: Array<new (...args: never[]) => object> = [ProfilesService, AdminProfilesService],
  ): DynamicModule {
    return {
      module: MethodFixtureModule,
      imports: [CacheModule.forRoot(options)],
      providers,
      exports: providers,
    };
  }
}
