// Recognising `DEALLOCATE [PREPARE] name | ALL`, which names protocol-level statements the proxy renamed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace baton::routing {

struct Deallocate {
  bool all = false;
  std::string name;  // as PostgreSQL resolves it: unquoted names folded to lower case
};

// The statement when `sql` is exactly one DEALLOCATE (comments, whitespace and one trailing
// semicolon allowed); nullopt for anything else.
std::optional<Deallocate> parse_deallocate(std::string_view sql);

}  // namespace baton::routing
