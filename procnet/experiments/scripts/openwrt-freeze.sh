#!/bin/bash
# openwrt-freeze: a router-like machine (4 CPUs, one rx queue with its IRQ on CPU 0, RPS over all
# CPUs, 16 flows) runs stock, then `echo 1 > backlog_threaded`, then `echo 0`. PN_VARIANT picks
# how seed 000's napi_schedule_rps behaves: "intended" or "as-written" (>= 6.0 trees).
. "${PN_LIB:-$(procnet libpath)}"
STEP=${1:-10ms}

run_for() {
	local i
	for ((i = 0; i < $1; i++)); do
		pn_advance "$STEP"
		pn_snapshot t
	done
}
pn_write procnet/model/felix_variant "${PN_VARIANT:-as-written}"
pn_write sys/class/net/eth0/queues/rx-0/rps_cpus f
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=16 pps=300000"
pn_snapshot start
run_for 10
pn_write backlog_threaded 1
pn_snapshot switch:echo-1
run_for 20
pn_write backlog_threaded 0
pn_expect backlog_threaded 0
pn_snapshot switch:echo-0
run_for 20
pn_snapshot end
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
echo "stall reports:"
grep "backlog stall" "$PROCNET/procnet/dmesg" || echo "  none"
pn_summary
