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
