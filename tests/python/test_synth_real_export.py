"""Tests of the real-export mode of the demo-data generator.

The shape facts (one cohort, old dates, one-time buyers, $0 orders, refunds,
text nulls) are measured on the written files with pandas, independently of
the generator's own counts, and the manifest is checked against them.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from predictive_segments.clv import BetaGeometricNBD, summary_from_orders
from predictive_segments.synth import (
    NULL_SPELLINGS,
    RealExportConfig,
    generate_real_export,
    write_real_export,
)
from predictive_segments.synth.__main__ import main

N_CUSTOMERS = 3_000
CONFIG = RealExportConfig(customers=N_CUSTOMERS, seed=7)
COLUMNS = ["order_id", "customer_id", "ordered_at", "amount"]


def _read_csv(path: Path) -> pd.DataFrame:
    """The CSV exactly as text (no value is turned into a null)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _parsed(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed orders: null-like customer ids -> NA, dates, amounts."""
    return pd.DataFrame(
        {
            "order_id": raw["order_id"].astype("int64"),
            "customer_id": pd.to_numeric(
                raw["customer_id"].where(~raw["customer_id"].isin(NULL_SPELLINGS)),
                errors="raise",
            ).astype("Int64"),
            "day": pd.to_datetime(raw["ordered_at"].str[:10], format="%Y-%m-%d"),
            "amount": raw["amount"].astype(float),
        }
    )


@pytest.fixture(scope="module")
def result():
    return generate_real_export(CONFIG)


@pytest.fixture(scope="module")
def out(result, tmp_path_factory) -> Path:
    return write_real_export(result, tmp_path_factory.mktemp("real") / "raw")


@pytest.fixture(scope="module")
def raw(out) -> pd.DataFrame:
    return _read_csv(out / "orders.csv")


@pytest.fixture(scope="module")
def orders(raw) -> pd.DataFrame:
    return _parsed(raw)


@pytest.fixture(scope="module")
def manifest(out) -> dict:
    return json.loads((out / "truth" / "manifest.json").read_text())


def _bytes(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _manifest(directory: Path) -> dict:
    m = json.loads((directory / "truth" / "manifest.json").read_text())
    m.pop("write_seconds")
    return m


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    config = RealExportConfig(customers=1_500, seed=11)
    a = write_real_export(generate_real_export(config), tmp_path / "a")
    b = write_real_export(generate_real_export(config), tmp_path / "b")
    other = RealExportConfig(customers=1_500, seed=12)
    c = write_real_export(generate_real_export(other), tmp_path / "c")
    assert sorted(_bytes(a)) == [
        "orders.csv",
        "truth/customers.parquet",
        "truth/null_id_rows.parquet",
    ]
    assert _bytes(a) == _bytes(b)
    assert _manifest(a) == _manifest(b)
    for name, content in _bytes(a).items():
        assert content != _bytes(c)[name], name


# ---------------------------------------------------------------- file shape
def test_csv_is_plain_text_with_integer_ids_dates_and_cents(out, raw):
    first_lines = (out / "orders.csv").read_text().splitlines()[:3]
    assert first_lines[0].replace('"', "") == ",".join(COLUMNS)
    assert '"' not in "".join(first_lines[1:])  # values are not quoted
    assert list(raw.columns) == COLUMNS
    assert raw["order_id"].str.fullmatch(r"[1-9]\d*").all()
    order_id = raw["order_id"].astype(int)
    assert order_id.is_unique and order_id.is_monotonic_increasing
    ids = raw["customer_id"][~raw["customer_id"].isin(NULL_SPELLINGS)]
    assert ids.str.fullmatch(r"[1-9]\d*").all()
    assert raw["ordered_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert raw["amount"].str.fullmatch(r"-?\d+\.\d{2}").all()


def test_one_cohort_and_dates_before_2000(orders):
    known = orders.dropna(subset=["customer_id"])
    first = known.groupby("customer_id")["day"].min()
    assert len(first) == N_CUSTOMERS
    assert first.min() == pd.Timestamp("1997-01-01")
    assert first.max() <= pd.Timestamp(CONFIG.cohort_end)  # 12 weeks
    assert first.max() >= pd.Timestamp("1997-03-11")  # fills the window
    assert orders["day"].min() >= pd.Timestamp("1997-01-01")
    assert orders["day"].max() == pd.Timestamp("1998-06-30")
    assert (orders["day"] < pd.Timestamp("2000-01-01")).all()
    # orders keep coming long after the last new customer
    assert (orders["day"] >= pd.Timestamp("1998-01-01")).mean() > 0.1


def test_many_one_time_buyers(orders):
    paid = orders[orders["customer_id"].notna() & (orders["amount"] > 0)]
    days = paid.groupby("customer_id")["day"].nunique()
    assert 0.40 <= (days == 1).mean() <= 0.52
    assert days.max() >= 10  # and a few very frequent buyers
    # several orders of one customer on one day happen
    assert paid.duplicated(["customer_id", "day"]).sum() > 0.01 * len(paid)


def test_spend_is_heavy_tailed_with_zero_orders_and_refunds(orders):
    rows = len(orders)
    amount = orders["amount"]
    positive = amount[amount > 0]
    assert 28 <= positive.mean() <= 45
    assert positive.quantile(0.99) > 4 * positive.median()
    assert (amount.round(2) != amount.round(0)).mean() > 0.9  # cents
    zero, negative = (amount == 0).sum(), (amount < 0).sum()
    assert 0.5 * CONFIG.zero_amount_rate < zero / rows < 1.5 * CONFIG.zero_amount_rate
    assert 0.5 * CONFIG.refund_rate < negative / rows < 1.5 * CONFIG.refund_rate
    # a refund follows a purchase of the same customer
    refunds = orders[(amount < 0) & orders["customer_id"].notna()]
    first = orders[amount > 0].groupby("customer_id")["day"].min()
    assert (refunds["day"].to_numpy() >= first[refunds["customer_id"]].to_numpy()).all()


def test_null_like_ids_use_every_spelling(raw):
    is_null = raw["customer_id"].isin(NULL_SPELLINGS)
    share = is_null.mean()
    assert 0.5 * CONFIG.null_id_rate < share < 1.5 * CONFIG.null_id_rate
    assert set(raw.loc[is_null, "customer_id"]) == set(NULL_SPELLINGS)


def test_noon_mode_writes_every_order_at_noon(tmp_path):
    config = RealExportConfig(customers=300, seed=3, time_of_day="noon")
    raw = _read_csv(
        write_real_export(generate_real_export(config), tmp_path) / "orders.csv"
    )
    assert raw["ordered_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2} 12:00:00").all()


def test_csv_and_parquet_hold_the_same_rows(result, raw, tmp_path):
    pq_dir = write_real_export(result, tmp_path / "pq", "parquet")
    assert sorted(p.name for p in pq_dir.iterdir()) == ["orders.parquet", "truth"]
    table = pd.read_parquet(pq_dir / "orders.parquet")
    assert list(table.columns) == COLUMNS
    assert str(table["order_id"].dtype) == "int64"
    assert str(table["customer_id"].dtype) == "float64"  # int64 with nulls
    assert str(table["amount"].dtype) == "float64"
    csv = _parsed(raw)
    assert (table["order_id"].to_numpy() == csv["order_id"].to_numpy()).all()
    assert table["customer_id"].astype("Int64").equals(csv["customer_id"])
    assert (table["ordered_at"] == raw["ordered_at"]).all()
    assert (table["amount"].to_numpy() == csv["amount"].to_numpy()).all()


# ---------------------------------------------------------------- truth
def test_manifest_matches_the_files(out, raw, orders, manifest):
    assert manifest["mode"] == "real_export"
    assert manifest["format"] == "csv"
    assert manifest["config"] == CONFIG.as_dict()
    assert manifest["raw_rows"] == {"orders": len(raw)}
    is_null = raw["customer_id"].isin(NULL_SPELLINGS)
    assert manifest["null_id_rows"] == is_null.sum()
    assert manifest["null_id_spellings"] == sorted(set(raw["customer_id"][is_null]))
    assert manifest["first_order_date"] == raw["ordered_at"].min()
    assert manifest["last_order_date"] == raw["ordered_at"].max()
    # The default as_of_date of a build, the day after the last order day, is
    # where the truth's next 365 days start: the last day's orders are history.
    day_after = pd.Timestamp(raw["ordered_at"].max()) + pd.Timedelta(days=1)
    assert manifest["as_of_date"] == day_after.date().isoformat() == "1998-07-01"
    assert manifest["end_date"] == "1998-06-30"
    assert manifest["cohort_end_date"] == "1997-03-25"
    known = orders.dropna(subset=["customer_id"])
    last_first = known.groupby("customer_id")["day"].min().max()
    assert manifest["last_first_purchase_date"] == last_first.date().isoformat()
    assert manifest["zero_amount_rows"] == (orders["amount"] == 0).sum()
    assert manifest["negative_amount_rows"] == (orders["amount"] < 0).sum()
    paid = known[known["amount"] > 0]
    days = paid.groupby("customer_id")["day"].nunique()
    one_time = (days == 1).mean()
    assert manifest["one_time_buyer_share"] == pytest.approx(one_time, abs=1e-4)

    truth_nulls = pd.read_parquet(out / "truth" / "null_id_rows.parquet")
    in_file = raw.loc[is_null, ["order_id", "customer_id"]]
    assert truth_nulls["order_id"].tolist() == in_file["order_id"].astype(int).tolist()
    assert truth_nulls["customer_id_raw"].tolist() == in_file["customer_id"].tolist()


def test_truth_has_the_true_parameters_of_every_customer(out, orders):
    truth = pd.read_parquet(out / "truth" / "customers.parquet")
    assert truth["customer_id"].tolist() == list(range(1, N_CUSTOMERS + 1))
    for column in ("purchase_rate_per_day", "dropout_probability", "mean_spend"):
        assert (truth[column] > 0).all(), column
    assert truth["dropout_probability"].max() <= 1
    paid = orders[orders["customer_id"].notna() & (orders["amount"] > 0)]
    n_days = paid.groupby("customer_id")["day"].nunique()
    n_days = n_days.reindex(truth["customer_id"]).to_numpy()
    # planted purchases: same-day purchases and split orders make fewer days
    assert (n_days <= truth["n_purchases"].to_numpy()).all()
    assert (n_days >= 0.8 * truth["n_purchases"].to_numpy()).mean() > 0.99
    # dead customers never buy again
    dead = ~truth["is_alive_at_end"]
    assert (truth.loc[dead, "purchases_next_365d"] == 0).all()
    # the planted rates rank buyers: the top rate quartile buys most
    q = pd.qcut(truth["purchase_rate_per_day"], 4, labels=False).to_numpy()
    assert n_days[q == 3].mean() > 2 * n_days[q == 0].mean()


def test_what_bgnbd_ignores_is_planted(orders):
    paid = orders[orders["customer_id"].notna() & (orders["amount"] > 0)]
    month = paid["day"].dt.to_period("M").value_counts()
    per_day = month / month.index.days_in_month
    neighbours = (per_day[pd.Period("1997-11")] + per_day[pd.Period("1998-01")]) / 2
    assert per_day[pd.Period("1997-12")] > 1.25 * neighbours
    daily = paid.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    nth = daily.groupby("customer_id").cumcount()
    assert daily["amount"][nth >= 6].mean() > 1.1 * daily["amount"][nth == 0].mean()


def test_bgnbd_on_nine_months_recovers_the_planted_purchase_process():
    """BG/NBD (days) fitted on Jan-Sep 1997 of 4,000 customers: r within 30 %,
    the mean purchase rate r/alpha within 20 %, the mean dropout probability
    a/(a+b) within 0.06 of the planted values (seeds 0-5 gave 0.87-1.07 and
    +-0.04 at 3,000 customers)."""
    config = RealExportConfig(customers=4_000, seed=7)
    table = generate_real_export(config).tables["orders"].to_pandas()
    table = table.dropna(subset=["customer_id"])
    table = table.rename(columns={"ordered_at": "order_date"})
    summary = summary_from_orders(table, date(1997, 10, 1))
    assert len(summary) == config.customers
    fit = BetaGeometricNBD().fit(
        summary["frequency"], summary["recency_days"], summary["age_days"]
    )
    p = fit.params_
    assert fit.converged_
    assert p["r"] == pytest.approx(config.r, rel=0.3)
    assert p["r"] / p["alpha"] == pytest.approx(config.r / config.alpha, rel=0.2)
    planted_drop = config.a / (config.a + config.b)
    assert p["a"] / (p["a"] + p["b"]) == pytest.approx(planted_drop, abs=0.06)


# ---------------------------------------------------------------- config, CLI
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be"),
        ({"months": 0}, "months must be"),
        ({"cohort_weeks": 0}, "cohort_weeks must be"),
        ({"months": 2, "cohort_weeks": 12}, "cohort_weeks must be"),
        ({"null_id_rate": 0.5}, "null_id_rate must be"),
        ({"refund_rate": -0.1}, "refund_rate must be"),
        ({"time_of_day": "midnight"}, "time_of_day must be one of"),
        ({"q": 1.0}, "q must be > 1"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_config_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RealExportConfig(**kwargs)


def test_cli_writes_and_skips_when_present(tmp_path, capsys):
    out = tmp_path / "raw"
    args = ["--real-export", "--customers", "400", "--seed", "7", "--out", str(out)]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["orders.csv", "truth"]
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    assert manifest["config"]["customers"] == 400
    assert manifest["config"]["seed"] == 7
    stamp = (out / "orders.csv").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*args, "--skip-if-present"]) == 0
    assert "already there" in capsys.readouterr().out
    assert (out / "orders.csv").stat().st_mtime_ns == stamp
    # other options -> written again
    assert main([*args, "--skip-if-present", "--months", "12"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert _read_csv(out / "orders.csv")["ordered_at"].max() <= "1997-12-31"
    assert _manifest(out)["end_date"] == "1997-12-31"
    assert main([*args, "--skip-if-present", "--format", "parquet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["orders.parquet", "truth"]
    start = ["--start", "2001-03-01", "--time-of-day", "noon"]
    assert main([*args, *start, "--format", "parquet"]) == 0
    assert pd.read_parquet(out / "orders.parquet")["ordered_at"].min() == (
        "2001-03-01 12:00:00"
    )


def test_cli_rejects_real_export_options_in_the_default_mode(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--months", "12", "--out", str(tmp_path)])
    assert "--months need --real-export" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--real-export", "--orders-only", "--out", str(tmp_path)])
    assert main(["--real-export", "--customers", "0", "--out", str(tmp_path)]) == 2
