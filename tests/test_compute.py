"""Compute estimates: 6ND, hardware-time, effective compute, cost, regulatory lines."""

from __future__ import annotations

import pytest

from tripwire import compute
from tripwire.errors import InputError
from tripwire.model import Model


def test_6nd_llama2_7b() -> None:
    # Touvron et al. 2023: 7B parameters on 2T tokens -> 8.4e22 FLOP.
    assert compute.compute_6nd(7e9, 2e12) == pytest.approx(8.4e22)


def test_hardware_time_grok3_order_of_magnitude() -> None:
    # Epoch AI lists Grok-3 at 4.64e26 FLOP on 100,000 H100s for 2,400 h.
    c = compute.compute_from_hardware("NVIDIA H100 SXM5 80GB", 100_000, 2400, 0.4)
    assert c == pytest.approx(100_000 * 2400 * 3600 * 989.4e12 * 0.4)
    assert 1e26 < c < 1e27


def test_accelerator_table_has_sources() -> None:
    for name in ("A100", "H100", "H200", "B200", "TPU v4", "TPU v5p", "MI300X"):
        a = compute.accelerator(name)
        assert a.peak_flops > 1e14 and a.source and a.precision
    with pytest.raises(InputError, match="known: V100"):
        compute.accelerator("Z9000")


def test_effective_compute_and_cost() -> None:
    assert compute.effective_compute(1e25, 4) == 4e25
    assert compute.training_cost("A100", 1000, 100) == pytest.approx(1000 * 100 * 32.77 / 8)
    assert compute.training_cost("B200", 10, 10, price_per_hour=5) == 500
    with pytest.raises(InputError, match="--price"):
        compute.training_cost("B200", 10, 10)
    with pytest.raises(InputError, match="utilization"):
        compute.compute_from_hardware("A100", 1, 1, 1.5)
    with pytest.raises(InputError, match="params"):
        compute.compute_6nd(-1, 1)


def test_estimates_are_marked() -> None:
    m = compute.with_estimates(Model(name="x", params=1e9, tokens=1e10))
    assert m.compute_flop == 6e19 and m.compute_estimated
    g = compute.with_estimates(Model(name="y", compute_flop=1e20))
    assert g.compute_method == "given" and not g.compute_estimated


def test_regulatory_lines_are_strictly_greater() -> None:
    assert compute.lines_passed(1e25) == []
    assert [line for line, _ in compute.lines_passed(3.8e25)] == [1e25]
    assert [line for line, _ in compute.lines_passed(4.64e26)] == [1e25, 1e26]
