#!/bin/bash
# competing-tasks: user threads that run 70% of every 10 ms on each CPU compete with the backlog
# kthreads (Eric Dumazet's objection). RPS to CPUs 1-3, 8 flows at 400 kpps.
. "${PN_LIB:-$(procnet libpath)}"
DURATION=${1:-300ms}

pn_write sys/class/net/eth0/queues/rx-0/rps_cpus e
for cpu in 0 1 2 3; do
	pn_write procnet/tasks/ctl "add app$cpu cpus=$cpu util=70 period=10ms"
done
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=8 pps=400000"
[ "$PN_VARIANT" = backlog_threaded ] && pn_write backlog_threaded 1
pn_snapshot start
pn_advance "$DURATION"
pn_snapshot end
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
pn_summary
