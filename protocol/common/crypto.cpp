// Cryptographic primitives for authentication, implemented with OpenSSL 3's EVP interfaces.
#include "protocol/common/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace baton::protocol::crypto {
namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of a base64 character, or -1 when it is not in the alphabet ('=' included).
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// OpenSSL failing at a fixed-size digest of in-memory data means the library itself is broken
// (or the algorithm is disabled, e.g. MD5 under a FIPS-only configuration): nothing sensible
// can continue, and returning a made-up digest would be a security hole.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "baton: fatal OpenSSL failure: %s\n", what);
  std::abort();
}

// OpenSSL wants a non-null pointer even for empty input in a few places.
const unsigned char* data_or_empty(Bytes b) {
  static const unsigned char kEmpty = 0;
  return b.empty() ? &kEmpty : b.data();
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, Bytes data, const char* what) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data_or_empty(data), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != N) {
    die(what);
  }
  return out;
}

// HMAC is fetched once per process; EVP_MAC objects are safe to share between threads.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac == nullptr) die("EVP_MAC_fetch(HMAC)");
  return mac;
}

}  // namespace

std::string base64_encode(Bytes data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::size_t padding = 0;
    if (last && text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int d = 0;
      if (k < 4 - padding) {
        d = base64_value(text[i + k]);
        if (d < 0) return std::nullopt;  // bad character, or '=' in the middle
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    if (padding < 2) out.push_back(static_cast<std::uint8_t>(v >> 8));
    if (padding < 1) out.push_back(static_cast<std::uint8_t>(v));
    // Non-canonical encodings leave set bits in the part the padding discards.
    if ((padding == 2 && (v & 0xFFFF) != 0) || (padding == 1 && (v & 0xFF) != 0)) return std::nullopt;
  }
  return out;
}

Sha256Digest sha256(Bytes data) { return digest<32>(EVP_sha256(), data, "SHA-256"); }

Sha256Digest hmac_sha256(Bytes key, Bytes data) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_algorithm());
  if (ctx == nullptr) die("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  Sha256Digest out{};
  std::size_t len = 0;
  // An empty key still needs a non-null pointer, or OpenSSL reports "no key set".
  const bool ok = EVP_MAC_init(ctx, data_or_empty(key), key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, data_or_empty(data), data.size()) == 1 &&
                  EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
  EVP_MAC_CTX_free(ctx);
  if (!ok) die("HMAC-SHA-256");
  return out;
}

Sha256Digest pbkdf2_sha256(std::string_view password, Bytes salt, int iterations) {
  Sha256Digest out{};
  // PKCS5_PBKDF2_HMAC runs OpenSSL's PBKDF2 KDF in PKCS#5 mode, i.e. without SP 800-132's
  // minimum salt length and iteration count, which SCRAM and the RFC test vectors need.
  if (iterations < 1 || password.size() > INT_MAX || salt.size() > INT_MAX ||
      PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), data_or_empty(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    die("PBKDF2-HMAC-SHA-256");
  }
  return out;
}

std::string md5_hex(Bytes data) {
  auto d = digest<16>(EVP_md5(), data, "MD5");
  return to_hex(d);
}

void random_bytes(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    const std::size_t n = std::min<std::size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) die("RAND_bytes");
    out = out.subspan(n);
  }
}

bool constant_time_equal(Bytes a, Bytes b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(Bytes data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

}  // namespace baton::protocol::crypto
