// Unit tests for the monitor's pure helpers: LSN and timeline text, conninfo re-pointing, literals, probe rows, hook env.
#include <catch2/catch.hpp>

#include <algorithm>

#include "health/command_env.hpp"
#include "health/pg_text.hpp"

using namespace baton::health;

TEST_CASE("pg_lsn text parses to a byte position", "[health-io]") {
  // PostgreSQL docs, 8.20 pg_lsn Type: "16/B374D848" is the example value; the two parts are the
  // high and low 32 bits of the 64-bit position.
  CHECK(parse_lsn("16/B374D848") == Lsn{0x16B374D848});
  CHECK(parse_lsn("0/0") == Lsn{0});
  CHECK(parse_lsn("0/3000060") == Lsn{0x3000060});
  CHECK(parse_lsn("FFFFFFFF/FFFFFFFF") == Lsn{0xFFFFFFFFFFFFFFFF});
  CHECK_FALSE(parse_lsn(""));
  CHECK_FALSE(parse_lsn("16B374D848"));
  CHECK_FALSE(parse_lsn("/1"));
  CHECK_FALSE(parse_lsn("1/"));
  CHECK_FALSE(parse_lsn("1/2/3"));
  CHECK_FALSE(parse_lsn("100000000/0"));  // more than 8 hex digits
  CHECK_FALSE(parse_lsn("1/G"));
  CHECK(format_lsn(0x16B374D848) == "16/B374D848");
  CHECK(format_lsn(0) == "0/0");
  CHECK(parse_lsn(format_lsn(0x123456789ABCDEF0)) == Lsn{0x123456789ABCDEF0});
}

TEST_CASE("the timeline is the first 8 hex digits of a WAL file name", "[health-io]") {
  // PostgreSQL docs, 9.27.3 (pg_walfile_name_offset example): "00000001000000000000000D" is timeline 1;
  // the file name is TTTTTTTT XXXXXXXX YYYYYYYY (timeline, log, segment), each 8 hex digits.
  CHECK(parse_timeline_hex("00000001000000000000000D") == 1u);
  CHECK(parse_timeline_hex("0000000A") == 10u);
  CHECK(parse_timeline_hex("000000FF00000000000000A1") == 255u);
  CHECK_FALSE(parse_timeline_hex("0000001"));
  CHECK_FALSE(parse_timeline_hex("0000000G"));
  CHECK_FALSE(parse_timeline_hex(""));
}

TEST_CASE("connection failures are told apart by libpq's message", "[health-io]") {
  // Texts as libpq 15 and PostgreSQL 15 print them (libpq fe-connect.c, auth.c).
  CHECK(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password "
                                 "authentication failed for user \"baton_monitor\"\n") == ProbeStatus::kAuthError);
  CHECK(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf "
                                 "entry for host \"127.0.0.1\", user \"x\", database \"postgres\", no encryption\n") ==
        ProbeStatus::kAuthError);
  CHECK(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  role \"nobody\" "
                                 "does not exist\n") == ProbeStatus::kAuthError);
  CHECK(classify_connect_failure("connection to server at \"127.0.0.1\", port 5999 failed: Connection refused\n\tIs "
                                 "the server running on that host and accepting TCP/IP connections?\n") ==
        ProbeStatus::kRefused);
  CHECK(classify_connect_failure("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  the database "
                                 "system is shutting down\n") == ProbeStatus::kOther);
  CHECK(classify_connect_failure("server closed the connection unexpectedly") == ProbeStatus::kOther);
}

TEST_CASE("conninfo written by pg_basebackup -R is re-pointed keeping everything else", "[health-io]") {
  // The shape pg_basebackup 15 -R writes into postgresql.auto.conf (appendConnStrVal quotes a value
  // holding anything but letters, digits, '_' and '.'), as found on the test cluster's replicas.
  const std::string original =
      "user=replicator passfile='/var/lib/postgresql/.pgpass' channel_binding=prefer host=127.0.0.1 port=5433 "
      "application_name=node1 sslmode=prefer sslcompression=0 sslsni=1 ssl_min_protocol_version=TLSv1.2 "
      "gssencmode=prefer krbsrvname=postgres target_session_attrs=any";
  auto parsed = parse_conninfo(original);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 13);
  CHECK((*parsed)[1] == ConnParam{"passfile", "/var/lib/postgresql/.pgpass"});
  CHECK((*parsed)[3] == ConnParam{"host", "127.0.0.1"});
  auto moved = repoint_conninfo(*parsed, "10.0.0.7", 6543);
  CHECK(format_conninfo(moved) ==
        "user=replicator passfile=/var/lib/postgresql/.pgpass channel_binding=prefer host=10.0.0.7 port=6543 "
        "application_name=node1 sslmode=prefer sslcompression=0 sslsni=1 ssl_min_protocol_version=TLSv1.2 "
        "gssencmode=prefer krbsrvname=postgres target_session_attrs=any");
}

