#!/usr/bin/env python3
"""The functions of one binary that run on every transaction, as gold section names, hottest first.

    hot_functions.py BINARY TX SHORT_DUMP LONG_DUMP [TX SHORT_DUMP LONG_DUMP ...]

Each triple is one workload measured as bench/callgrind_tx.sh measures it: callgrind dumps of a
short and a long pgbench run, TX transactions apart. A function counts when, between the two
dumps, in some workload, its calls grew by at least one per two transactions, or its own
instructions by 100 per transaction (a loop entered once, like the event loop's): logins and
other one-off work cancel out, and the probes and timers, which run by the second, stay well
below both (under 5 instructions per transaction when measured). Hottest first: by instructions
per transaction. The dumps must carry mangled names (valgrind --demangle=no): with
-ffunction-sections each function sits in a section ".text.<mangled name>", which is what
gold's --section-ordering-file takes. Prints one section name per line.
"""
import collections
import os
import sys


def load(path, binary):
    """(own instructions, calls) per function of `binary`, by mangled name, in one callgrind dump."""
    costs = collections.Counter()
    calls = collections.Counter()
    obj = None
    fn = None
    callee_obj = None
    callee = None
    skip_next = False  # the line after calls= is the call's inclusive cost, not the caller's own
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
                callee_obj = None
            elif line.startswith("cob="):
                callee_obj = line[4:].strip()
            elif line.startswith("cfn="):
                callee = line[4:].strip()
            elif line.startswith("calls="):
                skip_next = True
                target = callee_obj or obj
                if target and os.path.basename(target) == binary:
                    calls[callee] += int(line[6:].split()[0])
                callee_obj = None
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) > 1 and parts[1].isdigit() and obj and os.path.basename(obj) == binary:
                    costs[fn] += int(parts[1])
    return costs, calls


def main(argv):
    if len(argv) < 5 or (len(argv) - 2) % 3 != 0:
        sys.exit(__doc__)
    binary = os.path.basename(argv[1])
    cost_per_tx = collections.Counter()  # a function's most instructions per transaction in any workload
    calls_per_tx = collections.Counter()  # and its most calls per transaction
    for i in range(2, len(argv), 3):
        tx = int(argv[i])
        (short_costs, short_calls), (long_costs, long_calls) = load(argv[i + 1], binary), load(argv[i + 2], binary)
        if not long_costs:
            sys.exit(f"hot_functions: no function of {binary} in {argv[i + 2]}")
        for name, cost in long_costs.items():
            cost_per_tx[name] = max(cost_per_tx[name], (cost - short_costs.get(name, 0)) / tx)
        for name, n in long_calls.items():
            calls_per_tx[name] = max(calls_per_tx[name], (n - short_calls.get(name, 0)) / tx)
    if any(n.startswith(("baton::", "boost::")) for n in cost_per_tx):
        sys.exit("hot_functions: the dumps have demangled names; run valgrind with --demangle=no")
    hot = [n for n, c in cost_per_tx.items() if c >= 100 or (c >= 1 and calls_per_tx[n] >= 0.5)]
    for name in sorted(hot, key=lambda n: (-cost_per_tx[n], n)):
        print(f".text.{name}")


if __name__ == "__main__":
    main(sys.argv)
