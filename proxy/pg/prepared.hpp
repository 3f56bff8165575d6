// Protocol-level prepared statements under transaction pooling: one definition per distinct query, cached per server connection.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace baton::proxy::pg {

// A statement as a client prepared it: its text and parameter types. Shared by every client of a
// worker that prepares the same text, and named on servers by its id ("B_<id>").
struct StatementDef {
  std::uint64_t id = 0;
  std::string query;
  std::vector<std::uint32_t> param_types;
  std::string server_name;  // "B_<id>"
};
using StatementPtr = std::shared_ptr<const StatementDef>;

// The worker's registry: the same (query, types) gives the same definition while anyone holds it.
// Ids are unique across the process, so a server name "B_<id>" never means two different statements.
class StatementRegistry {
 public:
  StatementPtr intern(std::string_view query, const std::vector<std::uint32_t>& param_types);
  std::size_t size() const { return by_key_.size(); }

 private:
  std::unordered_map<std::string, std::weak_ptr<const StatementDef>> by_key_;
  std::size_t interned_since_sweep_ = 0;
};

// Which definitions a server connection has prepared, least recently used first.
class ServerStatementCache {
 public:
  explicit ServerStatementCache(std::size_t capacity) : capacity_(capacity) {}
  bool contains(std::uint64_t id) const { return index_.count(id) != 0; }
  void touch(std::uint64_t id);
  // Records `def` as prepared; returns the definition evicted to make room (to be closed), if any.
  StatementPtr add(StatementPtr def);
  void forget(std::uint64_t id);
  void clear();
  std::size_t size() const { return lru_.size(); }

 private:
  std::size_t capacity_;
  std::list<StatementPtr> lru_;  // front = least recently used
  std::unordered_map<std::uint64_t, std::list<StatementPtr>::iterator> index_;
};

}  // namespace baton::proxy::pg
