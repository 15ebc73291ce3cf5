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
mkdir -p "$run"

wait_for() { # name, seconds, command...
	local name=$1 secs=$2; shift 2
	for _ in $(seq 1 $((secs * 5))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "up: $name did not answer within ${secs}s" >&2
	return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Dovecot runs its login and mail processes as unprivileged users: every folder
# above its state must be traversable by them (a mktemp clone is not).
make_traversable() {
	local d=$1
	while [ "$d" != "/" ]; do
		[ $((0$(stat -c %a "$d") & 1)) -eq 1 ] || chmod o+x "$d"
		d=$(dirname "$d")
	done
}

start_clickhouse() {
	local d=$run/clickhouse
	if port_open "$ch_tcp"; then echo "up: ClickHouse already answers on 127.0.0.1:$ch_tcp"; return; fi
	mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
	cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><size>10M</size><count>2</count></logger>
  <http_port>$ch_http</http_port>
  <tcp_port>$ch_tcp</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>Europe/Paris</timezone>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
	cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>8000000000</max_memory_usage><load_balancing>random</load_balancing></default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
	clickhouse-server --config-file="$d/config.xml" --pid-file="$d/clickhouse.pid" --daemon
	wait_for ClickHouse 60 clickhouse-client --port "$ch_tcp" -q "SELECT 1"
	echo "up: ClickHouse on 127.0.0.1:$ch_tcp (native) and :$ch_http (HTTP), data in $d"
}

start_dovecot() {
	local d=$run/dovecot
	if port_open "$imap"; then echo "up: Dovecot already answers on 127.0.0.1:$imap"; return; fi
	mkdir -p "$d/run" "$d/state" "$d/mail"
	make_traversable "$d"
	chown dovecot:dovecot "$d/mail"
	cat >"$d/users" <<USERS
hub@bndmr.test:{PLAIN}secret
hub2@bndmr.test:{PLAIN}secret
hospital@chu.test:{PLAIN}secret
USERS
	chmod 644 "$d/users"
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
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$d/mail/%d/%n/Maildir
mail_uid = dovecot
mail_gid = dovecot
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
    port = 0
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
	dovecot -c "$d/dovecot.conf"
	wait_for Dovecot 30 port_open "$imap"
	echo "up: Dovecot IMAP on 127.0.0.1:$imap, LMTP on 127.0.0.1:$lmtp (users hub@bndmr.test, hub2@bndmr.test, hospital@chu.test; password 'secret')"
}

case "${1:-all}" in
all) start_clickhouse; start_dovecot ;;
clickhouse) start_clickhouse ;;
dovecot) start_dovecot ;;
*) echo "usage: $0 [all|clickhouse|dovecot]" >&2; exit 2 ;;
esac
