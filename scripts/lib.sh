# Shell helpers shared by the scripts that start the loopback servers.
# Source it; it defines functions only.

# wait_for NAME SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_for() {
	local name=$1 secs=$2; shift 2
	for _ in $(seq 1 $((secs * 5))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "$(basename "$0"): $name did not answer within ${secs}s" >&2
	return 1
}

# port_open PORT: something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# clickhouse_files DIR TCP_PORT HTTP_PORT MARK_CACHE MAX_MEMORY [PROFILE_XML [CONFIG_XML]]:
# writes DIR/config.xml and DIR/users.xml for a loopback ClickHouse whose
# state lives under DIR; PROFILE_XML goes into the default profile,
# CONFIG_XML into the server configuration (cluster, ZooKeeper, macros...).
# max_threads is the machine's cores: ClickHouse 18.16 counts physical cores
# through CPUID, which says one on these virtual machines, and ran every
# query on one thread of two (current versions count the cores the process
# may use).
clickhouse_files() {
	local d=$1 tcp=$2 http=$3 mark=$4 mem=$5 profile=${6:-} extra=${7:-}
	mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
	cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><size>10M</size><count>2</count></logger>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>Europe/Paris</timezone>
  <mark_cache_size>$mark</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
$extra
</yandex>
XML
	cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>$mem</max_memory_usage><max_threads>$(nproc)</max_threads><load_balancing>random</load_balancing>$profile</default>
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
}

# stop_pid SCRIPT NAME PIDFILE TENTHS: stops the process PIDFILE names
# (TERM, then KILL after TENTHS tenths of a second) and removes PIDFILE.
stop_pid() {
	local script=$1 name=$2 file=$3 tenths=$4 pid
	[ -s "$file" ] || return 0
	pid=$(cat "$file")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		echo "$script: stopped $name (pid $pid)"
	fi
	rm -f "$file"
}

# make_traversable DIR: every folder from DIR up to / gets o+x, so that the
# unprivileged users of Dovecot and Postfix reach their state (a mktemp
# clone is not traversable).
make_traversable() {
	local d=$1
	while [ "$d" != "/" ]; do
		[ $((0$(stat -c %a "$d") & 1)) -eq 1 ] || chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# say TEXT: a step title of the demo scripts.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# empty_folders DOVEADM USER FOLDER...: each folder exists and is empty.
empty_folders() {
	local dove=$1 user=$2 f; shift 2
	for f in "$@"; do
		$dove mailbox list -u "$user" | grep -qx "$f" || $dove mailbox create -u "$user" "$f"
		$dove expunge -u "$user" mailbox "$f" all 2>/dev/null || true
	done
}
