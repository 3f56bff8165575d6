// Tests for the shared SQL lexer: token sequences for both dialects, quoting, comments and hints.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "protocol/sql/lexer.hpp"

using baton::protocol::sql::Dialect;
using baton::protocol::sql::Hint;
using baton::protocol::sql::LexError;
using baton::protocol::sql::Lexer;
using baton::protocol::sql::Token;
using baton::protocol::sql::TokenKind;
using K = TokenKind;

namespace {

using Tokens = std::vector<std::pair<TokenKind, std::string>>;

// Every token up to (not including) kEnd; a kError token is included.
Tokens lex(std::string_view sql, Dialect d = Dialect::kPostgres) {
  Lexer lexer(sql, d);
  Tokens out;
  for (Token t = lexer.next(); t.kind != K::kEnd; t = lexer.next()) {
    REQUIRE(sql.substr(t.offset, t.text.size()) == t.text);
    out.emplace_back(t.kind, std::string(t.text));
  }
  return out;
}

}  // namespace

TEST_CASE("lexer: words, numbers, operators, punctuation", "[lexer]") {
  CHECK(lex("SELECT a, b1 FROM t WHERE x >= 10.5;") ==
        Tokens{{K::kWord, "SELECT"}, {K::kWord, "a"},  {K::kOperator, ","},   {K::kWord, "b1"},
               {K::kWord, "FROM"},   {K::kWord, "t"},  {K::kWord, "WHERE"},   {K::kWord, "x"},
               {K::kOperator, ">="}, {K::kNumber, "10.5"}, {K::kSemicolon, ";"}});
  CHECK(lex("x::int") == Tokens{{K::kWord, "x"}, {K::kOperator, "::"}, {K::kWord, "int"}});
  CHECK(lex("f(a := 1)") == Tokens{{K::kWord, "f"}, {K::kOperator, "("}, {K::kWord, "a"}, {K::kOperator, ":="},
                                   {K::kNumber, "1"}, {K::kOperator, ")"}});
  CHECK(lex(".5 1e-3 0x1F 1_000") ==
        Tokens{{K::kNumber, ".5"}, {K::kNumber, "1e-3"}, {K::kNumber, "0x1F"}, {K::kNumber, "1_000"}});
  CHECK(lex("pg_catalog.nextval") == Tokens{{K::kWord, "pg_catalog"}, {K::kOperator, "."}, {K::kWord, "nextval"}});
  CHECK(lex("a$b") == Tokens{{K::kWord, "a$b"}});
  // PostgreSQL operator rule: "=-" is not one operator, since it has none of ~ ! @ # % ^ & | ` ?
  CHECK(lex("x=-1") == Tokens{{K::kWord, "x"}, {K::kOperator, "="}, {K::kOperator, "-"}, {K::kNumber, "1"}});
  CHECK(lex("j @> k") == Tokens{{K::kWord, "j"}, {K::kOperator, "@>"}, {K::kWord, "k"}});
  CHECK(lex("a->>'k'") == Tokens{{K::kWord, "a"}, {K::kOperator, "->>"}, {K::kString, "'k'"}});
}

TEST_CASE("lexer: PostgreSQL strings and quoted identifiers", "[lexer]") {
  CHECK(lex("'it''s'") == Tokens{{K::kString, "'it''s'"}});
  CHECK(lex(R"('a\' 'b')") == Tokens{{K::kString, R"('a\')"}, {K::kString, "'b'"}});  // standard strings
  CHECK(lex(R"(E'a\'b' x)") == Tokens{{K::kString, R"(E'a\'b')"}, {K::kWord, "x"}});
  CHECK(lex(R"(e'\\' y)") == Tokens{{K::kString, R"(e'\\')"}, {K::kWord, "y"}});
  CHECK(lex("B'101' X'ff' N'n'") == Tokens{{K::kString, "B'101'"}, {K::kString, "X'ff'"}, {K::kString, "N'n'"}});
  CHECK(lex("U&'d\\0061t' U&\"d!0061\"") ==
        Tokens{{K::kString, "U&'d\\0061t'"}, {K::kQuotedIdentifier, "U&\"d!0061\""}});
  CHECK(lex("\"up\"\"date\" \"DELETE\"") ==
        Tokens{{K::kQuotedIdentifier, "\"up\"\"date\""}, {K::kQuotedIdentifier, "\"DELETE\""}});
  CHECK(lex("'DELETE FROM t; --'") == Tokens{{K::kString, "'DELETE FROM t; --'"}});
}

