"""A Model fit: two peaks on a sloping background, starting values from guess(), one width tied to the other."""

import numpy as np

from fitcore.models import GaussianModel, LinearModel, LorentzianModel

rng = np.random.default_rng(3)
x = np.linspace(0.0, 20.0, 401)
truth = dict(g_amplitude=20.0, g_center=6.0, g_sigma=1.1, l_amplitude=12.0, l_center=13.0, l_sigma=1.1,
             bg_slope=0.05, bg_intercept=1.0)

gauss, lorentz, background = GaussianModel(prefix="g_"), LorentzianModel(prefix="l_"), LinearModel(prefix="bg_")
model = gauss + lorentz + background
data = model.eval(x=x, **truth) + rng.normal(scale=0.08, size=x.size)

# each peak guessed from its own part of the data; the background from the ends
left, right = x < 10, x >= 10
params = gauss.guess(data[left], x=x[left]) + lorentz.guess(data[right], x=x[right])
params += background.make_params(slope=0.0, intercept=float(np.median(data[:40])))
params["l_sigma"].set(expr="g_sigma")  # the same width for both peaks

result = model.fit(data, params, x=x)
print(result.fit_report(min_correl=0.3))
band = result.eval_uncertainty(sigma=2)
print(f"\nlargest 2-sigma band of the model: {band.max():.4f} at x = {x[band.argmax()]:.2f}")
