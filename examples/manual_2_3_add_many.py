"""The manual's section 2.3: Parameters.add and the add_many table, fitted to two Gaussian peaks.

``wid2`` is not varied: it is the expression ``2*wid1/3`` and gets a propagated error bar.
"""

import numpy as np

from fitcore import Parameters, fit_report, minimize


def gauss(x, amp, cen, wid):
    return amp * np.exp(-(x - cen) ** 2 / (2 * wid * wid))


# generated data: amp1=9, cen1=1.1, wid1=0.6, amp2=6, cen2=2.3, wid2=2*wid1/3
rng = np.random.default_rng(23)
x = np.linspace(-2, 5, 351)
data = gauss(x, 9.0, 1.1, 0.6) + gauss(x, 6.0, 2.3, 0.4) + rng.normal(0, 0.1, x.size)

p = Parameters()
#      (Name,   Value,   Vary,   Min,   Max,   Expr)
p.add_many(('amp1',    10,   True, None, None, None),
           ('cen1',    1.2,   True,  0.5,  2.0, None),
           ('wid1',    0.8,   True,  0.1, None, None),
           ('amp2',    7.5,   True, None, None, None),
           ('cen2',    1.9,   True,  1.0,  3.0, None),
           ('wid2',   None, False, None, None, '2*wid1/3'))


def residual(p, x, data):
    v = p.valuesdict()
    return data - gauss(x, v['amp1'], v['cen1'], v['wid1']) - gauss(x, v['amp2'], v['cen2'], v['wid2'])


result = minimize(residual, p, args=(x, data))
print(fit_report(result, modelpars={'amp1': 9.0, 'cen1': 1.1, 'wid1': 0.6, 'amp2': 6.0, 'cen2': 2.3, 'wid2': 0.4}))
