// Session parameters in transaction pooling: what a client set, what a server connection has, the SQL that aligns them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace baton::proxy::pg {

// A number no parameter state has had before (process-wide): each change of a ParamSet or
// TrackedParams takes one, and a copy keeps it, so two equal stamps mean equal contents.
std::uint64_t new_params_stamp();

// A small ordered map of parameter name -> value. Names compare case-insensitively and are kept
// as first given (PostgreSQL reports "DateStyle", a SET may say "datestyle").
class ParamSet {
 public:
  // Returns the entry's index (entries keep their place: nothing is inserted before them).
  std::size_t set(std::string_view name, std::string_view value);
  void erase(std::string_view name);
  void clear() {
    items_.clear();
    stamp_ = new_params_stamp();
  }
  const std::string* get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  bool operator==(const ParamSet& other) const { return items_ == other.items_; }
  // Changes whenever the contents may have (0: never changed, so empty).
  std::uint64_t stamp() const { return stamp_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
  std::uint64_t stamp_ = 0;
};

bool iequals(std::string_view a, std::string_view b);

// Parameters PostgreSQL reports with ParameterStatus that a client may change and that baton
// therefore carries from server connection to server connection.
bool is_tracked_reported(std::string_view name);
inline constexpr std::size_t kTrackedReported = 6;
// The tracked parameter's slot (0 .. kTrackedReported - 1), or -1.
int tracked_reported_index(std::string_view name);

// The canonical spelling of a tracked parameter's slot, as PostgreSQL reports it ("TimeZone").
std::string_view tracked_reported_name(std::size_t slot);

// Reported parameters (ParameterStatus), all of them, as a server connection has them, with where
// each tracked one is: whether a server connection has a client's tracked values is then a few
// string compares, checked at every attachment in transaction pooling. Entries are never removed.
class ReportedParams {
 public:
  void set(std::string_view name, std::string_view value);
  const std::string* get(std::string_view name) const { return all_.get(name); }
  const std::string* tracked(std::size_t slot) const {
    return at_[slot] == kAbsent ? nullptr : &all_.items()[at_[slot]].second;
  }
  const std::vector<std::pair<std::string, std::string>>& items() const { return all_.items(); }
  std::uint64_t stamp() const { return all_.stamp(); }

 private:
  static constexpr std::uint8_t kAbsent = 0xff;
  ParamSet all_;
  // Where each tracked parameter is in all_, or kAbsent.
  std::array<std::uint8_t, kTrackedReported> at_{kAbsent, kAbsent, kAbsent, kAbsent, kAbsent, kAbsent};
};

// The tracked parameters a client wants, a value per slot (the slot names the parameter). Held in
// place: every client session has one, idle ones included, and idle sessions are meant to stay
// under 2 KiB (a list of name/value pairs took a 512-byte allocation per session; the values
// PostgreSQL reports, "UTF8", "ISO, MDY", "Etc/UTC", fit std::string's own storage).
class TrackedParams {
 public:
  // False (and nothing set) when `name` is not a tracked parameter.
  bool set(std::string_view name, std::string_view value);
  void set(std::size_t slot, std::string_view value) {
    values_[slot].assign(value);
    present_ = static_cast<std::uint8_t>(present_ | (1u << slot));
    stamp_ = new_params_stamp();
  }
  const std::string* get(std::size_t slot) const { return has(slot) ? &values_[slot] : nullptr; }
  bool has(std::size_t slot) const { return ((present_ >> slot) & 1u) != 0; }
  // Every value set here is set to the same value in `server`.
  bool agree_in(const ReportedParams& server) const;
  std::uint64_t stamp() const { return stamp_; }

 private:
  std::array<std::string, kTrackedReported> values_;
  std::uint64_t stamp_ = 0;
  std::uint8_t present_ = 0;  // a bit per slot
};

// A parameter state's interned number (see state_id()), with the stamps of the parts it was
// computed from: it is computed again only after either part changed.
struct StateId {
  std::uint64_t id = 0;
  std::uint64_t reported_stamp = ~std::uint64_t{0};  // no part has this stamp: computed at first use
  std::uint64_t other_stamp = ~std::uint64_t{0};
};

// The state a server connection has: reported parameters by value (as the server reported them)
// and other session SETs by their SQL text (as the client wrote them).
struct SessionParams {
  ReportedParams reported;
  ParamSet other;
  mutable StateId id;
};

// The state a client's server connections must have: its tracked reported parameters, and its
// other session SETs as for SessionParams.
struct ClientParams {
  TrackedParams reported;
  ParamSet other;
  mutable StateId id;
};

// A number per distinct state: the tracked reported values (which slots, which values) and the
// other SETs (in order). A client and a server connection whose numbers come from the same table
// and are equal agree; unequal numbers say nothing (the server may report a slot the client leaves
// alone). Each worker has one table for its sessions and server connections (used on its thread
// only). A table starts over once it holds kMaxStates states; its numbers, before and after, are
// never given by another table or by itself before (a process-wide counter in the high 32 bits).
class StateTable {
 public:
  static constexpr std::size_t kMaxStates = 4096;  // SETs of ever new values stay bounded
  StateTable();
  // The number of the state with this key (see state_id()).
  std::uint64_t id_of(const std::string& key);
  // Whether `id` comes from this table as it is now.
  bool current(std::uint64_t id) const { return (id >> 32) == epoch_; }

 private:
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::uint64_t epoch_;
};

std::uint64_t state_id(const ClientParams& client, StateTable& table);
std::uint64_t state_id(const SessionParams& server, StateTable& table);

// One SQL string (";"-separated SET/RESET statements) that turns `server` into `client`; empty when
// they already agree. Reported parameters the client does not mention are left alone. Run at every
// attachment in transaction pooling: with a table, equal state_id()s answer it without comparing values.
std::string sync_sql(const ClientParams& client, const SessionParams& server, StateTable* table = nullptr);

// A string literal for a SET value: 'value' with quotes doubled.
std::string quote_literal(std::string_view value);

// "-c name=value" and "--name=value" items of the startup `options` parameter, in order.
// Returns false on a malformed options string.
bool parse_startup_options(std::string_view options, std::vector<std::pair<std::string, std::string>>& out);

}  // namespace baton::proxy::pg
