#!/bin/sh
# Writes the certificates the pipeline's mutualTLS tests use into DIR:
#   ca.pem             a test CA (the server trusts it for client certificates)
#   server.pem/-key    the server's certificate for localhost, signed by the CA
#   client.pem/-key    a client certificate signed by the CA
#   rogue.pem          the same client key, self-signed (another issuer)
#   client.fpr         client.pem's SHA-256 fingerprint, lowercase hex
set -eu
d=$1
mkdir -p "$d"
[ -s "$d/client.fpr" ] && exit 0
certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca-key.pem" >/dev/null 2>&1
printf 'cn = "pipeline test CA"\nca\ncert_signing_key\nexpiration_days = 3650\n' >"$d/ca.tmpl"
certtool --generate-self-signed --load-privkey "$d/ca-key.pem" --template "$d/ca.tmpl" --outfile "$d/ca.pem" >/dev/null 2>&1
certtool --generate-privkey --key-type=ecdsa --outfile "$d/server-key.pem" >/dev/null 2>&1
printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 3650\n' >"$d/server.tmpl"
certtool --generate-certificate --load-privkey "$d/server-key.pem" --load-ca-certificate "$d/ca.pem" \
	--load-ca-privkey "$d/ca-key.pem" --template "$d/server.tmpl" --outfile "$d/server.pem" >/dev/null 2>&1
certtool --generate-privkey --key-type=ecdsa --outfile "$d/client-key.pem" >/dev/null 2>&1
printf 'cn = "client"\ntls_www_client\nsigning_key\nexpiration_days = 3650\n' >"$d/client.tmpl"
certtool --generate-certificate --load-privkey "$d/client-key.pem" --load-ca-certificate "$d/ca.pem" \
	--load-ca-privkey "$d/ca-key.pem" --template "$d/client.tmpl" --outfile "$d/client.pem" >/dev/null 2>&1
certtool --generate-self-signed --load-privkey "$d/client-key.pem" --template "$d/client.tmpl" \
	--outfile "$d/rogue.tmp" >/dev/null 2>&1
mv "$d/rogue.tmp" "$d/rogue.pem"
# the client certificate's SHA-256 fingerprint as the authentication hook gets it
openssl x509 -in "$d/client.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' >"$d/client.fpr"
