# Shell helpers shared by the sipp scripts (sourced, not run).

# wait_stable FILE: returns once FILE has stopped growing for 1 s (at most 10 s), so the last
# packets reach a capture file: on a loaded machine tcpdump can lag the programs it watches.
wait_stable() {
	local prev=-1 cur stable=0
	for _ in $(seq 1 50); do
		cur=$(stat -c %s "$1" 2>/dev/null || echo 0)
		if [ "$cur" = "$prev" ]; then
			stable=$((stable + 1))
			[ "$stable" -ge 5 ] && return 0
		else
			stable=0
		fi
		prev=$cur
		sleep 0.2
	done
}
