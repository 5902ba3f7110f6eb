-- wrk script of bench-perf's workloads (b) and (e): every request carries
-- the next key of the file named by the first script argument (one
-- "x-api-key: TOKEN" line per user, mkusers --out), each wrk thread
-- starting at its own place in the file.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local keys, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do
    local k = line:match("^x%-api%-key: (.+)$")
    if k then keys[#keys + 1] = k end
  end
  i = ((id or 0) * 7919) % #keys
end
function request()
  i = i % #keys + 1
  return wrk.format(nil, nil, { ["x-api-key"] = keys[i] })
end
