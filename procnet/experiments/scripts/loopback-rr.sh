#!/bin/bash
# loopback-rr: one UDP request/response pair over lo, client on CPU 1, server on CPU 2
# (netperf UDP_RR-like; the kernel test robot's case against the Aug 2023 RFC).
. "${PN_LIB:-$(procnet libpath)}"
DURATION=${1:-200ms}

case "$PN_VARIANT" in
backlog_threaded) pn_write backlog_threaded 1 ;;
rfc_no_shortcut) pn_write procnet/model/backlog_local_shortcut 0
	pn_expect procnet/model/backlog_local_shortcut 0 ;;
esac
pn_write procnet/tasks/ctl "rr rr client=1 server=2"
pn_snapshot start
pn_advance "$DURATION"
pn_snapshot end
pn_check "no RPS IPIs over lo" 0 "$(pn_stat ipis)"
pn_check "offered = delivered + dropped + queued" true "$(pn_stat conserved)"
pn_summary
