#!/usr/bin/python3
"""report.py: turns a benchmark directory's raw runs into results.json, results.md and tps.png, and prints the table.

Usage: report.py DIR
DIR holds meta.json (settings of the run), runs.jsonl (one line per pgbench run) and rss.jsonl
(one line per idle-connection measurement), as bench/run.sh writes them. Every raw run is kept
in results.json; the tables show medians over the repeats that succeeded.
"""
import json
import os
import statistics
import sys


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize_runs(meta, runs):
    rows = []
    keys = []
    for r in runs:
        key = (r["scenario"], r["clients"], r["endpoint"])
        if key not in keys:
            keys.append(key)
    order = {e: i for i, e in enumerate(meta["endpoints"])}
    scen_order = {s: i for i, s in enumerate(meta["scenarios"])}
    keys.sort(key=lambda k: (scen_order.get(k[0], 99), k[1], order.get(k[2], 99)))
    direct_tps = {}
    for scenario, clients, endpoint in keys:
        group = [r for r in runs if (r["scenario"], r["clients"], r["endpoint"]) == (scenario, clients, endpoint)]
        ok = [r for r in group if r["status"] == "ok"]
        row = {
            "endpoint": endpoint,
            "scenario": scenario,
            "clients": clients,
            "runs": len(group),
            "runs_ok": len(ok),
            "status": "ok" if len(ok) == len(group) else ("failed" if not ok else "partly failed"),
            "errors": next((r["errors"] for r in group if r["status"] != "ok" and r["errors"]), []),
            "tps": median_of(r["tps"] for r in ok),
            "latency_p50_ms": median_of(r["latency_p50_ms"] for r in ok),
            "latency_p99_ms": median_of(r["latency_p99_ms"] for r in ok),
            "proxy_cpu_us_per_tx": median_of(r["proxy_cpu_us_per_tx"] for r in ok),
        }
        if endpoint == "direct":
            direct_tps[(scenario, clients)] = row["tps"]
        rows.append(row)
    for row in rows:
        base = direct_tps.get((row["scenario"], row["clients"]))
        row["ratio_to_direct"] = row["tps"] / base if row["tps"] is not None and base else None
    return rows


def summarize_rss(meta, rss):
    rows = []
    keys = []
    for r in rss:
        key = (r["count"], r["endpoint"])
        if key not in keys:
            keys.append(key)
    order = {e: i for i, e in enumerate(meta["endpoints"])}
    keys.sort(key=lambda k: (k[0], order.get(k[1], 99)))
    # Only the first measurement per endpoint and count counts: a process keeps the pages it once
    # touched, so the same clients opened again later read as (almost) nothing. bench/run.sh now
    # measures in the first repeat only; older result directories have one line per repeat.
    first_repeat = {}
    for r in rss:
        key = (r["count"], r["endpoint"])
        first_repeat[key] = min(first_repeat.get(key, r["repeat"]), r["repeat"])
    for count, endpoint in keys:
        group = [r for r in rss if (r["count"], r["endpoint"]) == (count, endpoint)
                 and r["repeat"] == first_repeat[(count, endpoint)]]
        ok = [r for r in group if r["status"] == "ok"]
        rows.append({
            "endpoint": endpoint,
            "idle_clients": count,
            "runs": len(group),
            "runs_ok": len(ok),
            "status": "ok" if len(ok) == len(group) else ("failed" if not ok else "partly failed"),
            "errors": next((r["errors"] for r in group if r["status"] != "ok" and r["errors"]), []),
            "bytes_per_idle_client": median_of(r["bytes_per_idle_client"] for r in ok),
            "rss_after_kib": median_of(r["rss_after_kib"] for r in ok),
        })
    return rows


def fmt(value, digits=1):
    if value is None:
        return "-"
    return ("%." + str(digits) + "f") % value


def markdown(meta, rows, rss_rows):
    lines = [
        "# baton benchmark, %s" % meta["started"],
        "",
        "Medians over %d repeat(s) of %d s each; pgbench scale %d; pool size %d (transaction) and %d (session); "
        "baton workers %d. Host: %s, %d CPUs. These figures depend on the machine and its load."
        % (meta["repeats"], meta["duration_s"], meta["scale"], meta["pool_size"], meta["session_pool_size"],
           meta["baton_workers"], meta["host"], meta["cpus"]),
        "",
        "| endpoint | scenario | clients | tps | ratio | p50 ms | p99 ms | cpu us/tx |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        tps = fmt(r["tps"])
        if r["status"] != "ok":
            tps = "FAILED" if r["tps"] is None else tps + " (%d/%d failed)" % (r["runs"] - r["runs_ok"], r["runs"])
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
            r["endpoint"], r["scenario"], r["clients"], tps, fmt(r["ratio_to_direct"], 2),
            fmt(r["latency_p50_ms"], 3), fmt(r["latency_p99_ms"], 3), fmt(r["proxy_cpu_us_per_tx"], 1)))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", "Failures:", ""]
        for r in failed:
            why = r["errors"][0] if r["errors"] else "see results.json"
            lines.append("- %s %s c=%d: %s" % (r["endpoint"], r["scenario"], r["clients"], why))
    if rss_rows:
        lines += [
            "",
            "Idle clients (first measurement of each process: RSS stays at its high-water mark, so a repeat",
            "on the same process reads as nothing):",
            "",
            "| endpoint | idle clients | bytes per idle client | RSS after (KiB) |",
            "|---|---:|---:|---:|",
        ]
        for r in rss_rows:
            per = fmt(r["bytes_per_idle_client"], 0) if r["status"] == "ok" else "FAILED"
            lines.append("| %s | %d | %s | %s |" % (r["endpoint"], r["idle_clients"], per, fmt(r["rss_after_kib"], 0)))
    return "\n".join(lines) + "\n"


def chart(meta, rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    groups = []
    for r in rows:
        g = (r["scenario"], r["clients"])
        if g not in groups:
            groups.append(g)
    endpoints = [e for e in meta["endpoints"] if any(r["endpoint"] == e for r in rows)]
    width = 0.8 / max(1, len(endpoints))
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(groups)), 5))
    for i, endpoint in enumerate(endpoints):
        xs, ys = [], []
        for j, g in enumerate(groups):
            row = next((r for r in rows if (r["scenario"], r["clients"], r["endpoint"]) == (g[0], g[1], endpoint)), None)
            xs.append(j + (i - (len(endpoints) - 1) / 2) * width)
            ys.append(row["tps"] if row and row["tps"] is not None and row["status"] != "failed" else 0)
        ax.bar(xs, ys, width, label=endpoint)
        for x, y, g in zip(xs, ys, groups):
            if y == 0:
                ax.text(x, 0, " failed", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(["%s\nc=%d" % g for g in groups], fontsize=8)
    ax.set_ylabel("transactions per second (median)")
    ax.set_title("pgbench TPS per endpoint (%s)" % meta["started"])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: report.py DIR", file=sys.stderr)
        return 2
    d = sys.argv[1]
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    runs = read_jsonl(os.path.join(d, "runs.jsonl"))
    rss = read_jsonl(os.path.join(d, "rss.jsonl"))
    rows = summarize_runs(meta, runs)
    rss_rows = summarize_rss(meta, rss)
    result = {"meta": meta, "summary": rows, "idle_rss_summary": rss_rows, "runs": runs, "idle_rss_runs": rss}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = markdown(meta, rows, rss_rows)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    note = chart(meta, rows, os.path.join(d, "tps.png"))
    print(md)
    if note:
        print("report: " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
