"""Section 7: permissions, against the live host kernel as the reference.

For EVERY file of a mounted machine, as `nobody`, open() with O_RDONLY, O_WRONLY,
O_WRONLY|O_TRUNC, O_WRONLY|O_APPEND and O_RDWR; the same opens on the host's own kernel file
that the procnet file mirrors (/proc/sys/net/core/*, /proc/net/softnet_stat, /proc/stat,
/proc/1/{stat,status,comm}, lo's sysfs files, /sys/devices/system/cpu/*) must give the same
answer. procnet/* files (no kernel counterpart) must refuse every write-mode open (docs/files.md:
"non-root users cannot write any file"). As root, a write to a file the kernel refuses is
refused too (the errno may differ: see docs/reliability.md).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from rel_common import make_fs, readable_paths, record, writable_paths

SECTION = "permissions"
FLAGS = {"R": os.O_RDONLY, "W": os.O_WRONLY, "WT": os.O_WRONLY | os.O_TRUNC,
         "WA": os.O_WRONLY | os.O_APPEND, "RW": os.O_RDWR}

PROBE = r"""
import errno, json, os, sys
flags = json.loads(sys.argv[1]); paths = json.loads(sys.stdin.read())
out = {}
for p in paths:
    res = {}
    for name, fl in flags.items():
        try:
            os.close(os.open(p, fl)); res[name] = "ok"
        except OSError as e:
            res[name] = errno.errorcode[e.errno]
    out[p] = res
print(json.dumps(out))
"""


def python_for(user: str) -> str:
    """A Python interpreter `user` may run (the venv's may live under /root)."""
    for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if exe and subprocess.run(["runuser", "-u", user, "--", exe, "-c", "pass"],
                                  capture_output=True, timeout=60).returncode == 0:
            return exe
    raise AssertionError(f"no python3 that {user} can run")


def probe(paths: list[str], user: str | None) -> dict:
    argv = [sys.executable, "-c", PROBE, json.dumps(FLAGS)]
    if user:
        argv = ["runuser", "-u", user, "--", python_for(user), "-c", PROBE, json.dumps(FLAGS)]
    proc = subprocess.run(argv, input=json.dumps(paths), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def host_counterpart(rel: str) -> str | None:
    parts = rel.split("/")
    if rel == "backlog_threaded" or rel.endswith("/backlog_threaded"):
        return None                              # seed 000: not in mainline
    if rel.startswith(("proc/sys/", "proc/net/")) or rel in (
            "proc/stat", "proc/softirqs", "proc/interrupts", "proc/cmdline"):
        return "/" + rel
    if parts[0] == "proc" and parts[1].isdigit():
        return f"/proc/1/{parts[2]}"
    if rel.startswith("sys/class/net/"):
        return "/sys/class/net/lo/" + "/".join(parts[4:]).replace("rx-1", "rx-0")
    if rel.startswith("sys/devices/system/cpu/cpu"):
        return "/sys/devices/system/cpu/cpu1/online"
    if rel.startswith("sys/devices/system/cpu/"):
        return "/" + rel
    return None


def test_nobody_gets_the_kernels_answer_for_every_file(fuse_env):
    from mount_helpers import mounted
    model = make_fs("stock", cpus=4)
    files = sorted(set(readable_paths(model)) |
                   {p for ps in writable_paths(model).values() for p in ps})
    with mounted("--clock", "manual", "--cpus", "4") as m:
        mine = probe([str(m / f) for f in files], "nobody")
        hosts = {f: host_counterpart(f) for f in files}
        theirs = probe(sorted({h for h in hosts.values() if h and os.path.exists(h)}),
                       "nobody")
        root_mine = probe([str(m / f) for f in files], None)
        root_theirs = probe(sorted(theirs), None)
        unchanged = (m / "proc/sys/net/core/netdev_max_backlog").read_text()
    assert unchanged == "1000\n"
    compared, differ, procnet_files = 0, [], 0
    for f in files:
        got = mine[str(m / f)]
        h = hosts[f]
        if h in theirs:
            compared += 1
            if got != theirs[h]:
                differ.append(f"{f}: procnet {got}, kernel ({h}) {theirs[h]}")
        else:
            procnet_files += 1
            writes = {k: v for k, v in got.items() if k != "R"}
            if set(writes.values()) != {"EACCES"}:
                differ.append(f"{f}: a write-mode open by nobody was not refused: {got}")
    # root: nothing the kernel refuses may be accepted (EACCES at open where the kernel
    # opens and then fails the write with EIO/EINVAL is a documented difference)
    root_accepts = []
    for f in files:
        h = hosts[f]
        if h in root_theirs:
            for k, v in root_mine[str(m / f)].items():
                if v == "ok" and root_theirs[h][k] != "ok":
                    root_accepts.append(f"{f} {k}")
    root_differ = sum(1 for f in files if hosts[f] in root_theirs
                      and root_mine[str(m / f)] != root_theirs[hosts[f]])
    record(SECTION, "files probed as nobody (5 open modes each)", len(files))
    record(SECTION, "compared with the host kernel's file", compared)
    record(SECTION, "procnet/* and seed-000 files (must refuse writes)", procnet_files)
    record(SECTION, "differences from the kernel for nobody", len(differ))
    record(SECTION, "root: opens procnet accepts that the kernel refuses", len(root_accepts))
    record(SECTION, "root: files whose open answers differ (EACCES at open vs EIO/EINVAL at "
                    "write, documented)", root_differ)
    assert not differ, "\n".join(differ[:20])
    assert not root_accepts, root_accepts
