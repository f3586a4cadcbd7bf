import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for `EVALSHA` (falling back to `EVAL` when the server does not know it yet). */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/**
 * How much longer than its entry a record is made to live when a write creates it or raises its expiry: at
 * most 1 s (a quarter of the entry's lifetime when that is shorter). Records thus outlive the last write by
 * at most this much (docs/storage-model.md, "Footprint"), and the writes of the next half of it raise no expiry.
 */
export const RECORD_SLACK_MS = 1000;

/** Most records the write script fetches with one `MGET` (Lua's `unpack` has a limit); more: one `GET` each. */
const MGET_RECORDS_MAX = 1000;

function script(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Shared Lua: `tickAt(key, raw)` reads a record or the clock (missing, corrupt or of another type: `nil`, and a
 * `SET` replaces it) from `raw` when the caller already fetched it (an `MGET` reply: `false` when missing or of
 * another type), else with a `GET`; `clockNow()` reads the clock, creating it when missing (or corrupt) at the server's time in
 * microseconds, above every tick handed out before it was lost; returns the value read before (0 when missing)
 * and the value after.
 */
const CLOCK = `
local function tickAt(key, raw)
  if raw == nil then raw = redis.pcall('GET', key) end
  if type(raw) ~= 'string' or #raw > 16 or not string.match(raw, '^%d+$') then return nil end
  local value = tonumber(raw)
  -- Beyond 2^53 a double no longer counts one by one (and JavaScript reads it as missing).
  if value > 9007199254740991 then return nil end
  return value
end
local function clockNow(key)
  local value = tickAt(key)
  -- A clock of 0 counts as missing, as a lookup reads it (a stamp of 0 means "no clock").
  if value and value > 0 then return value, string.format('%.0f', value) end
  local t = redis.call('TIME')
  local base = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('SET', key, base)
  return 0, base
end
local function tickClock(key)
  local _, current = clockNow(key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local ticked = tonumber(current) + 1
  if now > ticked then ticked = now end
  local text = string.format('%.0f', ticked)
  redis.call('SET', key, text)
  return text
end
`;

/**
 * The write of a miss, as one command (docs/storage-model.md, "Write").
 * KEYS: entry, clock, records... ARGV: stamp (tick), payload, ttl ms. Returns 0 when the entry was refused; when
 * it was stored, 1 (no records) or `{1, least}`, where `least` is how many ms the shortest-lived record has left. A
 * record that must outlive the entry is made to live `ttl` + the slack (see {@link RECORD_SLACK_MS}) whenever it
 * has less than `ttl` + half the slack left, so that the writes of the next moments only read its expiry
 * (`PTTL`) instead of raising it again. The stamp is never 0: a lookup that finds no clock makes one before it
 * answers (RedisTier.read), and a write stamped 0 is refused before it is sent.
 */
export const WRITE_SCRIPT = script(`${CLOCK}
local tick = tonumber(ARGV[1])
local ttl = tonumber(ARGV[3])
local slack = math.min(${RECORD_SLACK_MS}, math.floor(ttl / 4))
local long = ttl + slack
local enough = ttl + math.floor(slack / 2)
local before, current = clockNow(KEYS[2])
-- A stamp above the clock: the clock went back (a restore from an older snapshot, a lagging replica promoted).
if tick == 0 or (before > 0 and tick > before) then return 0 end
local quiet = before == tick
local fenced = false
local present = {}
-- One MGET for every record (it answers nil for a key of another type, as the GET of tickAt does): a call into
-- Redis from Lua costs more than the command itself. Past Lua's unpack limit, one GET per record.
local raws = {}
if #KEYS > 2 and #KEYS <= ${MGET_RECORDS_MAX} + 2 then raws = redis.call('MGET', unpack(KEYS, 3)) end
for i = 3, #KEYS do
  local record = tickAt(KEYS[i], raws[i - 2])
  if record then
    if record > tick then return 0 end
    present[i] = true
  elseif not quiet then
    redis.call('SET', KEYS[i], current, 'PX', ttl)
    fenced = true
  end
end
if fenced then return 0 end
-- How long the shortest-lived record has left: the writes of the next moments need not look at them again.
local least = nil
for i = 3, #KEYS do
  local left = long
  if not present[i] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', long)
  else
    left = redis.call('PTTL', KEYS[i])
    if left < enough then
      redis.call('PEXPIRE', KEYS[i], long)
      left = long
    end
  end
  if least == nil or left < least then least = left end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
if least == nil then return 1 end
return {1, least}
`);

/**
 * The write of a miss whose records are known to outlive the entry ({@link RecordLifetimes}): the same checks as
 * {@link WRITE_SCRIPT} (refused when the stamp is above the clock, or a record moved past it), but no record's
 * expiry is read or raised, and the clock and the records come from one `MGET`: two calls into Redis instead
 * of one per record and more. KEYS and ARGV: as {@link WRITE_SCRIPT}. Returns 1 when stored, 0 when refused,
 * -1 when the full write must run instead (the clock or a record is missing or unreadable: a missing record is
 * made, or fenced, there; or too many records for one `MGET`).
 */
export const FAST_WRITE_SCRIPT = script(`${CLOCK}
if #KEYS > ${MGET_RECORDS_MAX} + 2 then return -1 end
local raws = redis.call('MGET', unpack(KEYS, 2))
local before = tickAt(KEYS[2], raws[1])
if not before or before == 0 then return -1 end
local tick = tonumber(ARGV[1])
if tick == 0 or tick > before then return 0 end
for i = 2, #raws do
  local record = tickAt(KEYS[i + 1], raws[i])
  if not record then return -1 end
  if record > tick then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/**
 * An invalidation, as one command: ticks the clock (to its value + 1, or the server's time in microseconds when
 * that is later, so that a clock that went back, restored from an older snapshot or a lagging replica, still
 * ticks above every stamp handed out before) and moves the existing records to the new tick (never creating
 * one). KEYS: clock, records... Returns the new tick as text.
 */
export const INVALIDATE_SCRIPT = script(`${CLOCK}
local tick = tickClock(KEYS[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], tick, 'XX', 'KEEPTTL') end
return tick
`);

/** Cluster: the clock's part of an invalidation, on the clock's own slot. KEYS: clock. */
export const TICK_SCRIPT = script(`${CLOCK}
return tickClock(KEYS[1])
`);

/**
 * The clock, created when missing (a new prefix, a flush, a loss) without ticking it: the stamp of a lookup that
 * found none, and run once per connection so that the first lookups find it. KEYS: clock.
 */
export const CLOCK_SCRIPT = script(`${CLOCK}
local _, current = clockNow(KEYS[1])
return current
`);

/**
 * Cluster: one record's part of a write, on the record's own slot. KEYS: record. ARGV: stamp, ttl ms. Returns
 * 0 when the record refuses the entry (it moved past the stamp), 1 when it allows it (its expiry raised to the
 * entry's), 2 when it was missing and has been created at the stamp.
 */
export const ENSURE_RECORD_SCRIPT = script(`${CLOCK}
local record = tickAt(KEYS[1])
local ttl = tonumber(ARGV[2])
if record then
  if record > tonumber(ARGV[1]) then return 0 end
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 2
`);

/**
 * Cluster: one record's part of an invalidation. Unlike the one-script invalidation of a single server, it
 * creates a missing record (living at least `min ttl`), so that a write still being computed, whose record
 * scripts may land after it, finds it and is refused. KEYS: record. ARGV: tick, min ttl ms.
 */
export const INVALIDATE_RECORD_SCRIPT = script(`${CLOCK}
local ttl = redis.call('PTTL', KEYS[1])
local min = tonumber(ARGV[2])
if ttl < min then ttl = min end
local current = tickAt(KEYS[1])
-- Records only move forward: an invalidation with an older tick that lands late changes nothing but the expiry.
if current and current >= tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
`);

/**
 * Cluster: raises a record to at least a tick (never lowers it), keeping its expiry. KEYS: record. ARGV: tick.
 * Fences a record a write created at its stamp when the clock had moved meanwhile.
 */
export const RAISE_RECORD_SCRIPT = script(`${CLOCK}
local current = tickAt(KEYS[1])
if current and current >= tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
end
return 1
`);

/** Deletes a lock only when it still holds the caller's token (never someone else's lock). */
export const RELEASE_LOCK_SCRIPT = script(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
);
