import { isStoredResponse, type StoredResponse } from './cache-store.interface.js';

/** The status of a value entry (a method result, a `CacheService` value): no HTTP response has it. */
export const VALUE_STATUS = 0;

/** First character of a value entry's text in Redis; Keyv's JSON always starts with `{`. */
const VALUE_MARK = 'V';

/**
 * An entry as Redis holds it. A response: Keyv's serialization (`{"value":…,"expires":…}`), so any Keyv or
 * cache-manager client reads it. A value entry: `V`, its fields but the body as JSON, a newline, then the
 * body as it is: the value codec's text is not escaped into a JSON string, so a hit parses it once.
 */
export function serializeEntry(entry: StoredResponse, ttlMs: number): string {
  if (entry.status !== VALUE_STATUS || entry.body === undefined) {
    return JSON.stringify({ value: entry, expires: Date.now() + ttlMs });
  }
  const { body, ...fields } = entry;
  // JSON.stringify never writes a raw newline, so the first one ends the fields.
  return `${VALUE_MARK}${JSON.stringify(fields)}\n${body}`;
}

/** The entry held in `raw`, or `undefined` when it is not one (missing, corrupt, another shape). */
export function parseEntry(raw: unknown): StoredResponse | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    if (raw.startsWith(VALUE_MARK)) {
      const end = raw.indexOf('\n');
      if (end === -1) return undefined;
      const fields = JSON.parse(raw.slice(1, end)) as Record<string, unknown> | null;
      if (fields === null || typeof fields !== 'object' || fields['status'] !== VALUE_STATUS)
        return undefined;
      // A fresh object of JSON.parse's: completed in place (no copy).
      fields['body'] = raw.slice(end + 1);
      return isStoredResponse(fields) ? fields : undefined;
    }
    const value = (JSON.parse(raw) as { value?: unknown } | null)?.value;
    return isStoredResponse(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
