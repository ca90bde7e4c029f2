"""The manual's section 5.3: a user function added to ``Minimizer.asteval.symtable``.

The second peak's height is constrained to equal the first peak's value at x = 2,
written with the user's own ``lorentzian`` inside the constraint expression.
"""

import numpy as np

from fitcore import Minimizer, Parameters, fit_report


def lorentzian(x, amp, cen, wid):
    "lorentzian function: wid = half-width at half-max"
    return (amp / (1 + ((x-cen)/wid)**2))


# generated data: amp=3, cen=0.5, wid=0.8; second peak at 3.5 (wid 0.4) of height lorentzian(2, 3, 0.5, 0.8)
rng = np.random.default_rng(54)
x = np.linspace(-4, 6, 401)
data = lorentzian(x, 3.0, 0.5, 0.8) + lorentzian(x, lorentzian(2.0, 3.0, 0.5, 0.8), 3.5, 0.4)
data = data + rng.normal(0, 0.01, x.size)


def residual(p):
    v = p.valuesdict()
    return lorentzian(x, v['amp'], v['cen'], v['wid']) + lorentzian(x, v['amp2'], 3.5, 0.4) - data


params = Parameters()
params.add('amp', value=2.0)
params.add('cen', value=0.0)
params.add('wid', value=1.0, min=0.05)
params.add('amp2', expr='lorentzian(2.0, amp, cen, wid)')

fitter = Minimizer(residual, params)
fitter.asteval.symtable['lorentzian'] = lorentzian
fitter.leastsq()
print(fit_report(fitter, modelpars={'amp': 3.0, 'cen': 0.5, 'wid': 0.8}))
