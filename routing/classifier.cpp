// Statement classification happens here: one lexing pass splits statements and gathers facts,
// then a few head tokens per statement decide its class.
#include "routing/classifier.hpp"

#include <array>
#include <optional>

namespace baton::routing {
namespace {

using protocol::sql::Dialect;
using protocol::sql::iequals;
using protocol::sql::Lexer;
using protocol::sql::Token;
using protocol::sql::TokenKind;

const std::vector<std::string>& postgres_volatile() {
  static const std::vector<std::string> kList = {
      "nextval", "setval", "currval", "lastval",
      "pg_advisory_lock*", "pg_advisory_unlock*", "pg_try_advisory_lock*", "pg_advisory_xact_lock*",
      "pg_try_advisory_xact_lock*",
      "txid_current", "txid_current_if_assigned", "pg_current_xact_id", "pg_current_xact_id_if_assigned",
      "pg_notify", "set_config", "dblink*",
      "lo_creat", "lo_create", "lo_import", "lo_unlink", "lo_put", "lo_from_bytea", "lo_open", "lowrite",
      "lo_truncate", "lo_truncate64",
      "pg_switch_wal", "pg_switch_xlog", "pg_create_restore_point", "pg_start_backup", "pg_stop_backup",
      "pg_backup_start", "pg_backup_stop", "pg_create_physical_replication_slot",
      "pg_create_logical_replication_slot", "pg_drop_replication_slot", "pg_copy_physical_replication_slot",
      "pg_copy_logical_replication_slot", "pg_replication_slot_advance", "pg_logical_emit_message",
      "pg_logical_slot_get_changes", "pg_logical_slot_get_binary_changes", "pg_export_snapshot",
      "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_promote",
      "pg_stat_reset*", "pg_sequence_last_value",
  };
  return kList;
}

const std::vector<std::string>& mysql_volatile() {
  static const std::vector<std::string> kList = {
      "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
      "last_insert_id", "found_rows", "row_count", "connection_id",
      "nextval", "lastval", "setval",  // MariaDB sequences
      "master_pos_wait", "source_pos_wait", "load_file",
  };
  return kList;
}

bool is_word_like(const Token& t) { return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdentifier; }

// The name a word or quoted identifier denotes, without copying: bare words compare
// case-insensitively, quoted ones exactly.
bool name_matches(const Token& t, std::string_view entry) {
  const bool prefix = !entry.empty() && entry.back() == '*';
  if (prefix) entry.remove_suffix(1);
  std::string_view name = t.text;
  const bool quoted = t.kind == TokenKind::kQuotedIdentifier;
  if (quoted) {
    if (name.size() < 2) return false;
    name = name.substr(1, name.size() - 2);
  }
  if (prefix) {
    if (name.size() < entry.size()) return false;
    name = name.substr(0, entry.size());
  } else if (name.size() != entry.size()) {
    return false;
  }
  return quoted ? name == entry : iequals(name, entry);
}

// What one pass over a statement's tokens finds, whatever the statement is.
struct Facts {
  bool locking = false;        // FOR UPDATE / SHARE / NO KEY UPDATE / KEY SHARE; MySQL LOCK IN SHARE MODE
  bool into = false;           // an INTO (SELECT ... INTO makes a table or sets variables)
  bool dml = false;            // INSERT / UPDATE / DELETE / MERGE somewhere (data-modifying CTE)
  bool volatile_call = false;  // a call of a function from the volatile list
  bool pg_temp = false;        // pg_temp.<name>
  bool into_temp = false;      // INTO TEMP / TEMPORARY / LOCAL / GLOBAL
  PinReason pin = PinReason::kNone;
};

// The words FactScanner looks for, each word recognized once: a statement's facts come from
// every one of its words, so this runs for every word a client sends.
enum class Kw : std::uint8_t {
  kOther, kFor, kUpdate, kShare, kNo, kKey, kLock, kIn, kInsert, kDelete, kMerge, kInto, kReplace,
  kTemp, kTemporary, kLocal, kGlobal, kPgTemp,
};

struct KeywordEntry {
  std::string_view text;  // lowercase; starts with a letter; 2 to 9 characters
  Kw kw;
};
constexpr std::array<KeywordEntry, 17> kKeywords{{
    {"no", Kw::kNo}, {"in", Kw::kIn}, {"for", Kw::kFor}, {"key", Kw::kKey}, {"into", Kw::kInto},
    {"lock", Kw::kLock}, {"temp", Kw::kTemp}, {"share", Kw::kShare}, {"merge", Kw::kMerge},
    {"local", Kw::kLocal}, {"update", Kw::kUpdate}, {"insert", Kw::kInsert}, {"delete", Kw::kDelete},
    {"global", Kw::kGlobal}, {"replace", Kw::kReplace}, {"pg_temp", Kw::kPgTemp}, {"temporary", Kw::kTemporary},
}};

// Per lowercase first letter, a bit per length (bit n: a keyword of n characters starts with it).
constexpr std::array<std::uint16_t, 256> kKeywordLengths = [] {
  std::array<std::uint16_t, 256> m{};
  for (const KeywordEntry& k : kKeywords) {
    m[static_cast<unsigned char>(k.text[0])] |= static_cast<std::uint16_t>(1u << k.text.size());
  }
  return m;
}();

// False when `w` is surely no keyword (most words: no keyword starts with its letter and has its
// length); ASCII-lowercasing the first byte maps no non-letter onto a letter.
inline bool may_be_keyword(std::string_view w) {
  return w.size() <= 9 && ((kKeywordLengths[static_cast<unsigned char>(w[0] | 0x20)] >> w.size()) & 1u) != 0;
}

Kw keyword(std::string_view w) {
  if (!may_be_keyword(w)) return Kw::kOther;
  const char first = static_cast<char>(w[0] | 0x20);
  for (const KeywordEntry& k : kKeywords) {
    if (k.text.size() == w.size() && k.text[0] == first && iequals(w, k.text)) return k.kw;
  }
  return Kw::kOther;
}

Kw keyword(const Token& t) { return t.kind == TokenKind::kWord ? keyword(t.text) : Kw::kOther; }

class FactScanner {
 public:
  FactScanner(Dialect dialect, const std::vector<std::string>& volatile_functions)
      : dialect_(dialect), volatile_(volatile_functions) {}

