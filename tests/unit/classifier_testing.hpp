// Shared by the classifier's tests and its shortcuts' tests: the statement tables and random statements.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "routing/classifier.hpp"

namespace classifier_testing {

using baton::routing::PinReason;
using baton::routing::StatementClass;

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

inline const std::vector<Row> kPostgresRows = {
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

inline const std::vector<Row> kMysqlRows = {
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

// Statements put together at random: a head, then up to `max_pieces` pieces (mostly common ones,
// a rare one with probability 1 / rare_one_in), each followed by a blank of some kind, and in one
// text of five a final ';'.
struct RandomStatements {
  std::vector<std::string> heads;
  std::vector<std::string> rare;
  std::vector<std::string> common;
  std::vector<std::string> blanks;
  int rare_one_in = 40;
};

inline std::string random_statement(std::mt19937& rng, const RandomStatements& v, int max_pieces) {
  auto pick = [&rng](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  std::string sql = pick(v.heads);
  const int pieces = std::uniform_int_distribution<int>(0, max_pieces)(rng);
  for (int k = 0; k < pieces; ++k) {
    const bool rare = std::uniform_int_distribution<int>(1, v.rare_one_in)(rng) == 1;
    sql += rare ? pick(v.rare) : pick(v.common);
    sql += pick(v.blanks);
  }
  if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) sql += ";";
  return sql;
}

}  // namespace classifier_testing
