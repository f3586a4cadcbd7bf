import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import pg from 'pg';
import { APP_CONFIG, AppConfigError, type AppConfig } from '../config/app-config.js';
import {
  DATABASE,
  DATABASE_INFO,
  type Database,
  type DatabaseInfo,
  type DatabaseSchema,
} from './database.types.js';
import { ensureSchema } from './schema.js';
import { openSqliteFile } from './sqlite-driver.js';

/** Parses DATABASE_URL: `sqlite:<path>` (or `sqlite::memory:`) or `postgres://...`. */
export function describeDatabase(url: string): DatabaseInfo {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '')
      throw new AppConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/app.db');
    return { dialect: 'sqlite', description: `sqlite:${path}` };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppConfigError('DATABASE_URL', 'expected sqlite:<path> or postgres://user@host:5432/db');
  }
  parsed.password = parsed.password === '' ? '' : '***';
  return { dialect: 'postgres', description: parsed.toString() };
}

/** Opens the database named by `url` and makes sure its tables exist. */
export async function openDatabase(url: string): Promise<Database> {
  const info = describeDatabase(url);
  let db: Database;
  if (info.dialect === 'sqlite') {
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: openSqliteFile(path) }) });
  } else {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle client whose connection the server ends (a restart, an administrator) must not crash the process:
    // the pool drops it and the next query opens a new one.
    pool.on('error', (error) => new Logger('Database').warn(`PostgreSQL connection lost: ${error.message}`));
    db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  }
  try {
    await ensureSchema(db, info.dialect);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}

/** The application's database (Kysely over SQLite through libsql, or PostgreSQL through pg). */
@Global()
@Module({
  providers: [
    {
      provide: DATABASE_INFO,
      useFactory: (config: AppConfig) => describeDatabase(config.databaseUrl),
      inject: [APP_CONFIG],
    },
    {
      provide: DATABASE,
      useFactory: async (config: AppConfig, info: DatabaseInfo) => {
        const db = await openDatabase(config.databaseUrl);
        new Logger('Database').log(`Using ${info.description}`);
        return db;
      },
      inject: [APP_CONFIG, DATABASE_INFO],
    },
    DatabaseCloser,
  ],
  exports: [DATABASE, DATABASE_INFO],
})
export class DatabaseModule {}
