# Shared by up.sh, down.sh and restart.sh: where a cluster's state lives and how its
# processes are started and stopped. Sourced, not run.

# cluster_dir NAME: the state directory of cluster NAME.
cluster_root() { echo "${AGENTBUDGET_STATE:-${TMPDIR:-/tmp}/agentbudget}/clusters"; }
cluster_dir() { echo "$(cluster_root)/$1"; }

valid_name() { [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]]; }

# start_component DIR NAME: runs DIR/run/NAME.sh in its own session, appending to
# DIR/logs/NAME.log, and records its pid in DIR/pids/NAME.
start_component() {
  local dir=$1 name=$2
  setsid bash "$dir/run/$name.sh" >>"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name"
}

# stop_component DIR NAME: SIGTERM, then SIGKILL after 10 s; waits until the process is gone.
stop_component() {
  local dir=$1 name=$2 pid
  [[ -f "$dir/pids/$name" ]] || return 0
  pid=$(cat "$dir/pids/$name")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$dir/pids/$name"
}

# write_launcher DIR NAME COMMAND...: DIR/run/NAME.sh runs COMMAND exactly (start_component
# and restart.sh use it).
write_launcher() {
  local dir=$1 component=$2
  shift 2
  { echo "#!/usr/bin/env bash"; printf 'exec'; printf ' %q' "$@"; echo; } > "$dir/run/$component.sh"
}

# tail_logs DIR LINES: the last LINES lines of every log in DIR/logs, on stderr.
tail_logs() {
  local log
  for log in "$1"/logs/*.log; do
    [[ -f "$log" ]] || continue
    echo "----- last lines of $log" >&2
    tail -n "$2" "$log" >&2
  done
}

# poll_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds (status 0) or
# SECONDS have passed (status 1).
poll_until() {
  local deadline=$(( $(date +%s) + $1 ))
  shift
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) <= deadline )) || return 1
    sleep 0.2
  done
}

# The components in start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
