import { describe, expect, it } from 'vitest';
import { SingleFlight } from './single-flight.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SingleFlight', () => {
  it('hands the leader’s value to the callers that joined, and forgets the flight', async () => {
    const flights = new SingleFlight<string>(1000);
    const settle = flights.lead('k', 1);
    const joined = flights.join('k', 1);
    expect(flights.join('k', 2)).toBeUndefined();
    settle('value');
    expect(await joined).toBe('value');
    expect(flights.size).toBe(0);
  });

  it('costs no timer until someone joins, and releases a follower of a leader past its timeout at once', async () => {
    const flights = new SingleFlight<string>(5);
    flights.lead('slow', 1);
    await sleep(10);
    expect(await flights.join('slow', 1)).toBeUndefined();
    expect(flights.size).toBe(0);
  });

  it('sweeps flights nobody ended once there are many (a response that never reached the capture)', async () => {
    const flights = new SingleFlight<string>(1);
    for (let i = 0; i < 10_000; i++) flights.lead(`k${i}`, 1);
    expect(flights.size).toBe(10_000);
    await sleep(5);
    flights.lead('fresh', 1);
    expect(flights.size).toBe(1);
  });
});
