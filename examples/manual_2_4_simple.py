"""The manual's section 2.4 "Simple Example", in Python 3: a damped sine with decay fixed."""

import numpy as np

from fitcore import Parameters, fit_report, minimize

# generated data: the true values are amp=14, phase_shift=0.21, omega=3, decay=0.007
rng = np.random.default_rng(24)
x = np.linspace(0.0, 15.0, 301)
data = 14.0 * np.sin(x * 3.0 + 0.21) * np.exp(-x * x * 0.007) + rng.normal(scale=0.2, size=x.size)


def residual(params, x, data=None):
    amp = params['amp'].value
    shift = params['phase_shift'].value
    omega = params['omega'].value
    decay = params['decay'].value

    model = amp * np.sin(x * omega + shift) * np.exp(-x*x*decay)

    return (data-model)


params = Parameters()
params.add('amp', value=10)
params.add('decay', value=0.007, vary=False)
params.add('phase_shift', value=0.2)
params.add('omega', value=3.0)

result = minimize(residual, params, args=(x, data))

print(result.chisqr)
print('Best-Fit Values:')
for name, par in params.items():
    print(' %s = %.4f +/- %.4f ' % (name, par.value, par.stderr))  # noqa: UP031 - as the manual prints
print()
print(fit_report(result, modelpars={'amp': 14.0, 'phase_shift': 0.21, 'omega': 3.0}))
