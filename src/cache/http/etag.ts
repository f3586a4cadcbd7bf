import { hash } from 'node:crypto';

/**
 * Strong entity tag of a body: a hash of its bytes, so equal content gives an equal tag in every process and
 * after every restart.
 */
export function strongEtag(body: string | Buffer | undefined): string {
  // One-shot hash: no Hash object per response. Quoted by JSON.stringify (base64url needs no escape), which
  // makes one flat string: a concatenation would be a rope of three, kept in every entry and flattened again
  // when Node checks the header.
  return JSON.stringify(hash('sha1', body ?? '', 'base64url'));
}

/** `If-None-Match` evaluation (RFC 9110 13.1.2): weak comparison, `*` matches any current representation. */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const candidate of text.split(',')) {
    const c = candidate.trim();
    if ((c.startsWith('W/') ? c.slice(2) : c) === opaque) return true;
  }
  return false;
}
