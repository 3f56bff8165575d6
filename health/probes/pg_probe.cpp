// One probe: (re)connect if needed, run kProbeQuery, decode its row into a ProbeResult.
#include "health/probes/pg_probe.hpp"

namespace baton::health {

PgProbe::PgProbe(asio::any_io_executor executor, NodeId node, NodeSpec spec, PgConnParams params)
    : node_(node), spec_(std::move(spec)), params_(std::move(params)), conn_(executor) {}

awaitable<ProbeResult> PgProbe::probe(TimePoint deadline) {
  ProbeResult r;
  r.node = node_;
  r.status = ProbeStatus::kOk;
  last_error_.clear();
  if (!conn_.connected()) {
    std::optional<PgError> e = co_await conn_.connect(params_, spec_.host, spec_.port, deadline);
    if (e) {
      r.status = e->status;
      last_error_ = e->message;
    }
  }
  if (r.status == ProbeStatus::kOk) {
    PgResult q = co_await conn_.query(kProbeQuery, {}, deadline);
    if (q.error) {
      r.status = q.error->status;
      last_error_ = q.error->message;
      conn_.close();
    } else if (q.rows.size() != 1) {
      r.status = ProbeStatus::kOther;
      last_error_ = "probe query returned " + std::to_string(q.rows.size()) + " rows";
    } else if (auto bad = decode_probe_row(q.rows.front(), r)) {
      r.status = ProbeStatus::kOther;
      last_error_ = *bad;
    }
  }
  r.at = Clock::now();
  co_return r;
}

}  // namespace baton::health
