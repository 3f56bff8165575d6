// The status page served at GET /: one self-contained HTML file that polls the JSON API and draws the topology.
#pragma once

#include <string_view>

namespace baton::proxy::admin {

// Header-only on purpose: the route table (a pure library without Beast) serves it.
// The script polls /api/v1/clusters and /api/v1/pools every 2 s and writes only through
// textContent, so names coming from the configuration can never inject markup.
inline constexpr std::string_view kStatusPageHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>baton status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f5f6f8; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  #updated { color: #667; font-size: .85rem; margin-bottom: 1rem; }
  #error { color: #a11; font-weight: 600; }
  .cluster { background: #fff; border: 1px solid #d8dbe2; border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
  .cluster h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  .meta { color: #556; font-size: .85rem; margin-left: .5rem; font-weight: normal; }
  .nodes { display: flex; flex-wrap: wrap; gap: .6rem; }
  .node { border: 1px solid #d8dbe2; border-radius: 5px; padding: .5rem .7rem; min-width: 14rem; }
  .node.primary { border-color: #2a6fdb; box-shadow: 0 0 0 1px #2a6fdb inset; }
  .name { font-weight: 600; }
  .addr { color: #667; font-size: .8rem; }
  .badge { display: inline-block; border-radius: 3px; padding: 0 .35rem; margin-right: .25rem; font-size: .78rem; color: #fff; }
  .role-primary { background: #2a6fdb; } .role-standby { background: #6a7690; } .role-unknown { background: #999; }
  .health-up { background: #2e8b57; } .health-suspect { background: #d98e04; } .health-down { background: #c0392b; }
  .health-fenced { background: #5b2a86; } .health-drained { background: #7f8c8d; }
  .bar { height: 6px; background: #e4e7ec; border-radius: 3px; margin: .3rem 0 .1rem; overflow: hidden; }
  .bar > div { height: 100%; background: #2a6fdb; }
  .small { font-size: .8rem; color: #445; }
  .warn { color: #a11; }
</style>
</head>
<body>
<h1>baton</h1>
<div id="updated">loading…</div>
<div id="error"></div>
<div id="clusters"></div>
<script>
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function lagText(n) {
  if (n.role !== "standby") return "";
  return "lag " + n.lag_bytes + " B, " + n.lag_seconds.toFixed(1) + " s";
}

// Pool use of one node, summed over its pools (databases and users).
function poolUse(pools, cluster, node) {
  const u = { size: 0, active: 0, idle: 0, opening: 0, waiting: 0 };
  for (const p of pools) {
    if (p.cluster !== cluster || p.node !== node) continue;
    u.size += p.size; u.active += p.active; u.idle += p.idle; u.opening += p.opening; u.waiting += p.waiting;
  }
  return u;
}

function drawNode(cluster, n, pools) {
  const box = el("div", "node" + (n.role === "primary" ? " primary" : ""));
  box.append(el("div", "name", n.name), el("div", "addr", n.host + ":" + n.port));
  const badges = el("div");
  badges.append(el("span", "badge role-" + n.role, n.role), el("span", "badge health-" + n.health, n.health));
  box.append(badges);
  const lag = lagText(n);
  if (lag) box.append(el("div", "small", lag));
  const u = poolUse(pools, cluster.name, n.name);
  const bar = el("div", "bar");
  const fill = el("div");
  fill.style.width = (u.size > 0 ? Math.min(100, 100 * u.active / u.size) : 0) + "%";
  bar.append(fill);
  box.append(bar);
  const line = "pool " + u.active + " active, " + u.idle + " idle, " + u.opening + " opening / " + u.size;
  box.append(el("div", "small", line));
  if (u.waiting > 0) box.append(el("div", "small warn", u.waiting + " clients waiting"));
  return box;
}

function drawCluster(c, pools) {
  const box = el("div", "cluster");
  const h = el("h2", null, c.name);
  let meta = "epoch " + c.epoch + " · " + (c.failover_state || "") + " · primary " + (c.primary || "none");
  if (c.writes_paused) meta += " · writes paused";
  h.append(el("span", "meta", meta));
  box.append(h);
  const nodes = el("div", "nodes");
  for (const n of c.nodes) nodes.append(drawNode(c, n, pools));
  box.append(nodes);
  return box;
}

async function fetchJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function refresh() {
  try {
    const [clusters, pools] = await Promise.all([fetchJson("/api/v1/clusters"), fetchJson("/api/v1/pools")]);
    const root = document.getElementById("clusters");
    root.replaceChildren(...clusters.clusters.map(c => drawCluster(c, pools.pools)));
    document.getElementById("error").textContent = "";
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach baton: " + e.message;
  }
}

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

}  // namespace baton::proxy::admin
