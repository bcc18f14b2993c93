#!/usr/bin/env bash
# Makes every TLS peer the interop tests use available under .cache/peers/ (git-ignored),
# without touching the system: Debian's newer suites carry the peers we need (OpenSSL 4 from
# experimental, wolfSSL and GnuTLS from sid), and they run on an older Debian through sid's own
# loader. Nothing is installed: apt works on a private state, `apt-get download` fetches the
# .debs and `dpkg -x` unpacks them into .cache/peers/root.
#
#   test/peers/setup.sh            set up (quick no-op when already done)
#   test/peers/setup.sh --force    fetch and build again
#
# Results:
#   .cache/peers/bin/openssl4      OpenSSL 4.0 from experimental
#   .cache/peers/bin/wolfssl-peer  test/peers/wolfssl-peer.c built against wolfSSL from sid
#   .cache/peers/bin/gnutls-cli, gnutls-serv   GnuTLS from sid, only where the system has none
#
# Each wrapper runs its program as `ROOT/.../ld-linux-x86-64.so.2 --library-path ROOT/... PROGRAM`,
# so the newer libc and libraries are used by that program alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TSLS_PEERS_CACHE:-$REPO/.cache/peers}"
ROOT="$CACHE/root"
BIN="$CACHE/bin"
LIBDIR="usr/lib/x86_64-linux-gnu"
FORCE=${1:-}

die() {
  echo "test/peers/setup.sh: $*" >&2
  exit 1
}

# The packages fetched, as PACKAGE/SUITE. Their dependencies come along (resolved against sid),
# which brings sid's libc6 (the loader), libzstd1 and zlib1g; libbrotli1 is listed for OpenSSL's
# certificate compression, which loads it at run time.
ROOTS=(openssl/experimental libssl4/experimental libwolfssl45/sid libwolfssl-dev/sid libc6/sid libbrotli1/sid)
if ! command -v gnutls-cli >/dev/null 2>&1; then
  ROOTS+=(gnutls-bin/sid)
fi

# What the stamp covers: this script, the C peer, and which roots were asked for. Any change
# to one of them redoes the work; otherwise a run costs a hash and a comparison.
stamp_of() {
  { cat "$HERE/setup.sh" "$HERE/wolfssl-peer.c"; echo "${ROOTS[*]}"; } | sha256sum | cut -d' ' -f1
}

mkdir -p "$CACHE"
# One setup at a time per cache (vitest's global setup and a hand-run may overlap).
exec 9>"$CACHE/.lock"
flock 9

STAMP="$(stamp_of)"
if [[ "$FORCE" != "--force" && -f "$CACHE/stamp" && "$(cat "$CACHE/stamp")" == "$STAMP" ]]; then
  exit 0
fi

[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "the fetched peers are Debian amd64 builds; this is $(uname -s)-$(uname -m)"
for tool in apt-get apt-cache dpkg gcc sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "needs '$tool' (a Debian or Ubuntu machine with apt, dpkg and gcc): not found on PATH"
done

# ---- a private apt state naming the mirror the system already uses --------------------------
SOURCES=/etc/apt/sources.list.d/debian.sources
MIRROR=""
if [[ -r "$SOURCES" ]]; then
  # The first deb822 stanza whose suites are not the security archive.
  MIRROR="$(awk '
    /^[[:space:]]*$/ { if (uri != "" && suites !~ /security/) { print uri; exit } uri = ""; suites = ""; next }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { suites = $0 }
    END { if (uri != "" && suites !~ /security/) print uri }
  ' "$SOURCES" | head -n1)"
fi
if [[ -z "$MIRROR" && -r /etc/apt/sources.list ]]; then
  MIRROR="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
fi
[[ -n "$MIRROR" ]] || die "cannot find the Debian mirror apt uses: no 'URIs:' line in $SOURCES nor a 'deb' line in /etc/apt/sources.list"

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$KEYRING" ]] || die "needs $KEYRING (package debian-archive-keyring) to check sid's signatures"

APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
cat >"$APT/sources.list" <<EOF
deb [signed-by=$KEYRING] $MIRROR sid main
deb [signed-by=$KEYRING] $MIRROR experimental main
EOF
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache"
  -o Debug::NoLocking=1
  -o APT::Sandbox::User=root
  -qq
)

