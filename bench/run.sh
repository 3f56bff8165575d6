#!/usr/bin/env bash
# bench/run.sh: pgbench throughput, latency, proxy CPU and idle-client memory of baton, PgBouncer, HAProxy and direct PostgreSQL.
#
#   bench/run.sh [--quick] [--repeats N] [--duration S] [--workers N] [--out DIR]
#
# Starts its own PostgreSQL 15 (tests/fixtures/pg_cluster.sh, no replicas) and, in front of it,
# baton (transaction and session mode), PgBouncer (transaction and session mode) and HAProxy (TCP),
# all on free loopback ports in a temp directory; runs the pgbench scenarios against every
# endpoint, interleaved (the endpoint order rotates every repeat); measures idle-client memory;
# writes DIR/results.json, DIR/results.md and DIR/tps.png (DIR defaults to
# bench/results/<date>) and prints the markdown table. See bench/README.md.
# --workers N: baton's worker threads and HAProxy's nbthread (default 1, PgBouncer's one thread).
#
# BATON_BINARY     the baton executable (default: build/baton, then build-bench/baton next to the repo)
# BENCH_KEEP_TMP=1 keep the temp directory (server logs, configs) after the run
# Must run as root (the PostgreSQL fixture runs the servers as the postgres user).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lib=$repo/bench/lib
py=/usr/bin/python3
pgbin=/usr/lib/postgresql/15/bin

quick=0
repeats=""
duration=""
out=""
baton_workers=1
usage() { echo "usage: $0 [--quick] [--repeats N] [--duration S] [--workers N] [--out DIR]" >&2; exit 2; }
command_line="bench/run.sh $*"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --repeats) repeats=${2:?}; shift 2 ;;
    --duration) duration=${2:?}; shift 2 ;;
    --workers) baton_workers=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

# The plan. Scenario = pgbench script + query protocol.
if ((quick)); then
  repeats=${repeats:-1}
  duration=${duration:-2}
  scale=1
  clients_list=(16)
  scenarios=(select-simple select-prepared tpcb-simple)
  idle_counts=(200)
else
  repeats=${repeats:-3}
  duration=${duration:-10}
  scale=10
  clients_list=(1 16 64)
  scenarios=(select-simple select-extended select-prepared tpcb-simple)
  idle_counts=(1000 10000)
fi
[[ $repeats =~ ^[1-9][0-9]*$ ]] || usage
[[ $duration =~ ^[1-9][0-9]*$ ]] || usage
[[ $baton_workers =~ ^[1-9][0-9]*$ ]] || usage
endpoints=(direct baton-tx baton-session pgbouncer-tx pgbouncer-session haproxy)
idle_endpoints=(baton-tx pgbouncer-tx)
pool_size=20
max_clients=0
for c in "${clients_list[@]}"; do ((c > max_clients)) && max_clients=$c; done
# Session pooling gives every client a server connection of its own for its whole session.
session_pool_size=$max_clients
((session_pool_size >= pool_size)) || session_pool_size=$pool_size
max_idle=0
for n in "${idle_counts[@]}"; do ((n > max_idle)) && max_idle=$n; done
max_client_conn=$((max_idle + 200))

log() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (PostgreSQL runs as the postgres user, packages may need installing)"

# --- packages -----------------------------------------------------------------------------------
ensure_packages() {
  local p status missing=()
  for p in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || return 1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null || return 1
}
# postgresql-15 installs a default cluster on 5432; the fixture never uses it. A package install
# here starts the pgbouncer and haproxy services too: those are stopped again, as they were.
had_pgbouncer_service=$(dpkg-query -W -f='${db:Status-Status}' pgbouncer 2>/dev/null || true)
had_haproxy_service=$(dpkg-query -W -f='${db:Status-Status}' haproxy 2>/dev/null || true)
ensure_packages postgresql-15 postgresql-client-15 python3-psycopg2 pgbouncer haproxy procps \
  || die "installing packages failed"
if [[ $had_pgbouncer_service != installed ]] && command -v systemctl >/dev/null; then
  systemctl stop pgbouncer >/dev/null 2>&1 || true
fi
if [[ $had_haproxy_service != installed ]] && command -v systemctl >/dev/null; then
  systemctl stop haproxy >/dev/null 2>&1 || true
fi
ensure_packages python3-matplotlib || log "python3-matplotlib could not be installed: no chart"

baton_bin=${BATON_BINARY:-}
if [[ -z $baton_bin ]]; then
  for candidate in "$repo/build/baton" "$repo/../build-bench/baton"; do
    if [[ -x $candidate ]]; then baton_bin=$candidate; break; fi
  done
