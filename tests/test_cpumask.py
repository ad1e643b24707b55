"""procnet.kernelfs.cpumask: %*pb / %*pbl printing, bitmap_parse, bitmap_parselist.

Hand-computed tables from lib/vsprintf.c and lib/bitmap-str.c, plus a replay of the host's
/sys/class/net/lo/queues/rx-0/rps_cpus answers (tests/data/host-sysctl-oracle.json, 2 CPUs).
The sysctl cpumask files (rps_default_mask, flow_limit_cpu_bitmap) are replayed in
test_proc_handlers.py.
"""

from __future__ import annotations

import errno
import json
import random
from pathlib import Path

import pytest

from procnet.kernelfs.cpumask import (
    CpumaskParseError, bitmap_list_string, bitmap_parse, bitmap_parselist, bitmap_string,
    cpulist_parse, cpumask_parse, kernel_isspace,
)

HOST_ORACLE = Path(__file__).parent / "data" / "host-sysctl-oracle.json"

class Err:
    """Expected failure with this errno (keeps errno numbers apart from expected masks)."""

    def __init__(self, err: int):
        self.errno = err

    def __repr__(self):
        return errno.errorcode[self.errno]


EINVAL, ERANGE, EOVERFLOW = Err(errno.EINVAL), Err(errno.ERANGE), Err(errno.EOVERFLOW)


# ---------------------------------------------------------------------------------------------
# %*pb
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("nbits,mask,text", [
    (0, 0, ""),
    (1, 1, "1"),
    (2, 0, "0"), (2, 3, "3"), (2, 0b10, "2"),
    (4, 0xF, "f"),
    (5, 0x1F, "1f"),                      # ceil(5/4) = 2 digits
    (8, 0, "00"), (8, 0xA5, "a5"),
    (31, 1 << 30, "40000000"),
    (32, 0, "00000000"), (32, 0xDEADBEEF, "deadbeef"),
    (33, 1 << 32, "1,00000000"),
    (40, 0, "00,00000000"), (40, (1 << 40) - 1, "ff,ffffffff"), (40, 1 << 39, "80,00000000"),
    (64, 0, "00000000,00000000"), (64, 1, "00000000,00000001"), (64, 1 << 63, "80000000,00000000"),
    (2, 0b1111, "3"),                     # bits >= nbits are not printed
    (1024, 0, ",".join(["00000000"] * 32)),
    (1024, 1 << 1023, ",".join(["80000000"] + ["00000000"] * 31)),
    (1024, 1 | (1 << 32), ",".join(["00000000"] * 30 + ["00000001", "00000001"])),
])
def test_bitmap_string(nbits, mask, text):
    assert bitmap_string(mask, nbits) == text


@pytest.mark.parametrize("nbits,mask,text", [
    (8, 0, ""), (8, 1, "0"), (8, 0b11, "0-1"), (8, 0b101111, "0-3,5"), (8, 0xFF, "0-7"),
    (4, 0xFF, "0-3"), (1024, (1 << 1023) | 1, "0,1023"), (70, 0b110 << 62, "63-64"),
])
def test_bitmap_list_string(nbits, mask, text):
    assert bitmap_list_string(mask, nbits) == text


# ---------------------------------------------------------------------------------------------
# bitmap_parse
# ---------------------------------------------------------------------------------------------

