import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS, ADMIN, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';

/**
 * What a shared cache in front of the app (a CDN, a reverse proxy) may store: never one user's error for
 * another. Stock Varnish does not treat `X-API-Key` as a credential and stores a 404 for 120 s.
 */
describe.each(ADAPTERS)('responses of cached routes that the cache does not store, on %s', (adapter) => {
  let sample: SampleApp;
  let api: Api;

  beforeAll(async () => {
    sample = await startSampleApp('sqlite', 'memory', {}, { adapter });
    api = new Api(sample.url);
  });
  afterAll(async () => {
    await sample?.stop();
  });

  it('are private and not storable when the request carries credentials: API key and Bearer', async () => {
    const owner = await api.register('owner-privacy@example.com');
    const other = await api.register('other-privacy@example.com');
    const created = await api.call('POST', '/users/keys', { token: owner, body: { name: 'k' } });
    const { id: keyId, key } = created.body as { id: number; key: string };
    const otherKey = (
      (await api.call('POST', '/users/keys', { token: other, body: { name: 'o' } })).body as { key: string }
    ).key;
    // The other user asks for the owner's key id: 404, on a cached route.
    for (const credentials of [{ apiKey: otherKey }, { token: other }]) {
      const res = await api.call('GET', `/users/keys/${keyId}`, credentials);
      expect(res.status).toBe(404);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
    }
    // The owner still gets its key, privately.
    const mine = await api.call('GET', `/users/keys/${keyId}`, { apiKey: key });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('cache-control')).toMatch(/^private\b/);
    // A shared-key route (the admin list) answers errors privately too.
    const admin = await api.login(ADMIN.email, ADMIN.password);
    const bad = await api.call('GET', '/users?userId=999999', { token: admin });
    expect(bad.status).toBe(404);
    expect(bad.headers.get('cache-control')).toBe('private, no-store');
  });
});
