import type { Acquired } from '../engine/cache-engine.js';
import type { EntryKey } from '../engine/entry-key.js';
import type { RoutePlan } from './route-plan.js';

/** Where a request carries the lookup done for it before the router (a miss of a public route). */
const EARLY_LOOKUP = Symbol('HTTP_CACHE:EARLY_LOOKUP');

/** A lookup done before the router that found nothing to answer with: the ticket to compute the entry. */
export interface EarlyLookup {
  readonly plan: RoutePlan;
  readonly key: EntryKey;
  readonly acquired: Extract<Acquired, { kind: 'compute' }>;
}

/** Marks a request whose response got `private, no-store` before the guards ran. */
const PRESET = Symbol('HTTP_CACHE:PRESET_PRIVATE');

interface Carrier {
  [EARLY_LOOKUP]?: EarlyLookup | undefined;
  [PRESET]?: boolean;
}

/** Records that the response of `request` was marked private before the guards ran. */
export function markPreset(request: object): void {
  (request as Carrier)[PRESET] = true;
}

/** Whether the response of `request` was marked private before the guards ran (and forgets it). */
export function takePreset(request: object): boolean {
  const carrier = request as Carrier;
  if (carrier[PRESET] !== true) return false;
  carrier[PRESET] = false;
  return true;
}

/**
 * Leaves a miss's ticket on the request for the interceptor, so the entry is looked up once. If the request
 * never reaches the interceptor (middleware after ours answered it, the client left), the ticket is abandoned
 * when the response closes, so requests coalesced behind it compute instead of waiting.
 */
export function leaveEarlyLookup(
  request: object,
  response: { once(event: 'close', listener: () => void): unknown },
  lookup: EarlyLookup,
): void {
  const carrier = request as Carrier;
  // Never two: one left before would otherwise hold its flight until the followers' timeout.
  carrier[EARLY_LOOKUP]?.acquired.ticket.abandon();
  carrier[EARLY_LOOKUP] = lookup;
  response.once('close', () => {
    if (takeEarlyLookup(request, lookup.plan) !== undefined) lookup.acquired.ticket.abandon();
  });
}

/** The lookup left for this route's plan, taken (so it is used once), or `undefined`. */
export function takeEarlyLookup(request: object, plan: RoutePlan): EarlyLookup | undefined {
  const carrier = request as Carrier;
  const lookup = carrier[EARLY_LOOKUP];
  if (lookup === undefined) return undefined;
  carrier[EARLY_LOOKUP] = undefined;
  if (lookup.plan === plan) return lookup;
  lookup.acquired.ticket.abandon();
  return undefined;
}
