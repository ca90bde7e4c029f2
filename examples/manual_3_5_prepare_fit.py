"""The manual's section 3.5: a Minimizer, prepare_fit(), the initial residual, then leastsq().

The manual plots the initial model with pylab; here its distance from the data is printed.
"""

import numpy as np

from fitcore import Minimizer, Parameters, fit_report

# generated data: amp=3, tau=2.5 (rate=0.4), offset=0.5
rng = np.random.default_rng(35)
x = np.linspace(0, 10, 201)
data = 3.0 * np.exp(-x / 2.5) + 0.5 + rng.normal(0, 0.02, x.size)


def my_residual(p, x, data=None):
    model = p['amp'].value * np.exp(-x / p['tau'].value) + p['offset'].value
    return model if data is None else model - data


p_fit = Parameters()
p_fit.add('amp', value=2.0)
p_fit.add('rate', value=0.3, min=0.01)
p_fit.add('tau', expr='1 / rate')  # prepare_fit() gives this its value before the fit
p_fit.add('offset', value=0.0)

myfit = Minimizer(my_residual, p_fit, fcn_args=(x,), fcn_kws={'data': data})

myfit.prepare_fit()
init = my_residual(p_fit, x)
rms = np.sqrt(np.mean((init - data) ** 2))
print(f"initial model: tau = {p_fit['tau'].value:.4f}, rms distance from data = {rms:.4f}")

myfit.leastsq()
print(fit_report(myfit, modelpars={'amp': 3.0, 'rate': 0.4, 'tau': 2.5, 'offset': 0.5}))
