#!/bin/sh
# make-certs.sh - regenerates the RPC tests' TLS material (valid 100 years):
#   ca.pem            the test CA (its key is thrown away)
#   server.pem        localhost / 127.0.0.1, signed by the CA, with its key
#   client.pem        a client certificate signed by the CA, with its key
#   rogue-client.pem  a client certificate from another CA, with its key
# Run from this folder; the tests only read the results.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # ca NAME KEY CERT
	key "$2"
	openssl req -x509 -new -key "$2" -subj "/CN=$1" -days 36500 -out "$3" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # leaf CN EXT CAKEY CACERT OUT
	key "$tmp/leaf.key"
	openssl req -new -key "$tmp/leaf.key" -subj "/CN=$1" -out "$tmp/leaf.csr"
	printf '%s\n' "$2" >"$tmp/ext"
	openssl x509 -req -in "$tmp/leaf.csr" -CA "$4" -CAkey "$3" -CAserial "$tmp/serial" -CAcreateserial -days 36500 \
		-extfile "$tmp/ext" -out "$tmp/leaf.crt" 2>/dev/null
	cat "$tmp/leaf.crt" "$tmp/leaf.key" >"$5"
}
ca "amlrisk test CA" "$tmp/ca.key" ca.pem
leaf localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth" "$tmp/ca.key" ca.pem server.pem
leaf amlrisk-test-client "extendedKeyUsage=clientAuth" "$tmp/ca.key" ca.pem client.pem
ca "another CA" "$tmp/rogue.key" "$tmp/rogue.pem"
leaf amlrisk-rogue-client "extendedKeyUsage=clientAuth" "$tmp/rogue.key" "$tmp/rogue.pem" \
	rogue-client.pem
