// The bounded exact-text cache in front of classify().
#include "routing/classification_cache.hpp"

namespace baton::routing {

Classification ClassificationCache::classify(std::string_view sql, const ClassifierOptions& options) {
  if (auto it = map_.find(sql); it != map_.end()) return it->second;
  Classification c = routing::classify(sql, options);
  if (sql.size() <= max_text_ && capacity_ > 0) {
    if (map_.size() >= capacity_) map_.clear();
    map_.emplace(std::string(sql), c);
  }
  return c;
}

}  // namespace baton::routing
