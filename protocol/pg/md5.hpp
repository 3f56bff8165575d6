// PostgreSQL's MD5 password authentication: stored hashes ("md5" + 32 hex) and salted responses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace baton::protocol::pg::md5 {

// The salt in AuthenticationMD5Password is 4 bytes.
inline constexpr std::size_t kSaltSize = 4;

// What a client sends for AuthenticationMD5Password: "md5" + md5_hex(md5_hex(password + user) + salt)
std::string client_response(std::string_view password, std::string_view user, const std::uint8_t salt[4]);

// Same, from a stored "md5<32 hex>" hash (PostgreSQL's pg_authid format) instead of a password.
// Returns "" when stored_md5 is not such a hash (check with is_stored_hash first, or use
// verify_response, which never accepts anything for a malformed stored hash).
std::string client_response_from_hash(std::string_view stored_md5, const std::uint8_t salt[4]);

// "md5" + md5_hex(password + user), as PostgreSQL stores an MD5 password.
std::string stored_hash(std::string_view password, std::string_view user);

// True for "md5" followed by exactly 32 lowercase hex digits (PostgreSQL's own test).
bool is_stored_hash(std::string_view text);

// Server side: does a client's PasswordMessage answer the salt for this stored hash?
// Compares in constant time; false whenever stored_md5 is malformed.
bool verify_response(std::string_view stored_md5, const std::uint8_t salt[4], std::string_view response);

}  // namespace baton::protocol::pg::md5
