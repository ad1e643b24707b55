"""procfs text renderers: pure functions from a machine snapshot to a file's whole text.

Each function mirrors one kernel show routine of Linux 6.18 (x86_64) byte for byte: the format
strings it reproduces are quoted next to the code, and every example layout was compared with a
real 6.18.44 x86_64 host (`cat -A /proc/...`). Nothing here changes the machine.

    softnet_seq_show(m)       /proc/net/softnet_stat   net/core/net-procfs.c  softnet_seq_show
    proc_stat_show(m, btime)  /proc/stat               fs/proc/stat.c         show_stat
    softirqs_show(m)          /proc/softirqs           fs/proc/softirqs.c     show_softirqs
    interrupts_show(m)        /proc/interrupts         kernel/irq/proc.c      show_interrupts +
                                                       arch/x86/kernel/irq.c  arch_show_interrupts
    proc_pid_stat(m, task)    /proc/<pid>/stat         fs/proc/array.c        do_task_stat
    proc_pid_status(m, task)  /proc/<pid>/status       fs/proc/array.c        proc_pid_status
    proc_pid_comm(task)       /proc/<pid>/comm         fs/proc/base.c         comm_show
    cmdline_show(m)           /proc/cmdline            fs/proc/cmdline.c      cmdline_proc_show

Counter widths follow the kernel's C types: a value the kernel keeps or prints as `unsigned int`
wraps at 2**32 here too (`_u32`); u64 / unsigned long values do not wrap.

Simplifications:
  * Only what the engine models has a value. Softirqs: NET_RX only (`Cpu.net_rx_softirqs`); HI,
    TIMER, NET_TX, BLOCK, IRQ_POLL, TASKLET, SCHED, HRTIMER and RCU are 0. TIMER is *not* derived
    from jiffies: TIMER_SOFTIRQ is raised only when a timer-wheel timer is due, and the engine has
    no timer wheel (its task timers are hrtimers expiring in hardirq context).
  * Arch interrupts: RES and CAL come from `Cpu.irqs`; LOC (local APIC timer) is one tick per
    jiffy on every CPU (a periodic tick: NO_HZ idle is not modelled, and a CPU that was offline for
    a while is not credited with fewer ticks); every other row is 0. A count stored in
    `Cpu.irqs` under the row's symbol ("LOC", "NMI", "TLB", ...) overrides these defaults.
  * Device interrupts: one MSI-X vector per NIC rx queue (`RxQueue.irq`, counts per CPU in
    `RxQueue.irq_counts`), chip "PCI-MSIX-<pci address>" with a made-up PCI address derived from
    the ifindex (eth0 = ifindex 1 -> 0000:00:03.0), hwirq = queue index, handler "edge", action
    name "<dev>-rx-<queue>". lo has no interrupt. An unregistered device's IRQs vanish from both
    /proc/interrupts and /proc/stat (the engine forgets the device), so the `intr` total can drop
    then; a kernel keeps them in its per-CPU `irqs_sum`.
  * nr_irqs (the length of the `intr` line and the width of the /proc/interrupts IRQ column) is
    what arch/x86/kernel/apic/vector.c `arch_probe_nr_irqs()` computes for one 24-pin IO-APIC and a
    legacy PIC (`nr_irqs`), e.g. 456 for 4 CPUs, the value QEMU/KVM x86 guests log at boot.
  * The arch rows of /proc/interrupts are those of the reference 6.18 kernel (an x86_64 KVM
    guest): no MCE/THR/DFR rows (CONFIG_X86_MCE off there), a HYP row and the KVM rows PIN, NPI,
    PIW after MIS. `X86_ARCH_ROWS` lists them.
  * Tasks: every task is uid/gid 0, single-threaded, without a tty; kernel threads are children of
    kthreadd (pid 2) and user tasks children of init (pid 1), each user task leading its own
    session and process group (as a systemd service does). Memory, page faults, signals and exit
    codes are not modelled and print as 0 (or as the kernel prints them for a task without mm).
    /proc/<pid>/status prints only the lines the engine can fill (see `proc_pid_status`).
  * procs_running counts runnable tasks of the emulation; a real /proc/stat also counts the
    reader itself. `processes` (total_forks) is the number of tasks the engine ever created.
"""
from __future__ import annotations

