// DEALLOCATE recognition: the forms PostgreSQL accepts, and look-alikes that are not one DEALLOCATE.
#include <catch2/catch.hpp>

#include "routing/deallocate.hpp"

using baton::routing::parse_deallocate;

TEST_CASE("parse_deallocate recognises names and ALL", "[deallocate]") {
  auto d = parse_deallocate("DEALLOCATE _pg3_0");
  REQUIRE(d);
  CHECK_FALSE(d->all);
  CHECK(d->name == "_pg3_0");

  d = parse_deallocate("deallocate prepare Stmt1;");
  REQUIRE(d);
  CHECK(d->name == "stmt1");

  d = parse_deallocate("/* c */ DEALLOCATE \"MixedCase\" -- done");
  REQUIRE(d);
  CHECK(d->name == "MixedCase");

  d = parse_deallocate("DEALLOCATE ALL");
  REQUIRE(d);
  CHECK(d->all);
  d = parse_deallocate("DEALLOCATE PREPARE ALL");
  REQUIRE(d);
  CHECK(d->all);
}

TEST_CASE("parse_deallocate refuses everything else", "[deallocate]") {
  CHECK_FALSE(parse_deallocate(""));
  CHECK_FALSE(parse_deallocate("DEALLOCATE"));
  CHECK_FALSE(parse_deallocate("DEALLOCATE a; SELECT 1"));
  CHECK_FALSE(parse_deallocate("DEALLOCATE a b"));
  CHECK_FALSE(parse_deallocate("SELECT 'DEALLOCATE a'"));
  CHECK_FALSE(parse_deallocate("DEALLOCATE 'a'"));
  CHECK_FALSE(parse_deallocate("DEALLOCATE \"unterminated"));
}