  void reset() {
    facts_ = {};
    prev_ = {};
    prev_kw_ = prev2_kw_ = Kw::kOther;
  }
  const Facts& facts() const { return facts_; }

  void feed(const Token& t) {
    const Kw kw = keyword(t);
    if (t.kind == TokenKind::kWord) {
      feed_word(kw);
    } else if (t.kind == TokenKind::kOperator) {
      if (t.text == "(" && is_word_like(prev_)) check_call(prev_);
      if (t.text == ":=" && prev_.kind == TokenKind::kVariable && !prev_.text.starts_with("@@")) {
        set_pin(PinReason::kUserVariable);
      }
      if (t.text == "." && prev_kw_ == Kw::kPgTemp) facts_.pg_temp = true;
    } else if (t.kind == TokenKind::kVariable && prev_kw_ == Kw::kInto && !t.text.starts_with("@@")) {
      set_pin(PinReason::kUserVariable);
    }
    prev2_kw_ = prev_kw_;
    prev_kw_ = kw;
    prev_ = t;
  }

 private:
  void set_pin(PinReason p) {
    if (facts_.pin == PinReason::kNone) facts_.pin = p;
  }

  void feed_word(Kw kw) {
    const bool postgres = dialect_ == Dialect::kPostgres;
    switch (kw) {
      case Kw::kUpdate:
      case Kw::kShare:
      case Kw::kNo:
      case Kw::kKey:
        if (prev_kw_ == Kw::kFor && (kw == Kw::kUpdate || kw == Kw::kShare || postgres)) facts_.locking = true;
        break;
      case Kw::kIn:
        if (!postgres && prev_kw_ == Kw::kLock) facts_.locking = true;
        break;
      case Kw::kInto:
        facts_.into = true;
        if (!postgres && prev_kw_ == Kw::kReplace) facts_.dml = true;
        break;
      case Kw::kTemp:
      case Kw::kTemporary:
      case Kw::kLocal:
      case Kw::kGlobal:
        if (prev_kw_ == Kw::kInto && prev2_kw_ != Kw::kInsert && prev2_kw_ != Kw::kMerge) facts_.into_temp = true;
        break;
      default:
        break;
    }
    if (kw == Kw::kInsert || kw == Kw::kUpdate || kw == Kw::kDelete || kw == Kw::kMerge) facts_.dml = true;
  }

  void check_call(const Token& name) {
    const auto& list = volatile_;
    for (const std::string& entry : list) {
      if (name_matches(name, entry)) {
        facts_.volatile_call = true;
        break;
      }
    }
    if (dialect_ == Dialect::kPostgres) {
      // Session-level advisory locks outlive the transaction; the _xact_ ones do not.
      for (std::string_view fn : {"pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
                                  "pg_try_advisory_lock_shared"}) {
        if (name_matches(name, fn)) set_pin(PinReason::kAdvisoryLock);
      }
    } else if (name_matches(name, "get_lock")) {
      set_pin(PinReason::kGetLock);
    }
  }

