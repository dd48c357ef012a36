#!/bin/sh
# Generates a test CA, a server certificate for 127.0.0.1/localhost (two of
# them, for reload tests), a client certificate, an expired client
# certificate from the same CA, and a second ("foreign") CA with its own
# client certificate. Usage: gen_certs.sh DIR
set -eu
d="$1"
cd "$d"
o() { openssl "$@" 2>/dev/null; }
key() { o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key ca.key
o req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=basalt test CA" -out ca.pem
key foreign-ca.key
o req -x509 -new -key foreign-ca.key -sha256 -days 2 -subj "/CN=foreign CA" -out foreign-ca.pem
sign() { # name cn ca extfile
    key "$1.key"
    o req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    o x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 -sha256 \
        -extfile "$4" -out "$1.pem"
}
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
sign server localhost ca server.ext
sign server2 localhost ca server.ext
sign client client ca client.ext
sign foreign foreign foreign-ca client.ext
# An expired client certificate: `openssl ca` is the command that takes explicit dates.
printf '[ca]\ndefault_ca=t\n[t]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n'\
'default_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\n' > ca.cnf
: > index.txt
echo 1000 > serial
key expired.key
o req -new -key expired.key -subj "/CN=expired" -out expired.csr
o ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z -notext -extfile client.ext
