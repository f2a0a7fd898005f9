"""A comparison in words: the verdict on each option, the ranking rule, break-even spans.

Shared by every output that speaks to a board (summary.md, the workbook, the HTML
report, the command's closing lines), so an option is described the same way in each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..runs.commissioners import COMMISSIONER_MEASURES
from ..runs.compare import METRICS, Comparison, prob_better
from ..runs.money import price_base
from .presentation import change_text, hidden_difference_text, money


def sentences(cmp: Comparison) -> list[str]:
    """One plain-language verdict per option (not the baseline), in the options' order."""
    return [sentence(cmp, i) for i in range(1, len(cmp.names))]


def rank_rule(rank_by: Sequence[str]) -> str:
    """How the overall rank is made, in one sentence, for every output that shows it."""
    names = [METRICS[m].short or m for m in rank_by]
    if len(names) == 1:
        return (
            f"Overall rank: by the median change in {names[0]} over the whole run (1 is best); "
            "scenarios with the same median change share a rank."
        )
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    then = ", then in ".join(names)
    return (
        f"Overall rank: scenarios are ordered by the sum of their ranks on {listed} (1 is "
        f"best on each, so the lowest sum comes first), a tie is broken by the median change "
        f"in {then}, and only scenarios equal on all of these share a rank."
    )


def _runs_out_of_10(p: float) -> str:
    """A share of replications as a board reads it: 'in 7 runs out of 10'."""
    if p == 1:
        return "in every run"
    if p == 0:
        return "in none of the runs"
    if p < 0.05:
        return "in fewer than 1 run in 10"
    if p >= 0.95:
        return "in more than 9 runs out of 10"
    return f"in {round(p * 10)} runs out of 10"


def sentence(cmp: Comparison, i: int) -> str:
    """The plain-language verdict on option i: net saving, unmet demand, break-even."""

    d = cmp.diff("net_cost")[i, :, -1]
    saving = -d
    p5, med, p95 = (float(v) for v in np.percentile(saving, [5, 50, 95]))
    interval = f"(90% interval {money(p5)} to {money(p95)})"
    horizon = cmp.horizon
    if p5 == p95 == 0:
        money_part = f"costs the same as the baseline over {horizon}"
    elif med >= 0:
        money_part = f"saves {money(med)} {interval} over {horizon}"
    else:
        # the interval of the extra cost, the other way round
        extra = f"(90% interval {money(-p95)} to {money(-p5)})"
        money_part = f"costs {money(-med)} more {extra} over {horizon}"
    money_part += _basis_words(cmp, i, med)
    own = float(cmp.values["option_cost"][i, 0, -1])
    if own > 0:
        money_part += f", after its own costs of {money(own)}"
    after = _consistent_median(cmp, "after_care_cost", i)
    if after is not None and after != 0:
        more = "more" if after > 0 else "less"
        money_part += (
            f", with {money(abs(after))} {more} paid after care (SGO, adoption allowances)"
        )
    unmet = prob_better(cmp.diff("unmet_child_days")[i, :, -1], "lower")
    text = (
        f"Option '{cmp.names[i]}' {money_part}, and has less unmet demand (child-days not "
        f"suitably placed) than the baseline {_runs_out_of_10(float(unmet))}."
    )
    if own > 0:
        text += " " + _break_even_words(cmp, i)
    said = _unlawful_words(cmp, i)
    return f"{text} {said}" if said else text


#: A change is said only when the paired difference has the same sign in at least this
#: share of runs: with common random numbers an option that does not touch a measure still
#: moves it a little either way (children take other paths after the option's first
#: change), and a median of that noise would read as an effect.
CONSISTENT = 0.9


def _consistent_median(cmp: Comparison, metric: str, i: int) -> float | None:
    """Option i's median paired difference over the run, or None when it is noise: the
    difference is not of one sign (strictly) in at least CONSISTENT of the runs."""
    if metric not in cmp.values:
        return None
    d = cmp.diff(metric)[i, :, -1]
    if max(float(np.mean(d > 0)), float(np.mean(d < 0))) < CONSISTENT:
        return None
    return float(np.median(d))


def _unlawful_words(cmp: Comparison, i: int) -> str:
    """One short sentence when option i changes a placement that is unlawful, or lawful
    only by a court's order (`CommissionerMeasure.in_sentences`), in more than 9 runs in
    10; "" otherwise, so the verdict is not cluttered. Words only, never a count: a
    direction identifies no child."""
    parts: list[str] = []
    for c in COMMISSIONER_MEASURES:
        if not c.in_sentences or c.key not in cmp.values:
            continue
        d = cmp.diff(c.key)[i, :, -1]
        for share, word in ((float(np.mean(d < 0)), "fewer"), (float(np.mean(d > 0)), "more")):
            if share > CONSISTENT:
                than = "" if parts else " than the baseline"
                parts.append(f"{word} {c.short}{than} {_runs_out_of_10(share)}")
    return f"It has {', and '.join(parts)}." if parts else ""


def _basis_words(cmp: Comparison, i: int, cash_saving: float) -> str:
    """Which money the sentence speaks in: cash, and today's money when prices rise."""
    if cmp.deflator == 0 or cmp.start_date is None or "net_cost_today" not in cmp.values:
        return " in cash"
    saving = -float(np.median(cmp.diff("net_cost_today")[i, :, -1]))
    if cash_saving == 0 and saving == 0:
        return " in cash"
    word = "a saving of" if saving >= 0 else "an extra cost of"
    return f" in cash ({word} {money(abs(saving))} in today's money, {price_base(cmp.start_date)})"


def _break_even_words(cmp: Comparison, i: int) -> str:
    row = cmp.break_even.iloc[i - 1]
    p = float(row["prob_within_horizon"])
    horizon = cmp.horizon
    if p >= 0.5:
        first, last = row["p5_year"], row["p95_year"]
        spread = (
            f"in 5-95% of runs: {first}" if first == last else f"5-95% of runs: {first} to {last}"
        )
        return (
            f"It pays for itself by {row['median_year']} (median; {spread}), within {horizon} "
            f"{_runs_out_of_10(p)}."
        )
    if p == 0:
        return f"It does not pay for itself within {horizon} in any run."
    return f"It pays for itself within {horizon} {_runs_out_of_10(p)}."


def ranking_change(cmp: Comparison, name: str, metric: str) -> str:
    """A scenario's median change on a ranking criterion, or why it is not shown."""
    i = cmp.names.index(name)
    if cmp.hides_difference(i, metric):
        return hidden_difference_text(cmp.suppress_below, METRICS[metric].unit)
    row = cmp.ranking[cmp.ranking["option"] == name].iloc[0]
    return change_text(float(row[metric]), METRICS[metric].unit)


def break_even_spread(p5_year: str, p95_year: str) -> str:
    """'2023/24 to 2025/26', or one label when both ends are the same."""
    return p5_year if p5_year == p95_year else f"{p5_year} to {p95_year}"
