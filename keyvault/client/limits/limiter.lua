-- Agentopia client-key limiter: one atomic script per operation, Redis's clock for all
-- replicas. Per key (all keys share the {key_id} hash tag):
--   KEYS[1] win  zset  reservation id -> admission time (ms): the sliding window
--   KEYS[2] amt  hash  reservation id -> tokens it counts in the window
--   KEYS[3] st   hash  tok (tokens in window), pid/pstart (budget period), spent,
--                      reserved (micro-USD), preq/ptok (settled in period)
--   KEYS[4] res  hash  reservation id -> "tokens:cost" while in flight
--   KEYS[5] exp  zset  reservation id -> deadline (ms); past it, settled at its estimate
-- ARGV: op, window_ms, period kind, ttl_ms, then the op's arguments.
local win, amt, st, res, exp = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op, window, kind, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function fdiv(a, b) return math.floor(a / b) end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = fdiv(y, 400)
  local yoe = y - era * 400
  local doy = fdiv(153 * ((m + 9) % 12) + 2, 5) + d - 1
  return era * 146097 + yoe * 365 + fdiv(yoe, 4) - fdiv(yoe, 100) + doy - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = fdiv(z, 146097)
  local doe = z - era * 146097
  local yoe = fdiv(doe - fdiv(doe, 1460) + fdiv(doe, 36524) - fdiv(doe, 146096), 365)
  local doy = doe - (365 * yoe + fdiv(yoe, 4) - fdiv(yoe, 100))
  local mp = fdiv(5 * doy + 2, 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

-- The current budget period: id, start (ms), end (ms; 0 = never).
local function period()
  local day = fdiv(fdiv(now, 1000), 86400)
  if kind == 'daily' then return 'd' .. day, day * 86400000, (day + 1) * 86400000 end
  if kind == 'weekly' then
    local start = fdiv(day + 3, 7) * 7 - 3
    return 'w' .. start, start * 86400000, (start + 7) * 86400000
  end
  if kind == 'monthly' then
    local y, m = civil_from_days(day)
    local ny, nm = y, m + 1
    if nm > 12 then ny, nm = y + 1, 1 end
    return 'm' .. y .. '-' .. m, days_from_civil(y, m, 1) * 86400000,
      days_from_civil(ny, nm, 1) * 86400000
  end
  return 't', 0, 0
end

local pid, pstart, pend = period()

local function roll()
  if redis.call('HGET', st, 'pid') ~= pid then
    redis.call('HSET', st, 'pid', pid, 'pstart', pstart, 'spent', 0, 'preq', 0, 'ptok', 0)
  end
end

local function num(key, field) return tonumber(redis.call('HGET', key, field)) or 0 end

-- HINCRBY on the state hash; skips 0 (Lua would send -0, which Redis refuses).
local function add(field, delta)
  if delta ~= 0 then redis.call('HINCRBY', st, field, delta) end
end

local function parse(reservation)
  local sep = string.find(reservation, ':', 1, true)
  return tonumber(string.sub(reservation, 1, sep - 1)), tonumber(string.sub(reservation, sep + 1))
end

-- Drop window entries older than the window and subtract their tokens.
local function evict()
  local cut = now - window
  while true do
    local old = redis.call('ZRANGEBYSCORE', win, '-inf', cut, 'LIMIT', 0, 500)
    if #old == 0 then break end
    local amounts = redis.call('HMGET', amt, unpack(old))
    local freed = 0
    for i = 1, #old do freed = freed + (tonumber(amounts[i]) or 0) end
    redis.call('HDEL', amt, unpack(old))
    redis.call('ZREM', win, unpack(old))
    add('tok', -freed)
  end
  if redis.call('ZCARD', win) == 0 then redis.call('HSET', st, 'tok', 0) end
end

-- Settle one reservation with true usage (or, when tokens is nil, at its estimate).
local function settle(rid, tokens, cost)
  local reservation = redis.call('HGET', res, rid)
  if not reservation then return 0 end
  local est_tokens, est_cost = parse(reservation)
  if tokens == nil then tokens, cost = est_tokens, est_cost end
  redis.call('HDEL', res, rid)
  redis.call('ZREM', exp, rid)
  add('reserved', -est_cost)
  add('spent', cost)
  add('preq', 1)
  add('ptok', tokens)
  local counted = redis.call('HGET', amt, rid)
  if counted then
    redis.call('HSET', amt, rid, tokens)
    add('tok', tokens - tonumber(counted))
  end
  return 1
end

local function expire_stale()
  local stale = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 100)
  for i = 1, #stale do settle(stale[i], nil, nil) end
