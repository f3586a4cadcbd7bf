import { request as httpRequest } from 'node:http';

/** A response as it came off the wire: no decompression, no redirects, bodies of HEAD and 304 as sent. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as UTF-8 text. */
  body: string;
  /** The body's bytes (compressed ones as they were sent). */
  bytes: Buffer;
}

/** Raw HTTP, for methods and headers `fetch()` handles on its own (HEAD bodies, 304, `Accept-Encoding`). */
export function raw(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
