import { hash } from 'node:crypto';

/** What an entry records of the request it was made for: a hash of each header value its `Vary` names. */
export type VaryRecord = Readonly<Record<string, string | null>>;

/** Header names the cache itself accounts for: the stored representation and its codings. */
const HANDLED = new Set(['accept-encoding']);

/** Most bytes of request header values one entry records; a response that varies on more is not stored. */
const MAX_RECORDED_CHARS = 2048;

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function textOf(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * What an entry keeps of a header value: its hash, never the value (a `Vary: Authorization` or `Cookie` would
 * otherwise put credentials in the store); `null` for an absent header.
 */
function digestOf(text: string | undefined): string | null {
  return text === undefined ? null : hash('sha256', text, 'base64url');
}

/**
 * The request headers a response's `Vary` (as the application set it) names, with their values in `headers`
 * (RFC 9111 4.1: a stored response answers only requests that match them); `undefined` when it names none the
 * cache does not account for itself, and `'*'` when the response may not be reused at all (`Vary: *`, or more
 * header text than an entry keeps).
 */
export function varyOf(vary: string | undefined, headers: Headers): VaryRecord | '*' | undefined {
  if (vary === undefined) return undefined;
  let record: Record<string, string | null> | undefined;
  let chars = 0;
  for (const part of vary.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || HANDLED.has(name)) continue;
    if (name === '*') return '*';
    const text = textOf(headers, name);
    chars += name.length + (text?.length ?? 0);
    if (chars > MAX_RECORDED_CHARS) return '*';
    (record ??= Object.create(null) as Record<string, string | null>)[name] = digestOf(text);
  }
  return record;
}

/** Whether a request's headers match those an entry was made for. */
export function varyMatches(recorded: VaryRecord, headers: Headers): boolean {
  for (const name of Object.keys(recorded)) {
    if (recorded[name] !== digestOf(textOf(headers, name))) return false;
  }
  return true;
}

/** Whether `value` is a {@link VaryRecord} (entries read from Redis are untrusted). */
export function isVaryRecord(value: unknown): value is VaryRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.values(value).every((v) => v === null || typeof v === 'string');
}
