// Tests for the statement classifier: tables of statements with their expected class, replica
// safety, pin and hint; then the exact SessionSet values for every SET/RESET form.
#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "routing/classifier.hpp"
#include "tests/unit/classifier_testing.hpp"

using baton::protocol::sql::Dialect;
using baton::routing::Classification;
using baton::routing::ClassifierOptions;
using baton::routing::classify;
using baton::routing::PinReason;
using baton::routing::SessionSet;
using baton::routing::StatementClass;
using baton::routing::Target;
using namespace classifier_testing;

namespace {

std::optional<Target> to_target(H h) {
  if (h == H::kPrimary) return Target::kPrimary;
  if (h == H::kReplica) return Target::kReplica;
  return std::nullopt;
}

void check_rows(const std::vector<Row>& rows, Dialect dialect) {
  ClassifierOptions options;
  options.dialect = dialect;
  for (const Row& row : rows) {
    const Classification c = classify(row.sql, options);
    INFO("sql: " << row.sql);
    CHECK(to_string(c.cls) == to_string(row.cls));
    CHECK(c.read_only == row.read_only);
    CHECK(to_string(c.pin) == to_string(row.pin));
    CHECK(c.hint == to_target(row.hint));
  }
}

}  // namespace

TEST_CASE("classifier: PostgreSQL statement table", "[classifier]") {
  REQUIRE(kPostgresRows.size() >= 220);
  check_rows(kPostgresRows, Dialect::kPostgres);
}

TEST_CASE("classifier: MySQL basics table", "[classifier]") {
  check_rows(kMysqlRows, Dialect::kMysql);
}

TEST_CASE("classifier: statement counts", "[classifier]") {
  const ClassifierOptions pg;
  CHECK(classify("", pg).statements == 0);
  CHECK(classify(";;", pg).statements == 0);
  CHECK(classify("SELECT 1", pg).statements == 1);
  CHECK(classify("SELECT 1;", pg).statements == 1);
  CHECK(classify("SELECT 1; SELECT 2", pg).statements == 2);
  CHECK(classify("SELECT 1;; ;SELECT 2; -- end", pg).statements == 2);
  CHECK(classify("BEGIN; SELECT 1; COMMIT;", pg).statements == 3);
  CHECK(classify("SELECT ';'; SELECT $$;$$", pg).statements == 2);
  CHECK(classify("CREATE RULE r AS ON INSERT TO t DO (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2))", pg)
            .statements == 1);
  CHECK(classify("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3", pg)
            .statements == 2);
  CHECK(classify("SELECT 1; SELECT 'oops", pg).statements == 2);
}

TEST_CASE("classifier: multi-statement class is the first for one statement, else read or write", "[classifier]") {
  const ClassifierOptions pg;
  CHECK(classify("BEGIN", pg).cls == StatementClass::kBegin);
  CHECK(classify("BEGIN;", pg).cls == StatementClass::kBegin);
  // Chosen: several statements that are not all reads are kWrite, read_only = false (primary).
  CHECK(classify("BEGIN; SELECT 1; COMMIT", pg).cls == StatementClass::kWrite);
  CHECK(classify("BEGIN READ ONLY; SELECT 1; COMMIT", pg).read_only == false);
  CHECK(classify("SELECT 1; SELECT 2", pg).cls == StatementClass::kRead);
  const Classification c = classify("SET search_path TO a; SELECT 1; SET TIME ZONE 'UTC'; RESET ALL", pg);
  CHECK(c.cls == StatementClass::kWrite);
  REQUIRE(c.sets.size() == 3);
  CHECK(c.sets[0] == SessionSet{SessionSet::Kind::kSet, "search_path", "a"});
  CHECK(c.sets[1] == SessionSet{SessionSet::Kind::kSet, "timezone", "'UTC'"});
  CHECK(c.sets[2] == SessionSet{SessionSet::Kind::kResetAll, "", ""});
  CHECK(classify("LISTEN a; SELECT pg_advisory_lock(1)", pg).pin == PinReason::kListen);
}

