#!/usr/bin/env bash
# Checks the architecture's one-way arrows and the coroutine rules g++ 12 needs; prints each breach.
#   protocol/ includes nothing of ours outside protocol/; routing/ and health/ never include proxy/;
#   the pure parts include no Asio, threads or file streams and read no clock;
#   no `co_return co_await`, no ?: and no lambda built inside a co_await, no bare `co_return;` under a
#   condition that is a co_await (g++ 12 miscompiles all four).
set -u
cd "$(dirname "$0")/.."
fail=0
breach() { echo "check_layers: $*"; fail=1; }

while IFS= read -r line; do breach "protocol/ reaches outside protocol/: $line"; done < <(
  grep -rnE '#include "(proxy|routing|health)/' protocol/ 2>/dev/null)
while IFS= read -r line; do breach "routing/ or health/ includes proxy/: $line"; done < <(
  grep -rnE '#include "proxy/' routing/ health/ 2>/dev/null)

# Pure code: everything in protocol/ and routing/, health/ except its I/O parts, and the pure proxy files.
pure=$(find protocol routing health -name '*.[ch]pp' 2>/dev/null | grep -vE '^health/(probes|actuators)/|^health/monitor' ;
       ls proxy/pg/params.?pp proxy/pg/prepared.?pp proxy/pool/pool_policy.hpp 2>/dev/null)
for f in $pure; do
  while IFS= read -r line; do breach "pure file does I/O or threads: $f:$line"; done < <(
    grep -nE '#include <(boost/asio|thread|fstream|mutex|future)' "$f")
  while IFS= read -r line; do breach "pure file reads a clock: $f:$line"; done < <(
    grep -nE '(steady_clock|system_clock|high_resolution_clock)::now\(' "$f")
done

while IFS= read -r line; do breach "co_return co_await (write the result to a variable first): $line"; done < <(
  grep -rnE '^[^/]*co_return co_await' proxy protocol health routing 2>/dev/null)
while IFS= read -r line; do breach "?: inside a co_await expression (compute it first): $line"; done < <(
  grep -rnE '^[^/]*co_await [^;]*\?[^;]*:' proxy protocol health routing 2>/dev/null)

# (SIGILL on resumption: `if (co_await f()) co_return;` in a void coroutine.)
while IFS= read -r line; do breach "bare co_return under a co_await condition (await into a variable first): $line"; done < <(
  grep -rnE '^[^/]*if \(!?co_await [^;]*\) co_return;' proxy protocol health routing 2>/dev/null)

while IFS= read -r line; do breach "lambda built inside a co_await expression (name it first): $line"; done < <(
  grep -rnE '^[^/]*co_await [^;]*[(,] *\[[^]]*\] *\(' proxy protocol health routing 2>/dev/null)
# (The same with the lambda on the line after the one that opens the co_await's call.)
while IFS= read -r line; do breach "lambda built inside a co_await expression (name it first): $line"; done < <(
  find proxy protocol health routing -name '*.cpp' -o -name '*.hpp' | sort | xargs awk '
    FNR == 1 { open = 0 }
    open && /^[ \t]*\[[^]]*\] *\(/ { print FILENAME ":" FNR ": " $0 }
    { open = ($0 ~ /^[^\/]*co_await [^;]*[(,][ \t]*$/) }')

if [ "$fail" -ne 0 ]; then
  echo "check_layers: FAILED"
  exit 1
fi
echo "check_layers: ok"
