// Tokenizing SQL text for both dialects happens here; nothing is allocated per token.
#include "protocol/sql/lexer.hpp"

#include <array>

namespace baton::protocol::sql {
namespace {

// Character classes by table: the lexer asks them of every character of every statement a
// client sends (a simple Query is classified afresh each time), so one load each.
enum CharClass : std::uint8_t { kSpace = 1, kDigit = 2, kWordStart = 4, kWordChar = 8 };

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[c] = kSpace;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit | kWordChar;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kWordStart | kWordChar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kWordStart | kWordChar;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = kWordStart | kWordChar;
  t['_'] = kWordStart | kWordChar;
  t['$'] = kWordChar;
  return t;
}
constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

bool has_class(char c, CharClass k) { return (kClasses[static_cast<unsigned char>(c)] & k) != 0; }
bool is_space(char c) { return has_class(c, kSpace); }
bool is_digit(char c) { return has_class(c, kDigit); }
bool is_word_start(char c) { return has_class(c, kWordStart); }
bool is_word_char(char c) { return has_class(c, kWordChar); }

}  // namespace

std::string_view to_string(Dialect d) {
  switch (d) {
    case Dialect::kPostgres: return "postgres";
    case Dialect::kMysql: return "mysql";
  }
  return "?";
}

std::string_view to_string(TokenKind k) {
  switch (k) {
    case TokenKind::kWord: return "word";
    case TokenKind::kQuotedIdentifier: return "quoted_identifier";
    case TokenKind::kString: return "string";
    case TokenKind::kNumber: return "number";
    case TokenKind::kOperator: return "operator";
    case TokenKind::kSemicolon: return "semicolon";
    case TokenKind::kParameter: return "parameter";
    case TokenKind::kVariable: return "variable";
    case TokenKind::kComment: return "comment";
    case TokenKind::kError: return "error";
    case TokenKind::kEnd: return "end";
  }
  return "?";
}

std::string_view to_string(LexError e) {
  switch (e) {
    case LexError::kNone: return "none";
    case LexError::kUnterminatedString: return "unterminated string";
    case LexError::kUnterminatedQuotedIdentifier: return "unterminated quoted identifier";
    case LexError::kUnterminatedDollarQuote: return "unterminated dollar quote";
    case LexError::kUnterminatedComment: return "unterminated comment";
  }
  return "?";
}

Token Lexer::fail(LexError e, std::size_t start) {
  error_ = e;
  done_ = true;
  pos_ = in_.size();
  return make(TokenKind::kError, start);
}

bool Lexer::starts_comment(std::size_t i) const {
  if (at(i, '/') && at(i + 1, '*')) return true;
  if (at(i, '-') && at(i + 1, '-')) {
    if (dialect_ == Dialect::kPostgres) return true;
    // MySQL: "--" starts a comment only when followed by whitespace, a control character or the end.
    return i + 2 >= in_.size() || static_cast<unsigned char>(in_[i + 2]) <= ' ';
  }
  return dialect_ == Dialect::kMysql && at(i, '#');
}

bool Lexer::is_operator_char(char c) const {
  switch (c) {
    case '+': case '-': case '*': case '/': case '<': case '>': case '=':
    case '~': case '!': case '%': case '^': case '&': case '|':
      return true;
    case '@': case '#': case '`': case '?':
      return dialect_ == Dialect::kPostgres;
    default:
      return false;
  }
}

Token Lexer::next() {
  if (done_) return {TokenKind::kEnd, in_.substr(in_.size()), in_.size()};
  for (;;) {
    std::size_t i = pos_;
    const std::size_t n = in_.size();
    while (i < n && is_space(in_[i])) ++i;
    pos_ = i;
    if (executable_comments_ > 0 && at(pos_, '*') && at(pos_ + 1, '/')) {
      pos_ += 2;
      --executable_comments_;
      continue;
    }
    break;
  }
  const std::size_t start = pos_;
  if (pos_ >= in_.size()) {
    if (executable_comments_ > 0) return fail(LexError::kUnterminatedComment, start);
    done_ = true;
    return {TokenKind::kEnd, in_.substr(in_.size()), in_.size()};
  }
  const char c = in_[pos_];
  if ((c == '/' || c == '-' || c == '#') && starts_comment(pos_)) {
    if (c == '/') return lex_block_comment(start);
    while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
    return make(TokenKind::kComment, start);
  }
  if (is_word_start(c)) return lex_word(start);
  if (is_digit(c) || (c == '.' && pos_ + 1 < in_.size() && is_digit(in_[pos_ + 1]))) return lex_number(start);
  switch (c) {
    case '\'':
      return lex_quoted(start, '\'', TokenKind::kString, dialect_ == Dialect::kMysql);
    case '"':
      if (dialect_ == Dialect::kMysql) return lex_quoted(start, '"', TokenKind::kString, true);
      return lex_quoted(start, '"', TokenKind::kQuotedIdentifier, false);
    case '`':
      if (dialect_ == Dialect::kMysql) return lex_quoted(start, '`', TokenKind::kQuotedIdentifier, false);
      break;
    case '$':
      if (dialect_ == Dialect::kPostgres) return lex_dollar(start);
      break;
    case '?':
      if (dialect_ == Dialect::kMysql) {
        ++pos_;
        return make(TokenKind::kParameter, start);
      }
      break;
    case '@':
      if (dialect_ == Dialect::kMysql) return lex_variable(start);
      break;
    case ';':
      ++pos_;
      return make(TokenKind::kSemicolon, start);
    case ':':
      pos_ += (at(pos_ + 1, ':') || at(pos_ + 1, '=')) ? 2 : 1;
      return make(TokenKind::kOperator, start);
    default:
      break;
  }
  if (is_operator_char(c)) return lex_operator(start);
  ++pos_;  // punctuation and anything else: one character
  return make(TokenKind::kOperator, start);
}

