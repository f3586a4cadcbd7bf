import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InvalidationService } from '../cache/index.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DATABASE, type Database } from '../database/database.types.js';
import { hashPassword } from '../auth/password.js';
import { USER_STATS_TAG } from './user-stats.service.js';
import { isUniqueViolation } from '../database/errors.js';
import {
  toProfileView,
  toPublicProfileView,
  toUserView,
  type ProfileView,
  type PublicProfileView,
  type Role,
  type UserRow,
  type UsersPage,
  type UserView,
} from './user.model.js';

export interface NewUser {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  role: Role;
}

export interface UserChanges {
  email?: string;
  firstName?: string;
  lastName?: string;
}

const USER_COLUMNS = [
  'id',
  'email',
  'password_hash',
  'first_name',
  'last_name',
  'role',
  'banned',
  'created_at',
] as const;

/**
 * Users, straight from the database (no copy in memory: another process's change is seen by the next
 * uncached read). Every write invalidates what it changes before it returns.
 */
@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Users');

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly invalidation: InvalidationService,
  ) {}

  /** Seeds the admin account named by ADMIN_EMAIL / ADMIN_PASSWORD if it does not exist. */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (admin === undefined || (await this.findRowByEmail(admin.email)) !== undefined) return;
    try {
      await this.create({
        email: admin.email,
        password: admin.password,
        firstName: 'Admin',
        lastName: 'User',
        role: 'admin',
      });
      this.logger.log(`Seeded admin account ${admin.email}`);
    } catch (error) {
      // Another instance seeding at the same moment wins; anything else is real.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  async findRow(id: number): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  async findRowByEmail(email: string): Promise<UserRow | undefined> {
    return this.db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where('email', '=', email.toLowerCase())
      .executeTakeFirst();
  }

  async get(id: number): Promise<UserView> {
    return toUserView(await this.require(id));
  }

  async profile(id: number): Promise<ProfileView> {
    return toProfileView(await this.require(id));
  }

  async publicProfile(id: number): Promise<PublicProfileView> {
    return toPublicProfileView(await this.require(id));
  }

  async list(page: number, size: number): Promise<UsersPage> {
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('users')
        .select(USER_COLUMNS)
        .orderBy('id')
        .limit(size)
        .offset((page - 1) * size)
        .execute(),
      this.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('total'))
        .executeTakeFirstOrThrow(),
    ]);
    const total = Number(count.total);
    return { items: rows.map(toUserView), total, page, size, pages: Math.ceil(total / size) };
  }

  async create(user: NewUser): Promise<UserView> {
    const now = new Date().toISOString();
    const passwordHash = await hashPassword(user.password);
    let row: UserRow;
    try {
      row = await this.db
        .insertInto('users')
        .values({
          email: user.email.toLowerCase(),
          password_hash: passwordHash,
          first_name: user.firstName,
          last_name: user.lastName,
          role: user.role,
          banned: false,
          created_at: now,
          updated_at: now,
        })
        .returning(USER_COLUMNS)
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('A user with this email already exists');
      throw error;
    }
    // The users list is invalidated by the caller (`@InvalidateCache` on POST /register); at startup (the
    // admin seed) nothing is cached yet. The counts change now.
    await this.invalidation.invalidateTags([USER_STATS_TAG]);
    return toUserView(row);
  }

  async update(id: number, changes: UserChanges): Promise<UserView> {
    await this.require(id);
    const values: Record<string, string> = { updated_at: new Date().toISOString() };
    if (changes.email !== undefined) values['email'] = changes.email.toLowerCase();
    if (changes.firstName !== undefined) values['first_name'] = changes.firstName;
    if (changes.lastName !== undefined) values['last_name'] = changes.lastName;
    try {
      await this.db.updateTable('users').set(values).where('id', '=', id).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('A user with this email already exists');
      throw error;
    }
    await this.invalidateUser(id);
    return this.get(id);
  }

  async setRole(id: number, role: Role): Promise<void> {
    await this.require(id);
    await this.db
      .updateTable('users')
      .set({ role, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
    await Promise.all([this.invalidateUser(id), this.invalidation.invalidateTags([USER_STATS_TAG])]);
  }

  async setBanned(id: number, banned: boolean, actingUserId: number): Promise<void> {
    if (banned && id === actingUserId) throw new BadRequestException('You cannot ban yourself');
    await this.require(id);
    await this.db
      .updateTable('users')
      .set({ banned, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
    await Promise.all([this.invalidateUser(id), this.invalidation.invalidateTags([USER_STATS_TAG])]);
  }

  async setPassword(id: number, password: string): Promise<void> {
    await this.require(id);
    const passwordHash = await hashPassword(password);
    await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
  }

  async remove(id: number): Promise<void> {
    const row = await this.require(id);
    await this.db.transaction().execute(async (trx) => {
      if (row.role === 'admin') {
        const admins = await trx
          .selectFrom('users')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('role', '=', 'admin')
          .executeTakeFirstOrThrow();
        if (Number(admins.n) <= 1) throw new BadRequestException('The last admin cannot be deleted');
      }
      await trx.deleteFrom('api_keys').where('user_id', '=', id).execute();
      await trx.deleteFrom('users').where('id', '=', id).execute();
    });
    await Promise.all([
      this.invalidateUser(id),
      this.invalidation.invalidateApiKeys(id),
      this.invalidation.invalidateTags([USER_STATS_TAG]),
    ]);
  }

  private async invalidateUser(id: number): Promise<void> {
    await Promise.all([this.invalidation.invalidateUser(id), this.invalidation.invalidateUsersList()]);
  }

  private async require(id: number): Promise<UserRow> {
    const row = await this.findRow(id);
    if (row === undefined) throw new NotFoundException(`User ${id} not found`);
    return row;
  }
}
