#!/usr/bin/env bash
# Starts, on loopback, the test ClickHouse clusters: one ZooKeeper and four
# ClickHouse servers. Servers 1 and 2 are the two replicas of one shard in
# cluster "bndmr" (one production shard) and two shards in "bndmr_2x1"; all
# four are the production layout, 2 shards × 2 replicas, in "bndmr_2x2" (see
# docs/cluster.md). State under .run/cluster
# (git-ignored). Idempotent: a server that already answers is left alone, so
# running it again restarts only what was stopped. No systemd: plain daemons.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}/cluster
zk_port=${BNDMR_ZK_PORT:-12181}
tcp=(19101 19102 19103 19104)
http=(18201 18202 18203 18204)
inter=(19201 19202 19203 19204)
secure=(19401 19402 19403 19404)
mkdir -p "$run"

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# ZooKeeper 3.8 of Debian (package zookeeper), standalone, without its admin
# web server (it would take port 8080).
start_zookeeper() {
	local d=$run/zk
	if port_open "$zk_port"; then echo "up-cluster: ZooKeeper already answers on 127.0.0.1:$zk_port"; return; fi
	mkdir -p "$d/data" "$d/conf"
	cat >"$d/conf/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$d/data
clientPortAddress=127.0.0.1
clientPort=$zk_port
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
autopurge.purgeInterval=1
CFG
	cat >"$d/conf/log4j.properties" <<CFG
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$d/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n
CFG
	# The jars of the package and of its dependencies are all in /usr/share/java.
	nohup java -Xmx256m -Dlog4j.configuration="file:$d/conf/log4j.properties" \
		-Dzookeeper.log.dir="$d" -cp "$d/conf:/usr/share/java/*" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/conf/zoo.cfg" \
		>"$d/stdout.log" 2>&1 </dev/null &
	echo $! >"$d/zookeeper.pid"
	# "ruok" answers while the database is still loading (a large one takes
	# a while), when ClickHouse's sessions are still refused: "stat" names
	# the mode only once requests are served.
	wait_for ZooKeeper 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port && printf stat >&3 && grep -q '^Mode:' <&3"
	echo "up-cluster: ZooKeeper on 127.0.0.1:$zk_port, data in $d"
}

# The cluster's test authority (openssl), made once under $run/tls: the
# servers' certificate (server and client usage: the nodes reach each other
# over TLS in cluster bndmr_2x2_tls, and fetch parts over HTTPS) and a client certificate for each
# ClickHouse client of the production overlay (Secret
# bndmr-clickhouse-client-tls: <name>.crt, <name>.key) and for analysts.
# up-topology.sh hands these folders to the services as the overlay's
# Secrets bndmr-clickhouse-tls and bndmr-clickhouse-client-tls.
make_pki() {
	local d=$run/tls
	[ -s "$d/server/tls.crt" ] && [ -s "$d/clients/ca.crt" ] && return
	mkdir -p "$d/server" "$d/clients"
	local cnf=$d/openssl.cnf
	cat >"$cnf" <<CNF
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
CNF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=BNDMR loopback ClickHouse CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	leaf() { # name extension out-prefix
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$3.key" -out "$3.csr" 2>/dev/null
		openssl x509 -req -in "$3.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 365 \
			-extfile "$cnf" -extensions "$2" -out "$3.crt" 2>/dev/null
		rm -f "$3.csr"
	}
	leaf clickhouse server "$d/server/tls"
	for c in loader indicators analyst; do leaf "$c" client "$d/clients/$c"; done
	cp "$d/ca.crt" "$d/server/ca.crt"
	cp "$d/ca.crt" "$d/clients/ca.crt"
	chmod 600 "$d"/*.key "$d"/*/*.key
	echo "up-cluster: test authority and certificates in $d"
}

