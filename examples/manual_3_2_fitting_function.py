"""The manual's section 3.2: a fitting function with positional x, optional data, and guards.

``period`` is also given a lower bound, as the section suggests, through
``params['period'] = Parameter(value=2, min=1.e-10)``.
"""

import numpy as np
from numpy import pi, sign

from fitcore import Parameter, Parameters, fit_report, minimize


def residual(pars, x, data=None):
    # unpack parameters:
    # extract .value attribute for each parameter
    amp = pars['amp'].value
    period = pars['period'].value
    shift = pars['shift'].value
    decay = pars['decay'].value

    if abs(shift) > pi/2:
        shift = shift - sign(shift)*pi

    if abs(period) < 1.e-10:
        period = sign(period)*1.e-10

    model = amp * np.sin(shift + x/period) * np.exp(-x*x*decay*decay)

    if data is None:
        return model
    return (model - data)


# generated data: amp=5, period=1.3, shift=0.4, decay=0.09
rng = np.random.default_rng(32)
x = np.linspace(0, 20, 401)
data = 5.0 * np.sin(0.4 + x / 1.3) * np.exp(-x * x * 0.09 ** 2) + rng.normal(0, 0.05, x.size)

params = Parameters()
params.add('amp', value=4.0)
params['period'] = Parameter(value=1.25, min=1.e-10)
params.add('shift', value=0.2)
params.add('decay', value=0.1)

result = minimize(residual, params, args=(x,), kws={'data': data})
print(fit_report(result, modelpars={'amp': 5.0, 'period': 1.3, 'shift': 0.4, 'decay': 0.09}))
