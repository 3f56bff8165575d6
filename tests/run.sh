#!/usr/bin/env bash
# The one test command: install packages, build (Release), run the unit and integration binaries, sum up.
#
#   tests/run.sh [extra Catch2 arguments for both binaries]
#
# BATON_BUILD_DIR   build directory (default ./build)
# BATON_KEEP_TMP=1  keep the clusters' and baton's temp directories
# Ends with one line "N passed, N failed" (test cases of both binaries); exits non-zero when a test
# failed, a binary crashed or timed out, or the build failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BATON_BUILD_DIR:-$repo/build}
jobs=$(nproc 2>/dev/null || echo 2)

# Integration tests open 1,000+ client connections.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "run.sh: open files limit $(ulimit -n)"

if ! bash tests/install_deps.sh; then
  echo "run.sh: installing packages failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "run.sh: configuring and building (Release) in $build_dir with -j$jobs"
if ! cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null ||
   ! ninja -C "$build_dir" -j"$jobs"; then
  echo "run.sh: the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Temp directories of this run (clusters, baton processes), cleaned up even after a crash.
export BATON_TMP_ROOT
BATON_TMP_ROOT=$(mktemp -d /tmp/baton-run.XXXXXX)
chmod 755 "$BATON_TMP_ROOT"
logs=$BATON_TMP_ROOT/logs
mkdir -p "$logs"

cleanup() {
  local env dir pidfile pid exe
  # baton processes a crashed test binary left behind: only those it recorded, and only if baton.
  for pidfile in "$BATON_TMP_ROOT"/*/baton.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    if [[ ${exe##*/} == baton ]]; then
      echo "run.sh: stopping leftover baton (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for env in "$BATON_TMP_ROOT"/*/cluster.env; do
    [[ -f $env ]] || continue
    dir=$(dirname "$env")
    bash tests/fixtures/pg_cluster.sh stop "$dir" >/dev/null 2>&1 || true
  done
}

total_passed=0
total_failed=0
status=0

# Runs one Catch2 binary with a time bound; adds its test-case counts to the totals.
run_binary() {
  local name=$1 limit=$2; shift 2
  local out=$logs/$name.txt rc passed=0 failed=0 line
  echo
  echo "==================== $name ===================="
  timeout --kill-after=30 "$limit" "$build_dir/$name" --reporter console "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  # Catch2 2.x: "All tests passed (A assertions in N test cases)" or
  # "test cases: N | P passed | F failed [| E failed as expected]".
  if line=$(grep -E '^All tests passed \(' "$out" | tail -n1) && [[ -n $line ]]; then
    passed=$(sed -E 's/.* in ([0-9]+) test cases?\).*/\1/' <<<"$line")
  elif line=$(grep -E '^test cases:' "$out" | tail -n1) && [[ -n $line ]]; then
    passed=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    failed=$(grep -oE '[0-9]+ failed$|[0-9]+ failed \|' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + $(grep -oE '[0-9]+ failed as expected' <<<"$line" | grep -oE '[0-9]+' || echo 0)))
  fi
  passed=${passed:-0}
  failed=${failed:-0}
  local summary="$name: $passed test cases passed, $failed failed (exit $rc)"
  if ((rc == 124 || rc == 137)); then
    summary+=" -- TIMED OUT after ${limit}s"
    failed=$((failed + 1))
  elif ((rc != 0 && failed == 0)); then
    summary+=" -- exited abnormally (crash or no summary)"
    failed=$((failed + 1))
  fi
  ((rc == 0)) || status=1
  summaries+=("$summary")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

summaries=()
# The layering and coroutine rules (README, "Layout"): a breach fails the run like a failed test.
if bash tests/check_layers.sh; then
  summaries+=("check_layers: ok")
else
  summaries+=("check_layers: FAILED")
  status=1
  total_failed=$((total_failed + 1))
fi
run_binary unit 600 "$@"
run_binary integration 1500 "$@"
cleanup

echo
echo "==================== summary ===================="
printf '%s\n' "${summaries[@]}"
if ((status == 0 && total_failed == 0)) && [[ -z ${BATON_KEEP_TMP:-} ]]; then
  rm -rf "$BATON_TMP_ROOT"
else
  echo "run.sh: logs and temp files kept in $BATON_TMP_ROOT"
fi
((total_failed == 0)) || status=1
echo "$total_passed passed, $total_failed failed"
exit $status
