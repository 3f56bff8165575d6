#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing baton need; quick when all are present.
set -euo pipefail

# postgresql-15 itself provides postgresql-contrib-15 (pg_stat_statements ships inside it).
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libpq-dev liburing-dev
  prometheus-cpp-dev libtoml11-dev catch2
  postgresql-15 postgresql-client-15
  python3-psycopg2 openssl procps iproute2
  # Real drivers in the integration tests: psycopg 3, pgjdbc (compiled with javac at test time).
  python3-psycopg libpostgresql-jdbc-java openjdk-17-jdk-headless
  # The status page checked in a real headless browser, with a font to draw its text in screenshots.
  chromium fonts-liberation
)
# node-postgres runs on whatever Node.js the machine has; Debian's when there is none.
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install_deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi

echo "install_deps: installing ${missing[*]}"
postgres_was_installed=0
if dpkg-query -W -f='${db:Status-Status}' postgresql-15 2>/dev/null | grep -qx installed; then
  postgres_was_installed=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null

# The postgresql-15 package creates a default cluster "15/main" on port 5432 and may start it.
# The tests start their own clusters on free ports and never use it; when this run installed the
# package, stop that cluster and keep it from starting on its own, so that it cannot take 5432
# (which deploy/quickstart.sh uses). A default cluster that was there before is left alone.
if ((postgres_was_installed == 0)) && [[ -d /etc/postgresql/15/main ]]; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
  fi
  echo manual >/etc/postgresql/15/main/start.conf
fi

for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    echo "install_deps: $p is still not installed" >&2
    exit 1
  fi
done
echo "install_deps: done"
