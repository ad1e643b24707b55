#!/bin/bash
# imbalance: few flows, and the IRQ CPU loaded by a user task (seed 000's claim).
# Machine: 4 CPUs, eth0 with one rx queue whose IRQ lands on CPU 0, RPS over all CPUs (the
# OpenWrt hotplug script writes "f"), two flows at 1 Mpps, and a CPU hog pinned to CPU 0, the
# CPU that also takes the NIC interrupt (a router daemon next to the IRQ).
. "${PN_LIB:-$(procnet libpath)}"
DURATION=${1:-300ms}

pn_save sys/class/net/eth0/queues/rx-0/rps_cpus
pn_write sys/class/net/eth0/queues/rx-0/rps_cpus f
pn_expect sys/class/net/eth0/queues/rx-0/rps_cpus f
pn_write procnet/tasks/ctl "add hog cpus=0"
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=2 pps=1000000"
case "$PN_VARIANT" in
backlog_threaded)
	pn_write backlog_threaded 1
	pn_expect backlog_threaded 1 ;;
thread_backlog_napi)
	pn_check "booted with thread_backlog_napi" 1 "$(grep -c thread_backlog_napi "$PROCNET/proc/cmdline")" ;;
esac
pn_snapshot start
pn_advance "$DURATION"
pn_snapshot end
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
pn_summary
