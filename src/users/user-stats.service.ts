import { Inject, Injectable } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { sql } from 'kysely';
import { Cacheable } from '../cache/index.js';
import { DATABASE, type Database } from '../database/database.types.js';

/** The tag of the statistics entry: the writes that change the counts invalidate it. */
export const USER_STATS_TAG = 'stats:users';

/** What `GET /users/stats` answers. */
export class UserStats {
  @ApiProperty() users!: number;
  @ApiProperty() admins!: number;
  @ApiProperty() banned!: number;
  @ApiProperty({ description: 'API keys that are active' }) activeApiKeys!: number;
  @ApiProperty({ description: 'When these figures were computed (ISO 8601)' }) computedAt!: Date;
}

/**
 * Counts over the whole tables: the expensive query the seed's `lru_cache` example stands for. Cached with
 * `@Cacheable` (one entry, tagged {@link USER_STATS_TAG}); user and API-key writes that change a count
 * invalidate the tag, so the figures are never staler than a write.
 */
@Injectable()
export class UserStatsService {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  @Cacheable({ namespace: 'stats', key: () => 'users', expire: 300, tags: [USER_STATS_TAG] })
  async stats(): Promise<UserStats> {
    const flag = (column: 'banned' | 'is_active') =>
      sql<number>`sum(case when ${sql.ref(column)} then 1 else 0 end)`;
    const [users, keys] = await Promise.all([
      this.db
        .selectFrom('users')
        .select((eb) => [
          eb.fn.countAll().as('users'),
          sql<number>`sum(case when role = 'admin' then 1 else 0 end)`.as('admins'),
          flag('banned').as('banned'),
        ])
        .executeTakeFirstOrThrow(),
      this.db.selectFrom('api_keys').select(flag('is_active').as('active')).executeTakeFirstOrThrow(),
    ]);
    return {
      users: Number(users.users),
      admins: Number(users.admins ?? 0),
      banned: Number(users.banned ?? 0),
      activeApiKeys: Number(keys.active ?? 0),
      computedAt: new Date(),
    };
  }
}
