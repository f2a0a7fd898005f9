"""Scenario loading under hostile or careless input (issue 12).

`extends` may only read regular `.toml` files of at most 1 MB (inside `root` when given),
deep nesting is refused without a traceback, implausible figures are refused with the
reason, messages are in plain words, distribution tables are replaced whole by `extends`,
and two silent traps are now warnings.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli

from sim.common.errors import ScenarioError
from sim.scenario.load import load

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "data" / "minimal.toml"


def _option(tmp_path: Path, body: str, name: str = "option.toml") -> Path:
    """A scenario that extends the minimal test scenario with `body`."""
    path = tmp_path / name
    path.write_text(f'extends = "{MINIMAL.as_posix()}"\n{body}', encoding="utf-8")
    return path


def _extends(tmp_path: Path, target: str, name: str = "option.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'extends = "{target}"\n', encoding="utf-8")
    return path


def _refused(path: Path, **kwargs: object) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load(path, **kwargs)  # type: ignore[arg-type]
    return info.value


def _limited() -> None:
    """In the child: at most 4 GB of memory, so a test of old code that reads /dev/zero
    fails with MemoryError instead of taking the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def _validate_isolated(path: Path) -> subprocess.CompletedProcess[str]:
    """`sufficiency validate` in a child with a time and memory limit: reading a pipe
    would block for ever, reading /dev/zero until memory ran out."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
        preexec_fn=_limited,
    )


# --------------------------------------------------------------------------- what extends may read


@pytest.mark.parametrize("target", ["/etc/passwd", "/etc/shadow", "../../../../etc/passwd"])
def test_extends_refuses_system_files(tmp_path: Path, target: str) -> None:
    option = _extends(tmp_path, target)
    err = _refused(option)
    assert err.file == str(option)  # the file that has the `extends` key
    assert err.key == "extends" and err.line == 1
    assert "not a .toml file" in err.problem and ".toml" in (err.expected or "")
    assert "root:" not in str(err)  # nothing from /etc/passwd


def test_extends_refuses_proc_environ_even_through_a_toml_symlink(tmp_path: Path) -> None:
    secret = "SUFFICIENCY_TEST_SECRET=do-not-show"
    os.environ["SUFFICIENCY_TEST_SECRET"] = "do-not-show"
    try:
        err = _refused(_extends(tmp_path, "/proc/self/environ"))
        assert "not a .toml file" in err.problem
        (tmp_path / "environ.toml").symlink_to("/proc/self/environ")
        err = _refused(_extends(tmp_path, "environ.toml"))
        assert err.key == "extends" and "not a regular file" in err.problem
        assert secret not in str(err) and "PATH=" not in str(err)
    finally:
        del os.environ["SUFFICIENCY_TEST_SECRET"]


def test_extends_to_a_named_pipe_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.toml")
    option = _extends(tmp_path, "pipe.toml")
    proc = _validate_isolated(option)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[extends]" in proc.stderr and "not a regular file" in proc.stderr


@pytest.mark.parametrize("target", ["/dev/zero", "zero.toml"])
def test_extends_to_dev_zero_is_refused_not_read(tmp_path: Path, target: str) -> None:
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    option = _extends(tmp_path, target)
    proc = _validate_isolated(option)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert str(option) in proc.stderr and "[extends]" in proc.stderr


def test_extends_refuses_a_file_not_named_toml(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text(MINIMAL.read_text(), encoding="utf-8")
    err = _refused(_extends(tmp_path, "base.txt"))
    assert err.key == "extends" and "'base.txt'" in err.problem
    assert "not a .toml file" in err.problem


def test_a_scenario_not_named_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenario.txt"
    path.write_text(MINIMAL.read_text(), encoding="utf-8")
    err = _refused(path)
    assert err.file == str(path) and "not a .toml file" in err.problem


def test_extends_refuses_a_file_over_1_mb(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    padding = "# padding to make the file large\n" * 40_000  # 1.3 MB of valid TOML
    big.write_text(MINIMAL.read_text() + padding, encoding="utf-8")
    err = _refused(_extends(tmp_path, "big.toml"))
    assert err.key == "extends" and "larger than 1 MB" in err.problem
    assert "1 MB" in (err.expected or "")
    assert "larger than 1 MB" in _refused(big).problem


def test_root_keeps_extends_inside_the_folder(tmp_path: Path) -> None:
    inside = tmp_path / "uploads"
    inside.mkdir()
    (tmp_path / "secret.toml").write_text(MINIMAL.read_text(), encoding="utf-8")
    (inside / "base.toml").write_text(MINIMAL.read_text(), encoding="utf-8")

    ok = _extends(inside, "base.toml", "ok.toml")
    assert load(ok, root=inside).model.entries.per_year == 60

    err = _refused(_extends(inside, "../secret.toml"), root=inside)
    assert err.key == "extends" and "outside the folder" in err.problem

    err = _refused(_extends(inside, str(tmp_path / "secret.toml"), "abs.toml"), root=inside)
    assert "outside the folder" in err.problem

    (inside / "link.toml").symlink_to(tmp_path / "secret.toml")  # resolved before the check
    err = _refused(_extends(inside, "link.toml", "via-link.toml"), root=inside)
    assert "outside the folder" in err.problem

    err = _refused(tmp_path / "secret.toml", root=inside)  # the scenario itself too
    assert "outside the folder" in err.problem


def test_extends_nul_in_the_name(tmp_path: Path) -> None:
    option = tmp_path / "option.toml"
    option.write_text('extends = "base\\u0000.toml"\n', encoding="utf-8")
    err = _refused(option)
    assert err.key == "extends" and "NUL" in err.problem


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 5000 + "]" * 5000 + "\n",  # tomllib itself recurses
        "[" + ".".join(["a"] * 3000) + "]\nx = 1\n",  # deep tables, no recursion to parse
        "a = " + "{ b = " * 40 + "1" + " }" * 40 + "\n",
    ],
    ids=["arrays", "dotted-heading", "inline-tables"],
)
def test_deep_nesting_is_an_error_not_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    err = _refused(path)
    assert "nested too deeply" in err.problem
    proc = cli("validate", str(path), timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nested too deeply" in proc.stderr


# --------------------------------------------------------------------------- plain messages


def _message(tmp_path: Path, body: str) -> ScenarioError:
    return _refused(_option(tmp_path, body))


def test_probability_in_a_per_needs_table(tmp_path: Path) -> None:
    err = _message(tmp_path, "[provision.kinship]\noffer_probability = { standard = 1.5 }\n")
    text = str(err)
    assert err.key == "provision.kinship.offer_probability.standard", text
    assert "must be a number from 0 to 1" in text and "1.5" in text
    assert "constrained" not in text and "dict[" not in text
    assert "more problem" not in text  # the other union branch is not a second problem
    assert err.line == 3


def test_probability_above_one_says_the_range(tmp_path: Path) -> None:
    err = _message(tmp_path, "[provision.kinship]\noffer_probability = 1.5\n")
    assert err.key == "provision.kinship.offer_probability"
    assert "a number from 0 to 1 (got 1.5)" in err.problem
    assert "more problem" not in err.problem


def test_a_date_written_day_first_is_a_toml_error_with_advice(tmp_path: Path) -> None:
    err = _message(tmp_path, "[scenario]\nstart_date = 01/04/2023\n")
    assert "not valid TOML" in err.problem
    assert "write dates as 2023-04-01" in err.problem
    assert err.line == 3 and err.key == "scenario.start_date"


def test_a_date_in_quotes_gets_the_same_advice(tmp_path: Path) -> None:
    err = _message(tmp_path, '[scenario]\nstart_date = "01/04/2023"\n')
    assert err.key == "scenario.start_date"
    assert "write dates as 2023-04-01" in err.problem
    assert "valid date or datetime" not in err.problem  # pydantic's words


@pytest.mark.parametrize("value", ["£850", '"£850"'])
def test_pounds_sign(tmp_path: Path, value: str) -> None:
    err = _message(tmp_path, f"[provision.kinship]\nweekly_cost = {value}\n")
    assert err.key == "provision.kinship.weekly_cost"
    assert "write 850 (pounds, without the £ sign)" in err.problem


def test_dates_in_messages_are_iso(tmp_path: Path) -> None:
    err = _message(tmp_path, "[provision.kinship]\nweekly_cost = 2023-04-15\n")
    assert "(got 2023-04-15)" in err.problem and "datetime" not in err.problem
    err = _message(tmp_path, "[scenario]\nname = 2023-04-15\nstart_date = 2024-04-01\n")
    assert "(got 2023-04-15)" in err.problem and "datetime" not in err.problem
    err = _message(tmp_path, "[scenario]\nstart_date = 2024-04-15T10:00:00\n")
    assert "2024-04-15T10:00:00" in err.problem and "datetime.datetime" not in err.problem


def test_long_values_are_not_echoed_at_length(tmp_path: Path) -> None:
    long = "y" * 5000
    err = _message(tmp_path, f'[provision.kinship]\nweekly_cost = "{long}"\n')
    assert len(str(err)) < 400 and "yyyy" in err.problem
    err = _message(tmp_path, f'[matching]\nfallback = "{long}"\n')
    assert len(str(err)) < 600


# --------------------------------------------------------------------------- plausible bounds


def test_a_billion_entries_a_year_is_refused_with_the_reason(tmp_path: Path) -> None:
    err = _message(tmp_path, "[entries]\nper_year = 1e9\n")
    assert err.key == "entries.per_year" and err.line == 3
    assert "1,000,000,000" in err.problem
    assert "at most 10,000 entries a year" in err.problem
    assert "33,000" in err.problem  # the national figure that makes it implausible


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("[entries.uasc]\nper_year = 90000\n", "entries.uasc.per_year", "7,090"),
        ('[population.ifa]\nby_age = { "5-9" = 1000000 }\n', "population.ifa.by_age.5-9", "81,770"),
        ("[provision.in_house_foster]\nrecruitment_per_year = 50000\n", None, "4,000"),
        (
            "[provision.in_house_foster]\nhouseholds = [{ count = 100000000, places = 2 }]\n",
            "provision.in_house_foster.households[0].count",
            "42,190",
        ),
        ("[provision.ifa]\nweekly_cost = 9410000\n", "provision.ifa.weekly_cost", "£63,000"),
        (
            "[provision.ifa]\nbreakdown_per_year = 1e6\n",
            "provision.ifa.breakdown_per_year",
            "per child per year",
        ),
        ("[entries]\ntrend_per_year = 50\n", "entries.trend_per_year", "double"),
        (
            '[matching]\nfallback = "emergency"\nretry_days = 1e-9\n',
            "matching.retry_days",
            "at least 1 day",
        ),
    ],
)
def test_implausible_figures_are_refused(
    tmp_path: Path, body: str, key: str | None, words: str
) -> None:
    err = _message(tmp_path, body)
    assert "not plausible" in err.problem and words in err.problem, err
    if key:
        assert err.key == key


# --------------------------------------------------------------------------- extends and whole tables


def test_extends_replaces_a_share_table_whole(tmp_path: Path) -> None:
    path = _option(
        tmp_path,
        '[entries.uasc]\nage_mix = { "16-17" = 1.0 }\n'
        '[entries.needs_mix]\n"10-15" = { standard = 0.5, complex = 0.5 }\n'
        '[provision.in_house_foster]\nnew_household_places = { "3" = 1.0 }\n'
        "[population.in_house_foster]\nneeds = { complex = 1.0 }\n",
    )
    s = load(path).model
    assert s.entries.uasc.age_mix == {"16-17": 1.0}  # the base's "10-15" = 0.1 not added
    assert s.entries.needs_mix["10-15"] == {"standard": 0.5, "complex": 0.5}
    assert s.entries.needs_mix["16-17"]["very_complex"] == 0.05  # other bands kept
    assert s.provision["in_house_foster"].new_household_places == {"3": 1.0}
    assert s.population["in_house_foster"].needs == {"complex": 1.0}
    assert s.population["in_house_foster"].by_age["10-15"] == 10  # still merged


def test_an_option_age_mix_with_its_own_bands_validates(tmp_path: Path) -> None:
    # the base's UASC age mix is { "16-17" = 0.9, "10-15" = 0.1 }: merged key by key this
    # option's mix used to add up to 1.100
    path = _option(tmp_path, '[entries.uasc]\nage_mix = { "16-17" = 1.0 }\n')
    proc = cli("validate", str(path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "add up to" not in proc.stderr


def test_extends_replaces_a_delay_distribution_whole(tmp_path: Path) -> None:
    # the base's external_home delay is lognormal (median, sigma): a fixed delay must not
    # keep them
    path = _option(
        tmp_path, '[provision.external_home]\noffer_delay_days = { dist = "fixed", value = 2 }\n'
    )
    delay = load(path).model.provision["external_home"].offer_delay_days
    assert delay.dist == "fixed" and delay.value == 2


def test_an_error_under_a_replaced_list_names_the_option_file(tmp_path: Path) -> None:
    # the base's Home A has a resize with a date; the option's list replaces it whole, so a
    # date missing there is the option's mistake, not the base file's
    path = _option(
        tmp_path,
        '[provision.in_house_home]\nhomes = [{ name = "X", beds = 3, resize = [{ beds = 2 }] }]\n',
    )
    err = _refused(path)
    assert err.file == str(path) and err.key == "provision.in_house_home.homes[0].resize[0].date"
    assert "missing" in err.problem


# --------------------------------------------------------------------------- warnings


NEW_PROVISION = """
[provision.block_home]
kind = "offer"
needs = ["standard"]
location = "in_area"
weekly_cost = 4000
offer_probability = 0.5
"""


def test_a_provision_no_rule_names_is_a_warning(tmp_path: Path) -> None:
    path = _option(tmp_path, NEW_PROVISION)
    warnings = load(path).warnings
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{path}:3: [provision.block_home]")
    assert "not in the order of any matching rule" in warnings[0]
    assert load(MINIMAL).warnings == ()


def test_beds_that_compatibility_cannot_fill_are_a_warning(tmp_path: Path) -> None:
    path = _option(
        tmp_path,
        "[provision.in_house_home]\ncompatibility = 0.9\n"
        'homes = [{ name = "Supported flats", beds = 45 }, { name = "Small", beds = 3 }]\n',
    )
    warnings = load(path).warnings
    assert len(warnings) == 1, warnings
    text = warnings[0]
    assert "[provision.in_house_home.homes[0]]" in text and "'Supported flats'" in text
    assert "45 beds" in text and "compatibility 0.9" in text
    # 0.9 ** 15 = 0.21 still fills a 16th bed about 1 time in 5; 0.9 ** 16 = 0.19 does not
    assert "17th resident" in text and "above about 16" in text


def test_validate_prints_warnings(tmp_path: Path) -> None:
    path = _option(tmp_path, NEW_PROVISION)
    proc = cli("validate", str(path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"ok: {path}" in proc.stdout
    assert f"warning: {path}:3: [provision.block_home]" in proc.stderr


def test_a_dotted_key_is_found_on_its_own_line(tmp_path: Path) -> None:
    # `offer_probability.standard = 1.5` on line 4 was reported at the table's line 2.
    base = ROOT / "scenarios" / "darlington" / "baseline.toml"
    option = tmp_path / "dotted.toml"
    option.write_text(
        f'extends = "{base.as_posix()}"\n[provision.kinship]\nkind = "offer"\n'
        "offer_probability . 'standard' = 1.5\n",
        encoding="utf-8",
    )
    err = _refused(option)
    assert err.key == "provision.kinship.offer_probability.standard" and err.line == 4
