"""Fits running at the same time in different threads share no state."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import fitcore

X = np.linspace(0.0, 10.0, 200)
TRUTHS = [{"amp": 3.0, "tau": 1.5}, {"amp": 7.0, "tau": 4.0}]


def make_data(truth: dict) -> np.ndarray:
    """Exact exponential decay data for one truth."""
    return truth["amp"] * np.exp(-X / truth["tau"])


def make_params() -> fitcore.Parameters:
    """The same names in every thread, so any sharing of symbol tables would mix values."""
    p = fitcore.Parameters()
    p.add("amp", value=1.0, min=0.0)
    p.add("tau", value=1.0, min=0.05)
    p.add("half", expr="amp / 2")  # compiled path
    p.add("pick", expr="(tau, amp)[1] * 3")  # interpreted (asteval) path
    return p


class Residual:
    """Checks, at every evaluation, that this fit's expressions follow this fit's own values."""

    def __init__(self, barrier: threading.Barrier | None = None):
        self.bad = 0
        self.calls = 0
        self.barrier = barrier

    def __call__(self, p, data):
        self.calls += 1
        if self.barrier is not None and self.calls <= 3:
            self.barrier.wait(timeout=30)  # both fits are certainly inside an evaluation together
        amp, tau = p["amp"].value, p["tau"].value
        if p["half"].value != amp / 2 or p["pick"].value != amp * 3:
            self.bad += 1
        return amp * np.exp(-X / tau) - data


def run_fit(data: np.ndarray, barrier: threading.Barrier | None = None) -> tuple[dict, int, Residual]:
    """Fit one data set; return the best values, nfev and the residual's record."""
    p = make_params()
    fcn = Residual(barrier)
    fit = fitcore.minimize(fcn, p, args=(data,))
    assert fit.success
    return {k: v.value for k, v in p.items()}, fit.nfev, fcn


@pytest.fixture
def fast_switching():
    """Switch threads very often so the two fits interleave densely."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def test_two_threads_give_the_serial_answers(fast_switching):
    """Two concurrent fits of different data each get exactly the answer they get alone."""
    datas = [make_data(t) for t in TRUTHS]
    serial = [run_fit(d)[:2] for d in datas]
    for truth, (values, _) in zip(TRUTHS, serial):
        assert values["amp"] == pytest.approx(truth["amp"], rel=1e-8)
        assert values["tau"] == pytest.approx(truth["tau"], rel=1e-8)
    for _ in range(3):
        barrier = threading.Barrier(2)
        results: list = [None, None]
        errors: list = []

        def work(i: int) -> None:
            try:
                results[i] = run_fit(datas[i], barrier)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors and all(not t.is_alive() for t in threads)
        for (values, nfev, fcn), (ref_values, ref_nfev) in zip(results, serial):
            assert fcn.bad == 0
            assert values == ref_values and nfev == ref_nfev


def test_two_minimizers_on_one_parameters_set_are_independent_objects():
    """Each Minimizer has its own interpreter and symbol table, never a shared one."""
    p1, p2 = make_params(), make_params()
    m1 = fitcore.Minimizer(Residual(), p1, fcn_args=(make_data(TRUTHS[0]),))
    m2 = fitcore.Minimizer(Residual(), p2, fcn_args=(make_data(TRUTHS[1]),))
    assert m1.asteval is not m2.asteval and m1.asteval.symtable is not m2.asteval.symtable
    m1.asteval.symtable["extra"] = 1.0
    assert "extra" not in m2.asteval.symtable
