"""procnet/stats.json's encoder writes exactly what json.dumps(obj, indent=1) writes."""

from __future__ import annotations

import json
import math
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from procnet.engine.config import MachineConfig, TrafficConfig
from procnet.engine.machine import Machine
from procnet.kernelfs.jsontext import dumps_indent1

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=40)


@settings(max_examples=500, deadline=None)
@given(values)
def test_same_text_as_the_stdlib(obj):
    assert dumps_indent1(obj) == json.dumps(obj, indent=1)


def test_what_it_does_not_know_goes_to_the_stdlib():
    odd = [{1: "int key"}, {"t": (1, 2)}, OrderedDict(a=1), [math.inf, -math.inf, math.nan],
           {"nested": [{}, [], [[]], {"a": {}}]}, "ünï\u2028", True, 2 ** 70]
    for obj in [*odd, odd]:
        assert dumps_indent1(obj) == json.dumps(obj, indent=1)


def test_a_real_summary():
    m = Machine(MachineConfig(cpus=4, traffic=(TrafficConfig("t", dev="eth0", flows=8,
                                                              pps=500_000),)))
    m.run_until(2_000_000)
    s = m.summary()
    assert dumps_indent1(s) == json.dumps(s, indent=1)
