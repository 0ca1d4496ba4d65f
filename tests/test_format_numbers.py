"""Numbers as a reader meets them (reports/format.py fmt_value, explorer/units.py human_sci): durations in the unit
a person uses for them, counts without padding zeros, tiny probabilities in the prose's power-of-ten form."""

from __future__ import annotations

import pytest
from explorer.reports.format import fmt_value

from explorer.units import human_sci


@pytest.mark.parametrize("seconds, shown", [
    (2712.146, "45.20 min"),   # 2712.146 / 60 = 45.2024: the mobile track's first-day training time
    (59.9, "59.900 s"),        # under a minute stays in seconds
    (3548.524, "59.14 min"),   # 3548.524 / 60 = 59.142
    (3600.0, "1.00 h"),
    (3.869, "3.869 s"),        # a step time keeps its milliseconds
])
def test_durations_read_in_their_unit(seconds, shown):
    assert fmt_value(seconds, "s") == shown


def test_a_fractional_count_has_no_padding_zeros():
    assert fmt_value(49.5, "replicas") == "49.5 replicas"   # was '49.500 replicas'
    assert fmt_value(1.47, "x") == "1.47x"                   # a ratio spelled as the headlines spell it
    assert fmt_value(2.0, "x") == "2x"                       # whole: the integer form


@pytest.mark.parametrize("x, shown", [
    (9.742e-12, "9.74 x 10^-12"),   # batch mobile's FP16 P(NaN) per step
    (1 / 9.742e-12, "1.03 x 10^11"),  # and the steps to the first NaN (1.0265e11)
    (9.996e-12, "1 x 10^-11"),      # the mantissa rounds up to 10: carried into the exponent
    (0.000134, "0.000134"),         # within 10^-5 .. 10^7: fixed point
    (7464.2, "7,464"),
    (0.0, "0"),
])
def test_human_sci(x, shown):
    assert human_sci(x) == shown


def test_fmt_value_never_prints_a_dozen_zeros():
    assert fmt_value(9.742e-12) == "9.742 x 10^-12"
    assert "e" not in fmt_value(7.197e-5) and fmt_value(7.197e-5) == "0.00007197"
