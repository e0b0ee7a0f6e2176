# Helpers shared by the CI scripts (sourced, not run).

# A free loopback TCP port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS PID: waits until URL answers 200; fails early if PID
# (the server, or the command building it) is gone.
wait_http() {
  local url=$1 seconds=$2 pid=$3 deadline
  deadline=$((SECONDS + seconds))
  until curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server exited before $url answered" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$url did not answer 200 within ${seconds}s" >&2
      return 1
    fi
    sleep 1
  done
}

# stop_group PGID: SIGTERM to the whole process group, SIGKILL after 15 s,
# then checks that nothing of it is left.
stop_group() {
  local pgid=$1 i
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for i in $(seq 150); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "process group $pgid still running after 15 s; killing it" >&2
  kill -KILL -- "-$pgid" 2>/dev/null || true
  sleep 0.5
  if kill -0 -- "-$pgid" 2>/dev/null; then
    echo "process group $pgid survived SIGKILL" >&2
    return 1
  fi
}
