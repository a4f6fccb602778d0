#!/usr/bin/env bash
# Makes a lab CA and a server certificate with chosen subject, issuer,
# serial and validity, for TLS fixtures and tests (openssl only):
#
#   tests/lab/tls_certs.sh OUTDIR [SERVER_NAME]
#
# OUTDIR gets ca.pem, ca.key, server.pem (leaf, signed by the CA),
# server.key and chain.pem (leaf then CA). The values are fixed so that
# tests can expect them:
#   issuer   C=US, O=NetSentinel Lab, CN=NetSentinel Lab CA
#   subject  C=DE, ST=Berlin, L=Berlin, O=Lab Org, OU=Web, CN=SERVER_NAME
#            (default secure.lab.test)
#   serial   0x8BADF00D0123456789 (high bit set: DER adds a 00 byte)
#   validity 2024-01-01T00:00:00 to 2051-06-30T12:34:56 (a UTCTime and a
#            GeneralizedTime, as RFC 5280 wants for dates after 2049)
set -euo pipefail
out="$1"
name="${2:-secure.lab.test}"
mkdir -p "$out/ca-db"
: >"$out/ca-db/index.txt"
cat >"$out/ca.cnf" <<CNF
[ca]
default_ca = lab
[lab]
dir = $out/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
email_in_dn = no
[any]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$name
CNF
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
  -subj "/C=US/O=NetSentinel Lab/CN=NetSentinel Lab CA" \
  -keyout "$out/ca.key" -out "$out/ca.pem" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes \
  -subj "/C=DE/ST=Berlin/L=Berlin/O=Lab Org/OU=Web/CN=$name" \
  -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
echo 8BADF00D0123456789 >"$out/ca-db/serial"
openssl ca -batch -notext -config "$out/ca.cnf" -extensions leaf \
  -cert "$out/ca.pem" -keyfile "$out/ca.key" \
  -startdate 20240101000000Z -enddate 20510630123456Z \
  -in "$out/server.csr" -out "$out/server.pem" 2>/dev/null
cat "$out/server.pem" "$out/ca.pem" >"$out/chain.pem"
