#!/usr/bin/env bash
# Runs baton locally in front of a 3-node PostgreSQL 15 cluster: deploy/quickstart.sh [start|stop|status].
#
#   start (default)  installs packages, builds baton (Release), makes test certificates, starts a
#                    primary and two streaming replicas on ports 5432-5434 (BATON_QS_PG_PORT sets
#                    the first), writes /tmp/baton-quickstart/baton.toml and starts baton on
#                    127.0.0.1:6432 (BATON_QS_PORT) with its admin API on 127.0.0.1:9930
#                    (BATON_QS_ADMIN_PORT). Safe to re-run. BATON_BINARY=/path/to/baton skips
#                    the build; BATON_BUILD_DIR sets the build directory (default ./build).
#   stop             stops baton (by its pid file) and the cluster.
#   status           says what is running.
# Needs root (packages; PostgreSQL runs as the postgres user).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${BATON_QS_DIR:-/tmp/baton-quickstart}
pg_port=${BATON_QS_PG_PORT:-5432}
listen_port=${BATON_QS_PORT:-6432}
admin_port=${BATON_QS_ADMIN_PORT:-9930}
build_dir=${BATON_BUILD_DIR:-$repo/build}
binary=${BATON_BINARY:-$build_dir/baton}
pid_file=$root/baton.pid
log_file=$root/baton.log
config=$root/baton.toml
pg_cluster=$repo/tests/fixtures/pg_cluster.sh

say() { echo "quickstart: $*"; }
die() { echo "quickstart: $*" >&2; exit 1; }

# The PID in the pid file when that process is still a running baton.
baton_pid() {
  [[ -f $pid_file ]] || return 0
  local pid
  pid=$(cat "$pid_file" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  local exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  if [[ ${exe##*/} == baton ]]; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_connect() {
  echo
  echo "baton is listening on 127.0.0.1:$listen_port (admin API on 127.0.0.1:$admin_port). Connect with:"
  echo
  echo "  psql \"host=127.0.0.1 port=$listen_port user=app dbname=app password=app-secret\""
  echo
  echo "Admin API: curl -s 127.0.0.1:$admin_port/api/v1/nodes ; commands need"
  echo "  -H 'Authorization: Bearer quickstart-admin-token' (e.g. -X POST .../api/v1/switchover)"
  echo
  echo "config: $config   log: $log_file   stop: $0 stop"
}

cmd_start() {
  local pid
  pid=$(baton_pid)
  if [[ -n $pid ]]; then
    say "baton is already running (pid $pid)"
    print_connect
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and runs PostgreSQL as the postgres user)"

  say "checking packages"
  bash "$repo/tests/install_deps.sh"

  if [[ -n ${BATON_BINARY:-} ]]; then
    [[ -x $BATON_BINARY ]] || die "BATON_BINARY=$BATON_BINARY is not an executable"
    say "using $BATON_BINARY (BATON_BINARY set: not building)"
  else
    say "building baton (Release) in $build_dir"
    cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$build_dir" -j"$(nproc)" baton
  fi

  mkdir -p "$root"
  chmod 755 "$root"
  bash "$repo/tests/fixtures/make_certs.sh" "$root/certs"

  if [[ ! -f $root/pg/cluster.env ]]; then
    local p
    for ((p = pg_port; p < pg_port + 3; p++)); do
      if port_open "$p"; then
        die "port $p is taken (another PostgreSQL?); stop it, or set BATON_QS_PG_PORT to a free range"
      fi
    done
  fi
  say "starting PostgreSQL 15 (primary + 2 replicas) in $root/pg"
  bash "$pg_cluster" start "$root/pg" "$pg_port" --replicas 2 --tls "$root/certs"
  local ports
  # shellcheck disable=SC1091
  ports=$(source "$root/pg/cluster.env" && echo "$PORTS")
  read -r -a ports <<<"$ports"

  sed -e "s|@LISTEN_PORT@|$listen_port|g" -e "s|@ADMIN_PORT@|$admin_port|g" \
      -e "s|@CA_FILE@|$root/certs/ca.crt|g" -e "s|@STATE_FILE@|$root/baton-main.state|g" \
      -e "s|@PG_PORT0@|${ports[0]}|g" -e "s|@PG_PORT1@|${ports[1]}|g" -e "s|@PG_PORT2@|${ports[2]}|g" \
      "$repo/deploy/quickstart.toml.in" >"$config"
  "$binary" --check-config "$config" >/dev/null

  if port_open "$listen_port"; then
    die "port $listen_port is taken by another program; set BATON_QS_PORT"
  fi
  say "starting baton"
  setsid "$binary" --config "$config" </dev/null >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
  local deadline=$((SECONDS + 20))
  until port_open "$listen_port"; do
    if [[ -z $(baton_pid) ]]; then
      tail -n 40 "$log_file" >&2
      die "baton exited; its log is above ($log_file)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$log_file" >&2
      die "baton did not listen on $listen_port within 20 s ($log_file)"
    fi
    sleep 0.2
  done
  print_connect
}

cmd_stop() {
  local pid
  pid=$(baton_pid)
  if [[ -n $pid ]]; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "baton (pid $pid) did not stop in 15 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "baton stopped"
  else
    say "baton is not running"
  fi
  rm -f "$pid_file"
  if [[ -f $root/pg/cluster.env ]]; then
    bash "$pg_cluster" stop "$root/pg"
  fi
}

cmd_status() {
  local pid
  pid=$(baton_pid)
  if [[ -n $pid ]]; then say "baton running (pid $pid) on 127.0.0.1:$listen_port"; else say "baton not running"; fi
  if [[ -f $root/pg/cluster.env ]]; then bash "$pg_cluster" status "$root/pg" || true; fi
}

case ${1:-start} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
