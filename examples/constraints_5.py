"""The manual's chapter 5 (sections 5.1 and 5.2): constraint expressions in fits.

1. ``frac_curve2 = 1 - frac_curve1``: two fractions that always add to one.
2. Two peaks tied by ``amp_2 = 2 - amp_1**2``, ``wid_2 = sqrt(pi)*wid_1`` and
   ``cen_2 = cen_1 * wid_2 / max(wid_1, 0.001)``.
3. The one-line if-expression ``param_a if test_val/2. > 100 else param_b``.
"""

import numpy as np

from fitcore import Parameters, fit_report, minimize


def gauss(x, amp, cen, wid):
    return amp * np.exp(-(x - cen) ** 2 / (2 * wid * wid))


rng = np.random.default_rng(5)

# -- 5.1 ------------------------------------------------------------------------------------------
x = np.linspace(0, 10, 301)
c1, c2 = np.exp(-x / 1.5), 1 / (1 + (x - 6) ** 2)
data = 0.35 * c1 + 0.65 * c2 + rng.normal(0, 0.01, x.size)

pars = Parameters()
pars.add('frac_curve1', value=0.5, min=0, max=1)
pars.add('frac_curve2', expr='1-frac_curve1')
fit = minimize(lambda p: p['frac_curve1'].value * c1 + p['frac_curve2'].value * c2 - data, pars)
print("== 5.1: fractions (true 0.35 and 0.65)")
print(fit_report(fit))

# -- 5.2 ------------------------------------------------------------------------------------------
x = np.linspace(0, 6, 401)
w2 = np.sqrt(np.pi) * 0.25
data = gauss(x, 0.6, 2.0, 0.25) + gauss(x, 2 - 0.6 ** 2, 2.0 * w2 / 0.25, w2) + rng.normal(0, 0.01, x.size)

pars = Parameters()
pars.add('amp_1', value=0.5, min=0, max=1)
pars.add('cen_1', value=2.2)
pars.add('wid_1', value=0.2)
pars.add('amp_2', expr='(2.0 - amp_1**2)')
pars.add('cen_2', expr='cen_1 * wid_2 / max(wid_1, 0.001)')
pars.add('wid_2', expr='sqrt(pi)*wid_1')


def two_peaks(p):
    v = p.valuesdict()
    return gauss(x, v['amp_1'], v['cen_1'], v['wid_1']) + gauss(x, v['amp_2'], v['cen_2'], v['wid_2']) - data


fit = minimize(two_peaks, pars)
print("\n== 5.2: tied peaks (true amp_1=0.6, cen_1=2.0, wid_1=0.25)")
print(fit_report(fit))

# -- 5.2, the if-expression -----------------------------------------------------------------------
x = np.linspace(0, 4, 81)
y = 1.5 + 0.75 * x + rng.normal(0, 0.05, x.size)
pars = Parameters()
pars.add('intercept', value=0.0)
pars.add('param_a', value=1.0, vary=False)
pars.add('param_b', value=1.0)
pars.add('test_val', value=150.0, vary=False)
pars.add('bounded', expr='param_a if test_val/2. > 100 else param_b')
fit = minimize(lambda p: p['intercept'].value + p['bounded'].value * x - y, pars)
print("\n== 5.2: if-expression (test_val/2 = 75, so bounded = param_b; true slope 0.75)")
print(fit_report(fit))
