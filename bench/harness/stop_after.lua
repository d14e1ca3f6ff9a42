-- wrk hook for bench/instructions: exit after N responses (the script's argument, after `--`), so that a run
-- serves a known number of requests (wrk's -d is only an upper bound; its main thread would sleep through it).
-- One thread (-t1) only: each thread counts its own. Connections still in flight are cut by the exit, the same
-- number in every run.
local seen, limit = 0, nil
init = function(args)
  limit = tonumber(args[1])
end
response = function(status, headers, body)
  seen = seen + 1
  if seen >= limit then
    os.exit(0)
  end
end
