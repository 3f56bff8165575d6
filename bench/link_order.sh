#!/usr/bin/env bash
# bench/link_order.sh: the functions of baton's binary that run per transaction, hottest first,
# as gold section names (an ordering file for an experiment with the code's layout).
#
#   bench/link_order.sh PID PORT > order.txt
#
# PID is baton under callgrind with mangled names, listening on 127.0.0.1:PORT, e.g.
#   setsid valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
#     --callgrind-out-file=/tmp/lo/x.%p build/baton --config my.toml &
# (in transaction pooling, a database with pgbench's tables; libpq variables as for
# bench/callgrind_tx.sh). Runs select-only -M simple, -M extended, -M prepared and the tpcb-like
# script through it with bench/callgrind_tx.sh and prints the functions bench/lib/hot_functions.py
# picks. To lay them out together, build with
#   cmake -DCMAKE_CXX_FLAGS=-ffunction-sections \
#     -DCMAKE_EXE_LINKER_FLAGS="-fuse-ld=gold -Wl,--section-ordering-file,$PWD/order.txt" ...
# (bench/README.md, "Thirteenth round": fewer pages of code per transaction, no change in CPU
# time that this machine could show, so the build does not do it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

(($# == 2)) || { echo "usage: bench/link_order.sh PID PORT > order.txt" >&2; exit 2; }
pid=$1 port=$2
[[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || { echo "link_order: PID and PORT are numbers" >&2; exit 2; }
[[ -r /proc/$pid/cmdline ]] || { echo "link_order: no process $pid" >&2; exit 2; }
cmdline=$(tr '\0' '\n' </proc/"$pid"/cmdline)
grep -qx -- '--demangle=no' <<<"$cmdline" ||
  { echo "link_order: start valgrind with --demangle=no (gold orders sections by mangled name)" >&2; exit 2; }
out_pattern=$(sed -n 's/^--callgrind-out-file=//p' <<<"$cmdline" | head -1)
[[ -n $out_pattern ]] || { echo "link_order: start valgrind with --callgrind-out-file=DIR/NAME.%p" >&2; exit 2; }
out_base=${out_pattern//%p/$pid}
# The binary: the first argument after valgrind's own options.
binary=$(awk 'NR > 1 && $0 !~ /^-/ {print; exit}' <<<"$cmdline")
[[ -n $binary ]] || { echo "link_order: cannot tell which binary valgrind runs" >&2; exit 2; }

clients=8 short=20 long=120
# A first run warms the process up (its pools, caches and allocator) and is not counted.
bash "$here/callgrind_tx.sh" --clients "$clients" --short "$short" --long "$long" "$pid" "$port" -S >/dev/null
args=()
for workload in "-S -M simple" "-S -M extended" "-S -M prepared" ""; do
  # shellcheck disable=SC2086  # the workload's options are words
  bash "$here/callgrind_tx.sh" --clients "$clients" --short "$short" --long "$long" "$pid" "$port" $workload >&2
  mapfile -t dumps < <(ls -t "$out_base".* | head -2)  # the long run's dump, then the short one's
  args+=($(((long - short) * clients)) "${dumps[1]}" "${dumps[0]}")
done
python3 "$here/lib/hot_functions.py" "$(basename "$binary")" "${args[@]}"
