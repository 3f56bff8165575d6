// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: verifiers and both sides of the exchange.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/common/bytes.hpp"

namespace baton::protocol::pg::scram {

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr int kDefaultIterations = 4096;
// A client refuses a server-first-message asking for more PBKDF2 iterations than this.
inline constexpr int kMaxClientIterations = 10'000'000;

// What PostgreSQL keeps in pg_authid.rolpassword for a SCRAM user; enough to verify a client
// (StoredKey) and to prove the server knows it (ServerKey), not enough to log in elsewhere.
struct Verifier {
  int iterations = kDefaultIterations;
  std::vector<std::uint8_t> salt;
  std::array<std::uint8_t, 32> stored_key{};
  std::array<std::uint8_t, 32> server_key{};
};

// PostgreSQL's stored format: "SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>".
// Strict: iterations are decimal digits without a leading zero (>= 1), the salt is non-empty,
// both keys decode to exactly 32 bytes, base64 is canonical; so format_verifier(*parse_verifier(t)) == t.
std::optional<Verifier> parse_verifier(std::string_view text);
std::string format_verifier(const Verifier& v);

// Derives a verifier from a password (after the SASLprep approximation described in scram.cpp).
// Precondition: iterations >= 1.
Verifier make_verifier(std::string_view password, Bytes salt, int iterations);

// 18 random bytes, base64: 24 printable characters, never ','.
std::string make_nonce();

enum class Failure { kNone, kMalformed, kAuthFailed, kUnsupported };
std::string_view to_string(Failure f);

// The outcome of one step: bytes to send next, done (with final bytes to send, possibly empty), or fail.
struct Step {
  enum class Kind { kSend, kDone, kFail } kind = Kind::kFail;
  std::string bytes;  // kSend / kDone: the message body to send (SASL data)
  Failure failure = Failure::kNone;
  std::string error;  // kFail: human-readable reason (never contains a password or key)
};
std::string_view to_string(Step::Kind k);

// Server side: baton authenticating a client (mechanism "SCRAM-SHA-256" only; no channel binding).
// Accepts GS2 headers "n,," and "y,," (the client could bind, but we advertise no -PLUS mechanism),
// refuses "p=" and an authorization identity with kUnsupported. Call on_client_first, then
// on_client_final; any other order, or any call after a kDone/kFail, fails with kMalformed.
class ServerExchange {
 public:
  // server_nonce: printable, no ',' (make_nonce()).
  ServerExchange(Verifier verifier, std::string server_nonce);

  // kSend: server-first-message "r=<client nonce><server nonce>,s=<salt>,i=<iterations>".
  Step on_client_first(std::string_view mechanism, Bytes client_first);
  // kDone: server-final-message ("v=<ServerSignature>"); kFail kAuthFailed on a bad proof.
  Step on_client_final(Bytes client_final);

 private:
  enum class State { kWantClientFirst, kWantClientFinal, kFinished };
  Step fail(Failure f, std::string error);

  Verifier verifier_;
  std::string server_nonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
  State state_ = State::kWantClientFirst;
};

// Client side: baton logging into a PostgreSQL server. Call client_first(), then on_server_first,
// then on_server_final.
class ClientExchange {
 public:
  // client_nonce: printable, no ',' (make_nonce()). The user name is sent empty, as libpq does:
  // PostgreSQL takes the user from the startup packet and ignores SCRAM's.
  ClientExchange(std::string password, std::string client_nonce);
  // For peers other than PostgreSQL (and the RFC 7677 example), with a SCRAM user name; ',' and
  // '=' in it are escaped as "=2C" and "=3D" (RFC 5802 section 5.1).
  ClientExchange(std::string password, std::string client_nonce, std::string_view user);
  ~ClientExchange();
  ClientExchange(const ClientExchange&) = default;
  ClientExchange& operator=(const ClientExchange&) = default;

  // "n,,n=,r=<nonce>" (PostgreSQL ignores the user name).
  std::string client_first() const;
  // kSend: client-final-message; kFail on a bad nonce, iteration count or salt.
  Step on_server_first(Bytes server_first);
  // kDone (empty bytes) when the server signature verifies; kFail otherwise, including a
  // server-final "e=<reason>" (kAuthFailed, with the server's reason in error).
  Step on_server_final(Bytes server_final);

 private:
  enum class State { kWantServerFirst, kWantServerFinal, kFinished };
  Step fail(Failure f, std::string error);

  std::string password_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::array<std::uint8_t, 32> expected_server_signature_{};
  State state_ = State::kWantServerFirst;
};

}  // namespace baton::protocol::pg::scram
