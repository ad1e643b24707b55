"""procnet.kernelfs.proc_handlers against real kernels.

Two oracle tables are replayed probe by probe:
  * ../shared/oracle/kernel-sysctl-oracle.json (Linux 6.18, HZ=250, 2 CPUs; one write per probe),
  * tests/data/host-sysctl-oracle.json, recorded by tools/oracle_record.py (writes, pwrites and
    reads on one open file, optional setup value, plus lo's rps_flow_cnt sysfs store).
Both must be present: a missing table is a failure, not a skip.
Hand-computed tables follow for the cases the oracles cannot show.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from procnet.kernelfs.proc_handlers import (
    HANDLERS, SYSCTL_SPECS, KernelParams, SysctlWrite, SysctlWriteError, dump_cpumask,
    flow_limit_table_len_sysctl, format_int, kstrtoint, kstrtoll, kstrtoul, kstrtouint,
    parse_int_write, proc_douintvec_minmax, rps_default_mask_sysctl, rps_sock_flow_sysctl,
    sysctl_read, sysctl_show, sysctl_specs, sysctl_write,
)

SHARED_ORACLE = Path(__file__).parents[2] / "shared" / "oracle" / "kernel-sysctl-oracle.json"
HOST_ORACLE = Path(__file__).parent / "data" / "host-sysctl-oracle.json"


# ---------------------------------------------------------------------------------------------
# Replay machinery: a tiny model of one open file (value + file position) around the handlers
# ---------------------------------------------------------------------------------------------

def decode(inp) -> bytes:
    """oracle_record.py input encoding: latin-1 text or [[piece, repeat], ...]."""
    if isinstance(inp, str):
        return inp.encode("latin-1")
    return b"".join(piece.encode("latin-1") * n for piece, n in inp)


def parse_value(name: str, text: str) -> int:
    return int(text.strip(), 16) if SYSCTL_SPECS[name].ctype == "cpumask" else int(text)


def outcome(exc: OSError) -> list:
    return ["err", errno.errorcode[exc.errno]]


def replay_sysctl(name: str, probe: dict, orig: str, params: KernelParams):
    """Apply a probe's setup and ops to the model; return (results, text a fresh read shows)."""
    value = parse_value(name, orig)
    if probe.get("setup") is not None:
        value = sysctl_write(name, probe["setup"].encode(), 0, value, params).value
    pos, results = 0, []
    for op in probe["ops"]:
        if op[0] == "read":
            out = sysctl_show(name, value, pos, op[1], params)
            pos += len(out)
            results.append(["data", out.decode("latin-1")])
            continue
        at = pos if op[0] == "write" else op[2]  # pwrite() leaves the file position alone
        try:
            res = sysctl_write(name, decode(op[1]), at, value, params)
        except OSError as e:
            if isinstance(e, SysctlWriteError) and e.value_after is not None:
                value = e.value_after
            results.append(outcome(e))
            continue
        if res.value is not None:
            value = res.value
        if op[0] == "write":
            pos = res.pos
        results.append(["ok", res.count])
    return results, sysctl_show(name, value, 0, 4096, params).decode("latin-1")


