// Cryptographic primitives for authentication (base64, SHA-256, HMAC, PBKDF2, MD5, CSPRNG) over OpenSSL 3.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/common/bytes.hpp"

namespace baton::protocol::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string base64_encode(Bytes data);

// Strict decoding: the length must be a multiple of 4, only the standard alphabet, '=' only as
// the final one or two characters, and the unused bits of the last group must be zero (so every
// accepted text is the canonical encoding of its bytes). No whitespace. nullopt on bad input.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

Sha256Digest sha256(Bytes data);
Sha256Digest hmac_sha256(Bytes key, Bytes data);

// PBKDF2-HMAC-SHA-256 with a 32-byte output: SCRAM's Hi(password, salt, iterations).
// Precondition: iterations >= 1 (callers validate; aborts if OpenSSL refuses).
Sha256Digest pbkdf2_sha256(std::string_view password, Bytes salt, int iterations);

// MD5 of the data as 32 lowercase hex characters (PostgreSQL's md5 auth only; MD5 is broken).
std::string md5_hex(Bytes data);

// Fills out from OpenSSL's CSPRNG; aborts the process if the CSPRNG fails.
void random_bytes(std::span<std::uint8_t> out);

// True when a and b have the same length and contents. The time taken depends only on the
// lengths, never on where the contents differ.
bool constant_time_equal(Bytes a, Bytes b);

// Lowercase hex of the bytes (two characters per byte).
std::string to_hex(Bytes data);

}  // namespace baton::protocol::crypto
