#!/bin/bash
# busy-target: every CPU runs a CPU hog, so no CPU is idle for a backlog thread to move to
# (Paolo Abeni's objection). RPS to CPUs 1-3, 8 flows at 600 kpps.
. "${PN_LIB:-$(procnet libpath)}"
DURATION=${1:-300ms}

pn_write sys/class/net/eth0/queues/rx-0/rps_cpus e
for cpu in 0 1 2 3; do
	pn_write procnet/tasks/ctl "add hog$cpu cpus=$cpu"
done
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=8 pps=600000"
[ "$PN_VARIANT" = backlog_threaded ] && pn_write backlog_threaded 1
pn_snapshot start
pn_advance "$DURATION"
pn_snapshot end
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
pn_summary
