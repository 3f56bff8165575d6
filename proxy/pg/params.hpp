// Session parameters in transaction pooling: what a client set, what a server connection has, the SQL that aligns them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baton::proxy::pg {

// A small ordered map of parameter name -> value. Names compare case-insensitively and are kept
// as first given (PostgreSQL reports "DateStyle", a SET may say "datestyle").
class ParamSet {
 public:
  // Returns the entry's index (entries keep their place: nothing is inserted before them).
  std::size_t set(std::string_view name, std::string_view value);
  void erase(std::string_view name);
  void clear() { items_.clear(); }
  const std::string* get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  bool operator==(const ParamSet&) const = default;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool iequals(std::string_view a, std::string_view b);

// Parameters PostgreSQL reports with ParameterStatus that a client may change and that baton
// therefore carries from server connection to server connection.
bool is_tracked_reported(std::string_view name);
inline constexpr std::size_t kTrackedReported = 6;
// The tracked parameter's slot (0 .. kTrackedReported - 1), or -1.
int tracked_reported_index(std::string_view name);

// Reported parameters (ParameterStatus), with where each tracked one is: whether a server
// connection has a client's tracked values is then a few string compares, checked at every
// attachment in transaction pooling. (Positions, not copies: every client session holds one of
// these, and idle sessions are meant to stay under 2 KiB.) Entries are never removed.
class ReportedParams {
 public:
  void set(std::string_view name, std::string_view value);
  const std::string* get(std::string_view name) const { return all_.get(name); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return all_.items(); }
  // Every tracked parameter set here is set to the same value in `other`.
  bool tracked_agree_in(const ReportedParams& other) const;

 private:
  static constexpr std::uint8_t kAbsent = 0xff;
  ParamSet all_;
  // Where each tracked parameter is in all_, or kAbsent.
  std::array<std::uint8_t, kTrackedReported> at_{kAbsent, kAbsent, kAbsent, kAbsent, kAbsent, kAbsent};
};

// The state a server connection must have for a client: reported parameters by value (as the
// server reported them) and other session SETs by their SQL text (as the client wrote them).
struct SessionParams {
  ReportedParams reported;
  ParamSet other;
};

// One SQL string (";"-separated SET/RESET statements) that turns `server` into `client`; empty when
// they already agree. Reported parameters the client does not mention are left alone.
std::string sync_sql(const SessionParams& client, const SessionParams& server);

// A string literal for a SET value: 'value' with quotes doubled.
std::string quote_literal(std::string_view value);

// "-c name=value" and "--name=value" items of the startup `options` parameter, in order.
// Returns false on a malformed options string.
bool parse_startup_options(std::string_view options, std::vector<std::pair<std::string, std::string>>& out);

}  // namespace baton::proxy::pg