TEST_CASE("conninfo quoting follows libpq's rules both ways", "[health-io]") {
  // libpq docs, 34.1.1.1 Keyword/Value Connection Strings: spaces around '=' are optional; an empty value
  // or one with spaces is single-quoted; \' and \\ escape a quote and a backslash.
  auto p = parse_conninfo("  host = db.example  password='it\\'s a \\\\secret' options=''  port=5432 ");
  REQUIRE(p);
  REQUIRE(p->size() == 4);
  CHECK((*p)[0] == ConnParam{"host", "db.example"});
  CHECK((*p)[1] == ConnParam{"password", "it's a \\secret"});
  CHECK((*p)[2] == ConnParam{"options", ""});
  CHECK((*p)[3] == ConnParam{"port", "5432"});
  CHECK(format_conninfo(*p) == "host=db.example password='it\\'s a \\\\secret' options='' port=5432");
  CHECK(parse_conninfo(format_conninfo(*p)) == p);

  CHECK_FALSE(parse_conninfo("host"));
  CHECK_FALSE(parse_conninfo("=x"));
  CHECK_FALSE(parse_conninfo("password='unterminated"));
  CHECK(parse_conninfo("")->empty());
}

TEST_CASE("re-pointing drops hostaddr and adds missing host and port", "[health-io]") {
  auto p = parse_conninfo("hostaddr=10.1.1.1 user=r application_name=n2");
  REQUIRE(p);
  CHECK(format_conninfo(repoint_conninfo(*p, "127.0.0.1", 5434)) == "user=r application_name=n2 host=127.0.0.1 port=5434");
  auto multi = parse_conninfo("host=a,b port=5432,5433 user=r");
  REQUIRE(multi);
  CHECK(format_conninfo(repoint_conninfo(*multi, "c", 6000)) == "host=c port=6000 user=r");
}

TEST_CASE("SQL literals double quotes and mark backslashes", "[health-io]") {
  // PostgreSQL docs, 4.1.2.1-4.1.2.2: '' inside a literal is one quote; E'' strings take \\ for a backslash.
  CHECK(quote_literal("host=a port=1") == "'host=a port=1'");
  CHECK(quote_literal("it's") == "'it''s'");
  CHECK(quote_literal("a\\b'c") == "E'a\\\\b''c'");
  CHECK(quote_literal("") == "''");
}

TEST_CASE("probe rows decode for a primary and a streaming standby", "[health-io]") {
  ProbeResult p;
  // A primary: columns as kProbeQuery returns them (NULL where the CASE does not apply).
  TextRow primary = {"f", "00000002", std::nullopt, "1", "0/5000148", std::nullopt, std::nullopt, std::nullopt,
                     std::nullopt, std::nullopt, std::nullopt};
  REQUIRE_FALSE(decode_probe_row(primary, p));
  CHECK_FALSE(p.in_recovery);
  CHECK(p.timeline == 2u);  // the WAL file name's, not the stale checkpoint's 1
  CHECK(p.current_lsn == 0x5000148);
  CHECK(p.receive_lsn == 0);
  CHECK_FALSE(p.streaming_from);

  TextRow standby = {"t", std::nullopt, "3", "2", std::nullopt, "0/5000148", "0/5000100", "0.25",
                     "streaming", "127.0.0.1", "5433"};
  REQUIRE_FALSE(decode_probe_row(standby, p));
  CHECK(p.in_recovery);
  CHECK(p.timeline == 3u);  // received_tli wins over the checkpoint's
  CHECK(p.current_lsn == 0);
  CHECK(p.receive_lsn == 0x5000148);
  CHECK(p.replay_lsn == 0x5000100);
  CHECK(p.replay_lag_seconds == Approx(0.25));
  REQUIRE(p.streaming_from);
  CHECK(p.streaming_from->host == "127.0.0.1");
  CHECK(p.streaming_from->port == 5433);

  TextRow waiting = standby;
  waiting[2] = std::nullopt;     // no WAL receiver row
  waiting[8] = "waiting";
  REQUIRE_FALSE(decode_probe_row(waiting, p));
  CHECK(p.timeline == 2u);  // falls back to the checkpoint's timeline
  CHECK_FALSE(p.streaming_from);

  TextRow bad = primary;
  bad[4] = "nonsense";
  CHECK(decode_probe_row(bad, p));
  CHECK(decode_probe_row(TextRow(3), p));
}

TEST_CASE("hook commands get the inherited environment with BATON_ values overriding", "[health-io]") {
  const char* base[] = {"PATH=/usr/bin", "BATON_NODE_NAME=stale", "HOME=/root", "NOEQUALS", nullptr};
  auto env = command_env(base, {{"BATON_NODE_NAME", "node1"}, {"BATON_NODE_PORT", "5433"}, {"BATON_NODE_PORT", "5434"}});
  CHECK(env == std::vector<std::string>{"PATH=/usr/bin", "HOME=/root", "NOEQUALS", "BATON_NODE_NAME=node1",
                                        "BATON_NODE_PORT=5434"});
  CHECK(command_env(nullptr, {{"A", "1"}}) == std::vector<std::string>{"A=1"});
}
