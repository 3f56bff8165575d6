// Statement classification: is this SQL string safe on a replica, does it end a transaction, pin, SET?
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/sql/lexer.hpp"
#include "routing/statement.hpp"

namespace baton::routing {

struct ClassifierOptions {
  protocol::sql::Dialect dialect = protocol::sql::Dialect::kPostgres;
  // Lowercased function names whose call sends a statement to the primary. An entry ending in '*'
  // matches every name with that prefix ("pg_advisory_lock*"). Empty: default_volatile_functions(dialect).
  std::vector<std::string> volatile_functions;
  // Take plain_statement()'s shortcut (off only in tests that compare it with the full walk).
  bool fast_paths = true;
};

std::vector<std::string> default_volatile_functions(protocol::sql::Dialect d);

struct Classification {
  StatementClass cls = StatementClass::kWrite;
  bool read_only = false;            // safe to send to a replica (when outside a transaction)
  std::optional<Target> hint;        // from /* baton:primary */ or /* baton:replica */
  PinReason pin = PinReason::kNone;  // first pin reason found
  std::vector<SessionSet> sets;      // session SET/RESET to replay, in order
  int statements = 0;                // number of statements in the string
};

// Classifies a simple Query string or a Parse statement. Never throws; when unsure, the answer is
// kWrite / read_only = false (primary). Rules worth knowing:
//  - A string of several statements is read_only only if every statement is a read; its cls is
//    kRead then, and kWrite otherwise: "BEGIN; SELECT 1; COMMIT" is kWrite (sent whole to the
//    primary; the proxy learns from ReadyForQuery whether a transaction is left open).
//  - read_only is true for kRead, for a single BEGIN/START TRANSACTION ... READ ONLY, and for kEmpty
//    (only comments/whitespace, statements = 0); a statement that pins is never read_only.
//  - Volatile-function entries match the called name whatever its schema (pg_catalog.nextval);
//    bare names compare case-insensitively, quoted ones exactly ("NEXTVAL"(...) is not nextval).
//  - Unterminated quote or comment: kWrite, read_only = false (hints and pins seen before it stay).
//  - EXPLAIN (ANALYZE false|off|0) is not ANALYZE: it is a read when the explained statement is.
//  - COPY is always kWrite: COPY FROM writes, COPY TO 'file'/PROGRAM acts on that node's host, and
//    COPY (query) TO STDOUT would need the query's own classification; exports stay on the primary.
//  - SET LOCAL, SET TRANSACTION, SET CONSTRAINTS: kOther with no sets (they end with the
//    transaction). SET x FROM CURRENT and SET forms we cannot parse: kSessionSet with no sets.
//  - SET SESSION CHARACTERISTICS: kSessionSet, pin kSessionCharacteristics, no sets.
//  - DISCARD ALL: kSessionSet with one kResetAll set. Other DISCARDs: kOther.
//  - SQL PREPARE: kOther with pin kSqlPrepare; EXECUTE: kWrite (we cannot see the prepared text).
//  - CREATE TEMP ... ON COMMIT DROP does not pin (the table ends with the transaction); any other
//    temporary object (TEMP/TEMPORARY table, view, sequence, SELECT INTO TEMP, pg_temp.x) pins.
//  - DECLARE ... CURSOR: kOther; WITH HOLD pins.
Classification classify(std::string_view sql, const ClassifierOptions& options);

// The shapes most statements have, which classify() answers without tokens: a first word SELECT
// (a read), UPDATE, DELETE or INSERT INTO (a write), then only words none of the classifier's
// keywords (FOR, INTO, LOCK, TEMP, PG_TEMP, INSERT, ...), numbers, blanks, parentheses and
// , . = < > * + - (not "--"), at most one final ';'; a call (a word, then '(') only in a write and
// not of a function named pg_... or get_lock (the session-level locks pin); or a bare BEGIN,
// COMMIT, ROLLBACK (and END in PostgreSQL) with at most a final ';'. No quote, comment, variable,
// parameter or second statement: the full walk finds no fact in such a text that changes its
// answer, and answers this class, one statement, read_only only for a read, no pin, hint or set.
// Anything else: nullopt, the full walk decides.
std::optional<StatementClass> plain_statement(std::string_view sql, protocol::sql::Dialect dialect);

// The statement that replays `set` on another server connection, e.g. "SET search_path TO public"
// or "SET TIME ZONE 'UTC'". Empty when the dialect has no such statement.
std::string replay_sql(const SessionSet& set, protocol::sql::Dialect dialect);

}  // namespace baton::routing