from .cpumask import bitmap_list_string, bitmap_string

__all__ = [
    "USER_HZ", "SOFTIRQ_NAMES", "X86_ARCH_ROWS", "X86_INTR_SUMMED",
    "softnet_seq_show", "proc_stat_show", "softirqs_show", "interrupts_show",
    "proc_pid_stat", "proc_pid_status", "proc_pid_comm", "cmdline_show",
    "nsec_to_clock_t", "nr_irqs", "irq_prec",
]

USER_HZ = 100
NSEC_PER_SEC = 1_000_000_000
U32 = 0xFFFF_FFFF
RLIM_INFINITY = 0xFFFF_FFFF_FFFF_FFFF          # unsigned long RLIM_INFINITY on 64-bit
SIGCHLD = 17
TASK_COMM_LEN = 16

# include/linux/sched.h task flags (PF_*), as observed on the reference 6.18 host:
# kthreadd 0x208040, ksoftirqd/N 0x4208040, an exec'd user process 0x400000.
PF_FORKNOEXEC = 0x00000040
PF_NOFREEZE = 0x00008000
PF_KTHREAD = 0x00200000
PF_RANDOMIZE = 0x00400000
PF_NO_SETAFFINITY = 0x04000000

# include/uapi/linux/sched.h
SCHED_NORMAL = 0
SCHED_FIFO = 1
MAX_RT_PRIO = 100
DEFAULT_PRIO = 120
FIFO_DEFAULT_RT_PRIORITY = MAX_RT_PRIO // 2    # what sched_set_fifo() gives kernel users

# kernel/softirq.c softirq_to_name[NR_SOFTIRQS]
SOFTIRQ_NAMES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
                 "HRTIMER", "RCU")

# arch/x86/kernel/irq.c arch_show_interrupts(): (symbol, text) per row in print order, for the
# reference kernel's config (LOCAL_APIC, SMP, THERMAL_VECTOR, HYPERVISOR_CALLBACK vector in use,
# KVM; no X86_MCE, no HYPERV, no POSTED_MSI). ERR and MIS are one global total each (text None).
X86_ARCH_ROWS = (
    ("NMI", "  Non-maskable interrupts"),
    ("LOC", "  Local timer interrupts"),
    ("SPU", "  Spurious interrupts"),
    ("PMI", "  Performance monitoring interrupts"),
    ("IWI", "  IRQ work interrupts"),
    ("RTR", "  APIC ICR read retries"),
    ("RES", "  Rescheduling interrupts"),
    ("CAL", "  Function call interrupts"),
    ("TLB", "  TLB shootdowns"),
    ("TRM", "  Thermal event interrupts"),
    ("HYP", "  Hypervisor callback interrupts"),
    ("ERR", None),
    ("MIS", None),
    ("PIN", "  Posted-interrupt notification event"),
    ("NPI", "  Nested posted-interrupt event"),
    ("PIW", "  Posted-interrupt wakeup event"),
)
# arch_irq_stat_cpu() adds these per-CPU counts to the /proc/stat "intr" total; TLB and the KVM
# rows are shown but not summed. arch_irq_stat() adds irq_err_count (0 here), not MIS.
X86_INTR_SUMMED = ("NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TRM", "HYP")

# fs/proc/array.c task_state_array[]
TASK_STATE_NAMES = {
    "R": "R (running)",
    "S": "S (sleeping)",
    "D": "D (disk sleep)",
    "T": "T (stopped)",
    "t": "t (tracing stop)",
    "X": "X (dead)",
    "Z": "Z (zombie)",
    "P": "P (parked)",
    "I": "I (idle)",
}

# x86 IO-APIC / legacy PIC layout assumed for nr_irqs (see _nr_irqs)
NR_VECTORS = 256
GSI_TOP = 24                 # one IO-APIC with 24 pins
NR_LEGACY_IRQS = 16          # legacy PIC present


def _u32(v: int) -> int:
    """An `unsigned int` view of a Python int (negative -> two's complement)."""
    return v & U32


