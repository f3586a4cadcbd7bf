import type { SqliteDatabase, SqliteStatement } from 'kysely';
import Sqlite from 'libsql';

type Statement = ReturnType<InstanceType<typeof Sqlite>['prepare']>;

/** libsql cannot bind JavaScript booleans (it aborts the process): SQLite stores them as 0 and 1 anyway. */
function bindable(parameters: ReadonlyArray<unknown>): unknown[] {
  return parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

class Prepared implements SqliteStatement {
  constructor(private readonly statement: Statement) {}

  get reader(): boolean {
    return this.statement.reader;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.statement.all(bindable(parameters));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.statement.run(bindable(parameters));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.statement.iterate(bindable(parameters));
  }
}

/** A libsql database (an SQLite file, no server) in the shape Kysely's SqliteDialect expects. */
export function openSqliteFile(path: string): SqliteDatabase {
  const db = new Sqlite(path);
  // The busy timeout first: switching to WAL takes a lock that another process starting on the same file may
  // hold, and must wait for it rather than fail. WAL then lets several processes share the file.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  return {
    close: () => db.close(),
    prepare: (sql: string) => new Prepared(db.prepare(sql)),
  };
}
