#!/usr/bin/env bash
# Regenerates the test PKI in this directory with the openssl CLI (3.0 or later).
#
#   root (P-256, self-signed, sha256)
#     -> intermediate (P-384, signed with ecdsa-with-SHA256)
#          -> leaf-ecdsa-p256, leaf-ecdsa-p384, leaf-ed25519, leaf-rsa2048,
#             client-ecdsa-p256 (all signed with ecdsa-with-SHA384)
#
# `openssl ca` is used instead of `req -x509`/`x509 -req` because only `ca` can set a
# fixed notBefore in OpenSSL 3.0; fixed dates and serials keep the structure identical
# from one run to the next (only keys and signatures change). The CA database it needs
# lives in a temporary directory that is removed on exit.
set -euo pipefail

out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# UTCTime for notBefore and GeneralizedTime (year >= 2050) for notAfter, so parsers
# see both encodings.
not_before=20250101000000Z
not_after=21241231235959Z

cat >"$tmp/ca.cnf" <<EOF
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
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, DNS:test.tsls.example, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
: >"$tmp/index.txt"

# genkey NAME ALGORITHM [OPTIONS...] -> NAME.key (PKCS#8 PEM)
genkey() {
  local name=$1 alg=$2
  shift 2
  local opts=()
  for o in "$@"; do opts+=(-pkeyopt "$o"); done
  openssl genpkey -quiet -algorithm "$alg" "${opts[@]}" -out "$out/$name.key"
}

# issue NAME SUBJECT SERIAL EXTENSIONS MD [ISSUER] -> NAME.crt; no ISSUER means self-signed
issue() {
  local name=$1 subject=$2 serial=$3 ext=$4 md=$5 issuer=${6:-}
  local signer=()
  if [ -z "$issuer" ]; then
    signer=(-selfsign -keyfile "$out/$name.key")
  else
    signer=(-cert "$out/$issuer.crt" -keyfile "$out/$issuer.key")
  fi
  openssl req -new -config "$tmp/ca.cnf" -key "$out/$name.key" -subj "$subject" -out "$tmp/$name.csr"
  echo "$serial" >"$tmp/serial"
  openssl ca -batch -notext -preserveDN -config "$tmp/ca.cnf" "${signer[@]}" \
    -in "$tmp/$name.csr" -out "$out/$name.crt" -extensions "$ext" -md "$md" \
    -startdate "$not_before" -enddate "$not_after" 2>"$tmp/ca.log" || {
    cat "$tmp/ca.log" >&2
    exit 1
  }
}

genkey root EC ec_paramgen_curve:P-256 ec_param_enc:named_curve
issue root "/O=tsls/CN=tsls Test Root CA" 01 v3_root sha256

genkey intermediate EC ec_paramgen_curve:P-384 ec_param_enc:named_curve
issue intermediate "/O=tsls/CN=tsls Test Intermediate CA" 02 v3_intermediate sha256 root

leaf() {
  local name=$1 serial=$2 ext=$3 cn=$4
  shift 4
  genkey "$name" "$@"
  issue "$name" "/O=tsls/CN=$cn" "$serial" "$ext" sha384 intermediate
  cat "$out/$name.crt" "$out/intermediate.crt" >"$out/$name.chain.pem"
}

leaf leaf-ecdsa-p256 1001 v3_server "tsls test leaf-ecdsa-p256" EC ec_paramgen_curve:P-256 ec_param_enc:named_curve
leaf leaf-ecdsa-p384 1002 v3_server "tsls test leaf-ecdsa-p384" EC ec_paramgen_curve:P-384 ec_param_enc:named_curve
leaf leaf-ed25519 1003 v3_server "tsls test leaf-ed25519" ED25519
leaf leaf-rsa2048 1004 v3_server "tsls test leaf-rsa2048" RSA rsa_keygen_bits:2048
leaf client-ecdsa-p256 2001 v3_client "tsls test client" EC ec_paramgen_curve:P-256 ec_param_enc:named_curve

# Keys are test material, not secrets; keep them readable like the rest of the tree.
chmod 644 "$out"/*.key

# Fail loudly if a chain does not verify with openssl itself (at 2026-01-01).
for name in leaf-ecdsa-p256 leaf-ecdsa-p384 leaf-ed25519 leaf-rsa2048 client-ecdsa-p256; do
  openssl verify -attime 1767225600 -CAfile "$out/root.crt" -untrusted "$out/intermediate.crt" "$out/$name.crt" >/dev/null
done
echo "vectors/pki regenerated in $out"