Token Lexer::lex_word(std::size_t start) {
  // A local index: through in_'s chars the compiler would otherwise reload and store pos_ per character.
  std::size_t i = pos_;
  const std::size_t n = in_.size();
  while (i < n && is_word_char(in_[i])) ++i;
  pos_ = i;
  const std::size_t len = pos_ - start;
  if (len == 1 && at(pos_, '\'')) {
    const char p = ascii_lower(in_[start]);
    if (p == 'e' && dialect_ == Dialect::kPostgres) return lex_quoted(start, '\'', TokenKind::kString, true);
    if (p == 'b' || p == 'x' || p == 'n') {
      return lex_quoted(start, '\'', TokenKind::kString, dialect_ == Dialect::kMysql);
    }
  }
  if (len == 1 && ascii_lower(in_[start]) == 'u' && dialect_ == Dialect::kPostgres && at(pos_, '&')) {
    if (at(pos_ + 1, '\'')) {
      ++pos_;
      return lex_quoted(start, '\'', TokenKind::kString, false);
    }
    if (at(pos_ + 1, '"')) {
      ++pos_;
      return lex_quoted(start, '"', TokenKind::kQuotedIdentifier, false);
    }
  }
  return make(TokenKind::kWord, start);
}

Token Lexer::lex_number(std::size_t start) {
  if (in_[pos_] == '0' && pos_ + 1 < in_.size() && std::string_view("xXbBoO").find(in_[pos_ + 1]) != std::string_view::npos) {
    pos_ += 2;
    while (pos_ < in_.size() && (is_word_char(in_[pos_]))) ++pos_;
    return make(TokenKind::kNumber, start);
  }
  std::size_t digits_end = pos_;  // a local index, as in lex_word
  const std::size_t n = in_.size();
  while (digits_end < n && (is_digit(in_[digits_end]) || in_[digits_end] == '_')) ++digits_end;
  pos_ = digits_end;
  if (at(pos_, '.') && !at(pos_ + 1, '.')) {
    ++pos_;
    while (pos_ < in_.size() && (is_digit(in_[pos_]) || in_[pos_] == '_')) ++pos_;
  }
  if ((at(pos_, 'e') || at(pos_, 'E'))) {
    std::size_t i = pos_ + 1;
    if (at(i, '+') || at(i, '-')) ++i;
    if (i < in_.size() && is_digit(in_[i])) {
      pos_ = i;
      while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
    }
  }
  // Trailing identifier characters stay with the number (PostgreSQL rejects them as junk; MySQL
  // allows identifiers such as 1abc). Either way they are not a keyword.
  while (pos_ < in_.size() && is_word_char(in_[pos_])) ++pos_;
  return make(TokenKind::kNumber, start);
}

Token Lexer::lex_quoted(std::size_t start, char quote, TokenKind kind, bool backslash_escapes) {
  while (pos_ < in_.size() && in_[pos_] != quote) ++pos_;  // skip any prefix (E, U&, N ...)
  ++pos_;                                                   // opening quote
  while (pos_ < in_.size()) {
    const char c = in_[pos_];
    if (backslash_escapes && c == '\\') {
      pos_ += 2;
      continue;
    }
    if (c == quote) {
      if (at(pos_ + 1, quote)) {
        pos_ += 2;
        continue;
      }
      ++pos_;
      return make(kind, start);
    }
    ++pos_;
  }
  return fail(kind == TokenKind::kString ? LexError::kUnterminatedString : LexError::kUnterminatedQuotedIdentifier,
              start);
}

