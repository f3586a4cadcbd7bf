import { describe, expect, it } from 'vitest';
import type { SendFunction } from './response-access.js';
import { hookNextSend } from './send-hook.js';

/** A response class like the adapters': `send` on the prototype, re-entered the way Express's `json()` does. */
class FakeResponse {
  readonly sent: unknown[] = [];

  send(body?: unknown): unknown {
    if (typeof body === 'object' && body !== null) return this.send(JSON.stringify(body));
    this.sent.push(body);
    return this;
  }
}

describe('hookNextSend', () => {
  it('runs the hook for the next send only, with the original send to call', () => {
    const res = new FakeResponse();
    const seen: unknown[] = [];
    hookNextSend(res, (payload, send) => {
      seen.push(payload);
      return send(`hooked:${String(payload)}`);
    });
    res.send('a');
    res.send('b');
    expect(seen).toEqual(['a']);
    expect(res.sent).toEqual(['hooked:a', 'b']);
  });

  it('lets the original send re-enter send (Express json → send) without running the hook again', () => {
    const res = new FakeResponse();
    let calls = 0;
    hookNextSend(res, (payload, send) => {
      calls++;
      return send(payload);
    });
    res.send({ x: 1 });
    expect(calls).toBe(1);
    expect(res.sent).toEqual(['{"x":1}']);
  });

  it('keeps responses apart: a hook on one never runs for another of the same class', () => {
    const a = new FakeResponse();
    const b = new FakeResponse();
    hookNextSend(a, (_payload, send) => send('from the hook'));
    b.send('plain');
    a.send('ignored');
    expect(a.sent).toEqual(['from the hook']);
    expect(b.sent).toEqual(['plain']);
  });

  it('leaves the response without an own send property (its shape does not change)', () => {
    const res = new FakeResponse();
    hookNextSend(res, (payload, send) => send(payload));
    expect(Object.hasOwn(res, 'send')).toBe(false);
    res.send('x');
    expect(Object.hasOwn(res, 'send')).toBe(false);
  });

  it('shadows a send that is an own property of the response, once', () => {
    const sent: unknown[] = [];
    const own: SendFunction = (body) => sent.push(body);
    const res = { send: own };
    hookNextSend(res, (payload, send) => send(`hooked:${String(payload)}`));
    res.send('a');
    res.send('b');
    expect(sent).toEqual(['hooked:a', 'b']);
    expect(res.send).toBe(own);
  });
});
