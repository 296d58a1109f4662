"""Classic probabilistic classifiers as scikit-learn estimators.

Three models from the generative-versus-discriminative chapter of Hung-yi Lee's machine
learning course, written out in NumPy so that each can be checked against scikit-learn:

- :class:`GaussianGenerative` models ``p(x | k)`` as a Gaussian per class and classifies by
  Bayes' rule. With a shared covariance the log-odds are linear in ``x`` (it is linear
  discriminant analysis with the maximum-likelihood covariance); with one covariance per
  class they are quadratic (quadratic discriminant analysis).
- :class:`GaussianNaiveBayes` is the same model with diagonal per-class covariances.
- :class:`LogisticRegression` fits the posterior ``p(k | x)`` directly (the discriminative
  model with the same linear function set) by gradient descent on the cross-entropy.

All three follow the scikit-learn estimator contract: constructors only store their
arguments, ``fit`` validates and returns ``self``, fitted state ends with ``_``, and they
work in ``Pipeline`` and ``cross_val_score``. They compute in float64: the models are small,
and float64 lets the tests compare them with scikit-learn to many digits.

Modules: :mod:`~dlkit.classic.base` (the prediction methods all three share and the checks
of their hyper-parameters), :mod:`~dlkit.classic.generative` (the two generative models) and
:mod:`~dlkit.classic.logistic`.

References
----------
.. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006,
   sections 4.2 (probabilistic generative models) and 4.3 (logistic regression).
.. [2] T. Hastie, R. Tibshirani, J. Friedman, *The Elements of Statistical Learning*,
   2nd ed., Springer, 2009, section 4.3 (linear and quadratic discriminant analysis).
"""

from dlkit.classic.generative import (
    GaussianGenerative,
    GaussianNaiveBayes,
    SingularCovarianceWarning,
)
from dlkit.classic.logistic import LogisticRegression

__all__ = [
    "GaussianGenerative",
    "GaussianNaiveBayes",
    "LogisticRegression",
    "SingularCovarianceWarning",
]
