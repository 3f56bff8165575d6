// Tests for the classifier's shortcuts: leaves_session_alone() answers yes only where the full
// classification finds no pin and no SET, and answers it for the statements applications send most.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "routing/classifier.hpp"
#include "routing/shortcuts.hpp"
#include "tests/unit/classifier_testing.hpp"

using baton::protocol::sql::Dialect;
using baton::routing::Classification;
using baton::routing::ClassifierOptions;
using baton::routing::classify;
using baton::routing::leaves_session_alone;
using baton::routing::PinReason;

namespace {

// What the full walk (no shortcut) finds: pin and SETs, in `dialect`.
bool full_walk_leaves_alone(const std::string& sql, Dialect dialect) {
  ClassifierOptions full;
  full.dialect = dialect;
  full.fast_paths = false;
  const Classification c = classify(sql, full);
  return c.pin == PinReason::kNone && c.sets.empty();
}

}  // namespace

TEST_CASE("shortcuts: pgbench's statements and their like leave the session alone", "[classifier]") {
  for (const char* sql : {
           "BEGIN;", "END;", "COMMIT", "rollback ;\n", "begin isolation level repeatable read",
           "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
           "UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 815;",
           "UPDATE pgbench_tellers SET tbalance = tbalance + 12 WHERE tid = 3;",
           "UPDATE pgbench_branches SET bbalance = bbalance + 12 WHERE bid = 1;",
           "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 5, -2345, CURRENT_TIMESTAMP);",
           "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
           "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
           "  select a, count(*) from t group by a having count(*) > 1 order by 2 desc",
           "WITH x AS (SELECT 1) SELECT * FROM x", "VALUES (1), (2)", "DELETE FROM t WHERE a - 1 > 0",
           "SELECT * FROM t FOR UPDATE", "SELECT a INTO b FROM t", "SELECT nextval(1)", "SELECT a / 2 FROM t",
       }) {
    INFO("sql: " << sql);
    CHECK(leaves_session_alone(sql));
    CHECK(full_walk_leaves_alone(sql, Dialect::kPostgres));
  }
}

TEST_CASE("shortcuts: what may pin or set goes to the classifier", "[classifier]") {
  // Statements that pin or set, and every other reason the header gives for asking the classifier.
  for (const char* sql : {
           "SET search_path TO app", "set x = 1", "RESET ALL", "DISCARD ALL", "PREPARE p AS SELECT 1", "LISTEN c",
           "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "CREATE TEMP TABLE t (a int)", "LOCK TABLES t WRITE",
           "FLUSH TABLES WITH READ LOCK", "USE db", "SELECT * INTO TEMP t FROM u", "SELECT * INTO temporary t FROM u",
           "SELECT * INTO LOCAL t FROM u", "SELECT * INTO GLOBAL t FROM u", "SELECT pg_advisory_lock(1)",
           "SELECT PG_TRY_ADVISORY_LOCK_SHARED(1)", "UPDATE t SET a = get_lock('x', 1)", "SELECT 1 INTO @v",
           "SELECT @v := 1", "UPDATE pg_temp.t SET a = 1", "SELECT 1; SET x = 1", "SELECT 1;;",
           "SELECT 1 /* baton:primary */", "SELECT 1 -- c", "SELECT 1 # c", "SELECT 'a'", "SELECT \"a\"",
           "SELECT `a`", "SELECT E'\\x'", "SELECT $$a$$", "SELECT $q$a$q$", "SELECT a$b FROM t",
           "(SELECT 1)", "SELECTED", "select1", "", "   ", "EXECUTE p", "SHOW x",
           "SELECT template FROM t",  // a needle inside a word: the classifier decides (and finds nothing)
       }) {
    INFO("sql: " << sql);
    CHECK_FALSE(leaves_session_alone(sql));
  }
}

