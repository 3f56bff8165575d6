#!/usr/bin/env bash
# bench/callgrind_tx.sh: user-space instructions per transaction of a proxy running under callgrind.
#
#   bench/callgrind_tx.sh [--clients N] [--short T] [--long T] PID PORT [pgbench options ...]
#
# PID is a proxy started under valgrind's callgrind with uncompressed names, e.g.
#   setsid valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
#     --callgrind-out-file=/tmp/cg.out.%p build/baton --config my.toml &
#   setsid runuser -u postgres -- valgrind --tool=callgrind ... /usr/sbin/pgbouncer pgbouncer.ini &
# (PID is then the valgrind process: `pgrep -f 'valgrind.*baton'`), listening on 127.0.0.1:PORT.
# Runs `pgbench -n -c N -j 2 -t T [pgbench options]` twice, with T = --short (default 200) and
# --long (default 1200), zeroing the counters before and dumping them after each run, and prints
# (instructions of the long run - those of the short run) / ((long - short) * N): logins and
# anything else the two runs share cancel out. Deterministic to within about 1% (unlike CPU time
# on a shared machine), so small changes to the transaction path show; it counts instructions,
# not the memory stalls that make up much of a proxy's user time. A quick A/B of two builds, or
# baton against PgBouncer (pgbench's default tpcb-like script unless options say otherwise, e.g.
# `-S -M simple`). libpq variables as for pgbench: PGUSER (default app), PGDATABASE (default app),
# PGPASSWORD. The database needs pgbench's tables.
set -euo pipefail

clients=8 short=200 long=1200
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --short) short=$2; shift 2 ;;
    --long) long=$2; shift 2 ;;
    *) echo "callgrind_tx: unknown option $1" >&2; exit 2 ;;
  esac
done
(($# >= 2)) || { echo "usage: bench/callgrind_tx.sh [--clients N] [--short T] [--long T] PID PORT [pgbench options]" >&2; exit 2; }
pid=$1 port=$2
shift 2
[[ $clients =~ ^[1-9][0-9]*$ && $short =~ ^[1-9][0-9]*$ && $long =~ ^[1-9][0-9]*$ ]] ||
  { echo "callgrind_tx: --clients, --short and --long take positive integers" >&2; exit 2; }
((long > short)) || { echo "callgrind_tx: --long must be greater than --short" >&2; exit 2; }
[[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || { echo "callgrind_tx: PID and PORT are numbers" >&2; exit 2; }
[[ -r /proc/$pid/cmdline ]] || { echo "callgrind_tx: no process $pid" >&2; exit 2; }
tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- '--tool=callgrind' ||
  { echo "callgrind_tx: process $pid does not run under callgrind" >&2; exit 2; }
out_pattern=$(tr '\0' '\n' </proc/"$pid"/cmdline | sed -n 's/^--callgrind-out-file=//p' | head -1)
[[ -n $out_pattern ]] || { echo "callgrind_tx: start valgrind with --callgrind-out-file=DIR/NAME.%p" >&2; exit 2; }
out_base=${out_pattern//%p/$pid}

# callgrind_control talks to the process as its own user (PgBouncer runs as postgres).
owner=$(ps -o user= -p "$pid" | tr -d ' ')
control() {
  if [[ $owner == "$(id -un)" ]]; then callgrind_control "$@"; else runuser -u "$owner" -- callgrind_control "$@"; fi
}

export PGUSER=${PGUSER:-app} PGDATABASE=${PGDATABASE:-app}
instructions() {  # T [pgbench options]: instructions the process ran during `pgbench -t T`
  local t=$1 before after file
  shift
  control -z "$pid" >/dev/null
  pgbench -n -c "$clients" -j 2 -t "$t" "$@" -h 127.0.0.1 -p "$port" >/dev/null 2>&1 ||
    { echo "callgrind_tx: pgbench -t $t failed" >&2; return 1; }
  before=$(ls "$out_base".* 2>/dev/null | wc -l)
  control -d "$pid" >/dev/null
  for _ in $(seq 1 50); do  # the dump is written asynchronously: wait up to 5 s
    after=$(ls "$out_base".* 2>/dev/null | wc -l)
    ((after > before)) && break
    sleep 0.1
  done
  file=$(ls -t "$out_base".* 2>/dev/null | head -1)
  [[ -n $file ]] || { echo "callgrind_tx: no dump written to $out_base.*" >&2; return 1; }
  sleep 0.2
  # The events' totals, space-separated, in the order of the dump's "events:" line (Ir first).
  awk '/^events:/ {n = NF - 1} /^summary:|^totals:/ {s = ""; for (i = 2; i <= n + 1; i++) s = s (i > 2 ? " " : "") ($i == "" ? 0 : $i); print s; exit}' "$file"
}

read -r -a a <<<"$(instructions "$short" "$@")"
read -r -a b <<<"$(instructions "$long" "$@")"
[[ ${a[0]:-} =~ ^[0-9]+$ && ${b[0]:-} =~ ^[0-9]+$ ]] || { echo "callgrind_tx: could not read the dumps" >&2; exit 1; }
per_tx() { echo $((($2 - $1) / ((long - short) * clients))); }
echo "instructions per transaction: $(per_tx "${a[0]}" "${b[0]}") (pgbench -c $clients, -t $short: ${a[0]}, -t $long: ${b[0]})"
# With --cache-sim=yes (or other events), each further event per transaction too.
file=$(ls -t "$out_base".* | head -1)
read -r -a names <<<"$(awk '/^events:/ {$1 = ""; print; exit}' "$file")"
for ((i = 1; i < ${#names[@]} && i < ${#a[@]} && i < ${#b[@]}; i++)); do
  echo "${names[i]} per transaction: $(per_tx "${a[i]}" "${b[i]}")"
done