def nsec_to_clock_t(ns: int) -> int:
    """kernel/time/time.c nsec_to_clock_t(): div_u64(x, NSEC_PER_SEC / USER_HZ)."""
    return ns // (NSEC_PER_SEC // USER_HZ)


def _online(m) -> list:
    return [c for c in m.cpus if c.online]


# ------------------------------------------------------------------ /proc/net/softnet_stat
def softnet_seq_show(m) -> str:
    """/proc/net/softnet_stat: net/core/net-procfs.c softnet_seq_show(), one line per online CPU.

    softnet_get_online() skips offline CPUs, so rows are the online CPUs in ascending order.
    Values are 32-bit (`%08x` of unsigned int / int): truncated, negatives in two's complement.
    """
    # seq_printf(seq,
    #     "%08x %08x %08x %08x %08x %08x %08x %08x %08x %08x %08x %08x %08x "
    #     "%08x %08x\n",
    #     sd->processed, sd->dropped, sd->time_squeeze, 0,
    #     0, 0, 0, 0, /* was fastroute */
    #     0,   /* was cpu_collision */
    #     sd->received_rps, flow_limit_count,
    #     input_qlen + process_qlen, (int)seq->index,
    #     input_qlen, process_qlen);
    return "".join(_SOFTNET_ROW % tuple([v & U32 for v in m.softnet[c.id].softnet_stat_row()])
                   for c in m.cpus if c.online)


_SOFTNET_ROW = "%08x " * 14 + "%08x\n"


# ------------------------------------------------------------------ interrupt bookkeeping
def nr_irqs(m) -> int:
    """nr_irqs of an x86_64 kernel with nr_cpu_ids = m.cfg.cpus.

    arch/x86/kernel/apic/vector.c arch_probe_nr_irqs():
        if (nr_irqs > NR_VECTORS * nr_cpu_ids) nr_irqs = NR_VECTORS * nr_cpu_ids;
        nr = (gsi_top + nr_legacy_irqs()) + 8 * nr_cpu_ids;
        if (gsi_top <= NR_IRQS_LEGACY) nr += 8 * nr_cpu_ids; else nr += gsi_top * 16;  (PCI_MSI)
        if (nr < nr_irqs) nr_irqs = nr;
    with gsi_top = 24 and a legacy PIC (16): 424 + 8 * cpus (456 for 4 CPUs), capped at
    256 * cpus. The sparse-IRQ code grows nr_irqs when an IRQ number beyond it is allocated
    (irq_expand_nr_irqs), so it is at least the highest IRQ in use + 1.
    """
    n = m.cfg.cpus
    nr = GSI_TOP + NR_LEGACY_IRQS + 8 * n
    nr += 8 * n if GSI_TOP <= 16 else GSI_TOP * 16
    nr = min(nr, NR_VECTORS * n)
    nr = max(nr, NR_LEGACY_IRQS)              # early_irq_init(): initcnt = legacy_pic->probe()
    top = max((q.irq for q in _nic_queues(m)), default=-1)
    return max(nr, top + 1)


def irq_prec(nr: int) -> int:
    """Width of the IRQ-number column: kernel/irq/proc.c show_interrupts()
    `for (prec = 3, j = 1000; prec < 10 && j <= nr_irqs; ++prec) j *= 10;`"""
    prec, j = 3, 1000
    while prec < 10 and j <= nr:
        j *= 10
        prec += 1
    return prec


def _nic_queues(m) -> list:
    """Rx queues that own an IRQ, in IRQ-number order."""
    qs = [q for dev in m.netdevs.values() for q in dev.rxqs if q.irq is not None]
    qs.sort(key=lambda q: q.irq)
    return qs


def _arch_count(cpu, sym: str, jiffies: int) -> int:
    """Per-CPU count of an x86 system vector (irq_stat fields are unsigned int)."""
    irqs = cpu.irqs
    if sym in irqs:
        return _u32(irqs[sym])
    if sym == "LOC":
        return _u32(jiffies)       # apic_timer_irqs: one local timer interrupt per tick
    return 0