  Dialect dialect_;
  const std::vector<std::string>& volatile_;
  Facts facts_;
  Token prev_;
  Kw prev_kw_ = Kw::kOther;
  Kw prev2_kw_ = Kw::kOther;
};

// Walks one statement's significant tokens (comments skipped).
class Cursor {
 public:
  Cursor(std::string_view text, Dialect dialect) : lex_(text, dialect) { advance(); }

  const Token& cur() const { return cur_; }
  Token peek() const {
    Lexer copy = lex_;
    return significant(copy);
  }
  void advance() { cur_ = significant(lex_); }
  bool done() const { return cur_.kind == TokenKind::kEnd || cur_.kind == TokenKind::kError; }
  bool accept(std::string_view word) {
    if (!cur_.is_word(word)) return false;
    advance();
    return true;
  }
  bool accept_op(std::string_view op) {
    if (!cur_.is_op(op)) return false;
    advance();
    return true;
  }
  // The text from the current token to the end of the last token, consuming it all.
  std::string_view rest() {
    if (done()) return {};
    const std::size_t begin = cur_.offset;
    std::size_t end = begin;
    while (!done()) {
      end = cur_.offset + cur_.text.size();
      advance();
    }
    return lex_.input().substr(begin, end - begin);
  }
  // Like rest(), but stops before a top-level comma (MySQL SET a = 1, b = 2).
  std::string_view until_comma() {
    const std::size_t begin = cur_.offset;
    std::size_t end = begin;
    int depth = 0;
    while (!done() && !(depth == 0 && cur_.is_op(","))) {
      if (cur_.is_op("(")) ++depth;
      if (cur_.is_op(")") && depth > 0) --depth;
      end = cur_.offset + cur_.text.size();
      advance();
    }
    return lex_.input().substr(begin, end - begin);
  }

 private:
  static Token significant(Lexer& lex) {
    Token t = lex.next();
    while (t.kind == TokenKind::kComment) t = lex.next();
    return t;
  }

  Lexer lex_;
  Token cur_;
};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A parameter name: ColId ('.' ColId)*, bare parts lowercased, quoted parts as written.
std::string read_name(Cursor& c) {
  std::string name;
  while (is_word_like(c.cur())) {
    name += c.cur().kind == TokenKind::kQuotedIdentifier ? protocol::sql::unquote_identifier(c.cur().text)
                                                         : lowercase(c.cur().text);
    c.advance();
    if (!c.cur().is_op(".")) break;
    name += '.';
    c.advance();
  }
  return name;
}

struct Verdict {
  StatementClass cls = StatementClass::kWrite;
  PinReason pin = PinReason::kNone;
};

class StatementClassifier {
 public:
  StatementClassifier(Dialect dialect, std::vector<SessionSet>& sets) : dialect_(dialect), sets_(sets) {}

  Verdict classify(std::string_view text, const Facts& facts) {
    Cursor c(text, dialect_);
    while (c.cur().is_op("(")) c.advance();
    return dialect_ == Dialect::kPostgres ? postgres(c, facts) : mysql(c, facts);
  }

 private:
  static StatementClass read_if(bool safe) { return safe ? StatementClass::kRead : StatementClass::kWrite; }
  static bool plain_read(const Facts& f) { return !f.locking && !f.into && !f.volatile_call; }

  Verdict temp_pin(const Facts& f) {
    return {StatementClass::kWrite, f.into_temp ? PinReason::kTempTable : PinReason::kNone};
  }

  Verdict postgres(Cursor& c, const Facts& f) {
    const Token& t = c.cur();
    if (t.is_word("select")) return f.into_temp ? temp_pin(f) : Verdict{read_if(plain_read(f))};
    if (t.is_word("values") || t.is_word("table")) return {read_if(plain_read(f))};
    if (t.is_word("with")) return f.into_temp ? temp_pin(f) : Verdict{read_if(plain_read(f) && !f.dml)};
    if (t.is_word("show")) return {StatementClass::kRead};
    if (t.is_word("explain")) return postgres_explain(c, f);
    if (t.is_word("begin")) {
      c.advance();
      if (!c.accept("work")) c.accept("transaction");
      return {transaction_modes(c)};
    }
    if (t.is_word("start")) {
      c.advance();
      if (!c.accept("transaction")) return {StatementClass::kWrite};
      return {transaction_modes(c)};
    }
    if (t.is_word("commit") || t.is_word("end")) {
      c.advance();
      return {c.cur().is_word("prepared") ? StatementClass::kOther : StatementClass::kCommit};
    }
    if (t.is_word("rollback") || t.is_word("abort")) {
      c.advance();
      if (c.cur().is_word("prepared")) return {StatementClass::kOther};
      if (!c.accept("work")) c.accept("transaction");
      return {c.cur().is_word("to") ? StatementClass::kOther : StatementClass::kRollback};
    }
    if (t.is_word("savepoint") || t.is_word("release") || t.is_word("unlisten") || t.is_word("deallocate") ||
        t.is_word("fetch") || t.is_word("move") || t.is_word("close")) {
      return {StatementClass::kOther};
    }
    if (t.is_word("listen")) return {StatementClass::kOther, PinReason::kListen};
    if (t.is_word("prepare")) {
      c.advance();
      if (c.cur().is_word("transaction")) return {StatementClass::kOther};
      return {StatementClass::kOther, PinReason::kSqlPrepare};
    }
    if (t.is_word("declare")) {
      while (!c.done() && !c.cur().is_word("for")) {
        if (c.cur().is_word("with") && c.peek().is_word("hold")) {
          return {StatementClass::kOther, PinReason::kWithHoldCursor};
        }
        c.advance();
      }
      return {StatementClass::kOther};
    }
    if (t.is_word("create")) return postgres_create(c, f);
    if (t.is_word("set")) return postgres_set(c);
    if (t.is_word("reset")) return postgres_reset(c);
    if (t.is_word("discard")) {
      c.advance();
      if (!c.cur().is_word("all")) return {StatementClass::kOther};
      sets_.push_back({SessionSet::Kind::kResetAll, {}, {}});
      return {StatementClass::kSessionSet};
    }
    return {StatementClass::kWrite};
  }

