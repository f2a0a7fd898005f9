"""Cash and today's money: one conversion, used by `run`'s reports and by `compare`.

Prices in a scenario are at the prices of its first year and rise once per scenario year
(`price_inflation_per_year`, `OptionCost.inflation_per_year`), so the simulated costs
are cash. Today's money divides scenario year y's cash by (1 + deflator) ** y, where the
deflator is the scenario's general inflation (`[scenario] deflator_per_year`), stepping
once a year as prices do. With a deflator of 0 the two are the same.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..scenario.schema import Scenario


def deflator(scenario: Scenario) -> float:
    """The scenario's general inflation a year (`[scenario] deflator_per_year`)."""
    return scenario.scenario.deflator_per_year


def todays_money_by_month(cash: np.ndarray, rate: float) -> np.ndarray:
    """Monthly cash (months on the last axis, month 0 the first) in the first year's
    prices: month m is divided by (1 + rate) ** (m // 12)."""
    months = cash.shape[-1]
    factor = (1.0 + rate) ** (np.arange(months) // 12)
    return cash / factor


def todays_money_by_year(cash: np.ndarray, rate: float) -> np.ndarray:
    """Cash by scenario year (years on the last axis) in the first year's prices."""
    factor = (1.0 + rate) ** np.arange(cash.shape[-1])
    return cash / factor


def price_base(start: dt.date) -> str:
    """The prices 'today's money' means, e.g. '2023-24 prices' (a financial year when the
    scenario starts in April, else the first scenario year's months)."""
    if start.month == 4:
        return f"{start.year}-{(start.year + 1) % 100:02d} prices"
    return f"prices of the year from {start:%B %Y}"


def basis_words(scenario: Scenario) -> str:
    """How a report names today's money, e.g. "today's money (2023-24 prices)"."""
    return f"today's money ({price_base(scenario.scenario.start_date)})"