Token Lexer::lex_dollar(std::size_t start) {
  std::size_t i = pos_ + 1;
  if (i < in_.size() && is_digit(in_[i])) {
    while (i < in_.size() && is_digit(in_[i])) ++i;
    pos_ = i;
    return make(TokenKind::kParameter, start);
  }
  if (i < in_.size() && is_word_start(in_[i])) {
    while (i < in_.size() && is_word_char(in_[i]) && in_[i] != '$') ++i;
  }
  if (!at(i, '$')) {  // a lone $ is not valid PostgreSQL; pass it on as an operator
    ++pos_;
    return make(TokenKind::kOperator, start);
  }
  const std::string_view delimiter = in_.substr(start, i + 1 - start);
  const std::size_t close = in_.find(delimiter, i + 1);
  if (close == std::string_view::npos) return fail(LexError::kUnterminatedDollarQuote, start);
  pos_ = close + delimiter.size();
  return make(TokenKind::kString, start);
}

Token Lexer::lex_block_comment(std::size_t start) {
  pos_ += 2;
  if (dialect_ == Dialect::kMysql && (at(pos_, '!') || (at(pos_, 'M') && at(pos_ + 1, '!')))) {
    pos_ += at(pos_, '!') ? 1 : 2;
    while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;  // version number
    ++executable_comments_;
    return next();
  }
  int depth = 1;
  while (pos_ < in_.size()) {
    if (at(pos_, '*') && at(pos_ + 1, '/')) {
      pos_ += 2;
      if (--depth == 0) return make(TokenKind::kComment, start);
      continue;
    }
    if (dialect_ == Dialect::kPostgres && at(pos_, '/') && at(pos_ + 1, '*')) {
      pos_ += 2;
      ++depth;
      continue;
    }
    ++pos_;
  }
  return fail(LexError::kUnterminatedComment, start);
}

Token Lexer::lex_operator(std::size_t start) {
  while (pos_ < in_.size() && is_operator_char(in_[pos_]) && !(pos_ > start && starts_comment(pos_))) ++pos_;
  // PostgreSQL's rule (used for both dialects): a multi-character operator may end in + or - only
  // if it contains one of ~ ! @ # % ^ & | ` ?, so "=-1" is "=" then "-" then "1".
  if (pos_ - start > 1) {
    const std::string_view run = in_.substr(start, pos_ - start);
    if (run.find_first_of("~!@#%^&|`?") == std::string_view::npos) {
      while (pos_ - start > 1 && (in_[pos_ - 1] == '+' || in_[pos_ - 1] == '-')) --pos_;
    }
  }
  return make(TokenKind::kOperator, start);
}

Token Lexer::lex_variable(std::size_t start) {
  ++pos_;
  if (at(pos_, '@')) ++pos_;
  if (pos_ < in_.size() && (in_[pos_] == '\'' || in_[pos_] == '"' || in_[pos_] == '`')) {
    const char q = in_[pos_];
    Token t = lex_quoted(pos_, q, q == '`' ? TokenKind::kQuotedIdentifier : TokenKind::kString, q != '`');
    if (t.kind == TokenKind::kError) return t;
    return make(TokenKind::kVariable, start);
  }
  while (pos_ < in_.size() && (is_word_char(in_[pos_]) || in_[pos_] == '.')) ++pos_;
  if (pos_ - start == 1) return make(TokenKind::kOperator, start);
  return make(TokenKind::kVariable, start);
}

std::string_view comment_body(std::string_view comment) {
  if (comment.starts_with("--")) return comment.substr(2);
  if (comment.starts_with("#")) return comment.substr(1);
  if (comment.starts_with("/*")) {
    comment.remove_prefix(2);
    if (comment.ends_with("*/")) comment.remove_suffix(2);
  }
  return comment;
}

Hint comment_hint(std::string_view comment) {
  const std::string_view body = comment_body(comment);
  Hint found = Hint::kNone;
  constexpr std::string_view kPrefix = "baton:";
  for (std::size_t i = 0; i + kPrefix.size() <= body.size(); ++i) {
    if (!iequals(body.substr(i, kPrefix.size()), kPrefix)) continue;
    if (i > 0 && is_word_char(body[i - 1])) continue;
    const std::size_t w = i + kPrefix.size();
    std::size_t end = w;
    while (end < body.size() && is_word_char(body[end])) ++end;
    const std::string_view word = body.substr(w, end - w);
    if (iequals(word, "primary")) return Hint::kPrimary;
    if (iequals(word, "replica")) found = Hint::kReplica;
  }
  return found;
}

std::string unquote_identifier(std::string_view quoted) {
  if (quoted.size() >= 2 && (quoted[0] == 'U' || quoted[0] == 'u') && quoted[1] == '&') quoted.remove_prefix(2);
  if (quoted.size() < 2) return std::string(quoted);
  const char q = quoted.front();
  quoted = quoted.substr(1, quoted.size() - 2);
  std::string out;
  out.reserve(quoted.size());
  for (std::size_t i = 0; i < quoted.size(); ++i) {
    out.push_back(quoted[i]);
    if (quoted[i] == q && i + 1 < quoted.size() && quoted[i + 1] == q) ++i;
  }
  return out;
}

}  // namespace baton::protocol::sql
