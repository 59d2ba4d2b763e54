-- cranemu's fixed Lua benchmark (issue 12's lua5.4 target; run by
-- benches/issue12.sh): three kernels that interpreters spend their time in,
-- each checked, so that a wrong result fails the run (exit status 1) instead
-- of looking fast.  Deterministic: no clock, no math.random (its generator
-- and seed differ between Lua builds); a fixed linear congruential generator
-- makes the data.
--
--   fib      naive recursive fib(31): calls, returns, integer arithmetic
--   sort     table.sort of 100,000 pseudo-random integers with a Lua
--            comparison function, then a sortedness check
--   strings  building strings: string.format, .. concatenation and
--            table.concat, then string.rep, gsub and byte sums over them
--
-- Usage: lua5.4 benches/lua/bench.lua [SCALE]   (default 1; the work grows
-- about linearly with SCALE).  Prints one line per kernel with its checksum.

local scale = tonumber(arg and arg[1]) or 1

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

-- 32-bit LCG (Numerical Recipes' constants).
local state = 12345
local function rand()
  state = (state * 1664525 + 1013904223) & 0xffffffff
  return state
end

local function check(ok, what)
  if not ok then
    io.stderr:write("bench.lua: wrong result in ", what, "\n")
    os.exit(1)
  end
end

-- fib: fib(31) = 1346269, scale times.
local f = 0
for _ = 1, scale do f = f + fib(31) end
check(f == 1346269 * scale, "fib")
print(string.format("fib      %d", f))

-- sort: 100,000 integers, descending through a comparison function.
local n = 100000 * scale
local t = {}
for i = 1, n do t[i] = rand() % 1000000 end
table.sort(t, function(a, b) return a > b end)
local sum = 0
for i = 1, n do
  if i > 1 then check(t[i - 1] >= t[i], "sort") end
  sum = (sum + t[i] * i) % 0x7fffffff
end
print(string.format("sort     %d", sum))

-- strings: 100,000 formatted pieces joined, a rope of .. concatenations,
-- then pattern substitution and a byte checksum over the result.
local parts = {}
for i = 1, 100000 * scale do
  parts[#parts + 1] = string.format("%d:%x;", i, rand() % 65536)
end
local joined = table.concat(parts)
local rope = ""
for i = 1, 2000 * scale do
  rope = rope .. tostring(i) .. ","
  if #rope > 4096 then rope = rope:sub(-1024) end
end
local replaced, count = joined:gsub("(%d+):", "%1=")
check(count == 100000 * scale, "strings gsub")
local bytes = 0
for i = 1, #replaced, 7 do bytes = (bytes + replaced:byte(i)) % 0x7fffffff end
local rep = string.rep("ab", 100000 * scale)
check(#rep == 200000 * scale, "strings rep")
print(string.format("strings  %d %d %d", #joined, bytes, #rope))
