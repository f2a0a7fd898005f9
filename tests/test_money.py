"""money(): the unit follows the rounded figure, so no figure shows as "£1,000k" or "£1,000"."""

import math

import pytest

from sim.reports.presentation import money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "£0"),
        (0.4, "£0"),
        (999.4, "£999"),
        (999.5, "£1k"),  # rounds to 1,000 pounds: shown in thousands
        (1_000, "£1k"),
        (1_499, "£1k"),
        (250_000, "£250k"),
        (999_499, "£999k"),
        (999_500, "£1.0m"),  # rounds to 1,000k: shown in millions
        (999_600, "£1.0m"),
        (1_000_000, "£1.0m"),
        (1_049_000, "£1.0m"),
        (61_240_000, "£61.2m"),
        (-850, "-£850"),
        (-999_600, "-£1.0m"),
        (math.nan, "n/a"),
    ],
)
def test_money_boundaries(value: float, shown: str) -> None:
    assert money(value) == shown


def test_no_figure_shows_a_thousand_of_its_unit() -> None:
    for v in range(995_000, 1_005_000, 7):
        assert "1,000k" not in money(v), v
    for cents in range(99_000, 100_500):
        assert money(cents / 100) != "£1,000", cents
