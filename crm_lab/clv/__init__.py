"""Customer lifetime value: BG/NBD or Pareto/NBD purchases and Gamma-Gamma order values, by maximum likelihood.

The models are those of Fader, Hardie and Lee: "Counting your customers the easy way" (BG/NBD,
Marketing Science 2005), Schmittlein, Morrison and Colombo's Pareto/NBD (Management Science 1987,
in Fader and Hardie's 2005 note) and "RFM and CLV" (Gamma-Gamma, Journal of Marketing Research
2005). ``lifetimes`` is their usual implementation and our test oracle; here the likelihoods are
written in log space, identical customers are fitted once with a weight, inputs are checked
strictly, a fit that cannot be trusted says so (``converged_``, ``diagnostics_``, a UserWarning),
and no warning filter is touched.

Conventions follow scikit-learn: ``fit`` returns the estimator, fitted attributes end in ``_``,
``summary()`` returns a DataFrame with confidence intervals as columns.

Modules: :mod:`~crm_lab.clv.inputs` (checks), :mod:`~crm_lab.clv.fitting` (maximum likelihood and
diagnostics), :mod:`~crm_lab.clv.beta_geo`, :mod:`~crm_lab.clv.pareto_nbd`,
:mod:`~crm_lab.clv.gamma_gamma`, :mod:`~crm_lab.clv.model` (CLV: :func:`fit`),
:mod:`~crm_lab.clv.holdout` (:func:`evaluate`).

Examples
--------
>>> import crm_lab as cl
>>> s = cl.summary.customer_summary(cl.datasets.make_shop(3_000, seed=1))
>>> model = cl.clv.fit(s)
>>> sorted(model.params_.index)
['a', 'alpha', 'b', 'gamma', 'p', 'q', 'r']
>>> pred = model.predict(horizon="90D")
"""

from crm_lab.clv.beta_geo import BetaGeo
from crm_lab.clv.fitting import NotFittedError
from crm_lab.clv.gamma_gamma import GammaGamma
from crm_lab.clv.holdout import HoldoutReport, evaluate
from crm_lab.clv.inputs import TIME_UNITS, check_rfm
from crm_lab.clv.model import PURCHASE_MODELS, CLVModel, fit
from crm_lab.clv.pareto_nbd import ParetoNBD

__all__ = ["BetaGeo", "ParetoNBD", "GammaGamma", "NotFittedError", "CLVModel", "fit", "evaluate", "HoldoutReport",
           "check_rfm", "TIME_UNITS", "PURCHASE_MODELS"]