fi
[[ -n $baton_bin && -x $baton_bin ]] \
  || die "no baton executable: build it (cmake -B build -DCMAKE_BUILD_TYPE=Release; ninja -C build baton) or set BATON_BINARY"

# 10,000 idle connections need as many descriptors in the proxies and in the client script.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > max_idle + 100)) || log "open files limit $(ulimit -n) is low for $max_idle idle clients"

clk_tck=$(getconf CLK_TCK)
started=$(date +%Y-%m-%dT%H%M%S)
out=${out:-$repo/bench/results/$started}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/runs.jsonl" "$out/rss.jsonl"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-bench.XXXXXX")
chmod 755 "$tmp"

# --- cleanup: every process this script started, by PID ------------------------------------------
pids=()
cluster_started=0
cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((cluster_started)); then
    bash "$repo/tests/fixtures/pg_cluster.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  fi
  if [[ -n ${BENCH_KEEP_TMP:-} ]]; then
    echo "bench: temp files kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports ----------------------------------------------------------------------------------------
mapfile -t ports < <("$py" -B "$lib/free_ports.py" 8)
((${#ports[@]} == 8)) || die "could not find free ports"
pg_port=${ports[0]}
declare -A port_of=(
  [direct]=${ports[0]} [baton-tx]=${ports[1]} [baton-session]=${ports[2]}
  [pgbouncer-tx]=${ports[3]} [pgbouncer-session]=${ports[4]} [haproxy]=${ports[5]}
)
baton_admin_port=(${ports[6]} ${ports[7]})
declare -A pid_of=()

# --- PostgreSQL -----------------------------------------------------------------------------------
log "starting PostgreSQL 15 on 127.0.0.1:$pg_port in $tmp/pg"
cluster_started=1
bash "$repo/tests/fixtures/pg_cluster.sh" start "$tmp/pg" "$pg_port" --replicas 0 >"$tmp/pg_cluster.log" 2>&1 \
  || { cat "$tmp/pg_cluster.log" >&2; die "PostgreSQL did not start"; }
pg_pid=$(head -n1 "$tmp/pg/node0/postmaster.pid")
pg_version=$("$pgbin/postgres" --version)

export PGPASSWORD=app-secret PGSSLMODE=disable PGCONNECT_TIMEOUT=30
log "pgbench -i -s $scale"
"$pgbin/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U app app >"$tmp/pgbench_init.log" 2>&1 \
  || { cat "$tmp/pgbench_init.log" >&2; die "pgbench -i failed"; }

# --- baton ----------------------------------------------------------------------------------------
start_baton() {  # NAME MODE POOL_SIZE PORT ADMIN_PORT
  local name=$1 mode=$2 size=$3 port=$4 admin=$5 conf=$tmp/$1.toml
  cat >"$conf" <<EOF
# $name: generated by bench/run.sh
[general]
workers = $baton_workers
log_level = "warn"

[admin]
listen = "127.0.0.1:$admin"

[pool]
mode = "$mode"
pool_size = $size
max_client_conn = $max_client_conn
query_wait_timeout = "30s"

[[listeners]]
name = "pg"
protocol = "postgres"
listen = "127.0.0.1:$port"
cluster = "main"
role = "primary"

[[clusters]]
name = "main"
protocol = "postgres"
monitor_user = "baton_monitor"
monitor_password = "monitor-secret"

  [[clusters.nodes]]
  name = "pg1"
  host = "127.0.0.1"
  port = $pg_port

[[users]]
name = "app"
auth = "scram-sha-256"
password = "app-secret"
EOF
  # Each proxy runs in a session of its own (setsid), as a service would: with the kernel's
  # autogroup scheduling (sched_autogroup_enabled), a proxy left in this script's session shares one
  # CPU share with pgbench while every PostgreSQL backend has one of its own (backends call
  # setsid()); measured on this machine that cost baton 26% more CPU per transaction and
  # transactions stalled up to 0.7 s (bench/README.md, "Scheduling").
  setsid "$baton_bin" --config "$conf" >"$tmp/$name.log" 2>&1 &
  pid_of[$name]=$!
  pids+=($!)
}

# --- PgBouncer (drops to the postgres user itself: `user = postgres`) ------------------------------
start_pgbouncer() {  # NAME MODE POOL_SIZE PORT
  local name=$1 mode=$2 size=$3 port=$4 dir=$tmp/$1
  mkdir -p "$dir"
  cat >"$dir/pgbouncer.ini" <<EOF
; $name: generated by bench/run.sh
[databases]
app = host=127.0.0.1 port=$pg_port dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
user = postgres
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = $size
max_client_conn = $max_client_conn
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  # The SCRAM verifier of app, as PostgreSQL stores it: PgBouncer checks clients against it and
  # logs into the server with the keys the client's proof reveals.
  printf '"app" "%s"\n' "$verifier" >"$dir/userlist.txt"
  chown -R postgres: "$dir"
  chmod 600 "$dir/userlist.txt"
  setsid pgbouncer -q "$dir/pgbouncer.ini" >"$dir/stdout.log" 2>&1 &  # own session: see start_baton
  pid_of[$name]=$!
  pids+=($!)
}

# --- HAProxy (TCP, one backend) -------------------------------------------------------------------
start_haproxy() {
  local port=${port_of[haproxy]}
  cat >"$tmp/haproxy.cfg" <<EOF
# haproxy: generated by bench/run.sh
global
  maxconn 1000
  nbthread $baton_workers

defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend pg
  bind 127.0.0.1:$port
  default_backend pg

backend pg
  server pg1 127.0.0.1:$pg_port
EOF
  setsid haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &  # own session: see start_baton
  pid_of[haproxy]=$!
  pids+=($!)
}

verifier=$("$pgbin/psql" -h "$tmp/pg/sock" -p "$pg_port" -U postgres -d postgres -XAtq \
  -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")
[[ $verifier == SCRAM-SHA-256* ]] || die "no SCRAM verifier for app in pg_authid"

start_baton baton-tx transaction "$pool_size" "${port_of[baton-tx]}" "${baton_admin_port[0]}"
start_baton baton-session session "$session_pool_size" "${port_of[baton-session]}" "${baton_admin_port[1]}"
start_pgbouncer pgbouncer-tx transaction "$pool_size" "${port_of[pgbouncer-tx]}"
start_pgbouncer pgbouncer-session session "$session_pool_size" "${port_of[pgbouncer-session]}"
start_haproxy
pid_of[direct]=""

# Waits until every endpoint answers a query (bounded); shows the log of the one that does not.
for e in "${endpoints[@]}"; do
  ok=0
  for ((i = 0; i < 100; i++)); do
    if "$pgbin/psql" "host=127.0.0.1 port=${port_of[$e]} user=app dbname=app connect_timeout=5" -XAtq \
      -c "SELECT 1" >/dev/null 2>&1; then ok=1; break; fi
    if [[ -n ${pid_of[$e]} ]] && ! kill -0 "${pid_of[$e]}" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if ((!ok)); then
    for f in "$tmp/$e.log" "$tmp/$e/pgbouncer.log" "$tmp/$e/stdout.log" "$tmp/haproxy.log"; do
      [[ -f $f ]] && tail -n 20 "$f" >&2
    done
    die "endpoint $e (port ${port_of[$e]}) does not answer"
  fi
done
log "endpoints up: $(for e in "${endpoints[@]}"; do printf '%s=%s ' "$e" "${port_of[$e]}"; done)"

# --- the runs -------------------------------------------------------------------------------------
cpu_ticks() {  # utime + stime (fields 14 and 15 of /proc/PID/stat), all threads, in clock ticks
  local stat rest
  stat=$(<"/proc/$1/stat")
  rest=${stat##*) }  # after the command name, the fields start at 3 (state)
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}

json_list() { local IFS=,; local quoted=("${@/#/\"}"); quoted=("${quoted[@]/%/\"}"); echo "[${quoted[*]}]"; }
cat >"$out/meta.json" <<EOF
{
 "started": "$started",
 "command": "${BATON_BINARY:+BATON_BINARY=$BATON_BINARY }$command_line",
 "quick": $([[ $quick == 1 ]] && echo true || echo false),
 "repeats": $repeats,
 "duration_s": $duration,
 "scale": $scale,
 "clients": [$(IFS=,; echo "${clients_list[*]}")],
 "scenarios": $(json_list "${scenarios[@]}"),
 "endpoints": $(json_list "${endpoints[@]}"),
 "ports": {$(for e in "${endpoints[@]}"; do printf '"%s": %s, ' "$e" "${port_of[$e]}"; done)"baton-tx-admin": ${baton_admin_port[0]}, "baton-session-admin": ${baton_admin_port[1]}},
 "idle_counts": [$(IFS=,; echo "${idle_counts[*]}")],
 "idle_endpoints": $(json_list "${idle_endpoints[@]}"),
 "pool_size": $pool_size,
 "session_pool_size": $session_pool_size,
 "baton_workers": $baton_workers,
 "clk_tck": $clk_tck,
 "host": "$(hostname)",
 "cpus": $(nproc),
 "kernel": "$(uname -r)",
 "postgres": "$pg_version",
 "pgbouncer": "$(pgbouncer --version | head -n1)",
 "haproxy": "$(haproxy -v | head -n1 | cut -c1-60)",
 "baton": "$("$baton_bin" --version 2>/dev/null | head -n1 || echo unknown)",
 "baton_commit": "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
}
EOF

run_pgbench() {  # ENDPOINT SCENARIO CLIENTS REPEAT
  local e=$1 scenario=$2 clients=$3 repeat=$4
  local script=${scenario%%-*} protocol=${scenario#*-} jobs args=() logdir=$tmp/pgbench-log rc=0
  local nproc_=$(nproc)
  # The same threads for every protocol, so -M prepared and -M extended compare like for like.
  # (pgbench's blocking prepare of a client's first statement could hold up its thread's other
  # clients only while they hold a server connection, inside a transaction; the select scenarios
  # have none, and tpcb runs -M simple.)
  jobs=$((clients < nproc_ ? clients : nproc_))
  [[ $script == select ]] && args+=(-S)
  rm -rf "$logdir"; mkdir -p "$logdir"
  local pid=${pid_of[$e]} before="" after=""
  [[ -n $pid ]] && before=$(cpu_ticks "$pid")
  timeout --kill-after=10 $((duration + 90)) "$pgbin/pgbench" -n -T "$duration" -c "$clients" -j "$jobs" \
    -M "$protocol" "${args[@]}" -l --log-prefix="$logdir/pgbench_log" \
    -h 127.0.0.1 -p "${port_of[$e]}" -U app app >"$tmp/pgbench.out" 2>&1 || rc=$?
  [[ -n $pid ]] && after=$(cpu_ticks "$pid")
  local cpu=()
  [[ -n $pid ]] && cpu=(--cpu-before "$before" --cpu-after "$after" --clk-tck "$clk_tck")
  "$py" -B "$lib/record_run.py" --jsonl "$out/runs.jsonl" --output "$tmp/pgbench.out" --log-dir "$logdir" \
    --rc "$rc" --endpoint "$e" --scenario "$scenario" --protocol "$protocol" --script "$script" \
    --clients "$clients" --jobs "$jobs" --repeat "$repeat" --duration "$duration" "${cpu[@]}"
  cat "$tmp/pgbench.out" >>"$tmp/pgbench-all.log"
}

# A second of load through every endpoint first: pools fill, caches warm.
log "warm-up"
for e in "${endpoints[@]}"; do
  "$pgbin/pgbench" -n -S -T 1 -c "$max_clients" -j 2 -h 127.0.0.1 -p "${port_of[$e]}" -U app app \
    >>"$tmp/warmup.log" 2>&1 || log "warm-up through $e failed (see the runs)"
done

n=${#endpoints[@]}
for ((r = 1; r <= repeats; r++)); do
  order=()
  for ((k = 0; k < n; k++)); do order+=("${endpoints[$(((k + r - 1) % n))]}"); done
  log "repeat $r/$repeats, endpoint order: ${order[*]}"
  for scenario in "${scenarios[@]}"; do
    for clients in "${clients_list[@]}"; do
      for e in "${order[@]}"; do
        run_pgbench "$e" "$scenario" "$clients" "$r"
      done
    done
  done
  # Memory per idle client: connections logged in and left idle, RSS before and after. In the
  # first repeat only: a process keeps the pages it touched, so a second measurement reads ~0.
  ((r == 1)) || continue
  for count in "${idle_counts[@]}"; do
    for e in "${order[@]}"; do
      [[ " ${idle_endpoints[*]} " == *" $e "* ]] || continue
      timeout --kill-after=10 600 "$py" -B "$lib/idle_rss.py" --port "${port_of[$e]}" --pid "${pid_of[$e]}" \
        --count "$count" --endpoint "$e" --repeat "$r" --jsonl "$out/rss.jsonl" \
        || log "idle-connection measurement through $e failed"
      sleep 1  # let the proxy see the clients go
    done
  done
done

# Every proxy must still be alive: a crash during the runs is a failure of the benchmark.
for e in "${endpoints[@]}"; do
  pid=${pid_of[$e]}
  if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
    die "$e (pid $pid) exited during the benchmark"
  fi
done

log "results in $out"
"$py" -B "$lib/report.py" "$out"
