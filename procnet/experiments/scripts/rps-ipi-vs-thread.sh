#!/bin/bash
# rps-ipi-vs-thread: RPS from the IRQ CPU to CPUs 1-3, 16 flows at 600 kpps, nothing else
# running. Stock raises the targets' softirq by IPI; thread_backlog_napi wakes their threads.
. "${PN_LIB:-$(procnet libpath)}"
DURATION=${1:-200ms}

pn_write sys/class/net/eth0/queues/rx-0/rps_cpus e
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=16 pps=600000"
pn_snapshot start
pn_advance "$DURATION"
pn_snapshot end
if [ "$PN_VARIANT" = thread_backlog_napi ]; then
	pn_check "no RPS IPIs with backlog threads" 0 "$(pn_stat ipis)"
	pn_check "received_rps stays 0" 0 "$(pn_stat received_rps)"
fi
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
pn_summary