  // After BEGIN [WORK|TRANSACTION] / START TRANSACTION: ISOLATION LEVEL ..., READ ONLY|WRITE, [NOT]
  // DEFERRABLE; MySQL: READ ONLY|WRITE, WITH CONSISTENT SNAPSHOT. The last access mode wins.
  StatementClass transaction_modes(Cursor& c) {
    bool read_only = false;
    while (!c.done()) {
      if (c.cur().is_word("read")) {
        const Token mode = c.peek();
        if (mode.is_word("only")) read_only = true;
        if (mode.is_word("write")) read_only = false;
      }
      c.advance();
    }
    return read_only ? StatementClass::kBeginReadOnly : StatementClass::kBegin;
  }

  Verdict postgres_explain(Cursor& c, const Facts& f) {
    c.advance();
    bool analyze = false;
    const Token after = c.peek();
    const bool parenthesized_query = after.is_word("select") || after.is_word("values") || after.is_word("table") ||
                                     after.is_word("with") || after.is_op("(");
    if (!parenthesized_query && c.accept_op("(")) {
      while (!c.done() && !c.cur().is_op(")")) {
        const bool is_analyze = c.cur().is_word("analyze") || c.cur().is_word("analyse");
        c.advance();
        bool value = true;
        if (!c.cur().is_op(",") && !c.cur().is_op(")")) {
          const Token& v = c.cur();
          value = !(v.is_word("false") || v.is_word("off") || v.is_word("no") || v.text == "0" || v.text == "'false'" ||
                    v.text == "'off'");
          c.advance();
        }
        if (is_analyze) analyze = value;
        c.accept_op(",");
      }
      c.accept_op(")");
    } else {
      while (c.cur().is_word("analyze") || c.cur().is_word("analyse") || c.cur().is_word("verbose")) {
        if (!c.cur().is_word("verbose")) analyze = true;
        c.advance();
      }
    }
    if (analyze) return {StatementClass::kWrite};
    while (c.cur().is_op("(")) c.advance();
    const Token& inner = c.cur();
    if (inner.is_word("select") || inner.is_word("values") || inner.is_word("table")) {
      return {read_if(plain_read(f))};
    }
    if (inner.is_word("with")) return {read_if(plain_read(f) && !f.dml)};
    return {StatementClass::kWrite};
  }

  Verdict postgres_create(Cursor& c, const Facts& f) {
    c.advance();
    if (c.accept("or")) c.accept("replace");
    if (!c.accept("local")) c.accept("global");
    const bool temp = c.cur().is_word("temp") || c.cur().is_word("temporary");
    if (!temp) return {StatementClass::kWrite, f.pg_temp ? PinReason::kTempTable : PinReason::kNone};
    // ON COMMIT DROP: the object ends with the transaction, so nothing outlives it.
    bool on_commit_drop = false;
    while (!c.done()) {
      if (c.cur().is_word("commit") && c.peek().is_word("drop")) on_commit_drop = true;
      c.advance();
    }
    return {StatementClass::kWrite, on_commit_drop ? PinReason::kNone : PinReason::kTempTable};
  }

