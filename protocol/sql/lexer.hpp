// One SQL lexer for PostgreSQL and MySQL: words, quotes, dollar quotes, backticks, comments and hints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace baton::protocol::sql {

enum class Dialect { kPostgres, kMysql };

enum class TokenKind : std::uint8_t {
  kWord,              // keyword or bare identifier: select, pg_catalog, _utf8mb4
  kQuotedIdentifier,  // "..." ("" escape); MySQL `...` (`` escape); PostgreSQL U&"..."
  kString,            // '...', E'...', B'..', X'..', N'..', U&'..', $tag$...$tag$; MySQL '..' and ".."
  kNumber,            // 42, 3.14, .5, 1e-3, 0x1F
  kOperator,          // operator run (<=, ->>, ::, :=) or one punctuation mark: ( ) , [ ] . :
  kSemicolon,         // ;
  kParameter,         // PostgreSQL $1; MySQL ?
  kVariable,          // MySQL @name, @@name, @@session.name
  kComment,           // -- ...; /* ... */ (nested in PostgreSQL); MySQL # ...
  kError,             // unterminated quote or comment: text runs to the end of the input
  kEnd,               // end of input
};

enum class LexError : std::uint8_t {
  kNone,
  kUnterminatedString,
  kUnterminatedQuotedIdentifier,
  kUnterminatedDollarQuote,
  kUnterminatedComment,
};

std::string_view to_string(Dialect d);
std::string_view to_string(TokenKind k);
std::string_view to_string(LexError e);

// ASCII case-insensitive equality; `lower` must already be lowercase. (Inline: the classifier
// compares every word of a statement with a few keywords.)
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
inline bool iequals(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (ascii_lower(text[i]) != lower[i]) return false;
  }
  return true;
}

// A token is a view into the lexer's input, exactly as written (quotes and delimiters included).
struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;
  std::size_t offset = 0;  // of text within the input

  bool is(TokenKind k) const { return kind == k; }
  // A kWord equal to `lower` (which must be lowercase ASCII), compared without copying.
  // Inline: the classifier asks this of every word many times, and most answers are a length mismatch.
  bool is_word(std::string_view lower) const {
    return kind == TokenKind::kWord && text.size() == lower.size() && iequals(text, lower);
  }
  // A kOperator whose text is exactly `op`.
  bool is_op(std::string_view op) const { return kind == TokenKind::kOperator && text == op; }
};

// Splits SQL into tokens, one per next(). Comments are returned as kComment tokens so callers can
// read hints in them; whitespace is skipped. After kError, next() returns kEnd. MySQL executable
// comments (/*!50100 ... */, MariaDB /*M! ... */) are lexed as code: their opener and closer vanish.
// PostgreSQL strings follow standard_conforming_strings = on (the default since 9.1): a backslash
// in '...' is an ordinary character; only E'...' takes backslash escapes.
class Lexer {
 public:
  Lexer(std::string_view input, Dialect dialect) : in_(input), dialect_(dialect) {}

  Token next();
  LexError error() const { return error_; }
  std::size_t position() const { return pos_; }
  std::string_view input() const { return in_; }

 private:
  Token make(TokenKind kind, std::size_t start) const { return {kind, in_.substr(start, pos_ - start), start}; }
  Token fail(LexError e, std::size_t start);
  bool at(std::size_t i, char c) const { return i < in_.size() && in_[i] == c; }
  Token lex_word(std::size_t start);
  Token lex_number(std::size_t start);
  Token lex_quoted(std::size_t start, char quote, TokenKind kind, bool backslash_escapes);
  Token lex_dollar(std::size_t start);
  Token lex_block_comment(std::size_t start);
  Token lex_operator(std::size_t start);
  Token lex_variable(std::size_t start);
  bool is_operator_char(char c) const;
  bool starts_comment(std::size_t i) const;

  std::string_view in_;
  std::size_t pos_ = 0;
  Dialect dialect_;
  LexError error_ = LexError::kNone;
  bool done_ = false;
  int executable_comments_ = 0;  // MySQL /*! ... */ currently open
};

// The text of a kComment token without its delimiters (--, #, /* */), untrimmed.
std::string_view comment_body(std::string_view comment);

// The routing hint a comment carries: `baton:primary` or `baton:replica` as a whole word
// (case-insensitive) anywhere in the comment body. Both present: primary wins.
enum class Hint : std::uint8_t { kNone, kPrimary, kReplica };
Hint comment_hint(std::string_view comment);

// The name a kQuotedIdentifier denotes: quotes removed, doubled quotes collapsed. Allocates.
std::string unquote_identifier(std::string_view quoted);

}  // namespace baton::protocol::sql
