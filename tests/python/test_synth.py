"""Tests of the demo-data generator (predictive_segments.synth).

Counts in the manifest are recomputed here from the written files with
independent rules (pandas/duckdb), and the planted behavior is checked on the
data, so a generator change that breaks the contract or the truth fails here.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from predictive_segments.synth import (
    CURRENCY_RATES,
    SynthConfig,
    generate,
    write,
)
from predictive_segments.synth.__main__ import main
from predictive_segments.synth._params import PERSONA_PARAMS, PERSONAS

ROOT = Path(__file__).resolve().parents[2]
N_CUSTOMERS = 20_000
AS_OF = date(2026, 9, 30)
TEST_DOMAINS = {"example.com", "test.invalid"}
BOT_PATTERN = r"(?i)bot|crawler|spider"
DEFAULT_TS = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
OFFSET_TS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"


def _contract_columns() -> dict[str, list[str]]:
    """Columns per table, parsed from docs/raw_contract.md."""
    text = (ROOT / "docs" / "raw_contract.md").read_text()
    tables: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"^### `(\w+)`", line)
        if head:
            current = head.group(1)
            tables[current] = []
        elif line.startswith("## "):
            current = None
        elif current:
            col = re.match(r"^\| `(\w+)` \|", line)
            if col:
                tables[current].append(col.group(1))
            elif tables[current] and not line.startswith("|"):
                # The first table under the heading lists the columns; any
                # later table (e.g. how statuses and amounts combine) does not.
                current = None
    return tables


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "raw"
    write(generate(SynthConfig(customers=N_CUSTOMERS, seed=7)), out)
    return out


@pytest.fixture(scope="module")
def manifest(raw) -> dict:
    return json.loads((raw / "truth" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def tables(raw) -> dict[str, pd.DataFrame]:
    names = [p.stem for p in raw.glob("*.parquet")]
    return {name: pq.read_table(raw / f"{name}.parquet").to_pandas() for name in names}


@pytest.fixture(scope="module")
def truth(raw) -> pd.DataFrame:
    return pd.read_parquet(raw / "truth" / "customers.parquet")


@pytest.fixture(scope="module")
def valid_orders(tables) -> pd.DataFrame:
    """Orders that staging keeps: parseable, known, normal customers, deduped."""
    o = tables["orders"].copy()
    cust = tables["customers"].drop_duplicates("customer_id")
    o["ts"] = pd.to_datetime(
        o["ordered_at"], format="ISO8601", utc=True, errors="coerce"
    )
    o["num"] = pd.to_numeric(o["amount"], errors="coerce")
    test_ids = set(cust.loc[cust["email_domain"].isin(TEST_DOMAINS), "customer_id"])
    ok = (
        o["order_id"].notna()
        & o["customer_id"].isin(set(cust["customer_id"]))
        & ~o["customer_id"].isin(test_ids)
        & o["ts"].notna()
        & (o["ts"].dt.year.between(2000, 2030))
        & o["num"].notna()
        & (o["num"].abs() < 100_000)
        & o["currency"].isin(set(CURRENCY_RATES))
    )
    o = o[ok].drop_duplicates(["order_id", "customer_id", "ordered_at", "amount"])
    o = o.sort_values("ts", kind="stable").drop_duplicates("order_id", keep="last")
    o["eur"] = o["num"] * o["currency"].map(CURRENCY_RATES)
    return o


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*.parquet"))
    }


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    config = SynthConfig(customers=3_000, seed=11)
    first = _files(write(generate(config), tmp_path / "a"))
    again = _files(write(generate(config), tmp_path / "b"))
    other = _files(
        write(generate(SynthConfig(customers=3_000, seed=12)), tmp_path / "c")
    )
    assert len(first) == 11
    assert first == again
    for name in first:
        assert first[name] != other[name] or name == "products.parquet"


# ---------------------------------------------------------------- contract
def test_files_follow_the_contract_columns(raw):
    contract = _contract_columns()
    assert len(contract) == 8
    for table, columns in contract.items():
        assert pq.read_schema(raw / f"{table}.parquet").names == columns, table


def test_orders_only_writes_exactly_the_four_required_columns(tmp_path):
    out = tmp_path / "raw"
    assert main(["--customers", "2000", "--orders-only", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["orders.parquet", "truth"]
    schema = pq.read_schema(out / "orders.parquet")
    assert schema.names == ["order_id", "customer_id", "ordered_at", "amount"]
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    orders = pd.read_parquet(out / "orders.parquet")
    assert manifest["raw_rows"] == {"orders": len(orders)}
    assert (
        orders.duplicated(keep="first").sum()
        == (manifest["bad_rows"]["orders"]["exact_duplicate"])
    )


def test_orders_only_without_bad_rows_is_clean(tmp_path):
    out = tmp_path / "raw"
    args = ["--customers", "1500", "--orders-only", "--bad-row-rate", "0"]
    assert main([*args, "--out", str(out)]) == 0
    o = pd.read_parquet(out / "orders.parquet")
    assert o.notna().all().all()
    assert not o.duplicated().any() and o["order_id"].is_unique
    assert pd.to_numeric(o["amount"], errors="coerce").notna().all()
    ts = pd.to_datetime(o["ordered_at"], format="ISO8601", utc=True, errors="coerce")
    assert ts.notna().all() and ts.dt.date.max() == AS_OF - timedelta(days=1)


def test_data_that_ends_on_the_as_of_date_is_written_again(tmp_path, capsys):
    out = tmp_path / "raw"
    args = ["--customers", "500", "--seed", "3", "--out", str(out)]
    assert main([*args, "--skip-if-present"]) == 0
    assert main([*args, "--skip-if-present"]) == 0
    assert "already there" in capsys.readouterr().out
    # A data set of an older version: it ends on its as-of date, and its
    # manifest does not say when the orders end.
    path = out / "truth" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["last_order_date"] < manifest["as_of_date"]
    del manifest["last_order_date"]
    path.write_text(json.dumps(manifest))
    assert main([*args, "--skip-if-present"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "last_order_date" in json.loads(path.read_text())


def test_rewrite_replaces_stale_files_atomically(tmp_path):
    out = tmp_path / "raw"
    (out).mkdir()
    (out / "notes.txt").write_text("kept")
    write(generate(SynthConfig(customers=500, seed=3)), out)
    write(generate(SynthConfig(customers=500, seed=3)), out, "csv")
    names = sorted(p.name for p in out.iterdir())
    assert "orders.csv" in names and "orders.parquet" not in names
    assert "notes.txt" in names
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temp dirs left
    csv_orders = pd.read_csv(out / "orders.csv", dtype=str)
    assert list(csv_orders.columns) == _contract_columns()["orders"]


# ---------------------------------------------------------------- bad rows
def test_order_bad_row_counts_match_an_independent_recount(tables, manifest):
    o = tables["orders"]
    customers = tables["customers"]
    bad = manifest["bad_rows"]["orders"]
    exact = o.duplicated(keep="first")
    dedup = o[~exact]
    keyed = dedup[dedup["order_id"].notna()]
    conflicts = len(keyed) - keyed["order_id"].nunique()
    num = pd.to_numeric(o["amount"], errors="coerce")
    ts = pd.to_datetime(o["ordered_at"], format="ISO8601", utc=True, errors="coerce")
    known = set(customers["customer_id"])
    test_ids = set(
        customers.loc[customers["email_domain"].isin(TEST_DOMAINS), "customer_id"]
    )
    recount = {
        "exact_duplicate": int(exact.sum()),
        "duplicate_id_conflict": conflicts,
        "missing_key": int((o["order_id"].isna() | o["customer_id"].isna()).sum()),
        "invalid_amount": int(num.isna().sum()),
        "absurd_amount": int((num.abs() >= 100_000).sum()),
        "timestamp_out_of_range": int(
            ((ts.dt.year >= 2090) | (ts.dt.year < 2000)).sum()
        ),
        "invalid_timestamp": int(ts.isna().sum()),
        "unknown_currency": int((~o["currency"].isin(set(CURRENCY_RATES))).sum()),
        "unknown_customer": int(
            (o["customer_id"].notna() & ~o["customer_id"].isin(known)).sum()
        ),
        "test_account": int(o["customer_id"].isin(test_ids).sum()),
    }
    assert recount == bad
    assert all(v > 0 for v in recount.values())
    assert manifest["raw_rows"]["orders"] == len(o)


def test_other_tables_bad_row_counts_match_an_independent_recount(tables, manifest):
    customers = tables["customers"]
    test_ids = set(
        customers.loc[customers["email_domain"].isin(TEST_DOMAINS), "customer_id"]
    )
    accepted = pd.read_csv(ROOT / "seeds" / "accepted_event_types.csv")
    types = accepted.groupby("source_table")["event_type"].apply(set)

    c_exact = customers.duplicated(keep="first")
    c = customers[~c_exact]
    ev = tables["events"]
    em = tables["email_events"]
    recount = {
        "customers": {
            "exact_duplicate": int(c_exact.sum()),
            "duplicate_id_conflict": len(c) - c["customer_id"].nunique(),
        },
        "events": {
            "exact_duplicate": int(ev.duplicated(keep="first").sum()),
            "unknown_event_type": int(
                (~ev["event_type"].str.lower().isin(types["events"])).sum()
            ),
            "bot_traffic": int(ev["user_agent"].str.contains(BOT_PATTERN).sum()),
            "timestamp_out_of_range": int((ev["occurred_at"].dt.year >= 2090).sum()),
            "test_account": int(ev["customer_id"].isin(test_ids).sum()),
        },
        "email_events": {
            "exact_duplicate": int(em.duplicated(keep="first").sum()),
            "unknown_event_type": int(
                (~em["event_type"].isin(types["email_events"])).sum()
            ),
            "test_account": int(em["customer_id"].isin(test_ids).sum()),
        },
    }
    for name in ("products", "order_items", "support_tickets", "campaign_assignments"):
        recount[name] = {"exact_duplicate": int(tables[name].duplicated().sum())}
    o = tables["orders"]
    test_orders = set(o.loc[o["customer_id"].isin(test_ids), "order_id"])
    recount["order_items"]["test_account"] = int(
        tables["order_items"]["order_id"].isin(test_orders).sum()
    )
    recount["support_tickets"]["test_account"] = int(
        tables["support_tickets"]["customer_id"].isin(test_ids).sum()
    )
    assert {k: manifest["bad_rows"][k] for k in recount} == recount
    assert not tables["campaign_assignments"]["customer_id"].isin(test_ids).any()
    for name, frame in tables.items():
        assert manifest["raw_rows"][name] == len(frame), name


def test_flags_match_an_independent_recount(tables, manifest):
    ev = tables["events"]
    late = (ev["received_at"] - ev["occurred_at"]) > pd.Timedelta(hours=48)
    assert manifest["flags"]["events"]["late_arrival"] == int(late.sum()) > 0
    fast = (ev["received_at"] - ev["occurred_at"])[~late]
    assert fast.max() < pd.Timedelta(hours=1)
    customers = tables["customers"].drop_duplicates("customer_id")
    tests = int(customers["email_domain"].isin(TEST_DOMAINS).sum())
    assert manifest["flags"]["customers"]["test_account"] == tests > 0
    # late rows are all staged (none of a test account), as flagged
    test_ids = customers.loc[customers["email_domain"].isin(TEST_DOMAINS)]
    assert not ev.loc[late, "customer_id"].isin(test_ids["customer_id"]).any()
    o = tables["orders"]
    mixed = o["ordered_at"].str.match(OFFSET_TS).sum()
    assert manifest["flags"]["orders"]["mixed_timezone"] == mixed > 0
    assert 0.01 < mixed / len(o) < 0.03


def test_mixed_timezone_rows_parse_to_the_stated_utc_instant(raw, tables):
    tz = pd.read_parquet(raw / "truth" / "timezone_rows.parquet")
    assert len(tz) > 100
    assert tz["ordered_at_raw"].str.match(OFFSET_TS).all()
    assert tz["ordered_at_raw"].str.contains(r"[+-]\d\d:\d\d$").any()
    parsed = pd.to_datetime(tz["ordered_at_raw"], format="ISO8601", utc=True)
    expected = tz["true_ordered_at_utc"].dt.tz_localize("UTC")
    assert (parsed == expected).all()
    with duckdb.connect() as con:
        con.register("tz", tz)
        wrong = con.execute(
            "select count(*) from tz where cast(ordered_at_raw as timestamptz) "
            "at time zone 'UTC' != true_ordered_at_utc"
        ).fetchone()[0]
    assert wrong == 0
    o = tables["orders"].set_index("order_id")
    assert (
        o.loc[tz["order_id"], "ordered_at"].to_numpy() == tz["ordered_at_raw"]
    ).all()


def test_as_of_date_is_the_day_after_the_last_order_day(valid_orders, manifest):
    # The project's default as_of_date is the day after the last staged order.
    last = AS_OF - timedelta(days=1)
    assert manifest["as_of_date"] == AS_OF.isoformat()
    assert manifest["last_order_date"] == last.isoformat()
    assert valid_orders["ts"].dt.date.max() == last
    assert valid_orders["ts"].dt.date.min() >= AS_OF - timedelta(days=730)


def test_every_table_ends_before_the_as_of_date(tables):
    end = pd.Timestamp(AS_OF)
    columns = {
        "customers": ["signed_up_at"],
        "events": ["occurred_at", "received_at"],
        "email_events": ["occurred_at"],
        "support_tickets": ["opened_at", "closed_at"],
    }
    for table, names in columns.items():
        for name in names:
            ts = tables[table][name]
            # injected out-of-range rows (year 2090 and later) aside
            ts = ts[ts.dt.year < 2090]
            # up to the last day before T, not beyond
            assert end - pd.Timedelta(days=7) <= ts.max() < end, (table, name)
    assert tables["campaign_assignments"]["assigned_at"].max() < end
    tickets = tables["support_tickets"]
    closed = tickets.dropna(subset=["closed_at"])
    assert (closed["closed_at"] > closed["opened_at"]).all()
    # open tickets are the recent ones, and only they lack a closing time
    assert 0.5 < len(closed) / len(tickets) < 1
    assert tickets.loc[tickets["closed_at"].isna(), "csat_score"].isna().all()


def test_truth_counts_exactly_the_orders_written_before_the_as_of_date(
    valid_orders, truth
):
    counted = valid_orders[
        (valid_orders["status"] == "completed") & (valid_orders["num"] > 0)
    ]
    written = counted.groupby("customer_id").size()
    t = truth[~truth["is_test_account"]].set_index("customer_id")
    expected = t["n_orders_before_as_of"]
    assert expected.sum() > 0
    assert (written.reindex(expected.index, fill_value=0) == expected).all()


def test_order_shapes(tables, valid_orders):
    o = valid_orders
    assert set(o["status"]) == {"completed", "cancelled", "refunded"}
    share = o["status"].value_counts(normalize=True)
    assert 0.01 < share["cancelled"] < 0.03 and 0.015 < share["refunded"] < 0.045
    assert (o.loc[o["status"] == "refunded", "num"] < 0).all()
    assert (o.loc[o["status"] == "cancelled", "num"] > 0).all()
    assert (o["num"] == 0).sum() > 0
    same_day = o.groupby(["customer_id", o["ts"].dt.date]).size()
    assert (same_day > 1).sum() > 0
    items = tables["order_items"].drop_duplicates()
    # every line belongs to a staged order (or to a test account's order)
    orders = tables["orders"]
    customers = tables["customers"]
    test_ids = customers.loc[customers["email_domain"].isin(TEST_DOMAINS)]
    test_orders = orders.loc[orders["customer_id"].isin(test_ids["customer_id"])]
    staged_or_test = set(o["order_id"]) | set(test_orders["order_id"])
    assert items["order_id"].isin(staged_or_test).all()
    line = (items["quantity"] * items["unit_price"]).groupby(items["order_id"]).sum()
    # a conflicting later version of an order changes its amount, not its lines
    distinct = orders.drop_duplicates()
    conflict_ids = distinct.loc[distinct["order_id"].duplicated(), "order_id"]
    kept = o[(o["status"] != "refunded") & ~o["order_id"].isin(conflict_ids)]
    kept = kept.set_index("order_id")["num"]
    diff = (line.reindex(kept.index) - kept).abs()
    assert diff.notna().mean() > 0.99
    assert diff.max() < 0.05  # within cents


# ---------------------------------------------------------------- planted truth
def test_persona_shares_near_configured(truth, manifest):
    configured = dict(zip(PERSONAS, PERSONA_PARAMS["share"], strict=True))
    observed = truth["persona"].value_counts(normalize=True)
    for persona, share in configured.items():
        assert abs(observed[persona] - share) < 0.015, persona
        assert abs(manifest["persona_shares"][persona] - observed[persona]) < 1e-3


def test_rising_value_spend_grows(valid_orders, truth):
    o = valid_orders.merge(truth[["customer_id", "persona"]], on="customer_id")
    days = (pd.Timestamp(AS_OF, tz="UTC") - o["ts"]).dt.days
    rising = o[(o["persona"] == "rising_value") & (o["status"] != "cancelled")]
    d = days[rising.index]
    last = rising.loc[d < 180, "eur"].sum()
    previous = rising.loc[(d >= 180) & (d < 360), "eur"].sum()
    assert last > 1.2 * previous


def test_premium_share_grows_for_rising_value(tables, valid_orders, truth):
    items = tables["order_items"].merge(tables["products"].drop_duplicates())
    items = items.merge(valid_orders[["order_id", "customer_id", "ts"]])
    items = items.merge(truth[["customer_id", "persona"]])
    rising = items[items["persona"] == "rising_value"]
    days = (pd.Timestamp(AS_OF, tz="UTC") - rising["ts"]).dt.days
    premium = rising["price_tier"] == "premium"
    assert premium[days < 180].mean() > premium[(days >= 360) & (days < 540)].mean()


def test_at_risk_sessions_decline(tables, truth):
    ev = tables["events"].dropna(subset=["customer_id"])
    ev = ev.merge(truth[["customer_id", "persona"]], on="customer_id")
    days = (pd.Timestamp(AS_OF) - ev["occurred_at"]).dt.days

    def ratio(persona):
        e = ev[ev["persona"] == persona]
        d = days[e.index]
        recent = e.loc[(d >= 0) & (d < 90), "session_id"].nunique()
        earlier = e.loc[(d >= 180) & (d < 270), "session_id"].nunique()
        return recent / earlier

    assert ratio("at_risk") < 0.8
    assert ratio("at_risk") < ratio("loyal_high_value") - 0.2


def test_loyal_orders_more_often_than_one_time_buyers(valid_orders, truth):
    counts = valid_orders.groupby("customer_id").size()
    per = truth.set_index("customer_id")["persona"]
    rate = counts.reindex(per.index, fill_value=0).groupby(per).mean()
    assert rate["loyal_high_value"] > 5 * rate["one_time_buyer"]
    assert rate["bargain_hunter"] > rate["regular"]
    assert rate["registered_no_orders"] == 0


def test_oracle_auc_is_realistic(truth, manifest):
    scored = truth[~truth["is_test_account"] & (truth["n_orders_before_as_of"] > 0)]
    auc = roc_auc_score(scored["churned_in_window"], scored["true_churn_probability"])
    assert 0.75 <= auc <= 0.92
    assert auc == pytest.approx(manifest["oracle"]["churn_auc"], abs=1e-3)
    p_auc = roc_auc_score(
        scored["purchased_in_window"], scored["true_purchase_probability"]
    )
    assert 0.75 <= p_auc <= 0.92
    assert p_auc == pytest.approx(manifest["oracle"]["purchase_auc"], abs=1e-3)
    # knowing the hidden state (alive, persona, own rate) would be worth more:
    # the truth is what the observable history allows, not that
    latent = roc_auc_score(
        scored["churned_in_window"], scored["latent_churn_probability"]
    )
    assert latent > auc + 0.03


def _calibrated(frame: pd.DataFrame, prob: str, outcome: str, groups) -> bool:
    """Mean prediction within 0.01 + 3 standard errors of the mean outcome in
    every group."""
    g = frame.groupby(groups).agg(
        p=(prob, "mean"), y=(outcome, "mean"), n=(outcome, "size")
    )
    se = np.sqrt(g["p"] * (1 - g["p"]) / g["n"])
    return bool(((g["p"] - g["y"]).abs() <= 0.01 + 3 * se).all())


def test_true_probabilities_are_calibrated(truth):
    """The truth matches the simulated outcomes on average: overall, by decile
    of the prediction and by what is observable (the number of past orders).
    (Not by persona: the truth does not know it, see synth/_oracle.py.)"""
    t = truth[~truth["is_test_account"]]
    past = t["n_orders_before_as_of"].clip(upper=6)
    for prob, outcome in (
        ("true_churn_probability", "churned_in_window"),
        ("true_purchase_probability", "purchased_in_window"),
    ):
        assert t[prob].mean() == pytest.approx(t[outcome].mean(), abs=0.01)
        decile = pd.qcut(t[prob].rank(method="first"), 10, labels=False)
        assert _calibrated(t, prob, outcome, decile), prob
        assert _calibrated(t, prob, outcome, past), prob
    expected = t["true_expected_revenue_eur"]
    realized = t["realized_revenue_eur_horizon"]
    assert realized.sum() == pytest.approx(expected.sum(), rel=0.05)
    quintile = pd.qcut(expected.rank(method="first"), 5, labels=False)
    by = t.groupby(quintile)[
        ["true_expected_revenue_eur", "realized_revenue_eur_horizon"]
    ]
    ratio = by.sum()["realized_revenue_eur_horizon"] / by.sum()[expected.name]
    assert ratio.iloc[2:].between(0.85, 1.15).all()
    assert (np.diff(by.mean()["realized_revenue_eur_horizon"].to_numpy()) > 0).all()


def test_alive_probability_is_calibrated(truth):
    t = truth[~truth["is_test_account"] & (truth["n_orders_before_as_of"] > 0)]
    t = t.assign(alive=t["is_alive_at_as_of"].astype(float))
    bins = (t["alive_probability"] * 5).astype(int).clip(0, 4)
    assert _calibrated(t, "alive_probability", "alive", bins)
    assert t.groupby(bins)["alive"].mean().is_monotonic_increasing


def test_latent_probabilities_are_calibrated_per_persona(truth):
    """Given the hidden state, the closed-form process matches the simulation
    for every persona."""
    t = truth[~truth["is_test_account"]]
    for persona, g in t.groupby("persona"):
        churn = g["latent_churn_probability"].mean() - g["churned_in_window"].mean()
        buy = g["latent_purchase_probability"].mean() - g["purchased_in_window"].mean()
        assert abs(churn) < 0.03, persona
        assert abs(buy) < 0.03, persona
    alive = t[t["is_alive_at_as_of"] & (t["n_orders_before_as_of"] > 0)]
    for persona, g in alive.groupby("persona"):
        if len(g) >= 500:
            realized = g["realized_revenue_eur_horizon"].mean()
            assert realized == pytest.approx(
                g["latent_expected_revenue_eur"].mean(), rel=0.25
            ), persona


def test_treatment_effect_is_heterogeneous_and_realized(raw, tables):
    te = pd.read_parquet(raw / "truth" / "treatment_effects.parquet")
    assign = tables["campaign_assignments"].drop_duplicates()
    assert len(te) == len(assign)
    assert set(te["campaign_id"]) == {"summer_promo", "winback"}
    share = te["treatment_group"].eq("treatment").mean()
    assert 0.45 < share < 0.55
    # the planted effect, given the hidden state
    treated = te[te["treatment_group"] == "treatment"]
    latent = treated.groupby("persona")["latent_uplift"].mean()
    assert latent["bargain_hunter"] > 0.02 and latent["at_risk"] > 0.05
    assert latent["rising_value"] < -0.02
    assert abs(latent["loyal_high_value"]) < 0.01

    def realized(frame, by):
        rates = frame.pivot_table(
            index=by, columns="treatment_group", values="converted", aggfunc="mean"
        )
        return rates["treatment"] - rates["control"]

    by_persona = realized(te, "persona")
    assert by_persona["at_risk"] > 0.05
    assert by_persona["rising_value"] < 0
    # the truth (what is knowable at assignment) ranks and matches the effect
    tercile = pd.qcut(te["true_uplift"].rank(method="first"), 3, labels=False)
    by_tercile = realized(te.assign(tercile=tercile), "tercile")
    assert by_tercile[2] > by_tercile[0] + 0.03
    overall = realized(te.assign(all=0), "all")[0]
    assert te["true_uplift"].mean() == pytest.approx(overall, abs=0.025)


def test_sensitive_attributes_do_not_drive_churn(tables, truth):
    c = tables["customers"].drop_duplicates("customer_id")
    t = truth.merge(c[["customer_id", "gender", "birth_year"]], on="customer_id")
    t = t[t["n_orders_before_as_of"] > 0]
    by_gender = t.groupby("gender")["churned_in_window"].mean()
    assert by_gender["female"] == pytest.approx(by_gender["male"], abs=0.04)
    young = t["birth_year"] > 1990
    gap = t.loc[young, "churned_in_window"].mean() - t.loc[~young, "churned_in_window"]
    assert abs(gap.mean()) < 0.04
    assert np.corrcoef(t["birth_year"], t["true_churn_probability"])[0, 1] ** 2 < 0.01
