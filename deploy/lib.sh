# What deploy/group and deploy/cluster share (sourced, not run): the bitcask-server to start,
# starting processes with their pids recorded in $dir/pids, waiting for a condition, and
# stopping everything recorded. The caller sets `tool` (its name, for messages) and `dir`.

here=$(cd "$(dirname "$0")/.." && pwd)
server=$(command -v bitcask-server || true)
[ -n "$server" ] || server=$here/build/bitcask-server

sentinel() {
  # exec: the recorded pid is the Sentinel's own, so `down` stops it
  if command -v redis-sentinel >/dev/null; then exec redis-sentinel "$@"; else exec redis-server "$@" --sentinel; fi
}

start() {  # start NAME command...: runs it in the background, records its pid
  local what=$1; shift
  "$@" >"$dir/$what.out" 2>&1 &
  echo "$! $what" >>"$dir/pids"
}

wait_until() {  # wait_until SECONDS DESCRIPTION command...: retries until the command succeeds
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$tool: timed out waiting for $what" >&2
  return 1
}

stop_all() {  # stops every process recorded in $dir/pids (TERM, then KILL after 10 s)
  [ -f "$dir/pids" ] || { echo "$tool: nothing running in $dir" >&2; return 0; }
  while read -r pid what; do
    kill "$pid" 2>/dev/null || true
  done <"$dir/pids"
  while read -r pid what; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done <"$dir/pids"
  rm -f "$dir/pids"
}
