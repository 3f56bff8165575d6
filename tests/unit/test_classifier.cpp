// Tests for the statement classifier: tables of statements with their expected class, replica
// safety, pin and hint; then the exact SessionSet values for every SET/RESET form.
#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "routing/classifier.hpp"

using baton::protocol::sql::Dialect;
using baton::routing::Classification;
using baton::routing::ClassifierOptions;
using baton::routing::classify;
using baton::routing::PinReason;
using baton::routing::SessionSet;
using baton::routing::StatementClass;
using baton::routing::Target;

namespace {

constexpr StatementClass R = StatementClass::kRead;
constexpr StatementClass W = StatementClass::kWrite;
constexpr StatementClass B = StatementClass::kBegin;
constexpr StatementClass BR = StatementClass::kBeginReadOnly;
constexpr StatementClass CM = StatementClass::kCommit;
constexpr StatementClass RB = StatementClass::kRollback;
constexpr StatementClass S = StatementClass::kSessionSet;
constexpr StatementClass O = StatementClass::kOther;
constexpr StatementClass E = StatementClass::kEmpty;

constexpr PinReason N = PinReason::kNone;
constexpr PinReason L = PinReason::kListen;
constexpr PinReason A = PinReason::kAdvisoryLock;
constexpr PinReason T = PinReason::kTempTable;
constexpr PinReason WH = PinReason::kWithHoldCursor;
constexpr PinReason SP = PinReason::kSqlPrepare;
constexpr PinReason SC = PinReason::kSessionCharacteristics;
constexpr PinReason LT = PinReason::kLockTables;
constexpr PinReason UV = PinReason::kUserVariable;
constexpr PinReason GL = PinReason::kGetLock;

enum class H { kNone, kPrimary, kReplica };
constexpr H _ = H::kNone;
constexpr H Pri = H::kPrimary;
constexpr H Rep = H::kReplica;

struct Row {
  const char* sql;
  StatementClass cls;
  bool read_only;
  PinReason pin;
  H hint;
};

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

const std::vector<Row> kPostgresRows = {
    // Plain reads
    {"SELECT 1", R, true, N, _},
    {"select 1", R, true, N, _},
    {"SeLeCt * FrOm t", R, true, N, _},
    {"  \n\tSELECT 1  ", R, true, N, _},
    {"SELECT 1;", R, true, N, _},
    {"SELECT * FROM t WHERE id = $1", R, true, N, _},
    {"SELECT a, b FROM t JOIN u USING (id) ORDER BY a LIMIT 10", R, true, N, _},
    {"VALUES (1), (2)", R, true, N, _},
    {"TABLE t", R, true, N, _},
    {"table t", R, true, N, _},
    {"SHOW search_path", R, true, N, _},
    {"SHOW ALL", R, true, N, _},
    {"show transaction_isolation", R, true, N, _},
    {"(SELECT 1)", R, true, N, _},
    {"((SELECT 1))", R, true, N, _},
    {"(SELECT 1) UNION (SELECT 2)", R, true, N, _},
    {"(VALUES (1))", R, true, N, _},
    {"SELECT count(*) FROM t", R, true, N, _},
    {"SELECT now(), random(), gen_random_uuid()", R, true, N, _},
    {"SELECT pg_sleep(1)", R, true, N, _},
    {"SELECT substring('abc' FROM 1 FOR 2)", R, true, N, _},
    {"SELECT x FROM t WINDOW w AS (PARTITION BY y)", R, true, N, _},
    {"SELECT * FROM generate_series(1, 10) WITH ORDINALITY", R, true, N, _},
    {"SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3", R, true, N, _},
    {"SELECT pg_is_in_recovery()", R, true, N, _},
    {"SELECT pg_last_wal_replay_lsn()", R, true, N, _},
    {"SELECT current_setting('search_path')", R, true, N, _},
    {"SELECT * FROM pg_stat_activity", R, true, N, _},
    {"SELECT $1::int + $2::int", R, true, N, _},
    {"SELECT '{\"a\":1}'::jsonb ? 'a'", R, true, N, _},
    {"SELECT ARRAY[1,2][1]", R, true, N, _},
    {"SELECT 1 AS \"select\"", R, true, N, _},
    {"SELECT update FROM t", R, true, N, _},
    {"SELECT delete, insert FROM t", R, true, N, _},
    {"SELECT t.nextval FROM t", R, true, N, _},
    {"SELECT nextval FROM t", R, true, N, _},
    {"SELECT 'nextval(''s'')'", R, true, N, _},
    {"SELECT \"NEXTVAL\"('s')", R, true, N, _},
    // Keywords inside strings, comments and quoted identifiers
    {"SELECT 'DELETE FROM t'", R, true, N, _},
    {"SELECT 'x''; DELETE FROM t; --'", R, true, N, _},
    {"SELECT \"update\" FROM t", R, true, N, _},
    {"SELECT \"delete\", \"insert\" FROM \"update\"", R, true, N, _},
    {"SELECT 1 -- INSERT INTO t VALUES (1)", R, true, N, _},
    {"-- DELETE\nSELECT 1", R, true, N, _},
    {"/* UPDATE t SET a = 1 */ SELECT 1", R, true, N, _},
    {"SELECT /* FOR UPDATE */ * FROM t", R, true, N, _},
    {"SELECT 1 /* outer /* INSERT */ still comment */", R, true, N, _},
    {"SELECT $$DELETE FROM t$$", R, true, N, _},
    {"SELECT $fn$ it's; DROP TABLE t; $fn$", R, true, N, _},
    {"SELECT $a$ $b$ nextval('s') $b$ $a$", R, true, N, _},
    {"SELECT E'it\\'s; DELETE FROM t'", R, true, N, _},
    {"SELECT U&'\\0041' FROM t", R, true, N, _},
    {"SELECT 'a' -- ; DELETE FROM t\n", R, true, N, _},
    {"SELECT 1 # 2", R, true, N, _},
    // Writes
    {"INSERT INTO t VALUES (1)", W, false, N, _},
    {"insert into t select * from u", W, false, N, _},
    {"UPDATE t SET a = 1", W, false, N, _},
    {"DELETE FROM t", W, false, N, _},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", W, false, N, _},
    {"TRUNCATE t", W, false, N, _},
    {"CREATE TABLE t (a int)", W, false, N, _},
    {"CREATE UNLOGGED TABLE t (a int)", W, false, N, _},
    {"CREATE INDEX CONCURRENTLY i ON t (a)", W, false, N, _},
    {"ALTER TABLE t ADD COLUMN b int", W, false, N, _},
    {"DROP TABLE t", W, false, N, _},
    {"GRANT SELECT ON t TO r", W, false, N, _},
    {"REVOKE ALL ON t FROM r", W, false, N, _},
    {"COMMENT ON TABLE t IS 'x'", W, false, N, _},
    {"VACUUM t", W, false, N, _},
    {"ANALYZE t", W, false, N, _},
    {"CLUSTER t", W, false, N, _},
    {"REINDEX TABLE t", W, false, N, _},
    {"REFRESH MATERIALIZED VIEW v", W, false, N, _},
    {"CHECKPOINT", W, false, N, _},
    {"CALL p(1)", W, false, N, _},
    {"DO $$BEGIN PERFORM 1; END$$", W, false, N, _},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W, false, N, _},
    {"NOTIFY ch, 'x'", W, false, N, _},
    {"EXECUTE stmt(1)", W, false, N, _},
    {"COPY t FROM STDIN", W, false, N, _},
    {"COPY t TO STDOUT", W, false, N, _},
    {"COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)", W, false, N, _},
    {"copy t to '/tmp/x'", W, false, N, _},
    {"SECURITY LABEL ON TABLE t IS 'x'", W, false, N, _},
    {"IMPORT FOREIGN SCHEMA s FROM SERVER srv INTO l", W, false, N, _},
    {"42", W, false, N, _},
    {"'SELECT 1'", W, false, N, _},
    {"foo bar", W, false, N, _},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", W, false, N, _},
    {"CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN true THEN 1 END; END", W, false, N, _},
    {"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", W, false, N, _},
    {"CREATE RULE r AS ON INSERT TO t DO (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2))", W, false, N, _},
    // Locking clauses
    {"SELECT * FROM t FOR UPDATE", W, false, N, _},
    {"SELECT * FROM t FOR NO KEY UPDATE", W, false, N, _},
    {"SELECT * FROM t FOR SHARE", W, false, N, _},
    {"SELECT * FROM t FOR KEY SHARE", W, false, N, _},
    {"select * from t for update of t nowait", W, false, N, _},
    {"SELECT * FROM t FOR UPDATE SKIP LOCKED", W, false, N, _},
    {"(SELECT * FROM t FOR UPDATE)", W, false, N, _},
    {"SELECT * FROM t /* c */ FOR /* c */ UPDATE", W, false, N, _},
    {"WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x", W, false, N, _},
    // SELECT INTO
    {"SELECT * INTO newt FROM t", W, false, N, _},
    {"SELECT 1 INTO UNLOGGED newt", W, false, N, _},
    {"SELECT * INTO TEMP tt FROM t", W, false, T, _},
    {"SELECT * INTO TEMPORARY TABLE tt FROM t", W, false, T, _},
    {"SELECT * INTO LOCAL TEMP tt FROM t", W, false, T, _},
    // Volatile functions
    {"SELECT nextval('s')", W, false, N, _},
    {"SELECT NEXTVAL('s')", W, false, N, _},
    {"SELECT pg_catalog.nextval('s')", W, false, N, _},
    {"SELECT \"pg_catalog\".\"nextval\"('s')", W, false, N, _},
    {"SELECT nextval ('s')", W, false, N, _},
    {"SELECT nextval/* c */('s')", W, false, N, _},
    {"SELECT currval('s')", W, false, N, _},
    {"SELECT lastval()", W, false, N, _},
    {"SELECT setval('s', 10)", W, false, N, _},
    {"SELECT id, nextval('s') FROM t", W, false, N, _},
    {"SELECT * FROM t WHERE id = (SELECT nextval('s'))", W, false, N, _},
    {"SELECT txid_current()", W, false, N, _},
    {"SELECT pg_current_xact_id()", W, false, N, _},
    {"SELECT pg_notify('ch', 'x')", W, false, N, _},
    {"SELECT set_config('search_path', 'x', false)", W, false, N, _},
    {"SELECT dblink_exec('dbname=x', 'DELETE FROM t')", W, false, N, _},
    {"SELECT lo_import('/tmp/x')", W, false, N, _},
    {"SELECT lo_unlink(1234)", W, false, N, _},
    {"SELECT pg_switch_wal()", W, false, N, _},
    {"SELECT pg_create_restore_point('x')", W, false, N, _},
    {"SELECT pg_terminate_backend(123)", W, false, N, _},
    {"VALUES (nextval('s'))", W, false, N, _},
    {"TABLE t", R, true, N, _},
    // Advisory locks
    {"select pg_advisory_lock(1)", W, false, A, _},
    {"SELECT pg_advisory_lock_shared(1)", W, false, A, _},
    {"SELECT pg_try_advisory_lock(1, 2)", W, false, A, _},
    {"SELECT pg_try_advisory_lock_shared(1)", W, false, A, _},
    {"SELECT pg_catalog.pg_advisory_lock(1)", W, false, A, _},
    {"SELECT PG_ADVISORY_LOCK(1)", W, false, A, _},
    {"SELECT pg_advisory_xact_lock(1)", W, false, N, _},
    {"SELECT pg_try_advisory_xact_lock(1)", W, false, N, _},
    {"SELECT pg_advisory_xact_lock_shared(1)", W, false, N, _},
    {"SELECT pg_advisory_unlock(1)", W, false, N, _},
    {"SELECT pg_advisory_unlock_all()", W, false, N, _},
    {"UPDATE t SET a = 1 WHERE pg_try_advisory_lock(id)", W, false, A, _},
    {"SELECT 'pg_advisory_lock(1)'", R, true, N, _},
    // CTEs
    {"WITH x AS (SELECT 1) SELECT * FROM x", R, true, N, _},
    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r", R, true, N, _},
    {"WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM x", W, false, N, _},
    {"WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x", W, false, N, _},
    {"WITH x AS (DELETE FROM t RETURNING *) SELECT count(*) FROM x", W, false, N, _},
    {"WITH x AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1", W, false, N, _},
    {"WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)", W, false, N, _},
    {"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", W, false, N, _},
    {"with a as (select 1), b as (insert into t values (1) returning 1) select * from a, b", W, false, N, _},
    {"WITH x AS (SELECT 'INSERT INTO t') SELECT * FROM x", R, true, N, _},
    {"WITH \"insert\" AS (SELECT 1) SELECT * FROM \"insert\"", R, true, N, _},
    {"WITH x AS (SELECT nextval('s')) SELECT * FROM x", W, false, N, _},
    {"WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x", R, true, N, _},
    // EXPLAIN
    {"EXPLAIN SELECT * FROM t", R, true, N, _},
    {"explain verbose select 1", R, true, N, _},
    {"EXPLAIN ANALYZE SELECT * FROM t", W, false, N, _},
    {"EXPLAIN ANALYSE SELECT 1", W, false, N, _},
    {"EXPLAIN ANALYZE VERBOSE SELECT 1", W, false, N, _},
    {"EXPLAIN (ANALYZE) SELECT 1", W, false, N, _},
    {"EXPLAIN (ANALYZE true) SELECT 1", W, false, N, _},
    {"EXPLAIN (ANALYZE on, BUFFERS) SELECT 1", W, false, N, _},
    {"EXPLAIN (FORMAT json, ANALYZE) SELECT 1", W, false, N, _},
    {"EXPLAIN (ANALYZE false) SELECT 1", R, true, N, _},
    {"EXPLAIN (ANALYZE off, COSTS false) SELECT 1", R, true, N, _},
    {"EXPLAIN (ANALYZE 0) SELECT 1", R, true, N, _},
    {"EXPLAIN (COSTS false, FORMAT yaml) SELECT 1", R, true, N, _},
    {"EXPLAIN INSERT INTO t VALUES (1)", W, false, N, _},
    {"EXPLAIN DELETE FROM t", W, false, N, _},
    {"EXPLAIN WITH x AS (SELECT 1) SELECT * FROM x", R, true, N, _},
    {"EXPLAIN WITH x AS (DELETE FROM t RETURNING 1) SELECT * FROM x", W, false, N, _},
    {"EXPLAIN SELECT * FROM t FOR UPDATE", W, false, N, _},
    {"EXPLAIN SELECT nextval('s')", W, false, N, _},
    {"EXPLAIN (SELECT 1)", R, true, N, _},
    {"EXPLAIN VALUES (1)", R, true, N, _},
    // Transaction control
    {"BEGIN", B, false, N, _},
    {"begin", B, false, N, _},
    {"BEGIN WORK", B, false, N, _},
    {"BEGIN TRANSACTION", B, false, N, _},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE", B, false, N, _},
    {"BEGIN READ WRITE", B, false, N, _},
    {"BEGIN READ ONLY", BR, true, N, _},
    {"begin transaction read only", BR, true, N, _},
    {"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", BR, true, N, _},
    {"BEGIN ISOLATION LEVEL READ COMMITTED", B, false, N, _},
    {"BEGIN ISOLATION LEVEL READ UNCOMMITTED", B, false, N, _},
    {"BEGIN READ ONLY, DEFERRABLE", BR, true, N, _},
    {"START TRANSACTION", B, false, N, _},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", B, false, N, _},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", BR, true, N, _},
    {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", BR, true, N, _},
    {"START TRANSACTION READ ONLY", BR, true, N, _},
    {"START TRANSACTION READ WRITE", B, false, N, _},
    {"COMMIT", CM, false, N, _},
    {"commit work", CM, false, N, _},
    {"COMMIT TRANSACTION", CM, false, N, _},
    {"COMMIT AND CHAIN", CM, false, N, _},
    {"COMMIT AND NO CHAIN", CM, false, N, _},
    {"END", CM, false, N, _},
    {"END TRANSACTION", CM, false, N, _},
    {"COMMIT PREPARED 'gx'", O, false, N, _},
    {"ROLLBACK", RB, false, N, _},
    {"rollback work", RB, false, N, _},
    {"ROLLBACK AND CHAIN", RB, false, N, _},
    {"ABORT", RB, false, N, _},
    {"ROLLBACK TO SAVEPOINT sp", O, false, N, _},
    {"ROLLBACK TO sp", O, false, N, _},
    {"ROLLBACK TRANSACTION TO SAVEPOINT sp", O, false, N, _},
    {"ROLLBACK PREPARED 'gx'", O, false, N, _},
    {"PREPARE TRANSACTION 'gx'", O, false, N, _},
    {"SAVEPOINT sp", O, false, N, _},
    {"RELEASE SAVEPOINT sp", O, false, N, _},
    {"RELEASE sp", O, false, N, _},
    // Other, pins
    {"LISTEN ch", O, false, L, _},
    {"listen \"Chan\"", O, false, L, _},
    {"UNLISTEN ch", O, false, N, _},
    {"UNLISTEN *", O, false, N, _},
    {"PREPARE q (int) AS SELECT $1", O, false, SP, _},
    {"prepare q as insert into t values (1)", O, false, SP, _},
    {"DEALLOCATE q", O, false, N, _},
    {"DEALLOCATE ALL", O, false, N, _},
    {"DECLARE c CURSOR FOR SELECT 1", O, false, N, _},
    {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", O, false, WH, _},
    {"DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM t", O, false, WH, _},
    {"DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", O, false, N, _},
    {"DECLARE c CURSOR FOR SELECT 'WITH HOLD'", O, false, N, _},
    {"FETCH 10 FROM c", O, false, N, _},
    {"MOVE NEXT IN c", O, false, N, _},
    {"CLOSE c", O, false, N, _},
    {"CLOSE ALL", O, false, N, _},
    {"DISCARD PLANS", O, false, N, _},
    {"DISCARD TEMP", O, false, N, _},
    {"DISCARD SEQUENCES", O, false, N, _},
    {"SET LOCAL search_path TO x", O, false, N, _},
    {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", O, false, N, _},
    {"SET TRANSACTION READ ONLY", O, false, N, _},
    {"SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", O, false, N, _},
    {"SET CONSTRAINTS ALL DEFERRED", O, false, N, _},
    {"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", S, false, SC, _},
    {"CREATE TEMP TABLE tt (a int)", W, false, T, _},
    {"CREATE TEMPORARY TABLE tt (a int)", W, false, T, _},
    {"create local temporary table tt (a int)", W, false, T, _},
    {"CREATE GLOBAL TEMP TABLE tt (a int)", W, false, T, _},
    {"CREATE TEMP TABLE tt AS SELECT * FROM t", W, false, T, _},
    {"CREATE TEMP VIEW v AS SELECT 1", W, false, T, _},
    {"CREATE OR REPLACE TEMP VIEW v AS SELECT 1", W, false, T, _},
    {"CREATE TEMP SEQUENCE s", W, false, T, _},
    {"CREATE TEMP TABLE tt (a int) ON COMMIT DROP", W, false, N, _},
    {"CREATE TEMP TABLE tt (a int) ON COMMIT DELETE ROWS", W, false, T, _},
    {"CREATE TABLE pg_temp.tt (a int)", W, false, T, _},
    {"CREATE FUNCTION pg_temp.f() RETURNS int AS 'SELECT 1' LANGUAGE sql", W, false, T, _},
    {"CREATE TABLE temp (a int)", W, false, N, _},
    {"CREATE TABLE t (temp int)", W, false, N, _},
    // Session sets (values checked in their own table)
    {"SET search_path TO app", S, false, N, _},
    {"SET SESSION search_path = app", S, false, N, _},
    {"SET TIME ZONE 'UTC'", S, false, N, _},
    {"SET NAMES 'UTF8'", S, false, N, _},
    {"SET ROLE admin", S, false, N, _},
    {"SET SESSION AUTHORIZATION bob", S, false, N, _},
    {"RESET search_path", S, false, N, _},
    {"RESET ALL", S, false, N, _},
    {"DISCARD ALL", S, false, N, _},
    {"SET x FROM CURRENT", S, false, N, _},
    // Empty
    {"", E, true, N, _},
    {"   ", E, true, N, _},
    {";", E, true, N, _},
    {" ; ;; ", E, true, N, _},
    {"-- only a comment", E, true, N, _},
    {"/* only */ /* comments */", E, true, N, _},
    {"/* baton:replica */", E, true, N, Rep},
    // Unterminated
    {"SELECT 'abc", W, false, N, _},
    {"SELECT \"abc", W, false, N, _},
    {"SELECT $$abc", W, false, N, _},
    {"SELECT $t$abc$x$", W, false, N, _},
    {"SELECT 1 /* unterminated", W, false, N, _},
    {"SELECT 1 /* a /* b */", W, false, N, _},
    {"SELECT E'abc\\'", W, false, N, _},
    {"/* baton:replica */ SELECT 'abc", W, false, N, Rep},
    // Hints
    {"/* baton:replica */ SELECT 1", R, true, N, Rep},
    {"SELECT 1 /* baton:replica */", R, true, N, Rep},
    {"/* baton:primary */ SELECT 1", R, true, N, Pri},
    {"SELECT 1 /* baton:primary */", R, true, N, Pri},
    {"SELECT 1 -- baton:primary", R, true, N, Pri},
    {"/* baton:replica */ INSERT INTO t VALUES (1)", W, false, N, Rep},
    {"SELECT /* BATON:PRIMARY */ 1", R, true, N, Pri},
    {"SELECT '/* baton:primary */'", R, true, N, _},
    {"SELECT 1 /* app:x baton:replica */", R, true, N, Rep},
    {"/* baton:replica */ SELECT 1 /* baton:primary */", R, true, N, Pri},
    {"/* baton:secondary */ SELECT 1", R, true, N, _},
    // Multi-statement
    {"SELECT 1; SELECT 2", R, true, N, _},
    {"SELECT 1; SELECT 2;", R, true, N, _},
    {"SELECT 1; INSERT INTO t VALUES (1)", W, false, N, _},
    {"INSERT INTO t VALUES (1); SELECT 1", W, false, N, _},
    {"BEGIN; SELECT 1; COMMIT", W, false, N, _},
    {"SET search_path TO x; SELECT 1", W, false, N, _},
    {"SELECT 1; LISTEN ch", W, false, L, _},
    {"SELECT pg_advisory_lock(1); LISTEN ch", W, false, A, _},
    {"SELECT 1; SELECT nextval('s')", W, false, N, _},
    {"SELECT 1; /* baton:primary */ SELECT 2", R, true, N, Pri},
    {"SELECT 1; SELECT 'unterminated", W, false, N, _},
};

const std::vector<Row> kMysqlRows = {
    {"SELECT 1", R, true, N, _},
    {"select * from t where a = ?", R, true, N, _},
    {"SELECT * FROM `update`", R, true, N, _},
    {"SELECT 'DELETE' FROM t", R, true, N, _},
    {"SELECT \"it\\\"s; DELETE\"", R, true, N, _},
    {"SELECT 1 # DELETE FROM t", R, true, N, _},
    {"SELECT 1 -- DELETE FROM t", R, true, N, _},
    {"SHOW TABLES", R, true, N, _},
    {"SHOW VARIABLES LIKE 'x'", R, true, N, _},
    {"DESCRIBE t", R, true, N, _},
    {"DESC t", R, true, N, _},
    {"EXPLAIN SELECT * FROM t", R, true, N, _},
    {"EXPLAIN FORMAT=JSON SELECT 1", R, true, N, _},
    {"EXPLAIN ANALYZE SELECT 1", W, false, N, _},
    {"EXPLAIN UPDATE t SET a = 1", W, false, N, _},
    {"SELECT @@session.sql_mode", R, true, N, _},
    {"SELECT @v", R, true, N, _},
    {"SELECT * FROM t FOR UPDATE", W, false, N, _},
    {"SELECT * FROM t LOCK IN SHARE MODE", W, false, N, _},
    {"SELECT * FROM t FOR SHARE", W, false, N, _},
    {"SELECT LAST_INSERT_ID()", W, false, N, _},
    {"SELECT GET_LOCK('x', 10)", W, false, GL, _},
    {"select get_lock('x', 10)", W, false, GL, _},
    {"SELECT RELEASE_LOCK('x')", W, false, N, _},
    {"DO GET_LOCK('x', 1)", W, false, GL, _},
    {"SELECT @a := 1", W, false, UV, _},
    {"SELECT id INTO @v FROM t LIMIT 1", W, false, UV, _},
    {"SELECT * FROM t INTO OUTFILE '/tmp/x'", W, false, N, _},
    {"INSERT INTO t VALUES (1)", W, false, N, _},
    {"REPLACE INTO t VALUES (1)", W, false, N, _},
    {"UPDATE t SET a = 1", W, false, N, _},
    {"DELETE FROM t", W, false, N, _},
    {"LOCK TABLES t READ", W, false, LT, _},
    {"lock table t write", W, false, LT, _},
    {"UNLOCK TABLES", O, false, N, _},
    {"FLUSH TABLES WITH READ LOCK", W, false, LT, _},
    {"FLUSH PRIVILEGES", W, false, N, _},
    {"CREATE TEMPORARY TABLE tt (a int)", W, false, T, _},
    {"CREATE TABLE t (a int)", W, false, N, _},
    {"PREPARE s FROM 'SELECT 1'", O, false, SP, _},
    {"DEALLOCATE PREPARE s", O, false, N, _},
    {"BEGIN", B, false, N, _},
    {"START TRANSACTION", B, false, N, _},
    {"START TRANSACTION READ ONLY", BR, true, N, _},
    {"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", BR, true, N, _},
    {"START TRANSACTION READ WRITE", B, false, N, _},
    {"COMMIT", CM, false, N, _},
    {"ROLLBACK", RB, false, N, _},
    {"ROLLBACK TO SAVEPOINT sp", O, false, N, _},
    {"ROLLBACK WORK TO sp", O, false, N, _},
    {"SAVEPOINT sp", O, false, N, _},
    {"RELEASE SAVEPOINT sp", O, false, N, _},
    {"SET @v = 1", S, false, UV, _},
    {"SET @v := (SELECT 1)", S, false, UV, _},
    {"SET autocommit = 0", S, false, N, _},
    {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", S, false, SC, _},
    {"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", O, false, N, _},
    {"SET GLOBAL max_connections = 10", W, false, N, _},
    {"SET @@global.max_connections = 10", W, false, N, _},
    {"USE db", S, false, N, _},
    {"/*!40101 SET NAMES utf8mb4 */", S, false, N, _},
    {"/*!50000 DELETE FROM t */", W, false, N, _},
    {"/* baton:replica */ SELECT 1", R, true, N, Rep},
    {"SELECT 1 # baton:primary", R, true, N, Pri},
    {"SELECT 'abc", W, false, N, _},
    {"SELECT 1; SELECT 2", R, true, N, _},
    {"", E, true, N, _},
};

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
  static const std::vector<std::string> kHeads = {"SELECT ", "select\t", "UPDATE t SET a = ", "DELETE FROM t WHERE ",
                                                  "INSERT INTO t VALUES ", "  SELECT\n", "INSERT t ", "BEGIN", "END "};
  static const std::vector<std::string> kPieces = {
      "abalance", "pgbench_accounts", "a", "x1", "_z", "for", "FOR", "into", "lock", "temp", "pg_temp", "update",
      "in", "no", "key", "share", "global", "from", "where", "e", "1", "42", "1.5e3", "2E", "1x", "0x1F", "1_0",
      "f", "pg_advisory_lock", "get_lock", "GET_LOCK", "nextval", "(", ")", ",", ".", "=", "<", ">", "*", "+",
      "-", "--", ";", "'", "\"", "/", ":", "$1", "@", "#", "`", "\x01", "\xc3\xa9", "\v"};
  static const std::vector<std::string> kCommon = {"abalance", "pgbench_accounts", "a", "x1", "1", "42", "1.5e3", "=",
                                                   ",", ".", "+", "-", "*", "<", ")", "(", "f"};
  static const std::vector<std::string> kBlanks = {" ", " ", " ", "", "\t", "\n", "\r\n", "   "};
  std::mt19937 rng(20261129);
  auto pick = [&rng](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  int answered = 0;
  int declined = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string sql = pick(kHeads);
    // Mostly plain pieces (words, numbers, blanks), now and then anything, up to ~400 bytes.
    const int pieces = std::uniform_int_distribution<int>(0, i % 10 == 0 ? 120 : 24)(rng);
    for (int k = 0; k < pieces; ++k) {
      const bool rare = std::uniform_int_distribution<int>(0, 40)(rng) == 0;
      sql += rare ? pick(kPieces) : pick(kCommon);
      sql += pick(kBlanks);
    }
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) sql += ";";
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
