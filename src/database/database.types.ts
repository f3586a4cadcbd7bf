import type { ColumnType, Generated, Kysely } from 'kysely';

/** Timestamps are ISO strings in SQLite and `Date`s from PostgreSQL; written as ISO strings. */
type Timestamp = ColumnType<string | Date, string, string>;
/** Booleans are 0/1 in SQLite and true/false in PostgreSQL. */
type Flag = ColumnType<boolean | number, boolean | number, boolean | number>;

export interface UsersTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  first_name: string;
  last_name: string;
  role: 'user' | 'admin';
  banned: Flag;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  key_hash: string;
  is_active: Flag;
  /** JSON array of strings. */
  scopes: string;
  created_at: Timestamp;
  last_used_at: ColumnType<string | Date | null, string | null, string | null>;
}

export interface DatabaseSchema {
  users: UsersTable;
  api_keys: ApiKeysTable;
}

export type Database = Kysely<DatabaseSchema>;

/** Injection token of the Kysely instance. */
export const DATABASE = 'APP:DATABASE';

export type DatabaseDialect = 'sqlite' | 'postgres';

/** Which engine the application talks to; for health checks and dialect-specific SQL. */
export interface DatabaseInfo {
  dialect: DatabaseDialect;
  /** Safe to log: no password. */
  description: string;
}

export const DATABASE_INFO = 'APP:DATABASE_INFO';