PARSE = [
    # (input, nbits, expected mask or errno)
    (b"", 2, 0), (b"\n", 2, 0), (b",", 2, 0), (b",,", 2, 0), (b" \t", 2, 0),
    (b"3", 2, 3), (b"3\n", 2, 3), (b" 3 ", 2, 3), (b"\xa03", 2, 3), (b"3\r", 2, 3),
    (b"F", 4, 15), (b"00000003", 2, 3), (b"000000003", 2, EOVERFLOW),
    (b"4", 2, EOVERFLOW), (b"f", 2, EOVERFLOW), (b"1,0", 2, EOVERFLOW), (b"0,1", 2, EOVERFLOW),
    (b"1 1", 2, EOVERFLOW),               # whitespace separates chunks like a comma
    (b"zz", 2, EINVAL), (b"0x1", 2, EINVAL), (b"-1", 2, EINVAL), (b"3z", 2, EINVAL),
    (b"z00000003", 2, 3),                 # quirk: the char after 8 digits is skipped unchecked
    (b"0x00000003", 64, 3),               # ... and here "0" is a second (zero) chunk
    (b"0x00000003", 2, EOVERFLOW),
    (b"\n3", 2, 0), (b"3\n1", 2, 3), (b"3\nzz", 2, 3), (b"3\x00zz", 2, 3),
    (b"1,00000000", 64, 1 << 32), (b"1,,0", 64, 1 << 32), (b"1 0", 64, 1 << 32),
    (b"1,2,3", 64, EOVERFLOW),            # three chunks for two
    (b"ff,ffffffff", 40, (1 << 40) - 1), (b"1ff,ffffffff", 40, EOVERFLOW),
    (b"deadbeef", 32, 0xDEADBEEF), (b"DeadBeef", 32, 0xDEADBEEF),
    (b"1", 0, EOVERFLOW), (b"", 0, 0),
    (b",".join([b"80000000"] + [b"0"] * 31), 1024, 1 << 1023),
    (b"80000000" + b",00000000" * 32, 1024, EOVERFLOW),
]


@pytest.mark.parametrize("data,nbits,expected", PARSE, ids=[repr(c[0][:20]) + "/%d" % c[1] for c in PARSE])
def test_bitmap_parse(data, nbits, expected):
    if isinstance(expected, Err):
        with pytest.raises(CpumaskParseError) as info:
            bitmap_parse(data, nbits)
        assert info.value.errno == expected.errno
    else:
        assert bitmap_parse(data, nbits) == expected


@pytest.mark.parametrize("data,nbits,dest,err,partial", [
    (b"f", 2, 0, EOVERFLOW, 3),           # chunk 0 (0xf) landed before the overflow check
    (b"4", 2, 3, EOVERFLOW, 0),           # ... overwriting the old chunk 0
    (b"1,0", 2, 3, EOVERFLOW, 0),         # chunk 0 = 0 stored, then too many chunks
    (b"ff,ffffffff", 2, 0, EOVERFLOW, 3),
    (b"fffffffd", 2, 3, EOVERFLOW, 1),
    (b"zz", 2, 3, EINVAL, 3),             # failing chunk is never stored
    (b"zz,1", 64, 0xFFFF_FFFF_FFFF_FFFF, EINVAL, 0xFFFF_FFFF_0000_0001),  # right to left
    (b"1,zz", 64, 0xFFFF_FFFF_FFFF_FFFF, EINVAL, 0xFFFF_FFFF_FFFF_FFFF),
    (b"123456789", 64, 5, EOVERFLOW, 5),
])
def test_bitmap_parse_partial(data, nbits, dest, err, partial):
    with pytest.raises(CpumaskParseError) as info:
        bitmap_parse(data, nbits, dest=dest)
    assert info.value.errno == err.errno
    assert info.value.partial == partial


def test_bitmap_parse_success_ignores_destination():
    assert bitmap_parse(b"1", 64, dest=(1 << 64) - 1) == 1  # bits above the parsed chunks cleared


def test_roundtrip_random_masks():
    rng = random.Random(20240328)
    for nbits in (1, 2, 3, 4, 7, 8, 31, 32, 33, 40, 63, 64, 65, 96, 255, 256, 1000, 1024):
        for _ in range(25):
            mask = rng.getrandbits(nbits)
            text = bitmap_string(mask, nbits)
            assert bitmap_parse(text.encode() + b"\n", nbits) == mask
            assert bitmap_parselist(bitmap_list_string(mask, nbits).encode(), nbits) == mask


def test_aliases_and_isspace():
    assert cpumask_parse is bitmap_parse and cpulist_parse is bitmap_parselist
    assert [c for c in range(256) if kernel_isspace(c)] == [9, 10, 11, 12, 13, 32, 0xA0]


# ---------------------------------------------------------------------------------------------
# bitmap_parselist
# ---------------------------------------------------------------------------------------------