def _load(path: Path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def _shared_cases():
    data = _load(SHARED_ORACLE)
    if data is None:
        return [pytest.param(None, id="shared-oracle-missing")]
    return [pytest.param((name, table["orig"], i, probe), id="%s-%02d-%r" % (name, i, probe[0][:12]))
            for name, table in data.items() for i, probe in enumerate(table["probe"])]


def _host_cases(section: str):
    data = _load(HOST_ORACLE)
    if data is None:
        return [pytest.param(None, id="host-oracle-missing")]
    return [pytest.param((data["meta"], name, table["orig"], probe), id="%s-%03d" % (name, i))
            for name, table in data[section].items() for i, probe in enumerate(table["probes"])]


# ---------------------------------------------------------------------------------------------
# Oracle replays
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", _shared_cases())
def test_shared_oracle(case):
    assert case is not None, "missing %s (CI checks out ../shared beside the repo)" % SHARED_ORACLE
    name, orig, _i, (inp, expected, after) = case
    params = KernelParams(hz=250, nr_cpu_ids=2)  # what the README says the probe ran on
    results, text = replay_sysctl(name, {"ops": [["write", inp]]}, orig, params)
    assert results == [expected]
    assert text.strip() == after


@pytest.mark.parametrize("case", _host_cases("files"))
def test_host_oracle_sysctl(case):
    assert case is not None, "missing %s (record it with tools/oracle_record.py)" % HOST_ORACLE
    meta, name, orig, probe = case
    params = KernelParams(hz=meta["hz"], nr_cpu_ids=meta["nr_cpu_ids"])
    results, text = replay_sysctl(name, probe, orig, params)
    assert results == probe["results"]
    assert text == probe["after"]


def replay_rps_flow_cnt(probe: dict, orig: str):
    """net/core/net-sysfs.c store_rps_dev_flow_table_cnt behind kernfs: a zero-length write never
    reaches ->store(), kernfs cuts writes to PAGE_SIZE, the position is ignored."""
    value = int(orig)

    def store(data: bytes) -> int:
        data = data[:4096]
        if not data:
            return 0
        count = kstrtoul(data, 0)
        if count:
            mask = (1 << (count - 1).bit_length()) - 1  # roundup_pow_of_two(count) - 1
            if mask > 0xFFFF_FFFF:  # must fit table->mask (u32)
                raise OSError(errno.EINVAL, "rps_flow_cnt too large")
        return count and mask + 1

    if probe.get("setup") is not None:
        value = store(probe["setup"].encode())
    results = []
    for op in probe["ops"]:
        data = decode(op[1])
        try:
            new = store(data)
        except OSError as e:
            results.append(outcome(e))
            continue
        if data:
            value = new
        results.append(["ok", min(len(data), 4096)])
    return results, "%d\n" % value


@pytest.mark.parametrize("case", [c for c in _host_cases("sysfs")
                                  if c.values[0] is None or c.id.startswith("rps_flow_cnt")])
def test_host_oracle_kstrtoul_rps_flow_cnt(case):
    assert case is not None, "missing %s" % HOST_ORACLE
    _meta, _name, orig, probe = case
    results, text = replay_rps_flow_cnt(probe, orig)
    assert results == probe["results"]
    assert text == probe["after"]


def test_host_oracle_meta():
    data = _load(HOST_ORACLE)
    assert data is not None, "missing %s" % HOST_ORACLE
    meta = data["meta"]
    assert meta["netdev_budget_usecs_default"] == 2 * 1_000_000 // meta["hz"]
    assert data["files"]["netdev_budget_usecs"]["orig"] == "%d\n" % meta["netdev_budget_usecs_default"]
    assert meta["sysctl_writes_strict"] == 1 and meta["page_size"] == 4096
    # every recorded file starts from the table's default (an unmodified host)
    for name, table in data["files"].items():
        spec = sysctl_specs(meta["hz"])[name]
        assert parse_value(name, table["orig"]) == spec.default, name


# ---------------------------------------------------------------------------------------------
# parse_int_write: proc_dointvec & co., hand-computed from kernel/sysctl.c
# ---------------------------------------------------------------------------------------------

class Err:
    """Expected failure with this errno (keeps errno numbers apart from expected values)."""

    def __init__(self, err: int):
        self.errno = err

    def __repr__(self):
        return errno.errorcode[self.errno]


EINVAL = Err(errno.EINVAL)

INT_WRITES = [
    # (data, pos, kwargs, expected (value, count) or errno)
    (b"42", 0, {}, (42, 2)),
    (b"42\n", 0, {}, (42, 3)),
    (b"", 0, {}, (None, 0)),                      # zero-length: nothing, returns 0
    (b"", 7, {}, (None, 0)),
    (b"42", 1, {}, (None, 2)),                    # pos != 0: swallowed under sysctl_writes_strict
    (b"junk", 3, {}, (None, 4)),                  # ... without even being parsed
    (b"\n", 0, {}, EINVAL),                       # only blanks
    (b"  \t\v\f\r 9", 0, {}, (9, 8)),               # all isspace() characters are skipped
    (b"\xa09", 0, {}, (9, 2)),                    # kernel isspace() includes Latin-1 NBSP
    (b"9\r", 0, {}, EINVAL),                      # ... but only ' ', '\t', '\n' may follow a number
    (b"9\xa0", 0, {}, EINVAL),
    (b"-", 0, {}, EINVAL),                        # a lone '-' is not a sign
    (b"-0", 0, {}, (0, 2)),
    (b"+1", 0, {}, EINVAL),
    (b"0x1F", 0, {}, (31, 4)),
    (b"0X1f", 0, {}, (31, 4)),
    (b"0x", 0, {}, EINVAL),                       # "0x" without a hex digit: octal 0, then 'x'
    (b"0xg", 0, {}, EINVAL),
    (b"017", 0, {}, (15, 3)),
    (b"08", 0, {}, EINVAL),
    (b"-0x80000000", 0, {}, (-2**31, 11)),
    (b"-2147483649", 0, {}, EINVAL),
    (b"2147483648", 0, {}, EINVAL),
    (b"18446744073709551616", 0, {}, EINVAL),     # overflows unsigned long
    (b"00000000000000000001", 0, {}, (1, 20)),    # 20 characters: fine
    (b"000000000000000000001", 0, {}, EINVAL),    # 21 characters fill tmp[]: refused
    (b"-0000000000000000001", 0, {}, (-1, 20)),
    (b"-00000000000000000001", 0, {}, EINVAL),
    (b"1 2", 0, {}, (1, 2)),                      # short write up to the junk
    (b"1 \n 2", 0, {}, (1, 4)),
    (b"1 \0", 0, {}, (1, 2)),
    (b"1\0", 0, {}, EINVAL),
    (b"\0", 0, {}, EINVAL),
    (b" " * 4094 + b"7", 0, {}, (7, 4095)),
    (b" " * 4094 + b"12", 0, {}, (1, 4096)),      # only PAGE_SIZE-1 bytes are looked at
    (b" " * 4095 + b"7", 0, {}, EINVAL),
    (b"7" + b" " * 4999, 0, {}, (7, 5000)),
    (b"7 " + b"x" * 4998, 0, {}, (7, 907)),       # 5000 - (4095 - 2)
    (b"5", 0, {"minimum": 1}, (5, 1)),
    (b"0", 0, {"minimum": 1}, EINVAL),
    (b"2", 0, {"minimum": 0, "maximum": 1}, EINVAL),
    (b"1", 0, {"minimum": 0, "maximum": 1}, (1, 1)),
    # proc_douintvec_minmax: no sign at all, 0..UINT_MAX, whole count reported
    (b"4294967295", 0, {"unsigned": True}, (4294967295, 10)),
    (b"4294967296", 0, {"unsigned": True}, EINVAL),
    (b"-0", 0, {"unsigned": True}, EINVAL),
    (b"1 junk", 0, {"unsigned": True}, (1, 6)),
    (b"1junk", 0, {"unsigned": True}, EINVAL),
    (b"0", 0, {"unsigned": True, "minimum": 1}, EINVAL),
    (b"3", 4, {"unsigned": True}, (None, 1)),
]


@pytest.mark.parametrize("data,pos,kwargs,expected", INT_WRITES,
                         ids=[repr(c[0][:16]) + ("@%d" % c[1] if c[1] else "") + str(c[2] or "")
                              for c in INT_WRITES])
def test_parse_int_write(data, pos, kwargs, expected):
    if isinstance(expected, Err):
        with pytest.raises(OSError) as info:
            parse_int_write(data, pos, **kwargs)
        assert info.value.errno == expected.errno
    else:
        assert parse_int_write(data, pos, **kwargs) == expected


def test_error_messages_name_the_file_and_the_bound():
    with pytest.raises(OSError, match=r"^\[Errno 22\] netdev_budget_usecs must be >= 8000 \(got 2\)$"):
        sysctl_write("netdev_budget_usecs", b"2", 0, 8000)
    with pytest.raises(OSError, match=r"dev_weight must be >= 1 \(got 0\)"):
        sysctl_write("dev_weight", b"0\n", 0, 64)
    with pytest.raises(OSError, match=r"netdev_max_backlog must be <= 2147483647 \(got 2147483648\)"):
        sysctl_write("netdev_max_backlog", b"2147483648", 0, 1000)
    with pytest.raises(OSError, match=r"flow_limit_table_len must be a power of two \(got 3\)"):
        sysctl_write("flow_limit_table_len", b"3", 0, 4096)


def test_file_position_rules():
    # proc_dointvec: the position moves by the reported count, so the tail of a short write and
    # any second write on the same open file are ignored
    assert sysctl_write("netdev_budget", b"1 2", 0, 300) == SysctlWrite(1, 2, 2)
    assert sysctl_write("netdev_budget", b"2", 2, 1) == SysctlWrite(None, 1, 3)
    # zero-length write: position unchanged
    assert sysctl_write("netdev_budget", b"", 0, 300) == SysctlWrite(None, 0, 0)
    # douintvec: success leaves the position at 0 and reports everything
    assert proc_douintvec_minmax(b"7 8", 0) == SysctlWrite(7, 3, 0)
    # cpumask handlers: position neither checked nor moved, whole count reported
    assert sysctl_write("rps_default_mask", b"1", 9, 0) == SysctlWrite(1, 1, 9)


def test_format_and_read():
    assert format_int(-5) == b"-5\n"
    text = format_int(1000)
    assert [sysctl_read(text, 0, n) for n in (0, 1, 4, 5, 100)] == [b"", b"1", b"1000", b"1000\n", b"1000\n"]
    assert sysctl_read(text, 1, 100) == b""  # any read at pos != 0 is EOF
    assert sysctl_show("netdev_max_backlog", 1000, 0, 3) == b"100"


@pytest.mark.parametrize("mask,nbits,size,expected", [
    (0, 2, 1, b""),                       # scnprintf(kbuf, 1) prints nothing: EOF at once
    (0, 2, 2, b"0\n"),
    (3, 2, 100, b"3\n"),
    (0xFF, 64, 100, b"00000000,000000ff\n"),
    (0xFF, 64, 5, b"0000\n"),             # truncated, and still ends with "\n"
    (1 << 1023, 1024, 100000, (b"80000000" + b",00000000" * 31) + b"\n"),  # no 128-byte cap (6.13+)
])
def test_dump_cpumask(mask, nbits, size, expected):
    assert dump_cpumask(mask, nbits, 0, size) == expected
    assert dump_cpumask(mask, nbits, 1, size) == b""


# ---------------------------------------------------------------------------------------------
# The table and the bespoke handlers
# ---------------------------------------------------------------------------------------------

def test_sysctl_specs_table():
    for spec in SYSCTL_SPECS.values():
        assert spec.handler in HANDLERS, spec.name
        assert spec.mode == 0o644
        assert spec.ctype in ("int", "uint", "cpumask")
    expected_defaults = {
        "netdev_max_backlog": 1000, "dev_weight": 64, "dev_weight_rx_bias": 1,
        "dev_weight_tx_bias": 1, "netdev_budget": 300, "netdev_budget_usecs": 8000,
        "netdev_tstamp_prequeue": 1, "rps_sock_flow_entries": 0, "flow_limit_cpu_bitmap": 0,
        "flow_limit_table_len": 4096, "rps_default_mask": 0, "busy_poll": 0, "busy_read": 0,
        "gro_normal_batch": 8, "skb_defer_max": 64, "backlog_threaded": 0,
    }
    assert {k: s.default for k, s in SYSCTL_SPECS.items()} == expected_defaults
    assert [k for k, s in SYSCTL_SPECS.items() if not s.mainline] == ["backlog_threaded"]


@pytest.mark.parametrize("hz,usecs", [(100, 20000), (250, 8000), (300, 6666), (1000, 2000)])
def test_netdev_budget_usecs_depends_on_hz(hz, usecs):
    spec = sysctl_specs(hz)["netdev_budget_usecs"]
    assert spec.default == spec.minimum == usecs
    params = KernelParams(hz=hz)
    assert sysctl_write("netdev_budget_usecs", b"%d" % usecs, 0, usecs, params).value == usecs
    with pytest.raises(OSError):
        sysctl_write("netdev_budget_usecs", b"%d" % (usecs - 1), 0, usecs, params)


@pytest.mark.parametrize("data,old,expected", [
    (b"1", 0, 1), (b"3", 0, 4), (b"100", 0, 128), (b"4096", 0, 4096), (b"0", 4096, 0),
    (b"-0", 64, 0), (b"536870912", 0, 1 << 29), (b"536870913", 0, EINVAL),
    (b"-1", 0, EINVAL),                   # stored into an unsigned int: 0xffffffff
    (b"-2147483648", 0, EINVAL),
    (b"2147483648", 64, EINVAL),          # proc_dointvec's own error, reported after the size check
    (b"abc", 64, EINVAL),
    (b"8", 1, None),                      # @pos 1 below: ignored
])
def test_rps_sock_flow_sysctl(data, old, expected):
    pos = 1 if expected is None else 0
    if isinstance(expected, Err):
        with pytest.raises(OSError) as info:
            rps_sock_flow_sysctl(data, pos, old)
        assert info.value.errno == expected.errno
    else:
        assert rps_sock_flow_sysctl(data, pos, old).value == expected


@pytest.mark.parametrize("data,expected", [
    (b"1", 1), (b"2", 2), (b"4096", 4096), (b"1073741824", 1 << 30),
    (b"-2147483648", -2**31),             # 0x80000000 is a power of two as unsigned int
    (b"0", EINVAL), (b"3", EINVAL), (b"2147483647", EINVAL), (b"-1", EINVAL), (b"-2", EINVAL),
])
def test_flow_limit_table_len_sysctl(data, expected):
    if isinstance(expected, Err):
        with pytest.raises(OSError) as info:
            flow_limit_table_len_sysctl(data, 0, 4096)
        assert info.value.errno == expected.errno
    else:
        assert flow_limit_table_len_sysctl(data, 0, 4096).value == expected


def test_dev_weight_and_backlog_threaded_minmax():
    for name in ("dev_weight", "dev_weight_rx_bias", "dev_weight_tx_bias"):
        assert sysctl_write(name, b"1", 0, 64).value == 1
        with pytest.raises(OSError):
            sysctl_write(name, b"0", 0, 64)
    assert sysctl_write("backlog_threaded", b"1\n", 0, 0) == SysctlWrite(1, 2, 2)
    assert sysctl_write("backlog_threaded", b"0", 0, 1).value == 0
    for bad in (b"2", b"-1", b"on"):
        with pytest.raises(OSError):
            sysctl_write("backlog_threaded", bad, 0, 0)


def test_uint_minmax_files():
    assert sysctl_write("busy_poll", b"50", 0, 0).value == 50
    assert sysctl_write("skb_defer_max", b"0", 0, 64).value == 0
    with pytest.raises(OSError):
        sysctl_write("busy_read", b"-1", 0, 0)
    with pytest.raises(OSError):
        sysctl_write("gro_normal_batch", b"0", 0, 8)
    assert sysctl_write("netdev_tstamp_prequeue", b"-7", 0, 1).value == -7  # plain proc_dointvec


def test_rps_default_mask_partial_and_housekeeping():
    params = KernelParams(nr_cpu_ids=2)
    with pytest.raises(SysctlWriteError) as info:
        rps_default_mask_sysctl(b"f", 0, 0, params=params)
    assert info.value.errno == errno.EOVERFLOW and info.value.value_after == 3
    with pytest.raises(SysctlWriteError) as info:
        rps_default_mask_sysctl(b"zz", 0, 2, params=params)
    assert info.value.errno == errno.EINVAL and info.value.value_after == 2  # nothing parsed
    # an empty write clears the mask (the kernel still calls the handler for 0 bytes)
    assert rps_default_mask_sysctl(b"", 0, 3, params=params) == SysctlWrite(0, 0, 0)
    # housekeeping: CPU 0 only
    params = KernelParams(nr_cpu_ids=2, housekeeping=0b01)
    assert rps_default_mask_sysctl(b"3", 0, 0, params=params).value == 1
    with pytest.raises(SysctlWriteError) as info:
        rps_default_mask_sysctl(b"2", 0, 1, params=params)
    assert info.value.errno == errno.EINVAL and info.value.value_after == 0


def test_flow_limit_cpu_bitmap_only_possible_cpus():
    params = KernelParams(nr_cpu_ids=4, possible=0b0111)
    assert sysctl_write("flow_limit_cpu_bitmap", b"f\n", 0, 0, params) == SysctlWrite(7, 2, 0)
    with pytest.raises(OSError) as info:
        sysctl_write("flow_limit_cpu_bitmap", b"1f", 0, 5, params)
    assert info.value.errno == errno.EOVERFLOW
    assert not isinstance(info.value, SysctlWriteError)  # a temporary mask: nothing changes


# ---------------------------------------------------------------------------------------------
# lib/kstrtox.c
# ---------------------------------------------------------------------------------------------

ERANGE = Err(errno.ERANGE)


@pytest.mark.parametrize("fn,data,expected", [
    (kstrtoul, b"0", 0), (kstrtoul, b"5\n", 5), (kstrtoul, b"+5", 5), (kstrtoul, b"0x1f", 31),
    (kstrtoul, b"017", 15), (kstrtoul, b"5\0junk", 5), (kstrtoul, "18446744073709551615", 2**64 - 1),
    (kstrtoul, b"18446744073709551616", ERANGE), (kstrtoul, b"5\n\n", EINVAL),
    (kstrtoul, b" 5", EINVAL), (kstrtoul, b"5 ", EINVAL), (kstrtoul, b"-0", EINVAL),
    (kstrtoul, b"", EINVAL), (kstrtoul, b"\n", EINVAL), (kstrtoul, b"0x", EINVAL),
    (kstrtoul, b"08", EINVAL), (kstrtoul, b"++5", EINVAL),
    (kstrtouint, b"4294967295", 2**32 - 1), (kstrtouint, b"4294967296", ERANGE),
    (kstrtoll, b"-9223372036854775808", -2**63), (kstrtoll, b"-9223372036854775809", ERANGE),
    (kstrtoll, b"9223372036854775808", ERANGE), (kstrtoll, b"-+5", EINVAL),
    (kstrtoint, b"-2147483648", -2**31), (kstrtoint, b"2147483648", ERANGE),
    (kstrtoint, b"-0x10\n", -16), (kstrtoint, b"+7", 7), (kstrtoint, b"-", EINVAL),
])
def test_kstrtox(fn, data, expected):
    if isinstance(expected, Err):
        with pytest.raises(OSError) as info:
            fn(data)
        assert info.value.errno == expected.errno
    else:
        assert fn(data) == expected


def test_kstrtoul_explicit_base():
    assert kstrtoul(b"10", 16) == 16
    assert kstrtoul(b"0x10", 16) == 16
    assert kstrtoul(b"ff", 16) == 255
    with pytest.raises(OSError):
        kstrtoul(b"ff", 10)