  Verdict postgres_set(Cursor& c) {
    c.advance();
    if (c.accept("local")) return {StatementClass::kOther};
    if (c.cur().is_word("session")) {
      const Token next = c.peek();
      if (next.is_word("characteristics")) return {StatementClass::kSessionSet, PinReason::kSessionCharacteristics};
      if (!next.is_word("authorization")) c.advance();  // SET SESSION <rest>: scope keyword
    }
    const Token& t = c.cur();
    if (t.is_word("transaction") || t.is_word("constraints")) return {StatementClass::kOther};
    if (t.is_word("local")) return {StatementClass::kOther};
    if (t.is_word("time") && c.peek().is_word("zone")) {
      c.advance();
      c.advance();
      return set_value(c, "timezone");
    }
    if (t.is_word("names")) {
      c.advance();
      if (c.done()) return push_set("client_encoding", "DEFAULT");
      return set_value(c, "client_encoding");
    }
    if (t.is_word("schema") && c.peek().is(TokenKind::kString)) {
      c.advance();
      return set_value(c, "search_path");
    }
    if (t.is_word("session") && c.peek().is_word("authorization")) {
      c.advance();
      c.advance();
      return set_value(c, "session_authorization");
    }
    if (t.is_word("role") && !c.peek().is_op("=") && !c.peek().is_word("to")) {
      c.advance();
      return set_value(c, "role");
    }
    if (t.is_word("xml") && c.peek().is_word("option")) {
      c.advance();
      c.advance();
      return set_value(c, "xmloption");
    }
    std::string name = read_name(c);
    if (name.empty() || !(c.accept("to") || c.accept_op("="))) return {StatementClass::kSessionSet};  // FROM CURRENT, junk
    return set_value(c, std::move(name));
  }

  Verdict set_value(Cursor& c, std::string name) {
    const std::string_view value = c.rest();
    if (value.empty()) return {StatementClass::kSessionSet};
    return push_set(std::move(name), value);
  }

  Verdict push_set(std::string name, std::string_view value) {
    sets_.push_back({SessionSet::Kind::kSet, std::move(name), std::string(value)});
    return {StatementClass::kSessionSet};
  }

  Verdict postgres_reset(Cursor& c) {
    c.advance();
    std::string name;
    if (c.cur().is_word("all")) {
      sets_.push_back({SessionSet::Kind::kResetAll, {}, {}});
      return {StatementClass::kSessionSet};
    }
    if (c.accept("time")) {
      name = "timezone";
    } else if (c.cur().is_word("session") && c.peek().is_word("authorization")) {
      name = "session_authorization";
    } else if (c.cur().is_word("transaction") && c.peek().is_word("isolation")) {
      name = "transaction_isolation";
    } else {
      name = read_name(c);
    }
    if (name.empty()) return {StatementClass::kSessionSet};
    sets_.push_back({SessionSet::Kind::kReset, std::move(name), {}});
    return {StatementClass::kSessionSet};
  }

  Verdict mysql(Cursor& c, const Facts& f) {
    const Token& t = c.cur();
    const bool safe = plain_read(f) && f.pin == PinReason::kNone;
    if (t.is_word("select") || t.is_word("values") || t.is_word("table")) return {read_if(safe)};
    if (t.is_word("with")) return {read_if(safe && !f.dml)};
    if (t.is_word("show")) return {StatementClass::kRead};
    if (t.is_word("explain") || t.is_word("describe") || t.is_word("desc")) {
      c.advance();
      if (c.cur().is_word("analyze")) return {StatementClass::kWrite};
      return {read_if(safe && !f.dml)};
    }
    if (t.is_word("begin")) return {StatementClass::kBegin};
    if (t.is_word("start")) {
      c.advance();
      if (!c.accept("transaction")) return {StatementClass::kWrite};
      return {transaction_modes(c)};
    }
    if (t.is_word("commit")) return {StatementClass::kCommit};
    if (t.is_word("rollback")) {
      c.advance();
      c.accept("work");
      return {c.cur().is_word("to") ? StatementClass::kOther : StatementClass::kRollback};
    }
    if (t.is_word("savepoint") || t.is_word("release") || t.is_word("unlock") || t.is_word("deallocate")) {
      return {StatementClass::kOther};
    }
    if (t.is_word("prepare")) return {StatementClass::kOther, PinReason::kSqlPrepare};
    if (t.is_word("lock")) {
      c.advance();
      const bool tables = c.cur().is_word("tables") || c.cur().is_word("table");
      return {StatementClass::kWrite, tables ? PinReason::kLockTables : PinReason::kNone};
    }
    if (t.is_word("flush")) {
      while (!c.done()) {
        if (c.cur().is_word("read") && c.peek().is_word("lock")) return {StatementClass::kWrite, PinReason::kLockTables};
        c.advance();
      }
      return {StatementClass::kWrite};
    }
    if (t.is_word("create")) {
      c.advance();
      return {StatementClass::kWrite, c.cur().is_word("temporary") ? PinReason::kTempTable : PinReason::kNone};
    }
    if (t.is_word("use")) {
      c.advance();
      return set_value(c, "database");
    }
    if (t.is_word("set")) return mysql_set(c);
    return {StatementClass::kWrite};
  }

