// SCRAM-SHA-256 message parsing, proofs and signatures for both sides of a PostgreSQL SASL exchange.
#include "protocol/pg/scram.hpp"

#include <openssl/crypto.h>

#include <charconv>
#include <climits>
#include <utility>

#include "protocol/common/crypto.hpp"

namespace baton::protocol::pg::scram {
namespace {

using Key = std::array<std::uint8_t, 32>;

constexpr std::string_view kVerifierPrefix = "SCRAM-SHA-256$";
constexpr std::size_t kNonceRawBytes = 18;  // as PostgreSQL's SCRAM_RAW_NONCE_LEN

// PostgreSQL runs the password through SASLprep (RFC 4013) before PBKDF2, and when SASLprep
// fails (invalid UTF-8, prohibited characters) it uses the password's raw bytes instead. This is
// the common case only: ASCII passwords pass SASLprep unchanged, and for non-ASCII passwords we
// always use the raw bytes. That matches PostgreSQL whenever SASLprep would fail or leave the
// password unchanged (e.g. already-NFKC text without non-ASCII spaces or "mapped to nothing"
// characters); a non-ASCII password that NFKC normalisation or mapping would change derives a
// different key here than in PostgreSQL.
std::string_view prepare_password(std::string_view password) { return password; }

// printable = %x21-2B / %x2D-7E (RFC 5802 section 7): visible ASCII except ','.
bool is_printable_nonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

struct Attribute {
  char name = 0;
  std::string_view value;
};

// Splits "a=v1,b=v2,..." into attributes (values never contain ','). nullopt when a part is
// not a letter followed by '=' (an empty part included: ",," or a trailing comma).
std::optional<std::vector<Attribute>> split_attributes(std::string_view text) {
  std::vector<Attribute> out;
  while (true) {
    std::size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (part.size() < 2 || part[1] != '=') return std::nullopt;
    char name = part[0];
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return std::nullopt;
    out.push_back({name, part.substr(2)});
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

// Decimal digits only, no sign, no leading zero, no overflow.
std::optional<long long> parse_decimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return v;
}

std::optional<Key> decode_key(std::string_view b64) {
  auto bytes = crypto::base64_decode(b64);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  Key k{};
  std::copy(bytes->begin(), bytes->end(), k.begin());
  return k;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// RFC 5802 section 3: ClientSignature, and ServerSignature, are HMACs of the AuthMessage.
std::string auth_message(std::string_view client_first_bare, std::string_view server_first,
                         std::string_view client_final_without_proof) {
  std::string m;
  m.reserve(client_first_bare.size() + server_first.size() + client_final_without_proof.size() + 2);
  m.append(client_first_bare).append(",").append(server_first).append(",").append(client_final_without_proof);
  return m;
}

Key xor_keys(const Key& a, const Key& b) {
  Key out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

// saslname escaping (RFC 5802 section 5.1): ',' -> "=2C", '=' -> "=3D".
std::string escape_user(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 5802 section 3: SaltedPassword := Hi(password, salt, i); ClientKey := HMAC(SaltedPassword,
// "Client Key"); StoredKey := H(ClientKey); ServerKey := HMAC(SaltedPassword, "Server Key").
struct DerivedKeys {
  Key client_key{};
  Key stored_key{};
  Key server_key{};
  ~DerivedKeys() { OPENSSL_cleanse(client_key.data(), client_key.size()); }
};

DerivedKeys derive_keys(std::string_view password, Bytes salt, int iterations) {
  Key salted = crypto::pbkdf2_sha256(prepare_password(password), salt, iterations);
  DerivedKeys k;
  k.client_key = crypto::hmac_sha256(salted, as_bytes("Client Key"));
  k.stored_key = crypto::sha256(k.client_key);
  k.server_key = crypto::hmac_sha256(salted, as_bytes("Server Key"));
  OPENSSL_cleanse(salted.data(), salted.size());
  return k;
}

Step make_step(Step::Kind kind, std::string bytes) {
  Step s;
  s.kind = kind;
  s.bytes = std::move(bytes);
  return s;
}

}  // namespace

std::string_view to_string(Failure f) {
  switch (f) {
    case Failure::kNone: return "none";
    case Failure::kMalformed: return "malformed";
    case Failure::kAuthFailed: return "auth_failed";
    case Failure::kUnsupported: return "unsupported";
  }
  return "unknown";
}

std::string_view to_string(Step::Kind k) {
  switch (k) {
    case Step::Kind::kSend: return "send";
    case Step::Kind::kDone: return "done";
    case Step::Kind::kFail: return "fail";
  }
  return "unknown";
}

// ---- Verifiers ----

std::optional<Verifier> parse_verifier(std::string_view text) {
  if (!text.starts_with(kVerifierPrefix)) return std::nullopt;
  text.remove_prefix(kVerifierPrefix.size());
  // <iterations>:<salt>$<stored key>:<server key>
  std::size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  std::string_view params = text.substr(0, dollar);
  std::string_view keys = text.substr(dollar + 1);
  std::size_t colon1 = params.find(':');
  std::size_t colon2 = keys.find(':');
  if (colon1 == std::string_view::npos || colon2 == std::string_view::npos) return std::nullopt;

  auto iterations = parse_decimal(params.substr(0, colon1));
  if (!iterations || *iterations < 1 || *iterations > INT_MAX) return std::nullopt;
  auto salt = crypto::base64_decode(params.substr(colon1 + 1));
  if (!salt || salt->empty()) return std::nullopt;
  auto stored = decode_key(keys.substr(0, colon2));
  auto server = decode_key(keys.substr(colon2 + 1));
  if (!stored || !server) return std::nullopt;

  Verifier v;
  v.iterations = static_cast<int>(*iterations);
  v.salt = std::move(*salt);
  v.stored_key = *stored;
  v.server_key = *server;
  return v;
}

std::string format_verifier(const Verifier& v) {
  std::string out(kVerifierPrefix);
  out += std::to_string(v.iterations);
  out += ':';
  out += crypto::base64_encode(v.salt);
  out += '$';
  out += crypto::base64_encode(v.stored_key);
  out += ':';
  out += crypto::base64_encode(v.server_key);
  return out;
}

Verifier make_verifier(std::string_view password, Bytes salt, int iterations) {
  DerivedKeys keys = derive_keys(password, salt, iterations);
  Verifier v;
  v.iterations = iterations;
  v.salt.assign(salt.begin(), salt.end());
  v.stored_key = keys.stored_key;
  v.server_key = keys.server_key;
  return v;
}

std::string make_nonce() {
  std::array<std::uint8_t, kNonceRawBytes> raw{};
  crypto::random_bytes(raw);
  return crypto::base64_encode(raw);
}

// ---- Server side ----

ServerExchange::ServerExchange(Verifier verifier, std::string server_nonce)
    : verifier_(std::move(verifier)), server_nonce_(std::move(server_nonce)) {}

Step ServerExchange::fail(Failure f, std::string error) {
  state_ = State::kFinished;
  Step s;
  s.kind = Step::Kind::kFail;
  s.failure = f;
  s.error = std::move(error);
  return s;
}

Step ServerExchange::on_client_first(std::string_view mechanism, Bytes client_first) {
  if (state_ != State::kWantClientFirst) return fail(Failure::kMalformed, "unexpected SCRAM client-first-message");
  if (mechanism != kMechanism) return fail(Failure::kUnsupported, "unsupported SASL mechanism");
  if (!is_printable_nonce(server_nonce_)) return fail(Failure::kMalformed, "invalid server nonce configured");
  std::string_view text = as_chars(client_first);
  if (has_nul(text)) return fail(Failure::kMalformed, "NUL byte in SCRAM client-first-message");

  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  if (text.starts_with("p=")) return fail(Failure::kUnsupported, "SCRAM channel binding is not supported");
  if (text.size() < 2 || (text[0] != 'n' && text[0] != 'y') || text[1] != ',') {
    return fail(Failure::kMalformed, "invalid GS2 channel-binding flag in SCRAM client-first-message");
  }
  std::size_t authzid_end = text.find(',', 2);
  if (authzid_end == std::string_view::npos) {
    return fail(Failure::kMalformed, "incomplete GS2 header in SCRAM client-first-message");
  }
  std::string_view authzid = text.substr(2, authzid_end - 2);
  if (!authzid.empty()) {
    if (authzid.starts_with("a=")) return fail(Failure::kUnsupported, "SCRAM authorization identity is not supported");
    return fail(Failure::kMalformed, "invalid GS2 header in SCRAM client-first-message");
  }
  std::string_view gs2_header = text.substr(0, authzid_end + 1);
  std::string_view bare = text.substr(authzid_end + 1);

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  auto attrs = split_attributes(bare);
  if (!attrs) return fail(Failure::kMalformed, "invalid attribute syntax in SCRAM client-first-message");
  if ((*attrs)[0].name == 'm') return fail(Failure::kUnsupported, "unsupported mandatory SCRAM extension");
  if ((*attrs)[0].name != 'n') return fail(Failure::kMalformed, "SCRAM client-first-message lacks the user name (n=)");
  if (attrs->size() < 2 || (*attrs)[1].name != 'r') {
    return fail(Failure::kMalformed, "SCRAM client-first-message lacks the nonce (r=)");
  }
  std::string_view client_nonce = (*attrs)[1].value;
  if (!is_printable_nonce(client_nonce)) return fail(Failure::kMalformed, "invalid client nonce in SCRAM client-first-message");
  // The user name (n=) is ignored, as PostgreSQL does: the startup packet named the user.

  gs2_header_.assign(gs2_header);
  client_first_bare_.assign(bare);
  nonce_.assign(client_nonce).append(server_nonce_);
  server_first_ = "r=" + nonce_ + ",s=" + crypto::base64_encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  state_ = State::kWantClientFinal;
  return make_step(Step::Kind::kSend, server_first_);
}

Step ServerExchange::on_client_final(Bytes client_final) {
  if (state_ != State::kWantClientFinal) return fail(Failure::kMalformed, "unexpected SCRAM client-final-message");
  std::string_view text = as_chars(client_final);
  if (has_nul(text)) return fail(Failure::kMalformed, "NUL byte in SCRAM client-final-message");

  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  auto attrs = split_attributes(text);
  if (!attrs) return fail(Failure::kMalformed, "invalid attribute syntax in SCRAM client-final-message");
  if ((*attrs)[0].name != 'c') {
    return fail(Failure::kMalformed, "SCRAM client-final-message lacks the channel binding (c=)");
  }
  auto binding = crypto::base64_decode((*attrs)[0].value);
  if (!binding) return fail(Failure::kMalformed, "invalid base64 in SCRAM channel binding (c=)");
  if (as_chars(*binding) != gs2_header_) {
    return fail(Failure::kMalformed, "SCRAM channel binding does not match the GS2 header");
  }
  if (attrs->size() < 2 || (*attrs)[1].name != 'r') {
    return fail(Failure::kMalformed, "SCRAM client-final-message lacks the nonce (r=)");
  }
  if ((*attrs)[1].value != nonce_) return fail(Failure::kMalformed, "SCRAM nonce mismatch");
  const Attribute& last = attrs->back();
  if (attrs->size() < 3 || last.name != 'p') {
    return fail(Failure::kMalformed, "SCRAM client-final-message lacks the proof (p=)");
  }
  auto proof = decode_key(last.value);
  if (!proof) return fail(Failure::kMalformed, "invalid SCRAM client proof (p=)");

  // Everything before ",p=" is client-final-message-without-proof.
  std::string_view without_proof = text.substr(0, text.size() - last.value.size() - 3);
  std::string message = auth_message(client_first_bare_, server_first_, without_proof);

  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the client knew the password
  // (or its ClientKey) iff H(ClientKey) == StoredKey.
  Key client_signature = crypto::hmac_sha256(verifier_.stored_key, as_bytes(message));
  Key client_key = xor_keys(*proof, client_signature);
  Key computed_stored = crypto::sha256(client_key);
  if (!crypto::constant_time_equal(computed_stored, verifier_.stored_key)) {
    return fail(Failure::kAuthFailed, "SCRAM client proof does not match");
  }
  Key server_signature = crypto::hmac_sha256(verifier_.server_key, as_bytes(message));
  state_ = State::kFinished;
  return make_step(Step::Kind::kDone, "v=" + crypto::base64_encode(server_signature));
}

// ---- Client side ----

ClientExchange::ClientExchange(std::string password, std::string client_nonce)
    : ClientExchange(std::move(password), std::move(client_nonce), std::string_view{}) {}

ClientExchange::ClientExchange(std::string password, std::string client_nonce, std::string_view user)
    : password_(std::move(password)), client_nonce_(std::move(client_nonce)) {
  client_first_bare_ = "n=" + escape_user(user) + ",r=" + client_nonce_;
}

ClientExchange::~ClientExchange() { OPENSSL_cleanse(password_.data(), password_.size()); }

std::string ClientExchange::client_first() const { return "n,," + client_first_bare_; }

Step ClientExchange::fail(Failure f, std::string error) {
  state_ = State::kFinished;
  Step s;
  s.kind = Step::Kind::kFail;
  s.failure = f;
  s.error = std::move(error);
  return s;
}

Step ClientExchange::on_server_first(Bytes server_first) {
  if (state_ != State::kWantServerFirst) return fail(Failure::kMalformed, "unexpected SCRAM server-first-message");
  if (!is_printable_nonce(client_nonce_)) return fail(Failure::kMalformed, "invalid client nonce configured");
  std::string_view text = as_chars(server_first);
  if (has_nul(text)) return fail(Failure::kMalformed, "NUL byte in SCRAM server-first-message");

  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
  auto attrs = split_attributes(text);
  if (!attrs) return fail(Failure::kMalformed, "invalid attribute syntax in SCRAM server-first-message");
  if ((*attrs)[0].name == 'm') return fail(Failure::kUnsupported, "unsupported mandatory SCRAM extension");
  if (attrs->size() < 3 || (*attrs)[0].name != 'r' || (*attrs)[1].name != 's' || (*attrs)[2].name != 'i') {
    return fail(Failure::kMalformed, "SCRAM server-first-message lacks r=, s= or i=");
  }
  std::string_view nonce = (*attrs)[0].value;
  if (!is_printable_nonce(nonce)) return fail(Failure::kMalformed, "invalid nonce in SCRAM server-first-message");
  if (nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_)) {
    return fail(Failure::kMalformed, "SCRAM server nonce does not extend the client nonce");
  }
  auto salt = crypto::base64_decode((*attrs)[1].value);
  if (!salt) return fail(Failure::kMalformed, "invalid base64 in SCRAM salt (s=)");
  if (salt->empty()) return fail(Failure::kMalformed, "empty SCRAM salt");
  auto iterations = parse_decimal((*attrs)[2].value);
  if (!iterations || *iterations < 1 || *iterations > kMaxClientIterations) {
    return fail(Failure::kMalformed, "SCRAM iteration count (i=) is invalid or out of range");
  }

  // ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage); ServerSignature = HMAC(ServerKey, AuthMessage).
  DerivedKeys keys = derive_keys(password_, *salt, static_cast<int>(*iterations));
  std::string without_proof = "c=biws,r=" + std::string(nonce);  // biws = base64("n,,")
  std::string message = auth_message(client_first_bare_, text, without_proof);
  Key proof = xor_keys(keys.client_key, crypto::hmac_sha256(keys.stored_key, as_bytes(message)));
  expected_server_signature_ = crypto::hmac_sha256(keys.server_key, as_bytes(message));

  state_ = State::kWantServerFinal;
  return make_step(Step::Kind::kSend, without_proof + ",p=" + crypto::base64_encode(proof));
}

Step ClientExchange::on_server_final(Bytes server_final) {
  if (state_ != State::kWantServerFinal) return fail(Failure::kMalformed, "unexpected SCRAM server-final-message");
  std::string_view text = as_chars(server_final);
  if (has_nul(text)) return fail(Failure::kMalformed, "NUL byte in SCRAM server-final-message");

  // server-final-message = (server-error / verifier) ["," extensions]
  auto attrs = split_attributes(text);
  if (!attrs) return fail(Failure::kMalformed, "invalid attribute syntax in SCRAM server-final-message");
  const Attribute& first = (*attrs)[0];
  if (first.name == 'e') return fail(Failure::kAuthFailed, "server reported SCRAM error: " + std::string(first.value));
  if (first.name != 'v') return fail(Failure::kMalformed, "SCRAM server-final-message lacks the verifier (v=)");
  auto signature = decode_key(first.value);
  if (!signature) return fail(Failure::kMalformed, "invalid SCRAM server signature (v=)");
  if (!crypto::constant_time_equal(*signature, expected_server_signature_)) {
    return fail(Failure::kAuthFailed, "SCRAM server signature does not match");
  }
  state_ = State::kFinished;
  return make_step(Step::Kind::kDone, "");
}

}  // namespace baton::protocol::pg::scram
