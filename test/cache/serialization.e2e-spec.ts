import {
  ClassSerializerInterceptor,
  Controller,
  Get,
  Injectable,
  Module,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Exclude, Expose } from 'class-transformer';
import { map, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cached, CacheModule } from '../../src/cache/index.js';
import { ADAPTERS, startApp } from '../fixtures/cache-fixture.js';

class UserEntity {
  id = 1;
  email = 'a@example.com';
  @Exclude()
  passwordHash = 'scrypt$secret-hash';
  @Expose()
  get displayName(): string {
    return `user ${this.id}`;
  }
}

/** An application-wide envelope, as many teams add: `{ data, servedBy }`. */
@Injectable()
class EnvelopeInterceptor implements NestInterceptor {
  private n = 0;
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((data: unknown) => ({ data, envelope: ++this.n })));
  }
}

@Controller()
class SerializedController {
  runs = 0;
  @Get('entity')
  @Cached({ namespace: 'entity' })
  entity(): UserEntity {
    this.runs++;
    return new UserEntity();
  }
}

@Module({
  imports: [CacheModule.forRoot({ enabled: true })],
  controllers: [SerializedController],
  providers: [
    { provide: APP_INTERCEPTOR, useClass: EnvelopeInterceptor },
    { provide: APP_INTERCEPTOR, useClass: ClassSerializerInterceptor },
  ],
})
class SerializedModule {}

describe.each(ADAPTERS)('serialization on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(SerializedModule, adapter));
  });
  afterAll(async () => app.close());

  it('caches the body as sent, after ClassSerializerInterceptor and other interceptors; a HIT replays it', async () => {
    const miss = await fetch(`${url}/entity`);
    const missBody = await miss.text();
    const hit = await fetch(`${url}/entity`);
    const hitBody = await hit.text();
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(JSON.parse(missBody)).toEqual({
      data: { id: 1, email: 'a@example.com', displayName: 'user 1' },
      envelope: 1,
    });
    expect(missBody).not.toContain('secret-hash');
    expect(hitBody).toBe(missBody);
    expect(app.get(SerializedController).runs).toBe(1);
  });
});
