// Tests for routing/classification_cache: the same answers as classify(), remembered within bounds.
#include <catch2/catch.hpp>

#include <string>

#include "routing/classification_cache.hpp"

using namespace baton::routing;

namespace {
ClassifierOptions pg_options() {
  ClassifierOptions o;
  o.volatile_functions = default_volatile_functions(o.dialect);
  return o;
}
}  // namespace

TEST_CASE("classification cache: answers as classify() does, from memory the second time", "[classification-cache]") {
  const ClassifierOptions o = pg_options();
  ClassificationCache cache(8, 100);
  const char* texts[] = {"SELECT abalance FROM pgbench_accounts WHERE aid = $1", "SELECT nextval('s')",
                         "SET search_path TO app", "CREATE TEMP TABLE t (a int)", "/* baton:replica */ SELECT 1"};
  for (int round = 0; round < 2; ++round) {
    for (const char* sql : texts) {
      INFO(sql);
      const Classification want = classify(sql, o);
      const Classification got = cache.classify(sql, o);
      CHECK(got.cls == want.cls);
      CHECK(got.read_only == want.read_only);
      CHECK(got.hint == want.hint);
      CHECK(got.pin == want.pin);
      CHECK(got.sets.size() == want.sets.size());
      CHECK(got.statements == want.statements);
    }
    CHECK(cache.size() == 5);
  }
  // The answers themselves, so that a cache returning some other entry would fail above and here.
  CHECK(cache.classify(texts[0], o).read_only);
  CHECK_FALSE(cache.classify(texts[1], o).read_only);
  CHECK(cache.classify(texts[2], o).sets.size() == 1);
  CHECK(cache.classify(texts[3], o).pin != PinReason::kNone);
  CHECK(cache.classify(texts[4], o).hint == Target::kReplica);
}

TEST_CASE("classification cache: exact text only, bounded in entries and text length", "[classification-cache]") {
  const ClassifierOptions o = pg_options();
  ClassificationCache cache(3, 40);
  // Differ in case only: two entries, each classified on its own.
  CHECK(cache.classify("SELECT 1", o).read_only);
  CHECK(cache.classify("select 1", o).read_only);
  CHECK(cache.size() == 2);
  // Longer than max_text: answered, not kept.
  const std::string long_read = "SELECT " + std::string(50, '1');
  CHECK(cache.classify(long_read, o).read_only);
  CHECK(cache.size() == 2);
  CHECK(cache.classify("INSERT INTO t VALUES (1)", o).cls == StatementClass::kWrite);
  CHECK(cache.size() == 3);
  // Full: the next new text starts the cache over.
  CHECK(cache.classify("SELECT 2", o).read_only);
  CHECK(cache.size() == 1);
  CHECK_FALSE(cache.classify("DELETE FROM t", o).read_only);
  CHECK(cache.size() == 2);
  cache.clear();
  CHECK(cache.size() == 0);
}