  // SET [GLOBAL|SESSION|LOCAL|PERSIST] a = 1, @@session.b = 2, @v = 3; SET NAMES; SET CHARACTER SET;
  // SET [SESSION] TRANSACTION ...; SET ROLE. Anything global is a write (it changes the node).
  Verdict mysql_set(Cursor& c) {
    c.advance();
    if (c.cur().is_word("transaction")) return {StatementClass::kOther};
    if (c.cur().is_word("session") && c.peek().is_word("transaction")) {
      return {StatementClass::kSessionSet, PinReason::kSessionCharacteristics};
    }
    if (c.cur().is_word("global") || c.cur().is_word("persist") || c.cur().is_word("persist_only") ||
        c.cur().is_word("password") || c.cur().is_word("default")) {
      return {StatementClass::kWrite};
    }
    if (c.cur().is_word("names")) {
      c.advance();
      return set_value(c, "names");
    }
    if ((c.cur().is_word("character") && c.peek().is_word("set")) || c.cur().is_word("charset")) {
      if (c.accept("character")) c.advance();
      else c.advance();
      return set_value(c, "character set");
    }
    if (c.cur().is_word("role")) {
      c.advance();
      return set_value(c, "role");
    }
    Verdict v{StatementClass::kSessionSet};
    while (!c.done()) {
      if (c.accept("session") || c.accept("local")) continue;
      if (c.cur().is_word("global") || c.cur().is_word("persist") || c.cur().is_word("persist_only")) {
        return {StatementClass::kWrite, v.pin};
      }
      std::string name;
      if (c.cur().is(TokenKind::kVariable)) {
        std::string_view var = c.cur().text;
        c.advance();
        if (!var.starts_with("@@")) {
          if (v.pin == PinReason::kNone) v.pin = PinReason::kUserVariable;
          skip_assignment(c);
          continue;
        }
        var.remove_prefix(2);
        const std::string lowered = lowercase(var);
        if (lowered.starts_with("global.") || lowered.starts_with("persist")) return {StatementClass::kWrite, v.pin};
        if (lowered.starts_with("session.")) name = lowered.substr(8);
        else if (lowered.starts_with("local.")) name = lowered.substr(6);
        else name = lowered;
      } else {
        name = read_name(c);
      }
      if (name.empty() || !(c.accept_op("=") || c.accept_op(":="))) return {StatementClass::kSessionSet, v.pin};
      const std::string_view value = c.until_comma();
      sets_.push_back({SessionSet::Kind::kSet, std::move(name), std::string(value)});
      c.accept_op(",");
    }
    return v;
  }

  static void skip_assignment(Cursor& c) {
    if (!c.accept_op("=")) c.accept_op(":=");
    c.until_comma();
    c.accept_op(",");
  }

