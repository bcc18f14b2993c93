#!/usr/bin/env bash
# Regenerates the certificate-validation PKI in this directory with the openssl CLI (3.0
# or later). cases.json (hand-written, not touched here) says which chain, anchors, host,
# time and purpose each test case uses and what the outcome must be.
#
# Each run makes new keys and signatures; names, serial numbers, extensions and validity
# periods stay the same, so cases.json stays true. Private keys live only in a temporary
# directory that is removed on exit: tests need certificates, not keys.
#
# `openssl ca` is used instead of `req -x509`/`x509 -req` because only `ca` can set a fixed
# notBefore in OpenSSL 3.0, and because it signs whatever it is told to (a CA without the
# CA bit, a v1 CA, a certificate for an existing key under another issuer).
set -euo pipefail

out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Start clean: everything generated is a .crt or .pem file.
rm -f "$out"/*.crt "$out"/*.pem

# Default validity: UTCTime notBefore, GeneralizedTime (year >= 2050) notAfter.
nb=20250101000000Z
na=21241231235959Z
# Windows that are over, or not yet begun, at the cases' usual `now` (2026-01-01).
past_nb=20240101000000Z
past_na=20250630235959Z
future_nb=20300101000000Z
future_na=20311231235959Z

cnf="$tmp/ca.cnf"
cat >"$cnf" <<EOF
[ ca ]
default_ca = tsls

[ tsls ]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

[ policy_any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ empty ]
EOF
: >"$tmp/index.txt"

# section NAME < body: appends an extension section to the configuration.
section() {
  { echo; echo "[ $1 ]"; cat; } >>"$cnf"
}

section ca_root <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

section ca_int <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_pathlen1 <<EOF
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_pathlen0 <<EOF
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_no_ca_bit <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_no_keycertsign <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_eku_client <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_nc_dns <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = critical, permitted;DNS:example.com, excluded;DNS:secret.example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_int_nc_ip <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = critical, permitted;IP:192.0.2.0/255.255.255.0, permitted;IP:2001:db8::/ffff:ffff::, excluded;IP:192.0.2.128/255.255.255.128
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section ca_root_nc <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
nameConstraints = critical, permitted;DNS:example.net
subjectKeyIdentifier = hash
EOF

section ca_int_critical_unknown <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
1.2.3.4 = critical, ASN1:NULL
EOF

# leaf_ext NAME EKU SAN [EXTRA LINE...]: a leaf section; EKU or SAN "-" leaves it out.
leaf_ext() {
  local name=$1 eku=$2 san=$3
  shift 3
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    [ "$eku" = - ] || echo "extendedKeyUsage = $eku"
    [ "$san" = - ] || echo "subjectAltName = $san"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid:always"
    for line in "$@"; do echo "$line"; done
  } | section "$name"
}

leaf_ext leaf_www serverAuth "DNS:www.example.com, DNS:example.com"
leaf_ext leaf_www_only serverAuth "DNS:www.example.com"
leaf_ext leaf_wildcard serverAuth "DNS:*.example.com"
leaf_ext leaf_partial_wildcard serverAuth "DNS:x*.example.com"
leaf_ext leaf_ip serverAuth "IP:192.0.2.10, IP:2001:db8::10"
leaf_ext leaf_ip_as_dns serverAuth "DNS:127.0.0.1"
leaf_ext leaf_no_san serverAuth -
leaf_ext leaf_client clientAuth -
leaf_ext leaf_any_eku anyExtendedKeyUsage "DNS:www.example.com"
leaf_ext leaf_no_eku - "DNS:www.example.com"
leaf_ext leaf_critical_unknown serverAuth "DNS:www.example.com" "1.2.3.4 = critical, ASN1:NULL"
leaf_ext leaf_noncritical_unknown serverAuth "DNS:www.example.com" "1.2.3.4 = ASN1:NULL"
leaf_ext leaf_nc_outside serverAuth "DNS:www.example.org"
leaf_ext leaf_nc_label_boundary serverAuth "DNS:badexample.com"
leaf_ext leaf_nc_excluded serverAuth "DNS:a.secret.example.com"
leaf_ext leaf_nc_mixed serverAuth "DNS:www.example.com, DNS:www.example.org"
leaf_ext leaf_ncip_ok serverAuth "IP:192.0.2.10"
leaf_ext leaf_ncip_outside serverAuth "IP:198.51.100.1"
leaf_ext leaf_ncip_excluded serverAuth "IP:192.0.2.200"
leaf_ext leaf_ncip_v6_ok serverAuth "IP:2001:db8::5"
leaf_ext leaf_ncip_v6_outside serverAuth "IP:2001:db9::1"
leaf_ext leaf_ncip_dns serverAuth "DNS:www.example.net"
leaf_ext leaf_example_net serverAuth "DNS:www.example.net"

# Under the v1 intermediate, which has no subjectKeyIdentifier to copy.
section leaf_no_akid <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.com
subjectKeyIdentifier = hash
EOF

section leaf_key_encipherment <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

section leaf_self_signed <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.com
subjectKeyIdentifier = hash
EOF

# genkey NAME TYPE: TYPE is p256, p384, ed25519 or rsa2048; the key stays in $tmp.
declare -A md_of
genkey() {
  local name=$1 type=$2
  case $type in
    p256) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$tmp/$name.key"; md_of[$name]=sha256 ;;
    p384) openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$tmp/$name.key"; md_of[$name]=sha384 ;;
    ed25519) openssl genpkey -quiet -algorithm ED25519 -out "$tmp/$name.key"; md_of[$name]=default ;;
    rsa2048) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/$name.key"; md_of[$name]=sha256 ;;
    *) echo "unknown key type $type" >&2; exit 1 ;;
  esac
}

# issue NAME KEY SUBJECT SERIAL EXTENSIONS ISSUER [START END [openssl ca options...]]
#   -> NAME.crt in $out (or in $tmp when NAME starts with "tmp-"). ISSUER "self" means
#   self-signed; otherwise it names an earlier certificate, whose key signs. START/END "-"
#   keep the default validity; EXTENSIONS "none" makes a v1 certificate.
declare -A key_of
issue() {
  local name=$1 key=$2 subject=$3 serial=$4 ext=$5 issuer=$6 start=${7:--} end=${8:--}
  shift $(($# < 8 ? $# : 8))
  [ "$start" = - ] && start=$nb
  [ "$end" = - ] && end=$na
  local dir=$out
  [[ $name == tmp-* ]] && dir=$tmp
  local signer signing_key
  if [ "$issuer" = self ]; then
    signing_key=$key
    signer=(-selfsign -keyfile "$tmp/$key.key")
  else
    signing_key=${key_of[$issuer]}
    local issuer_dir=$out
    [[ $issuer == tmp-* ]] && issuer_dir=$tmp
    signer=(-cert "$issuer_dir/$issuer.crt" -keyfile "$tmp/$signing_key.key")
  fi
  local extopts=(-extensions "$ext")
  [ "$ext" = none ] && extopts=()
  openssl req -new -config "$cnf" -key "$tmp/$key.key" -subj "$subject" -out "$tmp/$name.csr"
  # openssl wants an even number of hex digits.
  [ $((${#serial} % 2)) -eq 0 ] || serial="0$serial"
  echo "$serial" >"$tmp/serial"
  openssl ca -batch -notext -preserveDN -config "$cnf" "${signer[@]}" \
    -in "$tmp/$name.csr" -out "$dir/$name.crt" "${extopts[@]}" -md "${md_of[$signing_key]}" \
    -startdate "$start" -enddate "$end" "$@" 2>"$tmp/ca.log" || {
    cat "$tmp/ca.log" >&2
    exit 1
  }
  key_of[$name]=$key
}

# flip_last_byte IN OUT: a copy of IN whose last DER byte (inside the signature) is flipped.
flip_last_byte() {
  local der="$tmp/flip.der"
  openssl x509 -in "$out/$1.crt" -outform DER -out "$der"
  local size last
  size=$(wc -c <"$der")
  last=$(tail -c 1 "$der" | od -An -tu1 | tr -d ' \n')
  # shellcheck disable=SC2059
  printf "\\x$(printf %02x $((last ^ 0x01)))" | dd of="$der" bs=1 seek=$((size - 1)) conv=notrunc status=none
  openssl x509 -inform DER -in "$der" -out "$out/$2.crt"
}

O="/O=tsls x509 tests"

# ---- roots ----
genkey root-ec p256
issue root-ec root-ec "$O/CN=Root EC" 01 ca_root self
issue root-ec-expired root-ec "$O/CN=Root EC" 02 ca_root self "$past_nb" "$past_na"
issue root-ec-not-yet-valid root-ec "$O/CN=Root EC" 03 ca_root self "$future_nb" "$future_na"
genkey root-rsa rsa2048
issue root-rsa root-rsa "$O/CN=Root RSA" 04 ca_root self
genkey root-untrusted p256
issue root-untrusted root-untrusted "$O/CN=Untrusted Root" 05 ca_root self
genkey root-nc p384
issue root-nc root-nc "$O/CN=Root with name constraints" 06 ca_root_nc self

# ---- intermediates ----
genkey int-ec p384
issue int-ec int-ec "$O/CN=Intermediate EC" 10 ca_int_pathlen1 root-ec
issue int-ec-expired int-ec "$O/CN=Intermediate EC" 11 ca_int_pathlen1 root-ec "$past_nb" "$past_na"
issue int-ec-not-yet-valid int-ec "$O/CN=Intermediate EC" 12 ca_int_pathlen1 root-ec "$future_nb" "$future_na"
flip_last_byte int-ec int-ec-bad-signature
genkey int2-ed25519 ed25519
issue int2-ed25519 int2-ed25519 "$O/CN=Intermediate Ed25519 level 2" 13 ca_int_pathlen0 int-ec
genkey int-rsa rsa2048
md_of[int-rsa]=sha384 # what it signs with: sha384WithRSAEncryption
issue int-rsa int-rsa "$O/CN=Intermediate RSA" 14 ca_int root-rsa - - \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256
genkey int-no-ca-bit p256
issue int-no-ca-bit int-no-ca-bit "$O/CN=Intermediate without CA bit" 15 ca_int_no_ca_bit root-ec
genkey int-no-keycertsign p256
issue int-no-keycertsign int-no-keycertsign "$O/CN=Intermediate without keyCertSign" 16 ca_int_no_keycertsign root-ec
genkey int-v1 p256
issue int-v1 int-v1 "$O/CN=Intermediate v1" 17 none root-ec
genkey int-pathlen0 p256
issue int-pathlen0 int-pathlen0 "$O/CN=Intermediate pathlen 0" 18 ca_int_pathlen0 root-ec
genkey int-under-pathlen0 p256
issue int-under-pathlen0 int-under-pathlen0 "$O/CN=Intermediate under pathlen 0" 19 ca_int int-pathlen0
genkey int-eku-client p256
issue int-eku-client int-eku-client "$O/CN=Intermediate EKU clientAuth" 1a ca_int_eku_client root-ec
genkey int-nc-dns p256
issue int-nc-dns int-nc-dns "$O/CN=Intermediate DNS name constraints" 1b ca_int_nc_dns root-ec
genkey int-nc-ip p256
issue int-nc-ip int-nc-ip "$O/CN=Intermediate IP name constraints" 1c ca_int_nc_ip root-ec
genkey int-critical-unknown p256
issue int-critical-unknown int-critical-unknown "$O/CN=Intermediate critical unknown extension" 1d ca_int_critical_unknown root-ec

# Cross-signing: one key and subject, certified by an untrusted root and by root-ec.
genkey cross p256
issue cross-int-untrusted cross "$O/CN=Cross Intermediate" 1e ca_int root-untrusted
issue cross-int-trusted cross "$O/CN=Cross Intermediate" 1f ca_int root-ec

# A loop: A is certified by B and B by A (through throwaway self-signed certificates that
# only provide the issuer names).
genkey loop-a p256
genkey loop-b p256
issue tmp-loop-a loop-a "$O/CN=Loop A" 20 ca_root self
issue tmp-loop-b loop-b "$O/CN=Loop B" 21 ca_root self
issue loop-a loop-a "$O/CN=Loop A" 22 ca_int tmp-loop-b
issue loop-b loop-b "$O/CN=Loop B" 23 ca_int tmp-loop-a

# A chain of 11 intermediates under root-ec: long-01 (signed by the root) ... long-11.
genkey long p256
prev=root-ec
for i in 01 02 03 04 05 06 07 08 09 10 11; do
  issue "tmp-long-$i" long "$O/CN=Long chain $i" "3$i" ca_int "$prev"
  prev="tmp-long-$i"
done

# ---- leaves ----
# leaf NAME TYPE SUBJECT_CN SERIAL EXTENSIONS ISSUER [START END]
leaf() {
  genkey "$1" "$2"
  issue "$1" "$1" "$O/CN=$3" "$4" "$5" "$6" "${7:--}" "${8:--}"
}

leaf leaf-depth1 p256 "leaf signed by the root" 100 leaf_www root-ec
leaf leaf-ec p256 "leaf EC" 101 leaf_www int-ec
leaf leaf-depth3-rsa rsa2048 "leaf RSA depth 3" 102 leaf_www int2-ed25519
leaf leaf-ed25519 ed25519 "leaf Ed25519" 103 leaf_www int-rsa
leaf leaf-expired p256 "leaf expired" 104 leaf_www int-ec "$past_nb" "$past_na"
leaf leaf-not-yet-valid p256 "leaf not yet valid" 105 leaf_www int-ec "$future_nb" "$future_na"
flip_last_byte leaf-ec leaf-bad-signature
leaf leaf-wildcard p256 "leaf wildcard" 110 leaf_wildcard int-ec
leaf leaf-partial-wildcard p256 "leaf partial wildcard" 111 leaf_partial_wildcard int-ec
leaf leaf-ip p256 "leaf IP" 112 leaf_ip int-ec
leaf leaf-ip-as-dns p256 "127.0.0.1" 113 leaf_ip_as_dns int-ec
leaf leaf-cn-only p256 "www.example.com" 114 leaf_no_san int-ec
leaf leaf-client p256 "leaf clientAuth" 120 leaf_client int-ec
leaf leaf-any-eku p256 "leaf anyExtendedKeyUsage" 121 leaf_any_eku int-ec
leaf leaf-no-eku p256 "leaf without EKU" 122 leaf_no_eku int-ec
leaf leaf-key-encipherment rsa2048 "leaf keyEncipherment" 123 leaf_key_encipherment int-ec
leaf leaf-critical-unknown p256 "leaf critical unknown extension" 130 leaf_critical_unknown int-ec
leaf leaf-noncritical-unknown p256 "leaf noncritical unknown extension" 131 leaf_noncritical_unknown int-ec
leaf leaf-self-signed p256 "leaf self-signed" 140 leaf_self_signed self
leaf leaf-under-no-ca-bit p256 "leaf under no CA bit" 150 leaf_www_only int-no-ca-bit
leaf leaf-under-no-keycertsign p256 "leaf under no keyCertSign" 151 leaf_www_only int-no-keycertsign
leaf leaf-under-v1 p256 "leaf under v1" 152 leaf_no_akid int-v1
leaf leaf-under-pathlen0 p256 "leaf under pathlen 0 twice" 153 leaf_www_only int-under-pathlen0
leaf leaf-under-eku-client p256 "leaf under EKU clientAuth" 154 leaf_www_only int-eku-client
leaf leaf-under-critical-unknown p256 "leaf under critical unknown" 155 leaf_www_only int-critical-unknown
leaf leaf-nc-ok p256 "leaf nc ok" 160 leaf_www int-nc-dns
leaf leaf-nc-outside p256 "leaf nc outside" 161 leaf_nc_outside int-nc-dns
leaf leaf-nc-label-boundary p256 "leaf nc label boundary" 162 leaf_nc_label_boundary int-nc-dns
leaf leaf-nc-excluded p256 "leaf nc excluded" 163 leaf_nc_excluded int-nc-dns
leaf leaf-nc-mixed p256 "leaf nc mixed" 164 leaf_nc_mixed int-nc-dns
leaf leaf-ncip-ok p256 "leaf ncip ok" 170 leaf_ncip_ok int-nc-ip
leaf leaf-ncip-outside p256 "leaf ncip outside" 171 leaf_ncip_outside int-nc-ip
leaf leaf-ncip-excluded p256 "leaf ncip excluded" 172 leaf_ncip_excluded int-nc-ip
leaf leaf-ncip-v6-ok p256 "leaf ncip v6 ok" 173 leaf_ncip_v6_ok int-nc-ip
leaf leaf-ncip-v6-outside p256 "leaf ncip v6 outside" 174 leaf_ncip_v6_outside int-nc-ip
leaf leaf-ncip-dns p256 "leaf ncip dns" 175 leaf_ncip_dns int-nc-ip
leaf leaf-root-nc-ok ed25519 "leaf root nc ok" 180 leaf_example_net root-nc
leaf leaf-root-nc-outside ed25519 "leaf root nc outside" 181 leaf_www root-nc
leaf leaf-cross p256 "leaf cross-signed" 190 leaf_www cross-int-trusted
leaf leaf-loop p256 "leaf loop" 191 leaf_www loop-a
leaf tmp-leaf-long10 p256 "leaf long chain 10" 192 leaf_www tmp-long-10
leaf tmp-leaf-long11 p256 "leaf long chain 11" 193 leaf_www tmp-long-11

# Long chains as one bundle each: the leaf, then its intermediates from the bottom up.
bundle() {
  local name=$1
  shift
  for c in "$@"; do cat "$tmp/$c.crt"; done >"$out/$name.pem"
}
bundle long-chain-10 tmp-leaf-long10 tmp-long-{10,09,08,07,06,05,04,03,02,01}
bundle long-chain-11 tmp-leaf-long11 tmp-long-{11,10,09,08,07,06,05,04,03,02,01}

chmod 644 "$out"/*.crt "$out"/*.pem

# Fail loudly if a chain that must verify does not verify with openssl itself (at 2026-01-01).
check() {
  local anchor=$1 leaf=$2
  shift 2
  local untrusted=()
  for c in "$@"; do untrusted+=(-untrusted "$out/$c.crt"); done
  openssl verify -attime 1767225600 -purpose sslserver -CAfile "$out/$anchor.crt" "${untrusted[@]}" "$out/$leaf.crt" >/dev/null
}
check root-ec leaf-depth1
check root-ec leaf-ec int-ec
check root-ec leaf-depth3-rsa int2-ed25519 int-ec
check root-rsa leaf-ed25519 int-rsa
check root-ec leaf-cross cross-int-trusted
check root-ec leaf-nc-ok int-nc-dns
check root-ec leaf-ncip-ok int-nc-ip
check root-nc leaf-root-nc-ok
echo "vectors/x509 regenerated in $out"
