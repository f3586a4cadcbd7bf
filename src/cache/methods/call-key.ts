import { CacheDefinitionError } from '../cache.errors.js';
import { encodeKeySegment } from '../engine/key-segment.js';
import type { CacheKeyInput } from './cache-call.options.js';

function segment(part: unknown, where: string): string {
  if (typeof part === 'string') return encodeKeySegment(part);
  if (typeof part === 'number' && Number.isFinite(part)) return encodeKeySegment(part);
  throw new CacheDefinitionError(
    `${where}: a key part must be a string or a finite number, got ${typeof part}`,
  );
}

/**
 * The key of an entry below its namespace from a caller's key: a string or number is one segment (encoded,
 * so `:` inside it separates nothing), an array one segment per element. Empty keys are refused.
 * @throws {CacheDefinitionError} naming `where` for an empty key or a part that is not a string or number.
 */
export function keyOfInput(input: CacheKeyInput, where: string): string {
  if (Array.isArray(input)) {
    if (input.length === 0) throw new CacheDefinitionError(`${where}: the key must not be an empty array`);
    let out = '';
    for (let i = 0; i < input.length; i++) out += (i === 0 ? '' : ':') + segment(input[i], where);
    // `['']` would be stored as `_`, the key `'_'` is.
    if (out === '') throw new CacheDefinitionError(`${where}: the key must not be empty`);
    return out;
  }
  if (input === '') throw new CacheDefinitionError(`${where}: the key must not be empty`);
  return segment(input, where);
}

/** The string a key below `namespace` is built from (the key space strips the namespace again). */
export function builtKey(namespace: string, rest: string): string {
  return rest === '' ? namespace : `${namespace}:${rest}`;
}
