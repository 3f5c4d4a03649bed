//! The Lua scripts the Redis store runs: each one atomic step over one key, or keys under one
//! hash tag, so standalone, Sentinel and Cluster all run them; and the revocation feed's
//! entries as Redis holds them.

use super::Revoked;
use crate::http::hex::{from_hex, hex};

/// GCRA in one atomic step (the approach of go-redis' redis_rate): the key holds the
/// theoretical arrival time; Redis' own clock, so replicas need no synchronised clocks.
/// ARGV[4] requests counted earlier and not used (a lease's rest) are given back first, never
/// below a whole allowance.
pub(super) const GCRA: &str = r#"
local burst = tonumber(ARGV[1])
local emission = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local refund = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if refund > 0 then tat = math.max(now, tat - emission * refund) end
local new_tat = tat + emission * cost
local diff = now - (new_tat - emission * burst)
if diff < 0 then
  if refund > 0 then
    if tat > now then
      redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.max(1, math.ceil((tat - now) * 1000)))
    else
      redis.call('DEL', KEYS[1])
    end
  end
  return {0, 0, string.format('%.6f', tat - now), string.format('%.6f', -diff)}
end
local reset_after = new_tat - now
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.max(1, math.ceil(reset_after * 1000)))
return {1, math.floor(diff / emission + 0.000001), string.format('%.6f', reset_after), '0'}
"#;

/// A failed attempt: count it (idle counts expire after the block time); at the maximum,
/// block the key and start counting afresh.
pub(super) const FAILURE: &str = r#"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// Write a session (KEYS[1]) unless it ended (KEYS[2], same hash tag: 0) or, when it
/// continues one (ARGV[3] = 1), unless that one is gone (0) or its token is no longer ARGV[4]
/// (2: another refresh came first).
pub(super) const PUT_SESSION: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[3] == '1' then
  local current = redis.call('GET', KEYS[1])
  if not current then return 0 end
  if cjson.decode(current).token_hash ~= ARGV[4] then return 2 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"#;

/// End a session: its tombstone (KEYS[2]) outlives it, so it is never written again. Answers
/// the record as it was when it ended (a refresh may have replaced the one the caller read).
pub(super) const END_SESSION: &str = r#"
local record = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[3])
return record
"#;

/// Publish revocations at Redis' time (milliseconds), and forget those published longer ago
/// than the longest any of them stays revoked.
pub(super) const REVOKE: &str = r#"
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], ms, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - tonumber(ARGV[1]) * 1000)
return ms
"#;

/// A revocation as the feed holds it: the hash in hex, a dot, and until when it holds.
pub(super) fn feed_entry(r: &Revoked) -> String {
    format!("{}.{}", hex(&r.hash), r.until)
}

/// A feed entry; one without its `until` (written by an older version) holds `legacy_until`.
pub(super) fn parse_feed_entry(entry: &str, legacy_until: u64) -> Option<Revoked> {
    let (hash, until) = match entry.split_once('.') {
        Some((hash, until)) => (hash, until.parse().ok()?),
        None => (entry, legacy_until),
    };
    Some(Revoked { hash: from_hex(hash)?, until })
}

/// Give a refresh lease back only when the caller still holds it (it may have expired and
/// been taken by another replica meanwhile).
pub(super) const RELEASE_LEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_entries_round_trip_and_older_ones_are_read() {
        let r = Revoked { hash: [7; 32], until: 1_900_000_000 };
        assert_eq!(parse_feed_entry(&feed_entry(&r), 5), Some(r));
        assert_eq!(parse_feed_entry(&hex(&[7; 32]), 5), Some(Revoked { hash: [7; 32], until: 5 }), "no until");
        assert_eq!(parse_feed_entry("zz.5", 5), None);
        assert_eq!(parse_feed_entry(&format!("{}.x", hex(&[7; 32])), 5), None);
    }
}