  Dialect dialect_;
  std::vector<SessionSet>& sets_;
};

}  // namespace

std::vector<std::string> default_volatile_functions(protocol::sql::Dialect d) {
  return d == Dialect::kPostgres ? postgres_volatile() : mysql_volatile();
}

std::optional<StatementClass> plain_statement(std::string_view sql, Dialect dialect) {
  // Characters: 0 not allowed, 1 word character, 2 blank, 3 punctuation that starts nothing, 4 '-'
  // (a comment when doubled), 5 '(' (a call when it follows a word).
  static constexpr auto kClass = [] {
    std::array<std::uint8_t, 256> c{};
    for (int ch = 'a'; ch <= 'z'; ++ch) c[ch] = 1;
    for (int ch = 'A'; ch <= 'Z'; ++ch) c[ch] = 1;
    for (int ch = '0'; ch <= '9'; ++ch) c[ch] = 1;
    c['_'] = 1;
    for (char ch : {' ', '\t', '\n', '\r'}) c[static_cast<unsigned char>(ch)] = 2;
    for (char ch : {',', '.', '=', '<', '>', '*', '+'}) c[static_cast<unsigned char>(ch)] = 3;
    c['-'] = 4;
    c['('] = 5;
    c[')'] = 3;
    return c;
  }();
  // (Runs for every simple Query in transaction pooling: pointers, no substr() bounds checks.)
  const auto* p = reinterpret_cast<const unsigned char*>(sql.data());
  const auto* const end = p + sql.size();
  // Both take and return the cursor (rather than capture p by reference, which would keep it in memory).
  auto skip_blanks = [end](const unsigned char* q) {
    while (q < end && kClass[*q] == 2) ++q;
    return q;
  };
  auto skip_word = [end](const unsigned char* q) {
    // Four at a time while four remain: one bounds check per four characters.
    while (end - q >= 4) {
      if (kClass[q[0]] != 1) return q;
      if (kClass[q[1]] != 1) return q + 1;
      if (kClass[q[2]] != 1) return q + 2;
      if (kClass[q[3]] != 1) return q + 3;
      q += 4;
    }
    while (q < end && kClass[*q] == 1) ++q;
    return q;
  };
  auto text = [](const unsigned char* from, const unsigned char* to) {
    return std::string_view(reinterpret_cast<const char*>(from), static_cast<std::size_t>(to - from));
  };
  // The first word decides the class.
  const auto* const first = skip_blanks(p);
  p = skip_word(first);
  const std::string_view verb = text(first, p);
  StatementClass cls;
  if (iequals(verb, "select")) {
    cls = StatementClass::kRead;
  } else if (iequals(verb, "update") || iequals(verb, "delete")) {
    cls = StatementClass::kWrite;
  } else if (iequals(verb, "insert")) {
    // INSERT INTO: the INTO is part of it (elsewhere a keyword the fact scanner looks at).
    cls = StatementClass::kWrite;
    const auto* const into = skip_blanks(p);
    p = skip_word(into);
    if (!iequals(text(into, p), "into")) return std::nullopt;
  } else {
    // A transaction's bare BEGIN / COMMIT / END / ROLLBACK, with at most a final ';'.
    if (iequals(verb, "begin")) cls = StatementClass::kBegin;
    else if (iequals(verb, "commit") || (dialect == Dialect::kPostgres && iequals(verb, "end"))) cls = StatementClass::kCommit;
    else if (iequals(verb, "rollback")) cls = StatementClass::kRollback;
    else return std::nullopt;
    p = skip_blanks(p);
    if (p == end) return cls;
    if (*p != ';') return std::nullopt;
    return skip_blanks(p + 1) == end ? std::optional(cls) : std::nullopt;
  }
  if (p == end || kClass[*p] != 2) return std::nullopt;  // "SELECT" alone, "SELECTED", "select*"
  std::string_view word;  // the last token when it was a word (blanks in between): a '(' calls it
  while (p < end) {
    const unsigned char ch = *p;
    const std::uint8_t k = kClass[ch];
    if (k == 1) {
      word = {};
      if (ch <= '9') {
        // A number. Letters after its digits other than an exponent ("1for", "0x1F"): a lexer may
        // split them off as a word, so the full walk decides.
        ++p;
        while (p < end && kClass[*p] == 1) {
          if (*p > '9' && (*p | 0x20) != 'e') return std::nullopt;
          ++p;
        }
        continue;
      }
      const auto* const begin = p;
      p = skip_word(p + 1);
      // A word the fact scanner looks at (FOR, INTO, LOCK, TEMP, PG_TEMP, ...): the full walk.
      word = text(begin, p);
      if (may_be_keyword(word) && keyword(word) != Kw::kOther) return std::nullopt;
      continue;
    }
    if (k == 2) {
      ++p;
      continue;
    }
    if (k == 5 && !word.empty()) {
      // A call. In a read it may be of a volatile function (the list is configurable): the full
      // walk. In a write only the session-level lock functions matter (they pin): anything named
      // pg_... or get_lock goes the full walk.
      if (cls == StatementClass::kRead) return std::nullopt;
      if ((word.size() >= 3 && iequals(word.substr(0, 3), "pg_")) || iequals(word, "get_lock")) return std::nullopt;
    }
    word = {};
    if (k == 0) {
      if (ch != ';') return std::nullopt;
      // A final semicolon only (no second statement).
      return skip_blanks(p + 1) == end ? std::optional(cls) : std::nullopt;
    }
    if (k == 4 && p + 1 < end && p[1] == '-') return std::nullopt;  // "--": a comment
    ++p;
  }
  return cls;
}

Classification classify(std::string_view sql, const ClassifierOptions& options) {
  Classification out;
  if (options.fast_paths) {
    if (const std::optional<StatementClass> cls = plain_statement(sql, options.dialect)) {
      out.cls = *cls;
      out.read_only = *cls == StatementClass::kRead;
      out.statements = 1;
      return out;
    }
  }
  const Dialect dialect = options.dialect;
  const std::vector<std::string>& volatile_functions =
      !options.volatile_functions.empty() ? options.volatile_functions
      : dialect == Dialect::kPostgres     ? postgres_volatile()
                                          : mysql_volatile();
  FactScanner scanner(dialect, volatile_functions);
  StatementClassifier statement(dialect, out.sets);

  bool all_read = true;
  bool hint_primary = false;
  bool hint_replica = false;
  auto finish = [&](std::string_view text, bool failed) {
    ++out.statements;
    Verdict v{StatementClass::kWrite};
    if (!failed) v = statement.classify(text, scanner.facts());
    const PinReason fact_pin = scanner.facts().pin;
    if (v.pin == PinReason::kNone) v.pin = fact_pin;
    if (fact_pin != PinReason::kNone && v.cls == StatementClass::kRead) v.cls = StatementClass::kWrite;
    if (out.statements == 1) out.cls = v.cls;
    if (out.pin == PinReason::kNone) out.pin = v.pin;
    all_read = all_read && v.cls == StatementClass::kRead;
  };

  Lexer lex(sql, dialect);
  std::size_t start = 0;
  bool significant = false;
  int depth = 0;
  int atomic = 0;  // inside CREATE FUNCTION ... BEGIN ATOMIC ... END, where ';' does not end the statement
  bool is_create = false;
  Token prev;
  for (;;) {
    const Token t = lex.next();
    if (t.kind == TokenKind::kComment) {
      const auto h = protocol::sql::comment_hint(t.text);
      hint_primary = hint_primary || h == protocol::sql::Hint::kPrimary;
      hint_replica = hint_replica || h == protocol::sql::Hint::kReplica;
      continue;
    }
    if (t.kind == TokenKind::kError) {
      finish(sql.substr(start), true);
      break;
    }
    const bool end = t.kind == TokenKind::kEnd;
    if (end || (t.kind == TokenKind::kSemicolon && depth == 0 && atomic == 0)) {
      if (significant) finish(sql.substr(start, t.offset - start), false);
      if (end) break;
      start = t.offset + 1;
      significant = false;
      depth = 0;
      is_create = false;
      prev = {};
      scanner.reset();
      continue;
    }
    if (!significant) is_create = t.is_word("create");
    significant = true;
    if (t.is_op("(")) ++depth;
    if (t.is_op(")") && depth > 0) --depth;
    if (is_create && t.kind == TokenKind::kWord) {
      if (t.is_word("atomic") && prev.is_word("begin")) ++atomic;
      else if (atomic > 0 && t.is_word("case")) ++atomic;
      else if (atomic > 0 && t.is_word("end")) --atomic;
    }
    scanner.feed(t);
    prev = t;
  }

  if (out.statements == 0) {
    out.cls = StatementClass::kEmpty;
    out.read_only = true;
  } else if (out.statements == 1) {
    out.read_only = all_read || out.cls == StatementClass::kBeginReadOnly;
  } else {
    out.read_only = all_read;
    out.cls = all_read ? StatementClass::kRead : StatementClass::kWrite;
  }
  if (hint_primary) out.hint = Target::kPrimary;
  else if (hint_replica) out.hint = Target::kReplica;
  return out;
}

std::string replay_sql(const SessionSet& set, protocol::sql::Dialect dialect) {
  if (dialect == Dialect::kMysql) {
    if (set.kind != SessionSet::Kind::kSet) return {};
    if (set.name == "names") return "SET NAMES " + set.value;
    if (set.name == "character set") return "SET CHARACTER SET " + set.value;
    if (set.name == "role") return "SET ROLE " + set.value;
    if (set.name == "database") return "USE " + set.value;
    return "SET SESSION " + set.name + " = " + set.value;
  }
  switch (set.kind) {
    case SessionSet::Kind::kResetAll: return "RESET ALL";
    case SessionSet::Kind::kReset:
      if (set.name == "session_authorization") return "RESET SESSION AUTHORIZATION";
      return "RESET " + set.name;
    case SessionSet::Kind::kSet: break;
  }
  if (set.name == "timezone") return "SET TIME ZONE " + set.value;
  if (set.name == "role") return "SET ROLE " + set.value;
  if (set.name == "session_authorization") return "SET SESSION AUTHORIZATION " + set.value;
  if (set.name == "xmloption") return "SET XML OPTION " + set.value;
  // Names came from bare words (lowercased) or quoted identifiers; quote any part that needs it.
  std::string name;
  std::size_t part_start = 0;
  for (std::size_t i = 0; i <= set.name.size(); ++i) {
    if (i < set.name.size() && set.name[i] != '.') continue;
    const std::string_view part = std::string_view(set.name).substr(part_start, i - part_start);
    bool plain = !part.empty() && !(part[0] >= '0' && part[0] <= '9');
    for (char ch : part) plain = plain && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
    if (!name.empty()) name += '.';
    if (plain) {
      name += part;
    } else {
      name += '"';
      for (char ch : part) {
        name += ch;
        if (ch == '"') name += '"';
      }
      name += '"';
    }
    part_start = i + 1;
  }
  return "SET " + name + " TO " + set.value;
}

}  // namespace baton::routing