def _pci_address(dev) -> str:
    """A stable made-up PCI address per device: bus 0, slot 2 + ifindex (eth0 -> 00:03.0)."""
    slot = 2 + dev.ifindex
    return "0000:%02x:%02x.0" % (slot // 32, slot % 32)


# ------------------------------------------------------------------ /proc/stat
def proc_stat_show(m, btime: int) -> str:
    """/proc/stat: fs/proc/stat.c show_stat() (Linux 6.18).

    The `cpu` line sums every possible CPU (ns summed, then converted); `cpuN` lines are the
    online CPUs. Columns: user nice system idle iowait irq softirq steal guest guest_nice in
    USER_HZ ticks. `intr` = total, then one count per IRQ 0..nr_irqs-1; `softirq` = total, then
    one per softirq. `btime` is the caller's boot time in seconds since the epoch.
    """
    times = m.cpu_times()
    jiffies = m.jiffies()
    cols = ("user", None, "system", "idle", None, "irq", "softirq", None, None, None)

    def line(prefix: str, t: dict) -> str:
        # seq_put_decimal_ull(p, "cpu  ", nsec_to_clock_t(user)); ... " " ...; seq_putc('\n')
        return prefix + " ".join(str(nsec_to_clock_t(t[k]) if k else 0) for k in cols) + "\n"

    total = dict.fromkeys(("user", "system", "idle", "irq", "softirq"), 0)
    for t in times:
        for k in total:
            total[k] += t.get(k, 0)
    out = [line("cpu  ", total)]
    for c in m.cpus:
        if c.online:
            out.append(line("cpu%d " % c.id, times[c.id]))   # seq_printf(p, "cpu%d", i)

    # sum += kstat_cpu_irqs_sum(i) + arch_irq_stat_cpu(i) for each possible cpu;
    # sum += arch_irq_stat()  (irq_err_count, 0 here)
    queues = _nic_queues(m)
    nirq = nr_irqs(m)
    per_irq = [0] * nirq
    intr_sum = 0
    for q in queues:
        n = sum(q.irq_counts.values())
        intr_sum += n
        per_irq[q.irq] = _u32(n)              # kstat_irqs_usr(): unsigned int
    for c in m.cpus:
        for sym in X86_INTR_SUMMED:
            intr_sum += _arch_count(c, sym, jiffies)
    # seq_put_decimal_ull(p, "intr ", sum); show_all_irqs(): " %u" per irq, gaps as " 0"
    out.append("intr %d" % intr_sum)
    out.append("".join(" %d" % v for v in per_irq))

    # seq_printf(p, "\nctxt %llu\n" "btime %llu\n" "processes %lu\n"
    #               "procs_running %u\n" "procs_blocked %lu\n", ...)
    ctxt = sum(c.ctxt for c in m.cpus)
    forks = m.total_forks
    running = sum(1 for t in m.tasks.values() if t.state == "R")
    out.append("\nctxt %d\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked %d\n"
               % (ctxt, btime, forks, running, 0))

    # per_softirq_sums[j] (unsigned int) += kstat_softirqs_cpu(j, i); sum_softirq (u64) += ...
    per = [0] * len(SOFTIRQ_NAMES)
    sum_softirq = 0
    for c in m.cpus:
        for j, v in enumerate(_softirq_counts(c)):
            per[j] = _u32(per[j] + v)
            sum_softirq += v
    # seq_put_decimal_ull(p, "softirq ", sum_softirq); " %u" per softirq; '\n'
    out.append("softirq %d%s\n" % (sum_softirq, "".join(" %d" % v for v in per)))
    return "".join(out)


def _softirq_counts(cpu) -> list[int]:
    """kstat_softirqs_cpu(nr, cpu) for each softirq (unsigned int)."""
    counts = [0] * len(SOFTIRQ_NAMES)
    counts[3] = _u32(cpu.net_rx_softirqs)     # NET_RX_SOFTIRQ
    return counts


# ------------------------------------------------------------------ /proc/softirqs
def softirqs_show(m) -> str:
    """/proc/softirqs: fs/proc/softirqs.c show_softirqs(); one column per *possible* CPU."""
    # seq_puts(p, "                    ");
    # for_each_possible_cpu(i) seq_printf(p, "CPU%-8d", i);
    out = [" " * 20, "".join("CPU%-8d" % c.id for c in m.cpus), "\n"]
    per_cpu = [_softirq_counts(c) for c in m.cpus]
    for i, name in enumerate(SOFTIRQ_NAMES):
        # seq_printf(p, "%12s:", softirq_to_name[i]);
        # for_each_possible_cpu(j) seq_printf(p, " %10u", kstat_softirqs_cpu(i, j));
        out.append("%12s:" % name)
        out.append("".join(" %10u" % counts[i] for counts in per_cpu))
        out.append("\n")
    return "".join(out)


# ------------------------------------------------------------------ /proc/interrupts
def interrupts_show(m) -> str:
    """/proc/interrupts: kernel/irq/proc.c show_interrupts() + arch/x86/kernel/irq.c
    arch_show_interrupts() (Linux 6.18); columns are the online CPUs."""
    online = _online(m)
    prec = irq_prec(nr_irqs(m))
    jiffies = m.jiffies()
    # seq_printf(p, "%*s", prec + 8, ""); for_each_online_cpu(j) seq_printf(p, "CPU%-8d", j);
    out = [" " * (prec + 8), "".join("CPU%-8d" % c.id for c in online), "\n"]
    for q in _nic_queues(m):
        if not q.dev.running:
            continue                        # dev_close() freed the IRQ: no action, no row
        counts = q.irq_counts
        # seq_printf(p, "%*d: ", prec, i); for_each_online_cpu(j) seq_printf(p, "%10u ", ...)
        out.append("%*d: " % (prec, q.irq))
        out.append("".join("%10u " % _u32(counts.get(c.id, 0)) for c in online))
        # chip name ("%8s"), hwirq (" %*lu", prec), handler name ("-%-8s"), action ("  %s")
        out.append("%8s" % ("PCI-MSIX-" + _pci_address(q.dev)))
        out.append(" %*d" % (prec, q.index))
        out.append("-%-8s" % "edge")
        out.append("  %s-rx-%d\n" % (q.dev.name, q.index))
    for sym, text in X86_ARCH_ROWS:
        if text is None:
            # seq_printf(p, "%*s: %10u\n", prec, "ERR", atomic_read(&irq_err_count));
            out.append("%*s: %10u\n" % (prec, sym, 0))
            continue
        # seq_printf(p, "%*s: ", prec, "LOC"); for_each_online_cpu(j)
        #     seq_printf(p, "%10u ", irq_stats(j)->apic_timer_irqs);
        # seq_puts(p, "  Local timer interrupts\n");
        out.append("%*s: " % (prec, sym))
        out.append("".join("%10u " % _arch_count(c, sym, jiffies) for c in online))
        out.append(text + "\n")
    return "".join(out)


# ------------------------------------------------------------------ /proc/<pid>/...
def _task_comm(task) -> str:
    """proc_task_name(): kthreads show their full name (get_kthread_comm, up to 63 bytes in the
    64-byte buffer), other tasks task->comm (TASK_COMM_LEN - 1 = 15 bytes)."""
    limit = 63 if task.kind == "kthread" else TASK_COMM_LEN - 1
    raw = task.comm.encode("utf-8")
    if len(raw) <= limit:
        return task.comm
    return raw[:limit].decode("utf-8", "ignore")


def _ppid(task) -> int:
    if task.pid <= 2:
        return 0                 # init and kthreadd are children of the idle task (pid 0)
    return 2 if task.kind == "kthread" else 1


def _pgrp_session(task) -> tuple[int, int]:
    if task.kind == "kthread":
        return 0, 0
    return task.pid, task.pid


def _task_flags(task) -> int:
    if task.kind == "kthread":
        flags = PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC
        if task.per_cpu:
            flags |= PF_NO_SETAFFINITY      # kthread_bind() / smpboot
        return flags
    return PF_RANDOMIZE


def _sched_params(task) -> tuple[int, int, int, int]:
    """(priority, nice, rt_priority, policy) as do_task_stat() prints them.

    task_prio() = p->prio - MAX_RT_PRIO: 20 for SCHED_OTHER at nice 0; for SCHED_FIFO
    prio = MAX_RT_PRIO - 1 - rt_priority, so -1 - rt_priority (-51 at rt_priority 50).
    The engine has no rt_priority: SCHED_FIFO tasks get 50 unless the task carries one.
    """
    if task.policy == "fifo":
        rt = getattr(task, "rt_priority", None) or FIFO_DEFAULT_RT_PRIORITY
        return -1 - rt, 0, rt, SCHED_FIFO
    return DEFAULT_PRIO - MAX_RT_PRIO, 0, 0, SCHED_NORMAL


def proc_pid_stat(m, task) -> str:
    """/proc/<pid>/stat: fs/proc/array.c do_task_stat(whole=0), all 52 fields (Linux 6.18).

    Kernel threads print as the kernel prints a task without mm (vsize, rss and the address
    fields 0, the last seven address fields " 0 0 0 0 0 0 0") and ignore every signal
    (sigignore 2147483647). Fields the engine has no notion of are 0.
    """
    kthread = task.kind == "kthread"
    pgrp, session = _pgrp_session(task)
    priority, nice, rt_priority, policy = _sched_params(task)
    fields = [
        _ppid(task),                          # 4  ppid          seq_put_decimal_ll
        pgrp,                                 # 5  pgrp
        session,                              # 6  session
        0,                                    # 7  tty_nr
        -1,                                   # 8  tpgid (tty_pgrp = -1 without a tty)
        _task_flags(task),                    # 9  flags         seq_put_decimal_ull
        0, 0, 0, 0,                           # 10-13 minflt cminflt majflt cmajflt
        nsec_to_clock_t(task.utime_ns),       # 14 utime
        nsec_to_clock_t(task.stime_ns),       # 15 stime
        0, 0,                                 # 16-17 cutime cstime
        priority,                             # 18 priority = task_prio()
        nice,                                 # 19 nice
        1,                                    # 20 num_threads
        0,                                    # 21 itrealvalue (always 0)
        nsec_to_clock_t(task.start_ns),       # 22 starttime (ticks since boot)
        0,                                    # 23 vsize
        0,                                    # 24 rss
        RLIM_INFINITY,                        # 25 rsslim = RLIMIT_RSS cur
        0, 0, 0,                              # 26-28 startcode endcode startstack
        0, 0,                                 # 29-30 kstkesp kstkeip (always 0)
        0,                                    # 31 signal (pending)
        0,                                    # 32 blocked
        0x7FFFFFFF if kthread else 0,         # 33 sigignore (sig[0] & 0x7fffffff)
        0,                                    # 34 sigcatch
        int(task.state != "R"),               # 35 wchan = !task_is_running(task)
        0, 0,                                 # 36-37 nswap cnswap (always 0)
        SIGCHLD,                              # 38 exit_signal
        task.cpu,                             # 39 processor = task_cpu()
        rt_priority,                          # 40 rt_priority
        policy,                               # 41 policy
        0,                                    # 42 delayacct_blkio_ticks
        0, 0,                                 # 43-44 guest_time cguest_time
        0, 0, 0, 0, 0, 0, 0,                  # 45-51 start_data .. env_end
        0,                                    # 52 exit_code
    ]
    # seq_put_decimal_ull(m, "", pid); seq_puts(m, " ("); proc_task_name(m, task, false)
    # ("%.64s"); seq_puts(m, ") "); seq_putc(m, state); then " %lld"/" %llu" per field; '\n'
    state = TASK_STATE_NAMES.get(task.state, task.state)[0]
    return "%d (%s) %s %s\n" % (task.pid, _task_comm(task), state,
                                " ".join(str(v) for v in fields))


def _escape_name(name: str) -> str:
    """seq_escape_str(m, tcomm, ESCAPE_SPACE | ESCAPE_SPECIAL, "\\n\\\\"): only "\\n" and "\\\\"
    are escaped ("\\n" -> "\\\\n", "\\\\" -> "\\\\\\\\")."""
    return name.replace("\\", "\\\\").replace("\n", "\\n")


def proc_pid_status(m, task) -> str:
    """/proc/<pid>/status: fs/proc/array.c proc_pid_status() (Linux 6.18), the lines the engine
    can fill, in the kernel's order and spelling:

        Name Umask State Tgid Ngid Pid PPid TracerPid Uid Gid FDSize Groups NStgid NSpid NSpgid
        NSsid Kthread Threads Cpus_allowed Cpus_allowed_list voluntary_ctxt_switches
        nonvoluntary_ctxt_switches

    Left out (no model behind them): task_mem's Vm*/Rss* lines, CoreDumping, THP_enabled and
    untag_mask (user tasks only), SigQ and the Sig*/Shd* masks, Cap*, NoNewPrivs, Seccomp*,
    Speculation*, Mems_allowed*, x86_Thread_features*. Every line kept is byte-exact; a parser
    that looks lines up by key (procps, psutil) sees the kernel's values for these keys.
    """
    nbits = m.cfg.cpus                       # nr_cpu_ids
    mask = 0
    for c in task.allowed:
        mask |= 1 << c
    pgrp, session = _pgrp_session(task)
    pid = task.pid
    out = [
        # seq_puts(m, "Name:\t"); proc_task_name(m, task, true); seq_putc(m, '\n');
        "Name:\t%s\n" % _escape_name(_task_comm(task)),
        # seq_printf(m, "Umask:\t%#04o\n", umask);  (init_fs / inherited umask 0022)
        "Umask:\t0022\n",
        "State:\t%s\n" % TASK_STATE_NAMES.get(task.state, task.state),
        "Tgid:\t%d\n" % pid,
        "Ngid:\t0\n",
        "Pid:\t%d\n" % pid,
        "PPid:\t%d\n" % _ppid(task),
        "TracerPid:\t0\n",
        "Uid:\t0\t0\t0\t0\n",
        "Gid:\t0\t0\t0\t0\n",
        # max_fds of the initial fdtable (NR_OPEN_DEFAULT = BITS_PER_LONG)
        "FDSize:\t64\n",
        # seq_puts(m, "\nGroups:\t"); ...; seq_putc(m, ' ');  /* Trailing space ... */
        "Groups:\t \n",
        "NStgid:\t%d\n" % pid,
        "NSpid:\t%d\n" % pid,
        "NSpgid:\t%d\n" % pgrp,
        "NSsid:\t%d\n" % session,
        # seq_printf(m, "Kthread:\t%c\n", p->flags & PF_KTHREAD ? '1' : '0');
        "Kthread:\t%d\n" % (task.kind == "kthread"),
        # seq_put_decimal_ull(m, "Threads:\t", num_threads);
        "Threads:\t1\n",
        # seq_printf(m, "Cpus_allowed:\t%*pb\n", cpumask_pr_args(&task->cpus_mask));
        "Cpus_allowed:\t%s\n" % bitmap_string(mask, nbits),
        # seq_printf(m, "Cpus_allowed_list:\t%*pbl\n", cpumask_pr_args(&task->cpus_mask));
        "Cpus_allowed_list:\t%s\n" % bitmap_list_string(mask, nbits),
        # seq_put_decimal_ull(m, "voluntary_ctxt_switches:\t", p->nvcsw);
        "voluntary_ctxt_switches:\t%d\n" % task.nvcsw,
        # seq_put_decimal_ull(m, "\nnonvoluntary_ctxt_switches:\t", p->nivcsw); seq_putc('\n')
        "nonvoluntary_ctxt_switches:\t%d\n" % task.nivcsw,
    ]
    return "".join(out)


def proc_pid_comm(task) -> str:
    """/proc/<pid>/comm: fs/proc/base.c comm_show():
    proc_task_name(m, p, false); seq_putc(m, '\\n');"""
    return _task_comm(task) + "\n"


def cmdline_show(m) -> str:
    """/proc/cmdline: fs/proc/cmdline.c cmdline_proc_show(): seq_puts(m, saved_command_line);
    seq_putc(m, '\\n')."""
    return m.cfg.cmdline + "\n"
