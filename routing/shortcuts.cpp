// Questions about a statement answered without the classifier's lexer (runs for every statement a client sends).
#include "routing/shortcuts.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace baton::routing {
namespace {

// ASCII case folding by ORing 0x20: a letter becomes lowercase, and nothing else becomes a letter.
constexpr unsigned char fold(unsigned char c) { return static_cast<unsigned char>(c | 0x20); }

bool blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

// Up to eight bytes as one number, the first in the lowest byte, whatever the machine's order.
std::uint64_t load8(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  if (n >= 8) {
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  } else {
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  }
  return v;
}

consteval std::uint64_t text8(std::string_view w) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < w.size(); ++i) v |= std::uint64_t{static_cast<unsigned char>(w[i])} << (8 * i);
  return v;
}

// The verb at p when its statements take no pin and set nothing of their own: the byte after
// it; else nullptr.
const unsigned char* neutral_verb(const unsigned char* p, const unsigned char* end) {
  const auto left = static_cast<std::size_t>(end - p);
  if (left == 0) return nullptr;
  std::uint64_t want = 0;
  std::size_t n = 0;
  switch (fold(*p)) {
    case 's': want = text8("select"), n = 6; break;
    case 'i': want = text8("insert"), n = 6; break;
    case 'u': want = text8("update"), n = 6; break;
    case 'd': want = text8("delete"), n = 6; break;
    case 'w': want = text8("with"), n = 4; break;
    case 'v': want = text8("values"), n = 6; break;
    case 'b': want = text8("begin"), n = 5; break;
    case 'c': want = text8("commit"), n = 6; break;
    case 'e': want = text8("end"), n = 3; break;
    case 'r': want = text8("rollback"), n = 8; break;
    default: return nullptr;
  }
  if (left < n) return nullptr;
  const std::uint64_t mask = n == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
  if (((load8(p, left) | 0x2020202020202020u) & mask) != want) return nullptr;
  if (left > n && word_char(p[n])) return nullptr;  // "selected", "select1"
  return p + n;
}

// Bit i: byte i of the sixteen at p (a seventeenth must be readable) may matter: a quote ' " `,
// '@', '#', ';', '-', '/', '$', or the first letter of "mp", "g_", "oc" or "ob" in any case
// (temp, pg_, local / lock, global). Also set for a few bytes that do not matter ('%', '&', and
// control bytes that fold onto the signs), which look_closer() passes.
std::uint32_t may_matter16(const unsigned char* p) {
#if defined(__SSE2__)
  const __m128i lower = _mm_set1_epi8(0x20);
  const __m128i a = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), lower);
  const __m128i b = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)), lower);
  auto eq = [](__m128i x, char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
  const __m128i pairs = _mm_or_si128(
      _mm_or_si128(_mm_and_si128(eq(a, 'm'), eq(b, 'p')), _mm_and_si128(eq(a, 'g'), eq(b, '_' | 0x20))),
      _mm_and_si128(eq(a, 'o'), _mm_or_si128(eq(b, 'c'), eq(b, 'b'))));
  // ' " # $ (and % &, passed later) in one range: 0x22 <= byte <= 0x27.
  const __m128i from_quote = _mm_sub_epi8(a, _mm_set1_epi8(0x22));
  const __m128i quotes = _mm_cmpeq_epi8(_mm_min_epu8(from_quote, _mm_set1_epi8(5)), from_quote);
  const __m128i signs = _mm_or_si128(_mm_or_si128(eq(a, '`'), eq(a, ';')), _mm_or_si128(eq(a, '-'), eq(a, '/')));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(pairs, _mm_or_si128(quotes, signs))));
#else
  std::uint32_t mask = 0;
  for (int i = 0; i < 16; ++i) {
    const unsigned char a = fold(p[i]);
    const unsigned char b = fold(p[i + 1]);
    const bool pair = (a == 'm' && b == 'p') || (a == 'g' && b == fold('_')) || (a == 'o' && (b == 'c' || b == 'b'));
    const bool single = static_cast<unsigned char>(a - 0x22) <= 5 || a == '`' || a == ';' || a == '-' || a == '/';
    mask |= static_cast<std::uint32_t>(pair || single) << i;
  }
  return mask;
#endif
}

enum class Look { kNothing, kClassifier, kAlone };

// The byte at q, which may_matter16() marked, in the statement [begin, end): nothing, something
// the classifier must see, or a final ';' (nothing after it but blanks).
Look look_closer(const unsigned char* q, const unsigned char* begin, const unsigned char* end) {
  auto at = [begin, end](const unsigned char* r) -> unsigned char { return r >= begin && r < end ? fold(*r) : 0; };
  switch (*q) {
    case '\'': case '"': case '`': case '@': case '#':
      return Look::kClassifier;
    case ';':
      // A final semicolon only (no second statement).
      for (const auto* r = q + 1; r < end; ++r) {
        if (!blank(*r)) return Look::kClassifier;
      }
      return Look::kAlone;
    case '-':
      return q + 1 < end && q[1] == '-' ? Look::kClassifier : Look::kNothing;  // "--": a comment
    case '/':
      return q + 1 < end && q[1] == '*' ? Look::kClassifier : Look::kNothing;  // "/*": a comment
    case '$':
      // $1: a parameter. Anything else may open a dollar quote.
      return q + 1 < end && q[1] >= '0' && q[1] <= '9' ? Look::kNothing : Look::kClassifier;
    default:
      break;
  }
  bool needle = false;
  switch (fold(*q)) {
    case 'm': needle = at(q - 2) == 't' && at(q - 1) == 'e' && at(q + 1) == 'p'; break;  // temp
    case 'g': needle = at(q - 1) == 'p' && q + 1 < end && q[1] == '_'; break;             // pg_
    case 'o':
      needle = (at(q - 1) == 'l' && at(q + 1) == 'c') ||                  // local, lock
               (at(q - 2) == 'g' && at(q - 1) == 'l' && at(q + 1) == 'b');  // global
      break;
    default: break;
  }
  return needle ? Look::kClassifier : Look::kNothing;
}

}  // namespace

bool leaves_session_alone(std::string_view sql) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(sql.data());
  const auto* const end = begin + sql.size();
  const auto* p = begin;
  while (p < end && blank(*p)) ++p;
  p = neutral_verb(p, end);
  if (p == nullptr) return false;
  // Sixteen bytes at a time: most bytes are none that matter; those that may are looked at in order.
  while (p < end) {
    const unsigned char* const block = p;
    std::uint32_t mask;
    if (end - p > 16) {
      mask = may_matter16(p);
    } else {
      std::array<unsigned char, 17> tail;
      tail.fill(' ');
      std::memcpy(tail.data(), p, static_cast<std::size_t>(end - p));
      mask = may_matter16(tail.data());
    }
    for (; mask != 0; mask &= mask - 1) {
      switch (look_closer(block + std::countr_zero(mask), begin, end)) {
        case Look::kNothing: break;
        case Look::kClassifier: return false;
        case Look::kAlone: return true;
      }
    }
    p = block + 16;
  }
  return true;
}

}  // namespace baton::routing
