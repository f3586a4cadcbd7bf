import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { InvalidationService } from '../cache/index.js';
import { USER_STATS_TAG } from '../users/user-stats.service.js';
import { DATABASE, type Database } from '../database/database.types.js';
import { toApiKeyView, type ApiKeyRow, type ApiKeyView, type CreatedApiKeyView } from './api-key.model.js';
import type { UpdateApiKeyDto } from './dto/update-api-key.dto.js';

const KEY_COLUMNS = ['id', 'user_id', 'name', 'is_active', 'scopes', 'created_at', 'last_used_at'] as const;
/** `last_used_at` is written at most this often per key, so authentication does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

function hashKey(raw: string): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** An active key found by its raw value, with its owner. */
export interface ActiveKey {
  id: number;
  userId: number;
  lastUsedAt: Date | null;
}

/** API keys: stored as SHA-256 hashes; the raw key leaves the server once, in the creation response. */
@Injectable()
export class ApiKeysService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly invalidation: InvalidationService,
  ) {}

  async create(userId: number, name: string, scopes: string[] = []): Promise<CreatedApiKeyView> {
    const key = `ak_${randomBytes(24).toString('base64url')}`;
    const row = await this.db
      .insertInto('api_keys')
      .values({
        user_id: userId,
        name,
        key_hash: hashKey(key),
        is_active: true,
        scopes: JSON.stringify([...new Set(scopes)]),
        created_at: new Date().toISOString(),
        last_used_at: null,
      })
      .returning(KEY_COLUMNS)
      .executeTakeFirstOrThrow();
    await Promise.all([
      this.invalidation.invalidateScope('apikeys', userId),
      this.invalidation.invalidateTags([USER_STATS_TAG]),
    ]);
    return { ...toApiKeyView(row), key };
  }

  async list(userId: number): Promise<ApiKeyView[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map(toApiKeyView);
  }

  async get(userId: number, keyId: number): Promise<ApiKeyView> {
    return toApiKeyView(await this.require(userId, keyId));
  }

  async update(userId: number, keyId: number, changes: UpdateApiKeyDto): Promise<ApiKeyView> {
    await this.require(userId, keyId);
    const values: { name?: string; is_active?: boolean } = {};
    if (changes.name !== undefined) values.name = changes.name;
    if (changes.isActive !== undefined) values.is_active = changes.isActive;
    if (Object.keys(values).length > 0) {
      await this.db.updateTable('api_keys').set(values).where('id', '=', keyId).execute();
    }
    await Promise.all([
      this.invalidateKey(userId, keyId),
      changes.isActive === undefined ? undefined : this.invalidation.invalidateTags([USER_STATS_TAG]),
    ]);
    return this.get(userId, keyId);
  }

  async remove(userId: number, keyId: number): Promise<void> {
    await this.require(userId, keyId);
    await this.db.deleteFrom('api_keys').where('id', '=', keyId).execute();
    await Promise.all([
      this.invalidateKey(userId, keyId),
      this.invalidation.invalidateTags([USER_STATS_TAG]),
    ]);
  }

  async findActiveByRawKey(raw: string): Promise<ActiveKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'user_id', 'is_active', 'last_used_at'])
      .where('key_hash', '=', hashKey(raw))
      .executeTakeFirst();
    if (row === undefined || !row.is_active) return undefined;
    return {
      id: row.id,
      userId: row.user_id,
      lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
    };
  }

  /** Records a use of the key (at most once a minute), and drops the cached views that show it. */
  async touch(key: ActiveKey): Promise<void> {
    const now = new Date();
    if (key.lastUsedAt !== null && now.getTime() - key.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', key.id)
      .execute();
    await this.invalidateKey(key.userId, key.id);
  }

  private async invalidateKey(userId: number, keyId: number): Promise<void> {
    await Promise.all([
      this.invalidation.invalidateScope('apikeys', userId),
      this.invalidation.invalidateScope('apikey', userId, keyId),
    ]);
  }

  private async require(userId: number, keyId: number): Promise<ApiKeyRow> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('id', '=', keyId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined) throw new NotFoundException(`API key ${keyId} not found`);
    return row;
  }
}
