import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';

describe('throttling of /register and /login', () => {
  let sample: SampleApp;
  let api: Api;

  beforeAll(async () => {
    sample = await startSampleApp('sqlite', 'memory', { THROTTLE_ENABLED: 'true', THROTTLE_LIMIT: '3' });
    api = new Api(sample.url);
  });
  afterAll(async () => sample?.stop());

  it('answers 429 past the limit, and leaves other routes alone', async () => {
    const body = { email: 'nobody@example.com', password: 'wrong-password' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await api.call('POST', '/login', { body })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    for (let i = 0; i < 5; i++) expect((await api.call('GET', '/health')).status).toBe(200);
  });
});

describe('throttling disabled (the default)', () => {
  let sample: SampleApp;
  let api: Api;

  beforeAll(async () => {
    sample = await startSampleApp('sqlite', 'memory');
    api = new Api(sample.url);
  });
  afterAll(async () => sample?.stop());

  it('never answers 429', async () => {
    const body = { email: 'nobody@example.com', password: 'wrong-password' };
    for (let i = 0; i < 15; i++) expect((await api.call('POST', '/login', { body })).status).toBe(401);
  });
});
