// Prepared-statement registry and per-server LRU cache.
#include "proxy/pg/prepared.hpp"

#include <atomic>

namespace baton::proxy::pg {

namespace {
std::atomic<std::uint64_t> next_statement_id{1};
}

StatementPtr StatementRegistry::intern(std::string_view query, const std::vector<std::uint32_t>& param_types) {
  std::string key(query);
  key.push_back('\0');
  for (std::uint32_t t : param_types) {
    key.append(reinterpret_cast<const char*>(&t), sizeof t);
  }
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    if (auto live = it->second.lock()) return live;
  }
  auto def = std::make_shared<StatementDef>();
  def->id = next_statement_id.fetch_add(1, std::memory_order_relaxed);
  def->query.assign(query);
  def->param_types = param_types;
  def->server_name = "B_" + std::to_string(def->id);
  by_key_[std::move(key)] = def;
  // Forget definitions nobody holds any more, now and then.
  if (++interned_since_sweep_ >= 1024) {
    interned_since_sweep_ = 0;
    std::erase_if(by_key_, [](const auto& kv) { return kv.second.expired(); });
  }
  return def;
}

void ServerStatementCache::touch(std::uint64_t id) {
  auto it = index_.find(id);
  if (it != index_.end()) lru_.splice(lru_.end(), lru_, it->second);
}

StatementPtr ServerStatementCache::add(StatementPtr def) {
  StatementPtr evicted;
  if (capacity_ > 0 && lru_.size() >= capacity_) {
    evicted = lru_.front();
    index_.erase(evicted->id);
    lru_.pop_front();
  }
  std::uint64_t id = def->id;
  lru_.push_back(std::move(def));
  index_[id] = std::prev(lru_.end());
  return evicted;
}

void ServerStatementCache::forget(std::uint64_t id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void ServerStatementCache::clear() {
  lru_.clear();
  index_.clear();
}

}  // namespace baton::proxy::pg
