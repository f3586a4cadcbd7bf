/** Content codings the compression plugins produce (`*` stands for any of them). */
const COMPRESSED_CODINGS = new Set(['gzip', 'x-gzip', 'br', 'deflate', 'zstd', '*']);

/**
 * Whether an `Accept-Encoding` request header accepts a compressed coding (RFC 9110 12.5.3): some coding other
 * than `identity` listed without `q=0`.
 */
export function acceptsCompression(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  for (const part of text.split(',')) {
    const semi = part.indexOf(';');
    const coding = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (!COMPRESSED_CODINGS.has(coding)) continue;
    if (semi === -1 || qualityOf(part.slice(semi + 1)) > 0) return true;
  }
  return false;
}

/** The `q` weight of a coding's parameters (1 when absent, 0 when unreadable). */
function qualityOf(params: string): number {
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const q = Number(param.slice(eq + 1).trim());
    return Number.isFinite(q) ? q : 0;
  }
  return 1;
}

/**
 * Whether an `Accept-Encoding` request header accepts `gzip`: listed (or `x-gzip`) without `q=0`, or covered by
 * `*` when not listed.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  let star: boolean | undefined;
  for (const part of text.split(',')) {
    const semi = part.indexOf(';');
    const coding = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    const accepted = semi === -1 || qualityOf(part.slice(semi + 1)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') star = accepted;
  }
  return star === true;
}
