// The vocabulary of statement routing: targets, statement classes, pin reasons, session SETs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace baton::routing {

enum class Target { kPrimary, kReplica };

enum class StatementClass {
  kRead,           // SELECT/VALUES/TABLE/SHOW/EXPLAIN without ANALYZE ... safe on a replica
  kWrite,          // anything that must go to the primary (DML, DDL, unknown)
  kBegin,          // BEGIN / START TRANSACTION
  kBeginReadOnly,  // BEGIN READ ONLY / START TRANSACTION READ ONLY
  kCommit,         // COMMIT / END / COMMIT AND CHAIN...
  kRollback,       // ROLLBACK / ABORT (not ROLLBACK TO SAVEPOINT, which is kOther)
  kSessionSet,     // SET / RESET / SET SESSION ... (session state)
  kOther,          // SAVEPOINT, RELEASE, ROLLBACK TO, DISCARD, DEALLOCATE, ... (primary, no pin)
  kEmpty,          // only comments/whitespace
};

// Why a client session must keep its server connection beyond the transaction.
enum class PinReason : std::uint8_t {
  kNone,
  kListen,
  kAdvisoryLock,
  kTempTable,
  kWithHoldCursor,
  kSqlPrepare,
  kSessionCharacteristics,
  kLockTables,    // MySQL LOCK TABLES, FLUSH TABLES WITH READ LOCK
  kUserVariable,  // MySQL SET @v, @v :=, SELECT ... INTO @v
  kGetLock,       // MySQL GET_LOCK()
};

inline std::string_view to_string(Target t) {
  switch (t) {
    case Target::kPrimary: return "primary";
    case Target::kReplica: return "replica";
  }
  return "?";
}

inline std::string_view to_string(StatementClass c) {
  switch (c) {
    case StatementClass::kRead: return "read";
    case StatementClass::kWrite: return "write";
    case StatementClass::kBegin: return "begin";
    case StatementClass::kBeginReadOnly: return "begin_read_only";
    case StatementClass::kCommit: return "commit";
    case StatementClass::kRollback: return "rollback";
    case StatementClass::kSessionSet: return "session_set";
    case StatementClass::kOther: return "other";
    case StatementClass::kEmpty: return "empty";
  }
  return "?";
}

inline std::string_view to_string(PinReason p) {
  switch (p) {
    case PinReason::kNone: return "none";
    case PinReason::kListen: return "listen";
    case PinReason::kAdvisoryLock: return "advisory_lock";
    case PinReason::kTempTable: return "temp_table";
    case PinReason::kWithHoldCursor: return "with_hold_cursor";
    case PinReason::kSqlPrepare: return "sql_prepare";
    case PinReason::kSessionCharacteristics: return "session_characteristics";
    case PinReason::kLockTables: return "lock_tables";
    case PinReason::kUserVariable: return "user_variable";
    case PinReason::kGetLock: return "get_lock";
  }
  return "?";
}

// A session-level SET/RESET the proxy must replay on other server connections (transaction pooling).
// Special names: "timezone" (SET TIME ZONE), "client_encoding" (SET NAMES), "search_path"
// (SET SCHEMA), "role" (SET ROLE), "session_authorization" (SET SESSION AUTHORIZATION),
// "xmloption" (SET XML OPTION); MySQL: "names" (SET NAMES x [COLLATE y]), "character set",
// "database" (USE db). routing::replay_sql() turns one back into a statement.
struct SessionSet {
  enum class Kind { kSet, kReset, kResetAll } kind = Kind::kSet;
  std::string name;   // lowercased parameter name, e.g. "search_path", "timezone", "application_name"
  std::string value;  // the value exactly as written after TO/=, e.g. "'UTC'", "public, app", "DEFAULT" (kSet only)

  friend bool operator==(const SessionSet&, const SessionSet&) = default;
};

}  // namespace baton::routing
