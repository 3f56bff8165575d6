// PostgreSQL's MD5 password hashing and salted challenge responses.
#include "protocol/pg/md5.hpp"

#include "protocol/common/bytes.hpp"
#include "protocol/common/crypto.hpp"

namespace baton::protocol::pg::md5 {
namespace {

constexpr std::string_view kPrefix = "md5";
constexpr std::size_t kHexLength = 32;

}  // namespace

bool is_stored_hash(std::string_view text) {
  if (text.size() != kPrefix.size() + kHexLength || !text.starts_with(kPrefix)) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string stored_hash(std::string_view password, std::string_view user) {
  std::string input;
  input.reserve(password.size() + user.size());
  input.append(password).append(user);
  return std::string(kPrefix) + crypto::md5_hex(as_bytes(input));
}

std::string client_response_from_hash(std::string_view stored_md5, const std::uint8_t salt[4]) {
  if (!is_stored_hash(stored_md5)) return {};
  // The salted hash covers the 32 hex digits (without "md5") followed by the raw salt bytes.
  std::string input(stored_md5.substr(kPrefix.size()));
  input.append(reinterpret_cast<const char*>(salt), kSaltSize);
  return std::string(kPrefix) + crypto::md5_hex(as_bytes(input));
}

std::string client_response(std::string_view password, std::string_view user, const std::uint8_t salt[4]) {
  return client_response_from_hash(stored_hash(password, user), salt);
}

bool verify_response(std::string_view stored_md5, const std::uint8_t salt[4], std::string_view response) {
  std::string expected = client_response_from_hash(stored_md5, salt);
  if (expected.empty()) return false;
  return crypto::constant_time_equal(as_bytes(expected), as_bytes(response));
}

}  // namespace baton::protocol::pg::md5
