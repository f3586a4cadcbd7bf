import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CacheModule,
  Cacheable,
  CachePut,
  InvalidateCache,
  type CacheModuleOptions,
} from '../../src/cache/index.js';

type Method = (...args: unknown[]) => unknown;

const open: TestingModule[] = [];
afterEach(async () => {
  for (const moduleRef of open.splice(0)) await moduleRef.close();
});

async function appWith(providers: unknown[], options: CacheModuleOptions): Promise<TestingModule> {
  @Module({ imports: [CacheModule.forRoot(options)], providers: providers as never[] })
  class Scenario {}
  const moduleRef = await Test.createTestingModule({ imports: [Scenario] }).compile();
  await moduleRef.init();
  open.push(moduleRef);
  return moduleRef;
}

async function close(moduleRef: TestingModule): Promise<void> {
  open.splice(open.indexOf(moduleRef), 1);
  await moduleRef.close();
}

/** Metadata put on the method by a decorator applied outside the cache's (as `@Cron()` or `@OnEvent()` do). */
const Outer = (): MethodDecorator => (_target, _name, descriptor) => {
  Reflect.defineMetadata('test:outer', 'kept', descriptor.value as object);
};

/** Records the function it is given: applied first, so it sees the method as written. */
const written = new Map<string, Method>();
const Capture =
  (label: string): MethodDecorator =>
  (_target, _name, descriptor) => {
    written.set(label, descriptor.value as Method);
  };

/** Replaces the method with its own function, outside the cache's wrapper (as a `@Transactional()` would). */
let outerRuns = 0;
const Around = (): MethodDecorator => (_target, _name, descriptor) => {
  const inner = descriptor.value as Method;
  descriptor.value = function (this: unknown, ...args: unknown[]) {
    outerRuns++;
    return inner.apply(this, args);
  } as never;
};

@Injectable()
class Quotes {
  runs = 0;

  @Outer()
  @Cacheable({ expire: 60 })
  @Capture('price')
  price(n: number): number {
    this.runs++;
    return n * 2;
  }

  @InvalidateCache({ namespaces: ['Quotes.price'] })
  @CachePut({ expire: 60, namespace: 'Quotes.price' })
  @Capture('reprice')
  reprice(n: number): number {
    this.runs++;
    return n * 2;
  }

  @Around()
  @Cacheable({ expire: 60 })
  wrapped(n: number): number {
    this.runs++;
    return n * 3;
  }
}

const method = (name: keyof Quotes): Method =>
  Object.getOwnPropertyDescriptor(Quotes.prototype, name)?.value as Method;

describe('decorated methods while caching is disabled', () => {
  it('are the methods as written while only applications with caching disabled live, and wrapped while one caches', async () => {
    const wrapper = method('price');
    const outermost = method('reprice');
    expect(wrapper).not.toBe(written.get('price'));
    expect(outermost).not.toBe(written.get('reprice'));

    const disabled = await appWith([Quotes], { enabled: false });
    // Nothing caches: the prototype holds the functions as written, so a call costs what it would undecorated.
    expect(method('price')).toBe(written.get('price'));
    expect(method('reprice')).toBe(written.get('reprice'));
    // What decorators outside the cache's put on the method is still there (explorers of other modules read it).
    expect(Reflect.getMetadata('test:outer', method('price'))).toBe('kept');
    expect(method('price').name).toBe('price');
    const plain = disabled.get(Quotes);
    plain.price(1);
    plain.price(1);
    expect(plain.runs).toBe(2);

    // An application that caches puts every layer back, in order, before its own providers take methods.
    const enabled = await appWith([Quotes], { enabled: true });
    expect(method('price')).toBe(wrapper);
    expect(method('reprice')).toBe(outermost);
    const cached = enabled.get(Quotes);
    expect(cached.price(4)).toBe(8);
    expect(cached.price(4)).toBe(8);
    expect(cached.runs).toBe(1);
    // The disabled application's instance still runs its methods itself, through the wrapper now.
    plain.price(1);
    expect(plain.runs).toBe(3);

    await close(enabled);
    expect(method('price')).toBe(written.get('price'));
    await close(disabled);
    // No application at all: the wrappers are back (an instance made with `new` runs through them, uncached).
    expect(method('price')).toBe(wrapper);
    const made = new Quotes();
    made.price(2);
    made.price(2);
    expect(made.runs).toBe(2);
  });

  it('leave a method that another decorator wrapped outside the cache as it is', async () => {
    const outer = method('wrapped');
    const disabled = await appWith([Quotes], { enabled: false });
    expect(method('wrapped')).toBe(outer);
    const quotes = disabled.get(Quotes);
    outerRuns = 0;
    expect(quotes.wrapped(2)).toBe(6);
    expect(quotes.wrapped(2)).toBe(6);
    expect(quotes.runs).toBe(2);
    expect(outerRuns).toBe(2);
  });
});
