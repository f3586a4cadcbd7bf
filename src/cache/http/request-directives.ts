/** What a request's `Cache-Control` / `Pragma` headers ask of the cache. */
export interface RequestDirectives {
  /**
   * Skip the read, run the handler, store the fresh result (`no-cache`, `Pragma: no-cache`: a reload). A
   * browser's revalidation (`max-age=0` with `If-None-Match`) is not one: the entry is the current
   * representation (writes invalidate it), so it is answered from the entry, a `304` when the tag matches.
   */
  readonly noCache: boolean;
  /** Neither read nor write (`no-store`). */
  readonly noStore: boolean;
}

const NONE: RequestDirectives = Object.freeze({ noCache: false, noStore: false });

function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

/** Parses directive lists case-insensitively; unknown directives are ignored. */
export function parseRequestDirectives(
  headers: Record<string, string | string[] | undefined>,
): RequestDirectives {
  const cacheControl = headerText(headers['cache-control']);
  const pragma = headerText(headers['pragma']);
  if (cacheControl === undefined && pragma === undefined) return NONE;
  let noCache = false;
  let noStore = false;
  if (cacheControl !== undefined) {
    for (const part of cacheControl.split(',')) {
      const eq = part.indexOf('=');
      const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
      if (name === 'no-cache') noCache = true;
      else if (name === 'no-store') noStore = true;
    }
  }
  if (!noCache && pragma !== undefined) {
    noCache = pragma.split(',').some((p) => p.trim().toLowerCase() === 'no-cache');
  }
  return noCache || noStore ? { noCache, noStore } : NONE;
}

/** Whether a response `Cache-Control` value forbids storing it (`no-store`, or `private` on a shared key). */
export function responseForbidsStore(cacheControl: string, sharedKey: boolean): boolean {
  for (const part of cacheControl.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === 'no-store') return true;
    if (name === 'private' && sharedKey) return true;
  }
  return false;
}