PARSELIST = [
    (b"", 8, 0), (b"\n", 8, 0), (b"0", 8, 1), (b"0-3,5", 8, 0b101111), (b"0-3,5\n", 8, 0b101111),
    (b" 1 , 3 ", 8, 0b1010), (b"7,0", 8, 0x81), (b"N", 8, 0x80), (b"0-N", 8, 0xFF),
    (b"all", 4, 0xF), (b"ALL", 4, 0xF), (b"all:1/2", 8, 0x55),
    (b"0-1023:2/256", 1024, sum(1 << b for b in (0, 1, 256, 257, 512, 513, 768, 769))),
    (b"0-7:3/4", 8, 0b01110111),
    (b"0\n5", 8, 1),                      # "\n" right after a number ends the list ...
    (b"0,\n5", 8, 0b100001),              # ... but between regions it is just whitespace
    (b"0-3:1/2\n5", 8, 0b100101),         # ... and after a group pattern too
    (b"3-1", 8, EINVAL), (b"0-3:3/2", 8, EINVAL), (b"0-3:1/0", 8, EINVAL), (b"1x", 8, EINVAL),
    (b"-1", 8, EINVAL), (b"0-", 8, EINVAL), (b"a", 8, EINVAL), (b"0-3:1", 8, EINVAL),
    (b"allx", 8, EINVAL), (b"0-3:1/2x", 8, EINVAL),
    (b"8", 8, ERANGE), (b"0-8", 8, ERANGE),
    (b"4294967296", 8, EOVERFLOW),
    (b"4294967295", 8, EINVAL),           # end + 1 wraps to 0 in unsigned int: group_len 0
    (b"0\x00,5", 8, 1),
]


@pytest.mark.parametrize("data,nbits,expected", PARSELIST, ids=[repr(c[0]) for c in PARSELIST])
def test_bitmap_parselist(data, nbits, expected):
    if isinstance(expected, Err):
        with pytest.raises(CpumaskParseError) as info:
            bitmap_parselist(data, nbits)
        assert info.value.errno == expected.errno
    else:
        assert bitmap_parselist(data, nbits) == expected


def test_bitmap_parselist_partial():
    with pytest.raises(CpumaskParseError) as info:
        bitmap_parselist(b"0-1,4,9", 8)
    assert info.value.errno == errno.ERANGE and info.value.partial == 0b10011


# ---------------------------------------------------------------------------------------------
# Host replay: lo rx-0 rps_cpus (net-sysfs.c store_rps_map -> bitmap_parse(buf, count, ...))
# ---------------------------------------------------------------------------------------------

def _decode(inp) -> bytes:
    if isinstance(inp, str):
        return inp.encode("latin-1")
    return b"".join(piece.encode("latin-1") * n for piece, n in inp)


def _rps_cpus_cases():
    try:
        with open(HOST_ORACLE) as f:
            data = json.load(f)
    except OSError:
        return [pytest.param(None, id="host-oracle-missing")]
    table = data["sysfs"]["rps_cpus"]
    return [pytest.param((data["meta"], table["orig"], p), id="rps_cpus-%03d" % i)
            for i, p in enumerate(table["probes"])]


@pytest.mark.parametrize("case", _rps_cpus_cases())
def test_host_oracle_rps_cpus(case):
    assert case is not None, "missing %s (record it with tools/oracle_record.py)" % HOST_ORACLE
    meta, orig, probe = case
    nbits = meta["nr_cpu_ids"]
    online = (1 << nbits) - 1  # host: cpu_online "0-1", no isolated CPUs
    value = int(orig, 16)

    def store(data: bytes) -> int:  # kernfs: 0 bytes never reach ->store(); at most PAGE_SIZE
        return bitmap_parse(data[:4096], nbits) & online

    if probe["setup"] is not None:
        value = store(probe["setup"].encode())
    results = []
    for op in probe["ops"]:
        data = _decode(op[1])
        try:
            new = store(data)
        except CpumaskParseError as e:  # a temporary mask: nothing changes
            results.append(["err", errno.errorcode[e.errno]])
            continue
        if data:
            value = new
        results.append(["ok", min(len(data), 4096)])
    assert results == probe["results"]
    assert bitmap_string(value, nbits) + "\n" == probe["after"]
