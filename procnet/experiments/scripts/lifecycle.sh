#!/bin/bash
# lifecycle: CPU 2 goes offline and comes back, then a second NIC is added, overloaded and
# unregistered, all under load, in every mode. Every step must keep offered = delivered + dropped + queued.
. "${PN_LIB:-$(procnet libpath)}"
STEP=${1:-50ms}

check() {
	pn_check "$1: offered = delivered + dropped + queued" true "$(pn_stat conserved)"
}
pn_write sys/class/net/eth0/queues/rx-0/rps_cpus f
pn_write procnet/traffic/ctl "add t1 dev=eth0 flows=8 pps=400000"
[ "$PN_VARIANT" = backlog_threaded ] && pn_write backlog_threaded 1
pn_snapshot start
pn_advance "$STEP"; pn_snapshot t
pn_write sys/devices/system/cpu/cpu2/online 0
pn_snapshot cpu2-offline; check "cpu2 offline"
pn_expect sys/devices/system/cpu/online "0-1,3"
pn_advance "$STEP"; pn_snapshot t
pn_advance "$STEP"; pn_snapshot t
pn_write sys/devices/system/cpu/cpu2/online 1
pn_snapshot cpu2-online; check "cpu2 online"
pn_write procnet/net/ctl "add eth1 rxqueues=2 irq=2-3"
pn_write sys/class/net/eth1/queues/rx-0/rps_cpus f
pn_write sys/class/net/eth1/queues/rx-1/rps_cpus f
# eth1 is overloaded (2.5 Mpps) so backlogs are deep when it goes away: seed 000's
# flush_backlog then finds packets in a threaded process_queue and waits (msleep(1) loops).
pn_write procnet/traffic/ctl "add t2 dev=eth1 flows=8 pps=2500000"
pn_advance "$STEP"; pn_snapshot t
pn_snapshot before-unregister
t0=$(pn_read procnet/clock/now)
pn_write procnet/net/ctl "del eth1"
echo "unregister_netdevice(eth1) took $(( $(pn_read procnet/clock/now) - t0 )) ns of virtual time"
pn_snapshot after-unregister; check "eth1 unregistered"
pn_check "nothing delivered for eth1 after unregister" 0 "$(pn_stat delivered_after_unregister)"
pn_advance "$STEP"; pn_snapshot t
pn_advance "$STEP"; pn_snapshot end
check "end"
grep -E "flush_backlog|blocked" "$PROCNET/procnet/dmesg" || true
pn_summary
