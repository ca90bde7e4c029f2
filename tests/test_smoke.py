"""End-to-end: the leastsq engine arrives through its entry point and fits."""


import fitcore
from conftest import sine_residual


def test_leastsq_is_an_entry_point_plugin():
    """leastsq is listed with the distribution it came from, not a built-in."""
    info = {e.name: e for e in fitcore.list_engines()}["leastsq"]
    assert info.distribution == "fitcore-engine-leastsq"
    assert info.version


def test_damped_sine_recovers_truth(damped_sine):
    """A four-parameter fit recovers the generating values within 4 stderr."""
    x, data, truth = damped_sine
    p = fitcore.Parameters()
    p.add("amp", value=10)
    p.add("decay", value=0.02)
    p.add("shift", value=0.0)
    p.add("omega", value=3.05)
    fit = fitcore.minimize(sine_residual, p, args=(x, data))
    assert fit.success and fit.errorbars
    for name, true in truth.items():
        assert abs(p[name].value - true) < 4 * p[name].stderr, name
