/** Whether a driver error is a unique-constraint violation (SQLite through libsql, or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === '23505') return true;
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) return true;
  return typeof message === 'string' && message.includes('UNIQUE constraint failed');
}