TEST_CASE("lexer: dollar quotes and parameters", "[lexer]") {
  CHECK(lex("$$a ' b$$") == Tokens{{K::kString, "$$a ' b$$"}});
  CHECK(lex("$fn$ x $$ y $ $fn$ z") == Tokens{{K::kString, "$fn$ x $$ y $ $fn$"}, {K::kWord, "z"}});
  CHECK(lex("$a$ $b$ inner $b$ $a$") == Tokens{{K::kString, "$a$ $b$ inner $b$ $a$"}});
  CHECK(lex("$1 + $23") == Tokens{{K::kParameter, "$1"}, {K::kOperator, "+"}, {K::kParameter, "$23"}});
  CHECK(lex("? x", Dialect::kMysql) == Tokens{{K::kParameter, "?"}, {K::kWord, "x"}});
  // In PostgreSQL ? is an operator character (jsonb ?).
  CHECK(lex("j ? 'k'") == Tokens{{K::kWord, "j"}, {K::kOperator, "?"}, {K::kString, "'k'"}});
}

TEST_CASE("lexer: comments are tokens, nested in PostgreSQL", "[lexer]") {
  CHECK(lex("a -- INSERT\nb") == Tokens{{K::kWord, "a"}, {K::kComment, "-- INSERT"}, {K::kWord, "b"}});
  CHECK(lex("a /* x /* y */ z */ b") ==
        Tokens{{K::kWord, "a"}, {K::kComment, "/* x /* y */ z */"}, {K::kWord, "b"}});
  CHECK(lex("a--b") == Tokens{{K::kWord, "a"}, {K::kComment, "--b"}});
  CHECK(lex("a +-- c\n") == Tokens{{K::kWord, "a"}, {K::kOperator, "+"}, {K::kComment, "-- c"}});
  // MySQL: /* */ does not nest, "#" starts a comment, "--" needs whitespace after it.
  CHECK(lex("a /* x /* y */ z", Dialect::kMysql) ==
        Tokens{{K::kWord, "a"}, {K::kComment, "/* x /* y */"}, {K::kWord, "z"}});
  CHECK(lex("a # c\nb", Dialect::kMysql) == Tokens{{K::kWord, "a"}, {K::kComment, "# c"}, {K::kWord, "b"}});
  CHECK(lex("1--1", Dialect::kMysql) == Tokens{{K::kNumber, "1"}, {K::kOperator, "-"}, {K::kOperator, "-"},
                                               {K::kNumber, "1"}});
  CHECK(lex("1 -- c", Dialect::kMysql) == Tokens{{K::kNumber, "1"}, {K::kComment, "-- c"}});
}

