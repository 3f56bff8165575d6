// The fencing state that must survive a proxy restart, as text: encode and decode only (no file I/O).
//
// Format (one key=value per line, '#' comments and blank lines allowed, keys in any order):
//   version=1
//   epoch=7
//   timeline=3
//   primary=b        (empty value: no primary)
//   fenced=a         (one line per fenced node, zero or more)
// Node names must not be empty nor contain '\n', '\r' or start or end with a space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace baton::health {

struct StateRecord {
  std::uint64_t epoch = 0;
  std::uint32_t timeline = 0;
  std::string primary;              // "" when none
  std::vector<std::string> fenced;  // node names, in the order recorded

  bool operator==(const StateRecord&) const = default;
};

struct StateFileError {
  std::string what;
  std::size_t line = 0;  // 1-based; 0 when the problem is not tied to a line
};

std::string encode_state(const StateRecord& record);
std::variant<StateRecord, StateFileError> decode_state(std::string_view text);

}  // namespace baton::health
