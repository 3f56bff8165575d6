#!/usr/bin/env bash
# bench/cpu_compare.sh: proxy CPU per transaction of running endpoints, interleaved, medians of rounds.
#
#   bench/cpu_compare.sh [--clients N] [--mode simple|extended|prepared|tpcb] [--rounds R] [--duration S]
#                        NAME:PORT:PID [NAME:PORT:PID ...]
#
# For each round, one `pgbench -n -S -M MODE` run (--mode tpcb: pgbench's tpcb-like script,
# simple protocol) of --duration seconds through every endpoint in turn
# (127.0.0.1:PORT, the proxy process PID); the proxy's user and system time per transaction come
# from /proc/PID/stat before and after. Round 0 warms up and is not counted. Prints every round,
# then per endpoint the median TPS, user, system and total CPU microseconds per transaction, and
# the first endpoint against each other one: the median of the per-round ratios of total CPU per
# transaction with a distribution-free 95% confidence interval, and in how many rounds the first
# used less. A quick A/B of two builds (or baton against PgBouncer) on a shared, noisy machine:
# the endpoints alternate (in reverse order every other round), so a burst of load elsewhere hits
# all of them alike.
# Connection settings come from the usual libpq variables: PGUSER (default app), PGDATABASE
# (default app), PGPASSWORD. The database needs pgbench's tables (pgbench -i). Start each proxy in
# a session of its own (`setsid baton --config ...`), as bench/run.sh does.
set -euo pipefail

clients=16 mode=simple rounds=5 duration=5
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "cpu_compare: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $mode =~ ^(simple|extended|prepared|tpcb)$ ]] || { echo "cpu_compare: --mode must be simple, extended, prepared or tpcb" >&2; exit 2; }
script=(-S -M "$mode")
[[ $mode == tpcb ]] && script=(-M simple)
[[ $clients =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ ]] ||
  { echo "cpu_compare: --clients, --rounds and --duration take positive integers" >&2; exit 2; }
(($# > 0)) || { echo "usage: bench/cpu_compare.sh [options] NAME:PORT:PID ..." >&2; exit 2; }
for e in "$@"; do
  IFS=: read -r _ port pid <<<"$e"
  [[ $port =~ ^[0-9]+$ && $pid =~ ^[0-9]+$ ]] || { echo "cpu_compare: '$e' is not NAME:PORT:PID" >&2; exit 2; }
  [[ -r /proc/$pid/stat ]] || { echo "cpu_compare: no process $pid" >&2; exit 2; }
  # With autogroup scheduling a proxy in this shell's session shares one CPU share with pgbench;
  # its figures then differ from a proxy run as a service (bench/README.md, "Scheduling").
  if [[ $(ps -o sid= -p "$pid" | tr -d ' ') == $(ps -o sid= -p $$ | tr -d ' ') ]]; then
    echo "cpu_compare: warning: process $pid runs in this shell's session; start it with setsid" >&2
  fi
done

pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1)
[[ -x $pgbench ]] || { echo "cpu_compare: pgbench not found (postgresql-contrib / postgresql-15)" >&2; exit 2; }
export PGUSER=${PGUSER:-app} PGDATABASE=${PGDATABASE:-app} PGSSLMODE=${PGSSLMODE:-disable}
ticks=$(getconf CLK_TCK)
threads=2
((clients < threads)) && threads=$clients

# utime and stime (fields 14 and 15; the command name in field 2 may hold spaces).
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12, $13}'; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT
endpoints=("$@")
for ((r = 0; r <= rounds; r++)); do
  # Odd rounds run the endpoints in reverse order: whatever favours a place in the round (the first
  # run after the previous round's last, a burst of load elsewhere) favours each endpoint alike.
  order=("${endpoints[@]}")
  if ((r % 2 == 1)); then
    order=()
    for ((i = ${#endpoints[@]} - 1; i >= 0; i--)); do order+=("${endpoints[i]}"); done
  fi
  for e in "${order[@]}"; do
    IFS=: read -r name port pid <<<"$e"
    read -r u0 s0 < <(cpu_ticks "$pid")
    out=$("$pgbench" -n "${script[@]}" -c "$clients" -j "$threads" -T "$duration" -h 127.0.0.1 -p "$port" 2>&1) || {
      echo "cpu_compare: pgbench through $name failed:" >&2
      tail -n 5 <<<"$out" >&2
      exit 1
    }
    read -r u1 s1 < <(cpu_ticks "$pid")
    n=$(awk '/actually processed/ {split($NF, a, "/"); print a[1]}' <<<"$out")
    tps=$(awk '/^tps/ {printf "%d", $3}' <<<"$out")
    ((r == 0)) && continue
    line=$(awk -v n="$n" -v t="$ticks" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) -v tps="$tps" -v name="$name" -v r="$r" \
      'BEGIN {printf "%s round=%d tps=%d user_us=%.1f sys_us=%.1f\n", name, r, tps, du * 1e6 / t / n, ds * 1e6 / t / n}')
    echo "$line"
    echo "$line" >>"$results"
  done
done

echo "medians over $rounds rounds ($mode, $clients clients, ${duration} s each):"
names=()
for e in "$@"; do names+=("${e%%:*}"); done
/usr/bin/python3 - "$results" "${names[@]}" <<'EOF'
import math, statistics, sys
rows = {name: [] for name in sys.argv[2:]}  # in the command line's order
for line in open(sys.argv[1]):
    name, *fields = line.split()
    rows.setdefault(name, []).append({k: float(v) for k, v in (f.split("=") for f in fields)})
for name, rs in rows.items():
    med = lambda key: statistics.median(key(r) for r in rs)
    print(f"  {name}: tps {med(lambda r: r['tps']):.0f}, user {med(lambda r: r['user_us']):.1f} us, "
          f"system {med(lambda r: r['sys_us']):.1f} us, total {med(lambda r: r['user_us'] + r['sys_us']):.1f} us per transaction")

# The first endpoint against each other one, round by round (the two ran minutes apart at most):
# the median of the per-round ratios of total CPU per transaction, a distribution-free 95%
# confidence interval for it (order statistics, binomial ranks), and in how many rounds the first
# used less. An interval that holds 1.00 means this run cannot tell the two apart.
def binom_cdf(k, n):  # P(X <= k), X ~ Binomial(n, 1/2)
    return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n

names = [name for name in rows if rows[name]]
total = lambda r: r["user_us"] + r["sys_us"]
for other in names[1:]:
    pairs = list(zip(rows[names[0]], rows[other]))
    ratios = sorted(total(a) / total(b) for a, b in pairs if total(b) > 0)
    n = len(ratios)
    if n == 0:
        continue
    lower = sum(1 for a, b in pairs if total(a) < total(b))
    # Largest k with P(X < k) <= 2.5%: [ratios[k-1], ratios[n-k]] covers the median with >= 95%.
    k = 0
    while k + 1 <= n and binom_cdf(k, n) <= 0.025:
        k += 1
    interval = f"95% interval {ratios[k - 1]:.3f}-{ratios[n - k]:.3f}" if k >= 1 else "too few rounds for a 95% interval"
    print(f"  {names[0]} / {other}: total CPU ratio median {statistics.median(ratios):.3f}, {interval}, "
          f"{names[0]} lower in {lower} of {n} rounds")
EOF
