#!/usr/bin/env bash
# Starts ClickHouse and Dovecot on loopback ports with their state under .run/
# (git-ignored). Idempotent: a server that already answers is left alone.
# No systemd: each server runs as a plain daemon from its own config.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}
ch_tcp=${BNDMR_CH_TCP_PORT:-19000}
ch_http=${BNDMR_CH_HTTP_PORT:-18123}
imap=${BNDMR_IMAP_PORT:-10143}
lmtp=${BNDMR_LMTP_PORT:-10024}
imaps=${BNDMR_IMAPS_PORT:-10993}
mkdir -p "$run"

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

start_clickhouse() {
	local d=$run/clickhouse
	if port_open "$ch_tcp"; then echo "up: ClickHouse already answers on 127.0.0.1:$ch_tcp"; return; fi
	clickhouse_files "$d" "$ch_tcp" "$ch_http" 536870912 8000000000
	# Detached from our output: a daemon holding it would keep a caller's pipe open.
	clickhouse-server --config-file="$d/config.xml" --pid-file="$d/clickhouse.pid" --daemon </dev/null >>"$d/log/stdout.log" 2>&1
	wait_for ClickHouse 60 clickhouse-client --port "$ch_tcp" -q "SELECT 1"
	echo "up: ClickHouse on 127.0.0.1:$ch_tcp (native) and :$ch_http (HTTP), data in $d"
}

# A test CA, a server certificate for 127.0.0.1/localhost and a client
# certificate whose commonName is the hub's user (SASL EXTERNAL): the MSSanté
# operator's IGC-Santé chain in miniature. Made once; kept across restarts.
make_tls() {
	local t=$1
	[ -s "$t/client.pem" ] && return
	mkdir -p "$t"
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -x509 "${ec[@]}" -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 \
		-subj "/O=BNDMR test/CN=BNDMR test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	sign() { # name subject extensions
		openssl req -new "${ec[@]}" -keyout "$t/$1.key" -subj "$2" 2>/dev/null |
			openssl x509 -req -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 3650 \
				-extfile <(printf '%s\n' "$3") -out "$t/$1.pem" 2>/dev/null
	}
	sign server "/O=BNDMR test/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
	sign client "/O=BNDMR test/CN=hub@bndmr.test" "extendedKeyUsage=clientAuth"
	chmod 600 "$t"/*.key
	chmod 644 "$t"/*.pem
}

start_dovecot() {
	local d=$run/dovecot
	if port_open "$imap" && port_open "$imaps" && grep -q "LMTP user lookups" "$d/dovecot.conf" 2>/dev/null; then echo "up: Dovecot already answers on 127.0.0.1:$imap and :$imaps"; return; fi
	mkdir -p "$d/run" "$d/state" "$d/mail"
	make_traversable "$d"
	chown dovecot:dovecot "$d/mail"
	make_tls "$d/tls"
	cat >"$d/users" <<USERS
hub@bndmr.test:{PLAIN}secret
hub2@bndmr.test:{PLAIN}secret
hospital@chu.test:{PLAIN}secret
USERS
	chmod 644 "$d/users"
	# TLS: implicit on $imaps, STARTTLS on $imap (which still takes plain
	# logins for the tests). A client certificate is asked for and checked
	# against the test CA; when valid, its commonName is the user, and SASL
	# EXTERNAL logs in with it. It is not required here (the other tests log
	# in without one): pkg/mailbox's TLS test runs a Dovecot of its own with
	# auth_ssl_require_client_cert = yes. No CRL in the test CA.
	cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
protocols = imap lmtp
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
ssl = yes
ssl_cert = <$d/tls/server.pem
ssl_key = <$d/tls/server.key
ssl_ca = <$d/tls/ca.pem
ssl_verify_client_cert = yes
ssl_require_crl = no
ssl_min_protocol = TLSv1.2
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
disable_plaintext_auth = no
auth_mechanisms = plain login external
mail_location = maildir:$d/mail/%d/%n/Maildir
mail_uid = dovecot
mail_gid = dovecot
# SASL EXTERNAL: the certificate is the proof; no password to check. The
# passwd-file passdb takes every other mechanism and the LMTP user lookups
# (a "mechanisms" filter on it would make LMTP refuse every recipient).
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$d/mail/%d/%n
}
namespace inbox {
  inbox = yes
  mailbox Processed {
    auto = subscribe
  }
}
protocol imap {
  mail_max_userip_connections = 200
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
	if port_open "$imap"; then
		# Started by an older up.sh without TLS: reload the new config in place.
		doveadm -c "$d/dovecot.conf" reload
	else
		dovecot -c "$d/dovecot.conf" </dev/null >>"$d/dovecot.log" 2>&1
	fi
	wait_for Dovecot 30 port_open "$imap"
	wait_for "Dovecot (TLS)" 30 port_open "$imaps"
	echo "up: Dovecot IMAP on 127.0.0.1:$imap (STARTTLS), IMAPS on 127.0.0.1:$imaps, LMTP on 127.0.0.1:$lmtp (users hub@bndmr.test, hub2@bndmr.test, hospital@chu.test; password 'secret'; test CA and client certificate in $d/tls)"
}

case "${1:-all}" in
all) start_clickhouse; start_dovecot ;;
clickhouse) start_clickhouse ;;
dovecot) start_dovecot ;;
*) echo "usage: $0 [all|clickhouse|dovecot]" >&2; exit 2 ;;
esac
