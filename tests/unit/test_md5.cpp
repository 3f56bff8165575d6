// Unit tests for protocol/pg/md5: PostgreSQL's documented MD5 formula, cross-checked values.
#include <catch2/catch.hpp>

#include <string>

#include "protocol/pg/md5.hpp"

using namespace baton::protocol::pg::md5;

// The formula is PostgreSQL's (docs, "Message Flow", AuthenticationMD5Password):
//   concat('md5', md5(concat(md5(concat(password, username)), random-salt))).
// Expected values computed independently with Python 3.11 hashlib:
//   m = lambda b: hashlib.md5(b).hexdigest()
//   'md5' + m(b'secretpostgres')                                   -> stored hash
//   'md5' + m(m(b'secretpostgres').encode() + bytes([1, 2, 3, 4])) -> response
// libpq 15's PQencryptPasswordConn(conn, "secret", "postgres", "md5") gave the same stored hash.
namespace {
constexpr std::uint8_t kSalt1234[4] = {0x01, 0x02, 0x03, 0x04};
constexpr std::uint8_t kSaltDeadBeef[4] = {0xde, 0xad, 0xbe, 0xef};
constexpr std::string_view kStoredSecretPostgres = "md553f48b7c4b76a86ce72276c5755f217d";
}  // namespace

TEST_CASE("md5 stored_hash is md5(password + user)", "[auth][md5]") {
  CHECK(stored_hash("secret", "postgres") == kStoredSecretPostgres);
  CHECK(is_stored_hash(stored_hash("secret", "postgres")));
}

TEST_CASE("md5 client_response follows PostgreSQL's formula", "[auth][md5]") {
  CHECK(client_response("secret", "postgres", kSalt1234) == "md5bb41a296aab6baccb36ff243a562abff");
  // Salt bytes above 0x7f go in raw, not as text. Python: 'md5' + m(m(b'foouser').encode() + bytes.fromhex('deadbeef'))
  CHECK(client_response("foo", "user", kSaltDeadBeef) == "md5c88aab8900d3e71d1f4c2093c7e81e06");
  CHECK(client_response("secret", "postgres", kSaltDeadBeef) != client_response("secret", "postgres", kSalt1234));
}

TEST_CASE("md5 matches values published by other PostgreSQL implementations", "[auth][md5]") {
  // passlib documentation, passlib.hash.postgres_md5: hash("password", user="username").
  CHECK(stored_hash("password", "username") == "md55a231fcdb710d73268c4f44283487ba2");
  // rust-postgres, postgres-protocol src/authentication/mod.rs test: user "md5_user",
  // password "password", salt 2a 3d 8f e0. Both re-checked with Python hashlib.
  const std::uint8_t salt[4] = {0x2a, 0x3d, 0x8f, 0xe0};
  CHECK(client_response("password", "md5_user", salt) == "md562af4dd09bbb41884907a838a3233294");
}

TEST_CASE("md5 client_response_from_hash matches the password form", "[auth][md5]") {
  CHECK(client_response_from_hash(kStoredSecretPostgres, kSalt1234) == "md5bb41a296aab6baccb36ff243a562abff");
  CHECK(client_response_from_hash(stored_hash("foo", "user"), kSaltDeadBeef) ==
        client_response("foo", "user", kSaltDeadBeef));
}

TEST_CASE("md5 refuses malformed stored hashes", "[auth][md5]") {
  const std::string_view bad[] = {
      "",
      "md5",
      "53f48b7c4b76a86ce72276c5755f217d",       // no prefix
      "md553f48b7c4b76a86ce72276c5755f217",     // 31 digits
      "md553f48b7c4b76a86ce72276c5755f217d0",   // 33 digits
      "md553F48B7C4B76A86CE72276C5755F217D",    // uppercase (PostgreSQL only writes lowercase)
      "MD553f48b7c4b76a86ce72276c5755f217d",
      "md553f48b7c4b76a86ce72276c5755f217g",
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$x:y",
  };
  for (std::string_view s : bad) {
    INFO("stored: " << s);
    CHECK_FALSE(is_stored_hash(s));
    CHECK(client_response_from_hash(s, kSalt1234).empty());
    CHECK_FALSE(verify_response(s, kSalt1234, ""));
    CHECK_FALSE(verify_response(s, kSalt1234, client_response_from_hash(s, kSalt1234)));
  }
}

TEST_CASE("md5 verify_response accepts only the right answer", "[auth][md5]") {
  CHECK(verify_response(kStoredSecretPostgres, kSalt1234, "md5bb41a296aab6baccb36ff243a562abff"));
  CHECK_FALSE(verify_response(kStoredSecretPostgres, kSaltDeadBeef, "md5bb41a296aab6baccb36ff243a562abff"));
  CHECK_FALSE(verify_response(kStoredSecretPostgres, kSalt1234, "md5bb41a296aab6baccb36ff243a562abfe"));
  CHECK_FALSE(verify_response(kStoredSecretPostgres, kSalt1234, "md5bb41a296aab6baccb36ff243a562ab"));
  CHECK_FALSE(verify_response(kStoredSecretPostgres, kSalt1234, ""));
  CHECK_FALSE(verify_response(kStoredSecretPostgres, kSalt1234, kStoredSecretPostgres));  // hash replayed as-is
}