TEST_CASE("shortcuts: what matters is seen wherever it falls among the 16-byte blocks", "[classifier]") {
  // Each needle at every offset from the verb, so that it straddles a block boundary somewhere.
  for (const char* needle : {" temp", " TEMPORARY", " pg_temp.t", " pg_advisory_lock(1)", " into local",
                             " into global", " get_lock(1)", " 'x'", " \"x\"", " `x`", " @v", " # c", " -- c",
                             " /* c */", " $$x$$", "; SELECT 1", ";;"}) {
    for (int pad = 0; pad < 40; ++pad) {
      const std::string sql = "SELECT " + std::string(static_cast<std::size_t>(pad), 'a') + needle;
      INFO("sql: " << sql);
      CHECK_FALSE(leaves_session_alone(sql));
      CHECK_FALSE(leaves_session_alone(sql + " FROM t"));
    }
  }
  for (int pad = 0; pad < 40; ++pad) {
    const std::string sql = "UPDATE t SET a = " + std::string(static_cast<std::size_t>(pad), '1') + " WHERE b = $1;";
    INFO("sql: " << sql);
    CHECK(leaves_session_alone(sql));
    CHECK(leaves_session_alone(sql + " \n"));
    CHECK_FALSE(leaves_session_alone(sql + " x"));
  }
}

TEST_CASE("shortcuts: over both statement tables, yes only where the full walk finds no pin and no SET",
          "[classifier]") {
  int alone = 0;
  int asked = 0;
  for (const auto* rows : {&classifier_testing::kPostgresRows, &classifier_testing::kMysqlRows}) {
    const Dialect dialect = rows == &classifier_testing::kPostgresRows ? Dialect::kPostgres : Dialect::kMysql;
    for (const classifier_testing::Row& row : *rows) {
      INFO("sql: " << row.sql);
      if (leaves_session_alone(row.sql)) {
        ++alone;
        CHECK(row.pin == PinReason::kNone);
        CHECK(full_walk_leaves_alone(row.sql, dialect));
        CHECK(full_walk_leaves_alone(row.sql, Dialect::kPostgres));
        CHECK(full_walk_leaves_alone(row.sql, Dialect::kMysql));
      } else {
        ++asked;
      }
    }
  }
  CHECK(alone >= 50);  // the tables exercise both answers
  CHECK(asked >= 50);
}

TEST_CASE("shortcuts: random texts, yes only where the full walk finds no pin and no SET", "[classifier]") {
  // Pieces put together at random: mostly plain words, numbers and signs, now and then a word or
  // sign that pins, sets, quotes, comments or starts another statement.
  static const classifier_testing::RandomStatements kTexts{
      .heads = {"SELECT ", "select\t", "UPDATE t SET a = ", "DELETE FROM t WHERE ", "INSERT INTO t VALUES ", "WITH x AS ",
                "BEGIN ", "END ", "SET ", "CREATE ", "  VALUES\n", "COMMIT", "DECLARE c CURSOR ", "LISTEN "},
      .rare = {"temp", "TEMPORARY", "pg_temp", "pg_temp.t", "into", "INTO", "local", "global", "lock", "LOCK", "tables",
               "pg_advisory_lock", "pg_try_advisory_lock", "get_lock", "GET_LOCK", "hold", "with", "for", "update",
               "set", "SET", "reset", "discard", "all", "prepare", "listen", "use", "(", ")", "--", "/*", "*/", ";",
               "'", "\"", "`", "@v", "@@x", ":=", "#", "$1", "$$", "$q$", "\\", "\x01", "\xc3\xa9", "\v",
               "search_path", "TO", "=", "session", "characteristics", "on", "commit", "drop", "create"},
      .common = {"abalance", "pgbench_accounts", "a", "x1", "1", "42", "1.5e3", "=", ",", ".", "+", "-", "*", "<", ")",
                 "(", "f", "from"},
      .blanks = {" ", " ", " ", "", "\t", "\n", "\r\n"},
      .rare_one_in = 31,
  };
  std::mt19937 rng(20261129);
  int alone = 0;
  int asked = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string sql = classifier_testing::random_statement(rng, kTexts, i % 10 == 0 ? 100 : 20);
    if (!leaves_session_alone(sql)) {
      ++asked;
      continue;
    }
    ++alone;
    INFO("sql: " << sql);
    REQUIRE(full_walk_leaves_alone(sql, Dialect::kPostgres));
    REQUIRE(full_walk_leaves_alone(sql, Dialect::kMysql));
  }
  CHECK(alone > 2000);
  CHECK(asked > 2000);
}
