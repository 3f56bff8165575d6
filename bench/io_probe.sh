#!/usr/bin/env bash
# bench/io_probe.sh: CPU per transaction of a bare relay moving bytes with epoll against io_uring.
#
#   bench/io_probe.sh --pg-port PORT [--clients N] [--mode simple|tpcb] [--rounds R] [--duration S]
#                     [NAME:PORT:PID ...]
#
# Builds bench/io_probe.cpp (installing liburing-dev when missing), starts it twice in front of the
# PostgreSQL on 127.0.0.1:PORT (which needs pgbench's tables: pgbench -i), once with epoll and once
# with io_uring, and compares them with bench/cpu_compare.sh; endpoints given after the options
# (baton, PgBouncer, ... already running in front of the same PostgreSQL) join the same rounds.
# The relays parse nothing and pool nothing: the difference between the two is what the way of
# doing I/O costs on this machine, and the epoll one is about what any epoll relay pays at least.
# Connection settings as for cpu_compare.sh (PGUSER, PGDATABASE, PGPASSWORD).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pg_port="" compare_opts=()
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --pg-port) pg_port=${2:?}; shift 2 ;;
    --clients | --mode | --rounds | --duration) compare_opts+=("$1" "${2:?}"); shift 2 ;;
    *) echo "io_probe: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $pg_port =~ ^[0-9]+$ ]] || { echo "usage: bench/io_probe.sh --pg-port PORT [options] [NAME:PORT:PID ...]" >&2; exit 2; }

if ! dpkg-query -W -f='${db:Status-Status}' liburing-dev 2>/dev/null | grep -qx installed; then
  [[ $(id -u) -eq 0 ]] || { echo "io_probe: liburing-dev is missing (run as root to install it)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends liburing-dev </dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-io-probe.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

g++ -O2 -std=c++20 -Wall -Wextra "$repo/bench/io_probe.cpp" -o "$tmp/io_probe" -luring

mapfile -t ports < <(/usr/bin/python3 -B "$repo/bench/lib/free_ports.py" 2)
endpoints=()
for i in 0 1; do
  way=(uring epoll)
  way=${way[$i]}
  # A session of its own, as cpu_compare.sh wants (the scheduler's autogroups).
  setsid "$tmp/io_probe" "$way" "${ports[$i]}" "$pg_port" >"$tmp/$way.log" 2>&1 &
  pids+=($!)
  endpoints+=("$way:${ports[$i]}:$!")
done
psql=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1)
for e in "${endpoints[@]}"; do
  IFS=: read -r way port pid <<<"$e"
  ok=0
  for _ in $(seq 50); do
    if PGSSLMODE=disable PGCONNECT_TIMEOUT=5 "$psql" -h 127.0.0.1 -p "$port" -U "${PGUSER:-app}" \
      -d "${PGDATABASE:-app}" -Atc 'select 1' >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  ((ok)) || { cat "$tmp/$way.log" >&2; echo "io_probe: the $way relay does not answer on port $port" >&2; exit 1; }
done

"$tmp/io_probe" syscall
bash "$repo/bench/cpu_compare.sh" "${compare_opts[@]}" "${endpoints[@]}" "$@"
