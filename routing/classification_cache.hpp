// Remembering the classification of statement texts that come back again and again (Parse of the same text, prepared statements).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "routing/classifier.hpp"

namespace baton::routing {

// Exact text -> classification, bounded: when full it starts over (the texts an application sends
// again and again come back at once). Texts longer than max_text are not kept. Not thread-safe:
// one per worker and cluster; cleared when the classifier's options change.
class ClassificationCache {
 public:
  ClassificationCache(std::size_t capacity, std::size_t max_text) : capacity_(capacity), max_text_(max_text) {}

  // classify(sql, options), from memory when this exact text was classified before.
  Classification classify(std::string_view sql, const ClassifierOptions& options);

  std::size_t size() const { return map_.size(); }
  void clear() { map_.clear(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Classification, Hash, std::equal_to<>> map_;
  std::size_t capacity_;
  std::size_t max_text_;
};

}  // namespace baton::routing
