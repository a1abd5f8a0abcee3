import math

import pytest

from saess.evaluation.classifier import auroc


def test_auroc_known_values():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([0.9, 0.3], [0.5, 0.1]) == pytest.approx(0.75)
    assert math.isnan(auroc([], [0.1]))
