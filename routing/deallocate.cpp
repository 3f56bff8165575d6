// DEALLOCATE recognition on the shared SQL lexer.
#include "routing/deallocate.hpp"

#include <cctype>

#include "protocol/sql/lexer.hpp"

namespace baton::routing {

namespace sql = protocol::sql;

namespace {
sql::Token next_significant(sql::Lexer& lexer) {
  for (;;) {
    sql::Token t = lexer.next();
    if (t.kind != sql::TokenKind::kComment) return t;
  }
}
}  // namespace

std::optional<Deallocate> parse_deallocate(std::string_view text) {
  sql::Lexer lexer(text, sql::Dialect::kPostgres);
  sql::Token t = next_significant(lexer);
  if (!t.is_word("deallocate")) return std::nullopt;
  t = next_significant(lexer);
  if (t.is_word("prepare")) t = next_significant(lexer);
  Deallocate d;
  if (t.is_word("all")) {
    d.all = true;
  } else if (t.kind == sql::TokenKind::kWord) {
    for (char c : t.text) d.name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  } else if (t.kind == sql::TokenKind::kQuotedIdentifier) {
    d.name = sql::unquote_identifier(t.text);
  } else {
    return std::nullopt;
  }
  t = next_significant(lexer);
  if (t.kind == sql::TokenKind::kSemicolon) t = next_significant(lexer);
  if (t.kind != sql::TokenKind::kEnd || lexer.error() != sql::LexError::kNone) return std::nullopt;
  return d;
}

}  // namespace baton::routing
