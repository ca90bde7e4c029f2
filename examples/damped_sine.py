"""The manual's section 2.4 example: fit a damped sine wave, print the report."""

import numpy as np

from fitcore import Parameters, fit_report, minimize


def residual(params, x, data=None):
    amp = params["amp"].value
    shift = params["phase_shift"].value
    omega = params["omega"].value
    decay = params["decay"].value
    model = amp * np.sin(x * omega + shift) * np.exp(-x * x * decay)
    return model if data is None else data - model


rng = np.random.default_rng(7)
x = np.linspace(0.0, 15.0, 301)
truth = {"amp": 14.0, "phase_shift": 0.21, "omega": 3.0, "decay": 0.007}
data = 14.0 * np.sin(3.0 * x + 0.21) * np.exp(-x * x * 0.007) + rng.normal(scale=0.3, size=x.size)

params = Parameters()
params.add("amp", value=10)
params.add("decay", value=0.007, vary=False)
params.add("phase_shift", value=0.2)
params.add("omega", value=3.0)

result = minimize(residual, params, args=(x, data))
print(fit_report(result, modelpars=truth))
print(f"\nchi-square = {result.chisqr:.4f}")
print("Best-Fit Values:")
for name, par in params.items():
    err = 0.0 if par.stderr is None else par.stderr
    print(f" {name} = {par.value:.4f} +/- {err:.4f}")