TEST_CASE("classifier: SET and RESET forms give exact SessionSet values", "[classifier]") {
  using K = SessionSet::Kind;
  struct SetRow {
    const char* sql;
    StatementClass cls;
    std::vector<SessionSet> sets;
  };
  const std::vector<SetRow> rows = {
      {"SET search_path TO app", S, {{K::kSet, "search_path", "app"}}},
      {"SET search_path = app, public", S, {{K::kSet, "search_path", "app, public"}}},
      {"SET search_path TO \"$user\", public", S, {{K::kSet, "search_path", "\"$user\", public"}}},
      {"set SEARCH_PATH to 'App'", S, {{K::kSet, "search_path", "'App'"}}},
      {"SET SESSION search_path TO app", S, {{K::kSet, "search_path", "app"}}},
      {"SET search_path TO DEFAULT", S, {{K::kSet, "search_path", "DEFAULT"}}},
      {"SET search_path TO app ;", S, {{K::kSet, "search_path", "app"}}},
      {"SET search_path TO app -- trailing comment", S, {{K::kSet, "search_path", "app"}}},
      {"SET application_name = 'my app'", S, {{K::kSet, "application_name", "'my app'"}}},
      {"SET statement_timeout = 5000", S, {{K::kSet, "statement_timeout", "5000"}}},
      {"SET statement_timeout TO '5s'", S, {{K::kSet, "statement_timeout", "'5s'"}}},
      {"SET extra_float_digits=-1", S, {{K::kSet, "extra_float_digits", "-1"}}},
      {"SET myapp.user_id = '42'", S, {{K::kSet, "myapp.user_id", "'42'"}}},
      {"SET \"MyApp\".x = 1", S, {{K::kSet, "MyApp.x", "1"}}},
      {"SET TimeZone = 'Europe/Paris'", S, {{K::kSet, "timezone", "'Europe/Paris'"}}},
      {"SET TIME ZONE 'UTC'", S, {{K::kSet, "timezone", "'UTC'"}}},
      {"SET SESSION TIME ZONE 'UTC'", S, {{K::kSet, "timezone", "'UTC'"}}},
      {"SET TIME ZONE LOCAL", S, {{K::kSet, "timezone", "LOCAL"}}},
      {"SET TIME ZONE DEFAULT", S, {{K::kSet, "timezone", "DEFAULT"}}},
      {"SET TIME ZONE -7", S, {{K::kSet, "timezone", "-7"}}},
      {"SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE", S, {{K::kSet, "timezone", "INTERVAL '-08:00' HOUR TO MINUTE"}}},
      {"SET NAMES 'UTF8'", S, {{K::kSet, "client_encoding", "'UTF8'"}}},
      {"SET NAMES DEFAULT", S, {{K::kSet, "client_encoding", "DEFAULT"}}},
      {"SET NAMES", S, {{K::kSet, "client_encoding", "DEFAULT"}}},
      {"SET client_encoding TO 'LATIN1'", S, {{K::kSet, "client_encoding", "'LATIN1'"}}},
      {"SET SCHEMA 'app'", S, {{K::kSet, "search_path", "'app'"}}},
      {"SET ROLE admin", S, {{K::kSet, "role", "admin"}}},
      {"SET ROLE 'admin'", S, {{K::kSet, "role", "'admin'"}}},
      {"SET ROLE NONE", S, {{K::kSet, "role", "NONE"}}},
      {"SET role TO admin", S, {{K::kSet, "role", "admin"}}},
      {"SET SESSION ROLE admin", S, {{K::kSet, "role", "admin"}}},
      {"SET SESSION AUTHORIZATION bob", S, {{K::kSet, "session_authorization", "bob"}}},
      {"SET SESSION AUTHORIZATION DEFAULT", S, {{K::kSet, "session_authorization", "DEFAULT"}}},
      {"SET SESSION SESSION AUTHORIZATION 'bob'", S, {{K::kSet, "session_authorization", "'bob'"}}},
      {"SET XML OPTION DOCUMENT", S, {{K::kSet, "xmloption", "DOCUMENT"}}},
      {"SET /* c */ work_mem /* c */ = /* c */ '64MB'", S, {{K::kSet, "work_mem", "'64MB'"}}},
      {"RESET search_path", S, {{K::kReset, "search_path", ""}}},
      {"reset TimeZone", S, {{K::kReset, "timezone", ""}}},
      {"RESET TIME ZONE", S, {{K::kReset, "timezone", ""}}},
      {"RESET ROLE", S, {{K::kReset, "role", ""}}},
      {"RESET SESSION AUTHORIZATION", S, {{K::kReset, "session_authorization", ""}}},
      {"RESET TRANSACTION ISOLATION LEVEL", S, {{K::kReset, "transaction_isolation", ""}}},
      {"RESET myapp.user_id", S, {{K::kReset, "myapp.user_id", ""}}},
      {"RESET ALL", S, {{K::kResetAll, "", ""}}},
      {"DISCARD ALL", S, {{K::kResetAll, "", ""}}},
      {"SET x FROM CURRENT", S, {}},
      {"SET LOCAL search_path TO app", O, {}},
      {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", O, {}},
      {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", S, {}},
      {"SET CONSTRAINTS ALL IMMEDIATE", O, {}},
      {"SET search_path TO", S, {}},
      {"SET a = 1; SET b TO 2", W, {{K::kSet, "a", "1"}, {K::kSet, "b", "2"}}},
  };
  for (const SetRow& row : rows) {
    INFO("sql: " << row.sql);
    const Classification c = classify(row.sql, ClassifierOptions{});
    CHECK(to_string(c.cls) == to_string(row.cls));
    CHECK(c.sets == row.sets);
    CHECK_FALSE(c.read_only);
  }
}

TEST_CASE("classifier: MySQL SET forms give exact SessionSet values", "[classifier]") {
  using K = SessionSet::Kind;
  ClassifierOptions my;
  my.dialect = Dialect::kMysql;
  struct SetRow {
    const char* sql;
    PinReason pin;
    std::vector<SessionSet> sets;
  };
  const std::vector<SetRow> rows = {
      {"SET autocommit = 0", N, {{K::kSet, "autocommit", "0"}}},
      {"SET SESSION sql_mode = 'ANSI'", N, {{K::kSet, "sql_mode", "'ANSI'"}}},
      {"SET @@session.wait_timeout = 10", N, {{K::kSet, "wait_timeout", "10"}}},
      {"SET @@wait_timeout := 10", N, {{K::kSet, "wait_timeout", "10"}}},
      {"SET LOCAL net_read_timeout = 5", N, {{K::kSet, "net_read_timeout", "5"}}},
      {"SET a = 1, SESSION b = CONCAT('x', 'y'), @@c = 3",
       N,
       {{K::kSet, "a", "1"}, {K::kSet, "b", "CONCAT('x', 'y')"}, {K::kSet, "c", "3"}}},
      {"SET @u = 1, sql_mode = ''", UV, {{K::kSet, "sql_mode", "''"}}},
      {"SET NAMES utf8mb4 COLLATE utf8mb4_bin", N, {{K::kSet, "names", "utf8mb4 COLLATE utf8mb4_bin"}}},
      {"SET CHARACTER SET utf8mb4", N, {{K::kSet, "character set", "utf8mb4"}}},
      {"SET CHARSET latin1", N, {{K::kSet, "character set", "latin1"}}},
      {"USE `shop`", N, {{K::kSet, "database", "`shop`"}}},
  };
  for (const SetRow& row : rows) {
    INFO("sql: " << row.sql);
    const Classification c = classify(row.sql, my);
    CHECK(c.cls == StatementClass::kSessionSet);
    CHECK(to_string(c.pin) == to_string(row.pin));
    CHECK(c.sets == row.sets);
  }
}

TEST_CASE("classifier: replay_sql rebuilds a statement the server accepts", "[classifier]") {
  using baton::routing::replay_sql;
  using K = SessionSet::Kind;
  const Dialect pg = Dialect::kPostgres;
  CHECK(replay_sql({K::kSet, "search_path", "app, public"}, pg) == "SET search_path TO app, public");
  CHECK(replay_sql({K::kSet, "timezone", "INTERVAL '-08:00' HOUR TO MINUTE"}, pg) ==
        "SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE");
  CHECK(replay_sql({K::kSet, "timezone", "LOCAL"}, pg) == "SET TIME ZONE LOCAL");
  CHECK(replay_sql({K::kSet, "role", "NONE"}, pg) == "SET ROLE NONE");
  CHECK(replay_sql({K::kSet, "session_authorization", "DEFAULT"}, pg) == "SET SESSION AUTHORIZATION DEFAULT");
  CHECK(replay_sql({K::kSet, "client_encoding", "'UTF8'"}, pg) == "SET client_encoding TO 'UTF8'");
  CHECK(replay_sql({K::kSet, "MyApp.x", "1"}, pg) == "SET \"MyApp\".x TO 1");
  CHECK(replay_sql({K::kReset, "session_authorization", ""}, pg) == "RESET SESSION AUTHORIZATION");
  CHECK(replay_sql({K::kReset, "timezone", ""}, pg) == "RESET timezone");
  CHECK(replay_sql({K::kResetAll, "", ""}, pg) == "RESET ALL");
  const Dialect my = Dialect::kMysql;
  CHECK(replay_sql({K::kSet, "names", "utf8mb4"}, my) == "SET NAMES utf8mb4");
  CHECK(replay_sql({K::kSet, "sql_mode", "'ANSI'"}, my) == "SET SESSION sql_mode = 'ANSI'");
  CHECK(replay_sql({K::kSet, "database", "`shop`"}, my) == "USE `shop`");
  // Every replayed statement classifies back to the same SessionSet.
  for (const SessionSet& s : {SessionSet{K::kSet, "search_path", "app, public"},
                              SessionSet{K::kSet, "timezone", "'UTC'"}, SessionSet{K::kSet, "role", "admin"},
                              SessionSet{K::kSet, "session_authorization", "bob"},
                              SessionSet{K::kReset, "session_authorization", ""},
                              SessionSet{K::kReset, "work_mem", ""}, SessionSet{K::kResetAll, "", ""}}) {
    const Classification c = classify(replay_sql(s, pg), ClassifierOptions{});
    REQUIRE(c.sets.size() == 1);
    CHECK(c.sets[0] == s);
  }
}

TEST_CASE("classifier: volatile function list is configurable", "[classifier]") {
  ClassifierOptions custom;
  custom.volatile_functions = {"audit_log", "app_*"};
  CHECK(classify("SELECT audit_log('x')", custom).cls == StatementClass::kWrite);
  CHECK(classify("SELECT app_touch(1)", custom).cls == StatementClass::kWrite);
  CHECK(classify("SELECT myschema.APP_TOUCH(1)", custom).cls == StatementClass::kWrite);
  CHECK(classify("SELECT application(1)", custom).cls == StatementClass::kRead);
  // nextval is not in this list, so it is treated as a plain function.
  CHECK(classify("SELECT nextval('s')", custom).cls == StatementClass::kRead);
  // Session-level advisory locks pin (and so go to the primary) whatever the list says.
  const Classification lock = classify("SELECT pg_advisory_lock(1)", custom);
  CHECK(lock.pin == PinReason::kAdvisoryLock);
  CHECK_FALSE(lock.read_only);

  const auto pg = baton::routing::default_volatile_functions(Dialect::kPostgres);
  const auto my = baton::routing::default_volatile_functions(Dialect::kMysql);
  CHECK(std::find(pg.begin(), pg.end(), "nextval") != pg.end());
  CHECK(std::find(pg.begin(), pg.end(), "pg_sleep") == pg.end());
  CHECK(std::find(my.begin(), my.end(), "get_lock") != my.end());
}

TEST_CASE("classifier: plain_statement's shortcut answers as the full walk does", "[classifier]") {
  using baton::routing::plain_statement;
  const auto pg = Dialect::kPostgres;
  const auto my = Dialect::kMysql;
  // The shapes it is for (pgbench's statements first).
  for (const char* sql : {"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;", "SELECT 1", "select 1;  \n",
                          "  SELECT a, b FROM s.t WHERE a >= 10 AND b <> 2 ORDER BY a DESC LIMIT 5",
                          "SELECT * FROM t WHERE x = 1.5e3 + 2", "SELECT a - 1 FROM t"}) {
    INFO("sql: " << sql);
    CHECK(plain_statement(sql, pg) == R);
    CHECK(plain_statement(sql, my) == R);
  }
  for (const char* sql : {"UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 815;",
                          "update t set a = a - 1", "DELETE FROM t WHERE id = 3", " delete from s.t ;",
                          "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 5, -2345, CURRENT_TIMESTAMP);",
                          "INSERT INTO t VALUES (1)", "UPDATE t SET a = f(1)", "UPDATE t SET a = (b + 1) * 2"}) {
    INFO("sql: " << sql);
    CHECK(plain_statement(sql, pg) == StatementClass::kWrite);
    CHECK(plain_statement(sql, my) == StatementClass::kWrite);
  }
  CHECK(plain_statement("BEGIN;", pg) == StatementClass::kBegin);
  CHECK(plain_statement(" begin ", my) == StatementClass::kBegin);
  CHECK(plain_statement("END;", pg) == StatementClass::kCommit);
  CHECK(plain_statement("commit", my) == StatementClass::kCommit);
  CHECK(plain_statement("ROLLBACK ;\n", pg) == StatementClass::kRollback);
  CHECK(plain_statement("SELECT (1 + 2) * 3", pg) == R);  // parentheses, but no call
  // Each of these needs the full walk: a keyword the fact scanner looks at, a call, a comment, a
  // quote, a parameter, a variable, a second statement, a transaction mode, or another verb.
  for (const char* sql :
       {"SELECT * FROM t FOR UPDATE", "SELECT a INTO b FROM t", "SELECT * FROM pg_temp.x", "SELECT update FROM t",
        "SELECT * FROM t LOCK IN SHARE MODE", "SELECT nextval('s')", "SELECT 1 /* baton:replica */",
        "SELECT 1 -- x", "SELECT 1 --", "SELECT 'a'", "SELECT \"a\" FROM t", "SELECT * FROM t WHERE id = $1", "SELECT @a",
        "SELECT 1; SELECT 2", "SELECT 1;;", "SELECTED", "SELECT", "SELECT;", "WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1)", "SELECT `a` FROM t", "SELECT 1 # x", "SELECT a::int FROM t", "SELECT a\x01 FROM t",
        "SELECT 1for UPDATE", "SELECT 0x1F", "SELECT count(*) FROM t", "SELECT a FROM t WHERE (a = 1)",
        "UPDATE pg_temp.t SET a = 1", "UPDATE t SET a = 1 --x", "DELETE FROM t WHERE a IN (1, 2)",
        "DELETE FROM t; DELETE FROM u", "INSERT INTO t VALUES (pg_advisory_lock(1))",
        "INSERT INTO t VALUES (pg_catalog.PG_ADVISORY_LOCK (1))", "UPDATE t SET a = GET_LOCK(b, 1)",
        "INSERT t VALUES (1)", "INSERT INTO temp VALUES (1)", "INSERT INTO t SELECT * FROM u FOR UPDATE",
        "INSERT", "INSERT INTO", "BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN READ ONLY", "COMMIT PREPARED 'x'",
        "ROLLBACK TO s", "END; END", "BEGIN;;", "SET a = 1", "UPDATES t", ""}) {
    INFO("sql: " << sql);
    CHECK_FALSE(plain_statement(sql, pg).has_value());
    CHECK_FALSE(plain_statement(sql, my).has_value());
  }
  CHECK_FALSE(plain_statement("END", my).has_value());  // not a MySQL statement: the full walk says kWrite
  // Over both statement tables and the texts above: where the shortcut is taken, the full walk
  // (fast_paths off) gives exactly its answer; and classify() never differs from the full walk.
  auto agree = [](const char* sql, Dialect dialect) {
    ClassifierOptions fast;
    fast.dialect = dialect;
    ClassifierOptions full = fast;
    full.fast_paths = false;
    const Classification a = classify(sql, fast);
    const Classification b = classify(sql, full);
    INFO("sql: " << sql);
    CHECK(to_string(a.cls) == to_string(b.cls));
    CHECK(a.read_only == b.read_only);
    CHECK(to_string(a.pin) == to_string(b.pin));
    CHECK(a.hint == b.hint);
    CHECK(a.sets.size() == b.sets.size());
    CHECK(a.statements == b.statements);
    if (const auto cls = plain_statement(sql, dialect)) {
      CHECK(to_string(b.cls) == to_string(*cls));
      CHECK(b.read_only == (*cls == R));
      CHECK(b.pin == N);
      CHECK_FALSE(b.hint);
      CHECK(b.sets.empty());
      CHECK(b.statements == 1);
      return 1;
    }
    return 0;
  };
  int shortcut = 0;
  for (const Row& row : kPostgresRows) shortcut += agree(row.sql, Dialect::kPostgres);
  for (const Row& row : kMysqlRows) shortcut += agree(row.sql, Dialect::kMysql);
  for (const char* sql : {"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;", "SELECT * FROM t FOR UPDATE",
                          "SELECT * FROM t LOCK IN SHARE MODE", "SELECT a INTO b FROM t", "SELECT 1for UPDATE",
                          "SELECT 1.5e3, 2E-1 FROM t", "UPDATE pgbench_tellers SET tbalance = tbalance + -12 WHERE tid = 3;",
                          "DELETE FROM t WHERE a = -1", "UPDATE t SET a = 1 FROM pg_temp.u", "BEGIN;", "END;", "END",
                          "COMMIT", "ROLLBACK;", "BEGIN WORK", "END TRANSACTION", "SELECT a -- x\n FROM t",
                          "UPDATE t SET a = 1 WHERE CURRENT OF c", "SELECT a - 1 FROM t", "update t set a = a - 1",
                          " delete from s.t ;", "select 1;  \n", "ROLLBACK ;\n", " begin ", "SELECT 1 --",
                          "UPDATE t SET a = f(1)", "BEGIN READ ONLY", "SELECT - 1", "SELECT 1-1", "SELECT 1 - -1",
                          "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 5, -2345, CURRENT_TIMESTAMP);",
                          "INSERT INTO t VALUES (pg_advisory_lock(1))", "INSERT INTO t VALUES (pg_catalog.PG_ADVISORY_LOCK (1))",
                          "UPDATE t SET a = GET_LOCK(b, 1)", "UPDATE t SET a = get_lock (b, 1)", "SELECT (1 + 2) * 3",
                          "SELECT count(*) FROM t", "INSERT INTO t VALUES (1)", "INSERT t VALUES (1)",
                          "UPDATE t SET a = (SELECT max(b) FROM u)", "SELECT * FROM (SELECT 1) s"}) {
    shortcut += agree(sql, Dialect::kPostgres) + agree(sql, Dialect::kMysql);
  }
  CHECK(shortcut >= 20);  // the tables do exercise it
}

TEST_CASE("classifier: plain_statement on random texts gives the full walk's answer wherever it answers", "[classifier]") {
  // Pieces put together at random (mostly plain ones, now and then a keyword, a call, a quote, a
  // comment, a second statement or a byte no statement has), with blanks of every kind, up to a few
  // hundred bytes. Wherever the shortcut answers, the full walk must give that answer.
  using baton::routing::plain_statement;
  static const RandomStatements kTexts{
      .heads = {"SELECT ", "select\t", "UPDATE t SET a = ", "DELETE FROM t WHERE ", "INSERT INTO t VALUES ", "  SELECT\n",
                "INSERT t ", "BEGIN", "END "},
      .rare = {"abalance", "pgbench_accounts", "a", "x1", "_z", "for", "FOR", "into", "lock", "temp", "pg_temp",
               "update", "in", "no", "key", "share", "global", "from", "where", "e", "1", "42", "1.5e3", "2E", "1x",
               "0x1F", "1_0", "f", "pg_advisory_lock", "get_lock", "GET_LOCK", "nextval", "(", ")", ",", ".", "=", "<",
               ">", "*", "+", "-", "--", ";", "'", "\"", "/", ":", "$1", "@", "#", "`", "\x01", "\xc3\xa9", "\v"},
      .common = {"abalance", "pgbench_accounts", "a", "x1", "1", "42", "1.5e3", "=", ",", ".", "+", "-", "*", "<", ")",
                 "(", "f"},
      .blanks = {" ", " ", " ", "", "\t", "\n", "\r\n", "   "},
      .rare_one_in = 41,
  };
  std::mt19937 rng(20261129);
  int answered = 0;
  int declined = 0;
  for (int i = 0; i < 20000; ++i) {
    // Mostly plain pieces (words, numbers, blanks), now and then anything, up to ~400 bytes.
    const std::string sql = random_statement(rng, kTexts, i % 10 == 0 ? 120 : 24);
    INFO("sql: " << sql);
    for (const Dialect dialect : {Dialect::kPostgres, Dialect::kMysql}) {
      const std::optional<StatementClass> shortcut = plain_statement(sql, dialect);
      if (!shortcut) {
        ++declined;
        continue;
      }
      ++answered;
      ClassifierOptions full;
      full.dialect = dialect;
      full.fast_paths = false;
      const Classification c = classify(sql, full);
      REQUIRE(c.cls == *shortcut);
      REQUIRE(c.read_only == (*shortcut == R));
      REQUIRE(c.pin == N);
      REQUIRE(c.sets.empty());
      REQUIRE(c.statements == 1);
    }
  }
  // Both answers happen often (the pieces are chosen so): the comparison above is not vacuous.
  CHECK(answered > 2000);
  CHECK(declined > 2000);
}