echo "test/peers/setup.sh: fetching test peers from $MIRROR (sid, experimental) into $CACHE" >&2
apt-get "${APT_OPTS[@]}" update >&2 || die "apt-get update of the private sid/experimental state failed (see above)"

# The roots and their run-time dependencies (Depends/Pre-Depends, recursively), as apt sees
# them in sid; virtual packages (<name>) are what some real one provides, so they are dropped.
mapfile -t DEPS < <(
  apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${ROOTS[@]}" 2>/dev/null | grep -v '^[[:space:]<]' | sort -u
)
# Roots keep their suite (experimental is never a default candidate); the rest come from sid.
declare -A WANT=()
for r in "${ROOTS[@]}"; do WANT[${r%/*}]="$r"; done
for d in "${DEPS[@]}"; do [[ -n "${WANT[$d]:-}" ]] || WANT[$d]="$d/sid"; done

rm -rf "$CACHE/debs" "$ROOT"
mkdir -p "$CACHE/debs" "$ROOT" "$BIN"
(cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download "${WANT[@]}" >&2) || die "apt-get download failed for: ${WANT[*]}"
for deb in "$CACHE/debs"/*.deb; do dpkg -x "$deb" "$ROOT"; done
rm -rf "$CACHE/debs"

[[ -x "$ROOT/$LIBDIR/ld-linux-x86-64.so.2" ]] || die "sid's loader is missing from $ROOT/$LIBDIR"

# ---- wrappers ------------------------------------------------------------------------------
# Each finds ROOT from its own place, so the checkout can move.
wrapper() { # NAME PROGRAM [EXTRA-SHELL-LINES]
  cat >"$BIN/$1" <<EOF
#!/bin/sh
# Generated by test/peers/setup.sh: runs $2 from sid with sid's loader and libraries.
ROOT="\$(cd "\$(dirname "\$0")/../root" && pwd)"
$3
exec "\$ROOT/$LIBDIR/ld-linux-x86-64.so.2" --library-path "\$ROOT/$LIBDIR" "\$ROOT/$2" "\$@"
EOF
  chmod +x "$BIN/$1"
}

# OpenSSL 4 reads its own configuration and modules, not the system's 3.0 ones (a test may
# still point OPENSSL_CONF elsewhere).
wrapper openssl4 usr/bin/openssl \
  ': "${OPENSSL_CONF:=$ROOT/etc/ssl/openssl.cnf}"; : "${OPENSSL_MODULES:=$ROOT/'"$LIBDIR"'/ossl-modules}"; export OPENSSL_CONF OPENSSL_MODULES'
if [[ -x "$ROOT/usr/bin/gnutls-cli" ]]; then
  wrapper gnutls-cli usr/bin/gnutls-cli ''
  wrapper gnutls-serv usr/bin/gnutls-serv ''
else
  rm -f "$BIN/gnutls-cli" "$BIN/gnutls-serv"
fi

# ---- the wolfSSL peer ----------------------------------------------------------------------
# wolfSSL ships no command-line tool, so the tests have their own. It is compiled with this
# machine's gcc against sid's headers; sid's libwolfssl needs sid's newer libc, which only the
# loader provides at run time, hence --allow-shlib-undefined.
mkdir -p "$CACHE/build"
gcc -O1 -Wall -Werror -o "$CACHE/build/wolfssl-peer" "$HERE/wolfssl-peer.c" \
  -I"$ROOT/usr/include" -L"$ROOT/$LIBDIR" -lwolfssl -Wl,--allow-shlib-undefined \
  || die "compiling test/peers/wolfssl-peer.c against wolfSSL failed"
cp "$CACHE/build/wolfssl-peer" "$ROOT/usr/bin/wolfssl-peer"
wrapper wolfssl-peer usr/bin/wolfssl-peer ''

# ---- prove the wrappers run ----------------------------------------------------------------
"$BIN/openssl4" version >&2 || die "the fetched openssl does not run"
"$BIN/wolfssl-peer" --version >&2 || die "the wolfSSL peer does not run"
if [[ -x "$BIN/gnutls-cli" ]]; then "$BIN/gnutls-cli" --version | head -n1 >&2 || die "the fetched gnutls-cli does not run"; fi

# The package lists are only needed to fetch; the stamp makes the next run skip all of it.
rm -rf "$APT"
echo "$STAMP" >"$CACHE/stamp"
echo "test/peers/setup.sh: peers ready in $BIN ($(du -sh "$CACHE" | cut -f1))" >&2