TEST_CASE("lexer: MySQL quotes, backticks, variables and executable comments", "[lexer]") {
  CHECK(lex(R"('a\'b' "c\"d" `e``f`)", Dialect::kMysql) ==
        Tokens{{K::kString, R"('a\'b')"}, {K::kString, R"("c\"d")"}, {K::kQuotedIdentifier, "`e``f`"}});
  CHECK(lex("@a := @@session.sql_mode", Dialect::kMysql) ==
        Tokens{{K::kVariable, "@a"}, {K::kOperator, ":="}, {K::kVariable, "@@session.sql_mode"}});
  CHECK(lex("@'my var'", Dialect::kMysql) == Tokens{{K::kVariable, "@'my var'"}});
  CHECK(lex("/*!40101 SET x=1 */ y", Dialect::kMysql) ==
        Tokens{{K::kWord, "SET"}, {K::kWord, "x"}, {K::kOperator, "="}, {K::kNumber, "1"}, {K::kWord, "y"}});
  CHECK(lex("/*M!100100 DELETE */", Dialect::kMysql) == Tokens{{K::kWord, "DELETE"}});
  // In PostgreSQL a backtick is an operator character and "..." an identifier.
  CHECK(lex("\"a\"", Dialect::kPostgres) == Tokens{{K::kQuotedIdentifier, "\"a\""}});
}

TEST_CASE("lexer: unterminated input is reported", "[lexer]") {
  struct Case {
    const char* sql;
    Dialect dialect;
    LexError error;
  };
  const Case cases[] = {
      {"SELECT 'abc", Dialect::kPostgres, LexError::kUnterminatedString},
      {"SELECT E'abc\\'", Dialect::kPostgres, LexError::kUnterminatedString},
      {"SELECT \"abc", Dialect::kPostgres, LexError::kUnterminatedQuotedIdentifier},
      {"SELECT $x$ abc $y$", Dialect::kPostgres, LexError::kUnterminatedDollarQuote},
      {"SELECT /* a /* b */", Dialect::kPostgres, LexError::kUnterminatedComment},
      {"SELECT `abc", Dialect::kMysql, LexError::kUnterminatedQuotedIdentifier},
      {"SELECT 'a\\'", Dialect::kMysql, LexError::kUnterminatedString},
      {"/*!50000 SELECT 1", Dialect::kMysql, LexError::kUnterminatedComment},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    Lexer lexer(c.sql, c.dialect);
    Token t;
    do {
      t = lexer.next();
    } while (t.kind != K::kError && t.kind != K::kEnd);
    CHECK(t.kind == K::kError);
    CHECK(lexer.error() == c.error);
    CHECK(lexer.next().kind == K::kEnd);
  }
  Lexer ok("SELECT 1 /* fine */", Dialect::kPostgres);
  while (ok.next().kind != K::kEnd) {
  }
  CHECK(ok.error() == LexError::kNone);
}

TEST_CASE("lexer: hints and comment bodies", "[lexer]") {
  using baton::protocol::sql::comment_body;
  using baton::protocol::sql::comment_hint;
  CHECK(comment_body("/* x */") == " x ");
  CHECK(comment_body("-- y") == " y");
  CHECK(comment_body("# z") == " z");
  CHECK(comment_hint("/* baton:primary */") == Hint::kPrimary);
  CHECK(comment_hint("/*baton:replica*/") == Hint::kReplica);
  CHECK(comment_hint("/* BATON:Replica */") == Hint::kReplica);
  CHECK(comment_hint("-- baton:replica") == Hint::kReplica);
  CHECK(comment_hint("/* app=x baton:replica */") == Hint::kReplica);
  CHECK(comment_hint("/* baton:replica baton:primary */") == Hint::kPrimary);
  CHECK(comment_hint("/* notbaton:replica */") == Hint::kNone);
  CHECK(comment_hint("/* baton:replicas */") == Hint::kNone);
  CHECK(comment_hint("/* baton: replica */") == Hint::kNone);
  CHECK(comment_hint("/* plain */") == Hint::kNone);
}

TEST_CASE("lexer: helpers", "[lexer]") {
  using baton::protocol::sql::iequals;
  using baton::protocol::sql::unquote_identifier;
  CHECK(iequals("SeLeCt", "select"));
  CHECK_FALSE(iequals("selec", "select"));
  CHECK_FALSE(iequals("selecT1", "select"));
  CHECK(unquote_identifier("\"a\"\"b\"") == "a\"b");
  CHECK(unquote_identifier("`x``y`") == "x`y");
  CHECK(unquote_identifier("U&\"d\"") == "d");
}
