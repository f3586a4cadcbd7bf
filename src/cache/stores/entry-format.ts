import { isStoredResponse, type StoredResponse } from './cache-store.interface.js';

/** The status of a value entry (a method result, a `CacheService` value): no HTTP response has it. */
export const VALUE_STATUS = 0;

/** First character of a value entry's text in Redis. */
const VALUE_MARK = 'V';
/** First character of a response entry's text in Redis. */
const RESPONSE_MARK = 'R';

/**
 * An entry as Redis holds it: a mark (`V` for a value entry, `R` for a response), its fields but the body as
 * JSON, then a newline and the body as it is (none for a response without a body). The body is never escaped
 * into a JSON string: a write does not copy it twice, and a hit takes it with one `slice`.
 */
export function serializeEntry(entry: StoredResponse): string {
  const { body, ...fields } = entry;
  const mark = entry.status === VALUE_STATUS ? VALUE_MARK : RESPONSE_MARK;
  // JSON.stringify never writes a raw newline, so the first one ends the fields.
  return body === undefined
    ? `${mark}${JSON.stringify(fields)}`
    : `${mark}${JSON.stringify(fields)}\n${body}`;
}

/**
 * The entry held in `raw`, or `undefined` when it is not one (missing, corrupt, another shape, or a mark that
 * does not match its status). Keyv's serialization (`{"value":…}`), which earlier versions wrote for responses,
 * is read too.
 */
export function parseEntry(raw: unknown): StoredResponse | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const mark = raw[0];
    if (mark === VALUE_MARK || mark === RESPONSE_MARK) {
      const end = raw.indexOf('\n');
      const fields = JSON.parse(end === -1 ? raw.slice(1) : raw.slice(1, end)) as Record<
        string,
        unknown
      > | null;
      if (fields === null || typeof fields !== 'object' || 'body' in fields) return undefined;
      const isValue = mark === VALUE_MARK;
      if ((fields['status'] === VALUE_STATUS) !== isValue || (isValue && end === -1)) return undefined;
      // A fresh object of JSON.parse's: completed in place (no copy).
      if (end !== -1) fields['body'] = raw.slice(end + 1);
      return isStoredResponse(fields) ? fields : undefined;
    }
    const value = (JSON.parse(raw) as { value?: unknown } | null)?.value;
    return isStoredResponse(value) && value.status !== VALUE_STATUS ? value : undefined;
  } catch {
    return undefined;
  }
}
