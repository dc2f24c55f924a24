"""The Redis ledger's Lua scripts: each reservation, commit, release and sum is one atomic
script run inside Redis (`costmodel.ledger.redis` loads them and calls them by SHA).

Money stays exact without floats: amounts travel and are stored as plain decimal strings, and
`LIB` adds, subtracts and compares them in 15-digit chunks (a chunk sum stays below 2^53, so
the doubles Lua computes with are exact).
"""

LIB = r"""
-- Exact non-negative decimals as plain strings ("12.5"). A number is split into 15-digit
-- chunks: a chunk sum stays below 2^53, so the doubles Lua computes with are exact.
local CH, find, sub_, rep, fmt = 15, string.find, string.sub, string.rep, string.format
local function parse(s)            -- digits without the point, number of decimals
  local i = find(s, ".", 1, true)
  if not i then return s, 0 end
  return sub_(s, 1, i - 1) .. sub_(s, i + 1), #s - i
end
local function align(a, b)         -- equal-length digit strings, same number of decimals
  local x, xf = parse(a)
  local y, yf = parse(b)
  if xf < yf then x = x .. rep("0", yf - xf) elseif yf < xf then y = y .. rep("0", xf - yf) end
  if #x < #y then x = rep("0", #y - #x) .. x elseif #y < #x then y = rep("0", #x - #y) .. y end
  return x, y, (xf > yf and xf or yf)
end
local function join(digits, fl)    -- digits with fl decimals -> canonical plain decimal
  if fl > 0 then
    local z = find(digits, "0+$")  -- drop trailing zeros of the fraction only
    if z then
      if z <= #digits - fl then z = #digits - fl + 1 end
      fl, digits = fl - (#digits - z + 1), sub_(digits, 1, z - 1)
    end
  end
  if #digits <= fl then digits = rep("0", fl - #digits + 1) .. digits end
  local nz = find(digits, "[^0]")
  local cut = #digits - fl
  if not nz or nz > cut then nz = cut end
  if fl == 0 then return sub_(digits, nz) end
  return sub_(digits, nz, cut) .. "." .. sub_(digits, cut + 1)
end
local function cmp(a, b)
  if a == b then return 0 end
  local x, y = align(a, b)
  for i = 1, #x, CH do
    local p, q = tonumber(sub_(x, i, i + CH - 1)), tonumber(sub_(y, i, i + CH - 1))
    if p ~= q then return p < q and -1 or 1 end
  end
  return 0
end
local function arith(a, b, sign)   -- a + b, or a - b (sign -1, needs a >= b)
  local x, y, fl = align(a, b)
  local n = #x
  if n <= CH then                  -- one chunk: the common case
    return join(fmt("%0" .. n .. ".0f", tonumber(x) + sign * tonumber(y)), fl)
  end
  local out, carry, e = {}, 0, n
  while e >= 1 do
    local s = e - CH + 1
    if s < 1 then s = 1 end
    local m = 10 ^ (e - s + 1)
    local v = tonumber(sub_(x, s, e)) + sign * tonumber(sub_(y, s, e)) + carry
    if v >= m then v, carry = v - m, 1 elseif v < 0 then v, carry = v + m, -1 else carry = 0 end
    table.insert(out, 1, fmt("%0" .. (e - s + 1) .. ".0f", v))
    e = s - 1
  end
  return join((carry > 0 and "1" or "") .. table.concat(out), fl)
end
local function add(a, b)
  if a == "0" then return b elseif b == "0" then return a end
  return arith(a, b, 1)
end
local function sub(a, b)           -- never below zero
  if b == "0" then return a end
  if cmp(a, b) <= 0 then return "0" end
  return arith(a, b, -1)
end
local function drop(kheld, khold, kheldsum, id)   -- remove one reservation, if held
  local v = redis.call("HGET", khold, id)
  redis.call("ZREM", kheld, id)
  if not v then return end
  redis.call("HDEL", khold, id)
  local sp = string.find(v, " ", 1, true)
  local scope = string.sub(v, sp + 1)
  local left = sub(redis.call("HGET", kheldsum, scope) or "0", string.sub(v, 1, sp - 1))
  if left == "0" then redis.call("HDEL", kheldsum, scope)
  else redis.call("HSET", kheldsum, scope, left) end
end
local function sum_periods(kz, ksums, lo, hi, acc)
  for _, p in ipairs(redis.call("ZRANGEBYSCORE", kz, lo, hi)) do
    acc = add(acc, redis.call("HGET", ksums, p) or "0")
  end
  return acc
end
-- Committed spend of one scope at or after an instant. k: sums, months, days, dayrec keys;
-- a: mode ("" = all time | "month" | "day" | "exact"), yyyymm, yyyymm99, yyyymmdd, D, at_us.
local function since(k, a)
  if a[1] == "" then return redis.call("HGET", k[1], "all") or "0" end
  if a[1] == "month" then return sum_periods(k[2], k[1], a[2], "+inf", "0") end
  local acc = sum_periods(k[2], k[1], "(" .. a[2], "+inf", "0")
  acc = sum_periods(k[3], k[1], "(" .. a[4], a[3], acc)
  if a[1] == "day" then return add(acc, redis.call("HGET", k[1], a[5]) or "0") end
  local from, n = tonumber(a[6]), redis.call("LLEN", k[4])
  for i = 0, n - 1, 1000 do
    for _, e in ipairs(redis.call("LRANGE", k[4], i, i + 999)) do
      local sp = string.find(e, " ", 1, true)
      if tonumber(string.sub(e, 1, sp - 1)) >= from then acc = add(acc, string.sub(e, sp + 1)) end
    end
  end
  return acc
end
"""