# ClickHouse 18.16: server n (1 to 4).
start_clickhouse() {
	local n=$1 i=$(($1 - 1))
	local shard2x2=0$(((n + 1) / 2)) # servers 1, 2: shard 01 of bndmr_2x2; 3, 4: shard 02
	local d=$run/ch$n
	# distributed_product_mode: an IN or JOIN on a Distributed table inside a
	# query on a Distributed table is made GLOBAL (computed once, sent to every
	# shard) instead of refused. As in production (docs/cluster.md).
	local profile='<distributed_product_mode>global</distributed_product_mode><insert_distributed_sync>1</insert_distributed_sync>'
	local cluster
	cluster=$(cat <<XML
  <!-- Replicas fetch parts over HTTPS, as in production (certificates of
       openSSL below, both ways). -->
  <interserver_https_port>${inter[$i]}</interserver_https_port>
  <!-- The native protocol over TLS as well, as the production overlay
       configures it (deploy/k8s/overlays/prod/clickhouse-cluster.xml):
       a client certificate of the cluster's authority is required. The
       plain port stays for the cluster tests; the loopback topology's
       services use only this one. -->
  <tcp_port_secure>${secure[$i]}</tcp_port_secure>
  <openSSL>
    <server>
      <certificateFile>$run/tls/server/tls.crt</certificateFile>
      <privateKeyFile>$run/tls/server/tls.key</privateKeyFile>
      <caConfig>$run/tls/ca.crt</caConfig>
      <verificationMode>strict</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
    <client>
      <certificateFile>$run/tls/server/tls.crt</certificateFile>
      <privateKeyFile>$run/tls/server/tls.key</privateKeyFile>
      <caConfig>$run/tls/ca.crt</caConfig>
      <verificationMode>strict</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <invalidCertificateHandler><name>RejectCertificateHandler</name></invalidCertificateHandler>
    </client>
  </openSSL>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node><host>127.0.0.1</host><port>$zk_port</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
  </zookeeper>
  <!-- As in production (deploy/k8s/overlays/prod/clickhouse-cluster.xml):
       {shard} and {replica} name the replicated tables' ZooKeeper paths;
       {replica} is unique in the whole cluster. -->
  <macros>
    <cluster>bndmr</cluster>
    <shard>01</shard>
    <replica>ch$n</replica>
    <shard2x2>$shard2x2</shard2x2>
  </macros>
  <distributed_ddl><path>/clickhouse/bndmr/task_queue/ddl</path></distributed_ddl>
  <remote_servers>
    <bndmr>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${tcp[0]}</port></replica>
        <replica><host>127.0.0.1</host><port>${tcp[1]}</port></replica>
      </shard>
    </bndmr>
    <!-- The same two servers as two shards of one replica: the cluster test
         checks with it that the figures stay right when rows are spread
         (its tables' ZooKeeper paths use {replica} where bndmr's use {shard}). -->
    <bndmr_2x1>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${tcp[0]}</port></replica>
      </shard>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${tcp[1]}</port></replica>
      </shard>
    </bndmr_2x1>
    <!-- 2 shards × 2 replicas, as in production: its tables' ZooKeeper
         paths use {shard2x2}. -->
    <bndmr_2x2>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${tcp[0]}</port></replica>
        <replica><host>127.0.0.1</host><port>${tcp[1]}</port></replica>
      </shard>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${tcp[2]}</port></replica>
        <replica><host>127.0.0.1</host><port>${tcp[3]}</port></replica>
      </shard>
    </bndmr_2x2>
    <!-- The same four servers reached over TLS (secure ports), as the
         prod overlay's cluster: the loopback topology's tables use it. -->
    <bndmr_2x2_tls>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${secure[0]}</port><secure>1</secure></replica>
        <replica><host>127.0.0.1</host><port>${secure[1]}</port><secure>1</secure></replica>
      </shard>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>${secure[2]}</port><secure>1</secure></replica>
        <replica><host>127.0.0.1</host><port>${secure[3]}</port><secure>1</secure></replica>
      </shard>
    </bndmr_2x2_tls>
  </remote_servers>
XML
)
	clickhouse_files "$d" "${tcp[$i]}" "${http[$i]}" 268435456 2000000000 "$profile" "$cluster"
	# A running server re-reads <remote_servers> when the file changes.
	if port_open "${tcp[$i]}"; then echo "up-cluster: ClickHouse server $n already answers on 127.0.0.1:${tcp[$i]}"; return; fi
	# A killed server's pid file stops ClickHouse from starting while that pid
	# lives; a zombie (not yet reaped) does not count.
	if [ -s "$d/clickhouse.pid" ]; then
		local old state
		old=$(cat "$d/clickhouse.pid")
		state=$( (sed 's/.*) //' "/proc/$old/stat" 2>/dev/null || true) | cut -d' ' -f1)
		if [ -z "$state" ] || [ "$state" = Z ]; then rm -f "$d/clickhouse.pid"; fi
	fi
	# Detached from our output: a daemon holding it would keep a caller's pipe open.
	clickhouse-server --config-file="$d/config.xml" --pid-file="$d/clickhouse.pid" --daemon </dev/null >>"$d/log/stdout.log" 2>&1
	wait_for "ClickHouse server $n" 60 clickhouse-client --port "${tcp[$i]}" -q "SELECT count() FROM system.zookeeper WHERE path = '/'"
	echo "up-cluster: ClickHouse server $n on 127.0.0.1:${tcp[$i]} (native), :${secure[$i]} (native over TLS), :${http[$i]} (HTTP), :${inter[$i]} (interserver HTTPS), data in $d"
}

case "${1:-all}" in
all) make_pki; start_zookeeper; for n in 1 2 3 4; do start_clickhouse $n; done ;;
zookeeper) start_zookeeper ;;
1 | 2 | 3 | 4) make_pki; start_clickhouse "$1" ;;
*) echo "usage: $0 [all|zookeeper|1|2|3|4]" >&2; exit 2 ;;
esac