end

-- ms until `need` tokens have left the window.
local function tokens_free_in(need)
  local freed, offset = 0, 0
  while true do
    local batch = redis.call('ZRANGE', win, offset, offset + 99, 'WITHSCORES')
    if #batch == 0 then return window end
    for i = 1, #batch, 2 do
      freed = freed + (tonumber(redis.call('HGET', amt, batch[i])) or 0)
      if freed >= need then return tonumber(batch[i + 1]) + window - now end
    end
    offset = offset + 100
  end
end

local function touch()
  redis.call('PEXPIRE', win, window + ttl)
  redis.call('PEXPIRE', amt, window + ttl)
  redis.call('PEXPIRE', res, 2 * ttl)
  redis.call('PEXPIRE', exp, 2 * ttl)
  if pend > 0 then
    redis.call('PEXPIRE', st, pend - now + window + 2 * ttl)
  else
    redis.call('PERSIST', st)
  end
end

roll()
expire_stale()
evict()

if op == 'reserve' then
  local rid, tokens, cost = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
  local rpm, tpm, budget = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
  if rpm > 0 then
    local count = redis.call('ZCARD', win)
    if count >= rpm then
      local oldest = redis.call('ZRANGE', win, 0, 0, 'WITHSCORES')
      return {0, 'rpm', tonumber(oldest[2]) + window - now, count}
    end
  end
  local tok = num(st, 'tok')
  if tpm > 0 and tok + tokens > tpm then
    if tokens > tpm then return {0, 'tpm', -1, tok} end
    return {0, 'tpm', tokens_free_in(tok + tokens - tpm), tok}
  end
  if budget >= 0 then
    local spent, reserved = num(st, 'spent'), num(st, 'reserved')
    if spent + reserved + cost > budget then
      if spent + cost <= budget then return {0, 'budget', 1000, spent} end
      if pend == 0 then return {0, 'budget', -1, spent} end
      return {0, 'budget', pend - now, spent}
    end
  end
  redis.call('ZADD', win, now, rid)
  redis.call('HSET', amt, rid, tokens)
  add('tok', tokens)
  redis.call('HSET', res, rid, tokens .. ':' .. cost)
  redis.call('ZADD', exp, now + ttl, rid)
  add('reserved', cost)
  touch()
  return {1, 'ok', 0, 0}
elseif op == 'settle' then
  return {settle(ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])), 'ok', 0, 0}
elseif op == 'release' then
  local rid = ARGV[5]
  local reservation = redis.call('HGET', res, rid)
  if not reservation then return {0, 'ok', 0, 0} end
  local _, est_cost = parse(reservation)
  redis.call('HDEL', res, rid)
  redis.call('ZREM', exp, rid)
  add('reserved', -est_cost)
  local counted = redis.call('HGET', amt, rid)
  if counted then
    redis.call('HDEL', amt, rid)
    redis.call('ZREM', win, rid)
    add('tok', -tonumber(counted))
  end
  return {1, 'ok', 0, 0}
elseif op == 'peek' then
  return {
    redis.call('ZCARD', win), num(st, 'tok'), redis.call('HLEN', res), num(st, 'spent'),
    num(st, 'reserved'), num(st, 'preq'), num(st, 'ptok'), pstart,
  }
end
return redis.error_reply('unknown limiter op ' .. tostring(op))