# KEYS held hold heldsum sums months days dayrec(since)
# ARGV id scope usd expires_at now limit|"" + the 6 `since` arguments
RESERVE = LIB + r"""
for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[5])) do
  drop(KEYS[1], KEYS[2], KEYS[3], id)
end
local scope, usd = ARGV[2], ARGV[3]
local held = redis.call("HGET", KEYS[3], scope) or "0"
local after = add(held, usd)
if ARGV[6] ~= "" then
  local committed = since({KEYS[4], KEYS[5], KEYS[6], KEYS[7]},
                          {ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]})
  if cmp(add(committed, after), ARGV[6]) > 0 then return {"refused", committed, held} end
end
redis.call("ZADD", KEYS[1], ARGV[4], ARGV[1])
redis.call("HSET", KEYS[2], ARGV[1], usd .. " " .. scope)
redis.call("HSET", KEYS[3], scope, after)
return {"ok"}
"""

# KEYS held hold heldsum sums months days dayrec seq rec log paid scopes ids
# ARGV reservation id|"" scope usd json M yyyymm D yyyymmdd at_us record-id
COMMIT = LIB + r"""
local rid, scope, usd, m, d = ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[7]
local known = redis.call("HGET", KEYS[13], ARGV[10])
if known then return {"paid", redis.call("HGET", KEYS[9], known)} end
if rid ~= "" then
  local paid = redis.call("HGET", KEYS[11], rid)
  if paid then return {"paid", redis.call("HGET", KEYS[9], paid)} end
  drop(KEYS[1], KEYS[2], KEYS[3], rid)
end
local seq = redis.call("INCR", KEYS[8])
redis.call("HSET", KEYS[9], seq, ARGV[4])
redis.call("RPUSH", KEYS[10], seq)
redis.call("HSET", KEYS[13], ARGV[10], seq)
if rid ~= "" then redis.call("HSET", KEYS[11], rid, seq) end
local old = redis.call("HMGET", KEYS[4], "all", m, d)
if not old[1] then redis.call("SADD", KEYS[12], scope) end
if not old[2] then redis.call("ZADD", KEYS[5], ARGV[6], m) end
if not old[3] then redis.call("ZADD", KEYS[6], ARGV[8], d) end
redis.call("HSET", KEYS[4], "all", add(old[1] or "0", usd), m, add(old[2] or "0", usd),
           d, add(old[3] or "0", usd))
redis.call("RPUSH", KEYS[7], ARGV[9] .. " " .. usd)
return {"ok"}
"""

RELEASE = LIB + r"""
drop(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 0
"""

# KEYS sums months days dayrec(since) dayrec(until)
# ARGV 6 `since` arguments, 6 `until` arguments (mode "" = unbounded)
SPENT = LIB + r"""
local k = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local total = since(k, {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]})
if ARGV[7] == "" then return total end
k[4] = KEYS[5]
return sub(total, since(k, {ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]}))
"""

# KEYS held hold; ARGV now -> "usd scope" of every reservation live at now
LIVE = r"""
local out = {}
for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. ARGV[1], "+inf")) do
  local v = redis.call("HGET", KEYS[2], id)
  if v then out[#out + 1] = v end
end
return out
"""
