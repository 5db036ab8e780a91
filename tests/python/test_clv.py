"""Tests of predictive_segments.clv.

Recovery tests simulate customers from the planted BG/NBD and Gamma-Gamma
processes and check that the fits find the planted parameters; the margins
are stated next to each test together with the spread measured over 12-20
simulation seeds, so that a correct model fails with negligible
probability (>= 3.4 standard deviations) while a wrong one (a sign or a
parameterization error moves estimates by far more) fails for sure. The
closed-form BG/NBD expectation is checked against an independent series,
the Monte Carlo against the closed forms, and the supervised model against
an oracle that ranks by the true expected value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln, hyp2f1

from predictive_segments import clv, metrics

BG_TRUTH = {"r": 0.25, "alpha": 28.0, "a": 0.8, "b": 2.5}  # alpha in days
GG_TRUTH = {"p": 6.0, "q": 4.0, "v": 15.0}
HORIZON = 180.0


def _ages(n: int, seed: int) -> np.ndarray:
    """First purchases spread over one to two years before the cutoff (days)."""
    return np.random.default_rng(seed).uniform(365.0, 730.0, n)


# --------------------------------------------------------------------------
# BG/NBD


@pytest.fixture(scope="module")
def bg_sim() -> pd.DataFrame:
    return clv.simulate_bgnbd(50_000, _ages(50_000, 11), seed=12, **BG_TRUTH)


@pytest.fixture(scope="module")
def bg_model(bg_sim: pd.DataFrame) -> clv.BetaGeometricNBD:
    return clv.BetaGeometricNBD().fit(bg_sim.frequency, bg_sim.recency, bg_sim.age)


def test_bgnbd_recovers_planted_parameters(bg_model: clv.BetaGeometricNBD) -> None:
    # Margin 10 % each. Over 12 seeds of 40k customers the relative errors had
    # standard deviations r 0.9 %, alpha 1.3 %, a 2.1 %, b 3.1 % (max 7 %);
    # with 50k customers 10 % is >= 3.5 standard deviations for b.
    assert bg_model.converged_
    for name, true in BG_TRUTH.items():
        est = bg_model.params_[name]
        print(f"BG/NBD {name}: fitted {est:.4f}, planted {true}")
        assert abs(est / true - 1) < 0.10, (name, est, true)
    assert np.isfinite(bg_model.log_likelihood_)


def test_bgnbd_fit_is_the_maximum(
    bg_model: clv.BetaGeometricNBD, bg_sim: pd.DataFrame
) -> None:
    """The reported log-likelihood is at least that of the planted parameters
    and of small moves away from the optimum."""
    args = (
        bg_sim.frequency.to_numpy(float),
        bg_sim.recency.to_numpy(),
        bg_sim.age.to_numpy(),
    )
    best = bg_model._param_array()
    ll_at = clv._bgnbd_loglik(best, *args)[0].sum()
    assert ll_at == pytest.approx(bg_model.log_likelihood_, rel=1e-9)
    ll_truth = clv._bgnbd_loglik(np.array(list(BG_TRUTH.values())), *args)[0].sum()
    assert ll_at >= ll_truth
    for i in range(4):
        for step in (0.98, 1.02):
            moved = best.copy()
            moved[i] *= step
            assert clv._bgnbd_loglik(moved, *args)[0].sum() < ll_at


def _unconditional_expected(
    r: float, alpha: float, a: float, b: float, t: float
) -> float:
    """E[X(t)] for a new customer (FHL 2005 eq. 9), straight from the paper."""
    z = t / (alpha + t)
    return (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    )


def test_simulator_matches_model_mean() -> None:
    # The simulator is the oracle of the other tests, so check it against the
    # paper's formula for the mean count. 200k customers: standard error of
    # the mean ~0.6 %; margin 3 %.
    age = 365.0
    sim = clv.simulate_bgnbd(200_000, age, seed=5, **BG_TRUTH)
    expected = _unconditional_expected(*BG_TRUTH.values(), age)
    assert sim.frequency.mean() == pytest.approx(expected, rel=0.03)
    assert (sim.recency <= sim.age).all()
    assert (sim.recency[sim.frequency == 0] == 0).all()
    assert (sim.recency[sim.frequency > 0] > 0).all()


def _series_given_alive(
    r: float, alpha: float, a: float, b: float, x: float, age: float, h: float
) -> float:
    """E[count | alive] = sum_k P(N >= k) P(survive k - 1 purchases), N ~ NegBin."""
    k = np.arange(1, 20_000)
    p_n = stats.nbinom.sf(k - 1, r + x, (alpha + age) / (alpha + age + h))
    survive = np.exp(betaln(a, b + x + k - 1) - betaln(a, b + x))
    return float((p_n * survive).sum())


@pytest.mark.parametrize(
    "params",
    [
        (0.25, 28.0, 0.8, 2.5),
        (2.0, 10.0, 3.0, 1.0),
        (0.5, 5.0, 0.3, 0.4),
        (1.0, 50.0, 1.0, 2.0),  # a = 1: removable singularity of the closed form
        (5.0, 2.0, 3.0, 200.0),  # r - a integer: scipy's hyp2f1 returns NaN
    ],
)
def test_expected_transactions_matches_independent_series(params: tuple) -> None:
    model = clv.BetaGeometricNBD()
    model.params_ = dict(zip(("r", "alpha", "a", "b"), params, strict=True))
    x = np.array([0, 1, 2, 5, 20, 60.0])
    t_x = np.array([0, 50, 80, 300, 250, 700.0])
    age = np.array([10, 100, 400, 700, 300, 720.0])
    p_alive = model.p_alive(x, t_x, age)
    for h in (30.0, 365.0, 2000.0):
        got = model.expected_transactions(h, x, t_x, age)
        want = p_alive * [
            _series_given_alive(*params, xi, ai, h)
            for xi, ai in zip(x, age, strict=True)
        ]
        # a = 1 is interpolated (error ~1e-8)
        np.testing.assert_allclose(got, want, rtol=1e-6 if params[2] == 1.0 else 1e-9)


def test_p_alive_properties(
    bg_model: clv.BetaGeometricNBD, bg_sim: pd.DataFrame
) -> None:
    p = bg_model.p_alive(bg_sim.frequency, bg_sim.recency, bg_sim.age)
    assert ((p >= 0) & (p <= 1)).all()
    assert (p[bg_sim.frequency.to_numpy() == 0] == 1).all()
    # the longer since the last purchase, the less likely alive
    x = np.full(5, 4.0)
    t_x = np.full(5, 100.0)
    ages = np.array([100, 150, 250, 400, 700.0])
    assert (np.diff(bg_model.p_alive(x, t_x, ages)) < 0).all()


def test_expected_transactions_grow_with_horizon(
    bg_model: clv.BetaGeometricNBD, bg_sim: pd.DataFrame
) -> None:
    head = bg_sim.head(2000)
    args = (head.frequency, head.recency, head.age)
    assert (bg_model.expected_transactions(0, *args) == 0).all()
    previous = np.zeros(len(head))
    for h in (7, 30, 90, 365, 1000):
        cur = bg_model.expected_transactions(h, *args)
        assert (cur > previous).all()
        previous = cur


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([-1, 2], [0, 5], [10, 10], "negative values"),
        ([1.5, 2], [3, 5], [10, 10], "non-integer"),
        ([1, 2], [11, 5], [10, 10], "recency exceeds age"),
        ([0, 2], [3, 5], [10, 10], "frequency 0 but recency > 0"),
        ([1, np.nan], [3, 5], [10, 10], "missing or infinite"),
        ([1, 2], [3, 5], [10], "different lengths"),
    ],
)
def test_bgnbd_rejects_bad_input(frequency, recency, age, message) -> None:
    with pytest.raises(ValueError, match=message):
        clv.BetaGeometricNBD().fit(frequency, recency, age)


def test_bgnbd_refuses_data_without_repeat_purchases() -> None:
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        clv.BetaGeometricNBD().fit([0, 0, 0], [0, 0, 0], [5, 9, 30])


def test_bgnbd_round_trip_and_determinism(
    bg_model: clv.BetaGeometricNBD, bg_sim: pd.DataFrame
) -> None:
    head = bg_sim.head(3000)
    again = clv.BetaGeometricNBD().fit(bg_sim.frequency, bg_sim.recency, bg_sim.age)
    assert again.params_ == bg_model.params_
    loaded = clv.BetaGeometricNBD.from_bytes(bg_model.to_bytes())
    assert loaded.params_ == bg_model.params_
    args = (90, head.frequency, head.recency, head.age)
    np.testing.assert_array_equal(
        loaded.expected_transactions(*args), bg_model.expected_transactions(*args)
    )
    with pytest.raises(ValueError, match="not a serialized BetaGeometricNBD"):
        clv.BetaGeometricNBD.from_bytes(
            clv.GammaGamma().fit([1, 2, 3], [5, 6, 7]).to_bytes()
        )


def test_penalizer_shrinks_towards_small_parameters(bg_sim: pd.DataFrame) -> None:
    plain = clv.BetaGeometricNBD().fit(bg_sim.frequency, bg_sim.recency, bg_sim.age)
    shrunk = clv.BetaGeometricNBD(penalizer=0.1).fit(
        bg_sim.frequency, bg_sim.recency, bg_sim.age
    )
    assert shrunk.params_["b"] < plain.params_["b"]
    assert shrunk.log_likelihood_ < plain.log_likelihood_


# --------------------------------------------------------------------------
# Gamma-Gamma


def test_gamma_gamma_recovers_planted_parameters() -> None:
    # Margin 10 % each. The spend of a customer is observed only as the mean
    # of x purchases, which pins p (and v with it) down loosely: over 20 seeds
    # of 100k repeat customers the relative errors had standard deviations
    # p 2.4 %, q 0.6 %, v 2.9 % (max 6.2 %), so 10 % is >= 3.4 standard
    # deviations. (With 30k customers the spread is ~5 % and 10 % fails.)
    rng = np.random.default_rng(21)
    x = rng.integers(1, 11, 100_000)
    m = clv.simulate_gamma_gamma(x, seed=22, **GG_TRUTH)
    # rows that must be left out and counted, and customers without repeats
    x = np.concatenate([x, [2, 3, 1, 0, 0]])
    m = np.concatenate([m, [0.0, -5.0, np.nan, np.nan, 0.0]])
    model = clv.GammaGamma().fit(x, m)
    assert model.excluded_ == 3
    assert model.n_customers_ == 100_000
    assert model.converged_
    for name, true in GG_TRUTH.items():
        est = model.params_[name]
        print(f"Gamma-Gamma {name}: fitted {est:.4f}, planted {true}")
        assert abs(est / true - 1) < 0.10, (name, est, true)
    true_mean = GG_TRUTH["p"] * GG_TRUTH["v"] / (GG_TRUTH["q"] - 1)
    assert model.population_mean_ == pytest.approx(true_mean, rel=0.03)


def test_gamma_gamma_expected_value_shrinks_to_population_mean() -> None:
    x = np.random.default_rng(1).integers(1, 6, 5000)
    model = clv.GammaGamma().fit(x, clv.simulate_gamma_gamma(x, seed=2, **GG_TRUTH))
    pop = model.population_mean_
    got = model.expected_average_value(
        [0, 1, 1, 20, 3, 3], [np.nan, 100, 1, 100, 0, -1]
    )
    assert got[0] == pytest.approx(pop)
    assert got[4] == pytest.approx(pop) and got[5] == pytest.approx(pop)
    assert pop < got[1] < 100 and 1 < got[2] < pop  # pulled towards the population
    assert abs(got[3] - 100) < abs(got[1] - 100)  # more purchases, less shrinkage
    loaded = clv.GammaGamma.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(
        loaded.expected_average_value(x, np.full(x.shape, 30.0)),
        model.expected_average_value(x, np.full(x.shape, 30.0)),
    )


# --------------------------------------------------------------------------
# BG/NBD + Gamma-Gamma CLV


@pytest.fixture(scope="module")
def clv_sim() -> pd.DataFrame:
    return clv.simulate_clv_customers(
        30_000, _ages(30_000, 31), HORIZON, seed=32, **BG_TRUTH, **GG_TRUTH
    )


@pytest.fixture(scope="module")
def clv_model(clv_sim: pd.DataFrame) -> clv.BgnbdClv:
    return clv.BgnbdClv(seed=7).fit(clv_sim)


@pytest.fixture(scope="module")
def clv_pred(clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame) -> pd.DataFrame:
    return clv_model.predict(clv_sim, HORIZON)


def test_holdout_totals_match_realized(
    clv_pred: pd.DataFrame, clv_sim: pd.DataFrame
) -> None:
    # Over 20 seeds of 30k customers the relative error of the predicted total
    # had a standard deviation of 1.3 % for purchases and 1.6 % for value
    # (sampling noise of the future plus estimation error); margins 5 % and
    # 6 % (>= 3.7 standard deviations).
    tx = clv_pred.expected_transactions.sum() / clv_sim.future_transactions.sum()
    value = clv_pred.predicted_clv.sum() / clv_sim.future_value.sum()
    print(f"holdout predicted/realized: purchases {tx:.4f}, value {value:.4f}")
    assert abs(tx - 1) < 0.05
    assert abs(value - 1) < 0.06


def test_quantiles_ordered_and_calibrated(
    clv_pred: pd.DataFrame, clv_sim: pd.DataFrame
) -> None:
    p10, p50, p90 = (clv_pred[f"predicted_clv_p{q}"].to_numpy() for q in (10, 50, 90))
    assert ((p10 <= p50) & (p50 <= p90)).all()
    assert (p10 >= 0).all()
    assert clv_pred.notna().all().all()
    actual = clv_sim.future_value.to_numpy()
    # The value has an atom at 0 (no purchase), so exceedance is only 10 % /
    # 50 % where the quantile is positive. Measured over 20 seeds: 10.2 % +-
    # 0.3 % above P90 and 50.1 % +- 1.3 % above P50; margins ~4 sd.
    above_90 = (actual > p90)[p90 > 0].mean()
    above_50 = (actual > p50)[p50 > 0].mean()
    print(f"share above P90: {above_90:.4f}, above P50 (P50 > 0): {above_50:.4f}")
    assert 0.085 < above_90 < 0.115
    assert 0.45 < above_50 < 0.55


def _model_inputs(model: clv.BgnbdClv, sim: pd.DataFrame) -> dict:
    x = sim.frequency.to_numpy(float)
    age = sim.age_days.to_numpy()
    m = sim.avg_repeat_value.to_numpy()
    bg = model.purchase_model_.params_
    return {
        "bg": bg,
        "x": x,
        "age": age,
        "m": m,
        "x_spend": np.where(x > 0, x, 0.0),
        "p_alive": clv._p_alive(bg, x, sim.recency_days.to_numpy(), age),
    }


def test_monte_carlo_counts_match_closed_form() -> None:
    """Mean of the simulated purchase counts (exact count distribution,
    stratified draws) against the hypergeometric closed form, customer by
    customer. With one random offset per customer the stratified mean is off
    by at most about (largest count) / n_draws = ~50 / 20000 (0.0026 seen);
    margin 0.01. An off-by-one in the dropout survival gives errors of 0.27."""
    rng = np.random.default_rng(2)
    x = np.repeat(np.arange(30.0), 20)
    age = rng.uniform(365, 730, x.shape[0])
    t_x = np.where(x > 0, age * rng.uniform(0.5, 1, x.shape[0]), 0.0)
    horizon = 730.0
    p_alive = clv._p_alive(BG_TRUTH, x, t_x, age)
    expected = p_alive * clv._expected_given_alive(BG_TRUTH, x, age, horizon)
    n_draws = 20_000
    ci, ck, _, cn = clv._count_multiplicities(
        np.random.default_rng(3), BG_TRUTH, x, age, p_alive, horizon, n_draws
    )
    mean_count = np.bincount(ci, weights=ck * cn, minlength=x.shape[0]) / n_draws
    np.testing.assert_allclose(mean_count, expected, rtol=0, atol=0.01)


def test_monte_carlo_value_mean_matches_closed_form(
    clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame, clv_pred: pd.DataFrame
) -> None:
    """Asking for every order statistic returns the sorted draws; their mean
    per customer must match expected purchases x expected spend."""
    sub = clv_sim.head(10_000)
    s = _model_inputs(clv_model, sub)
    n_draws = 200
    draws = clv._clv_quantiles(
        1,
        s["bg"],
        clv_model.spend_model_.params_,
        s["x"],
        s["age"],
        s["x_spend"],
        s["m"],
        s["p_alive"],
        np.ones(len(sub)),
        HORIZON,
        n_draws,
        quantiles=np.arange(n_draws) / (n_draws - 1),
    )
    ratio = draws.mean(axis=1).sum() / clv_pred.predicted_clv.head(10_000).sum()
    assert ratio == pytest.approx(1, abs=0.02)


def test_discounting(clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame) -> None:
    sub = clv_sim.head(3000)
    plain = clv_model.predict(sub, 365)
    zero = clv_model.predict(sub, 365, discount_rate_annual=0.0)
    pd.testing.assert_frame_equal(plain, zero)
    d10 = clv_model.predict(sub, 365, discount_rate_annual=0.10)
    d30 = clv_model.predict(sub, 365, discount_rate_annual=0.30)
    ratio = d10.predicted_clv.sum() / plain.predicted_clv.sum()
    # purchases spread over a year are discounted by between 1 and 1 / 1.1
    assert 1 / 1.1 < ratio < 1
    assert (d30.predicted_clv <= d10.predicted_clv).all()
    pd.testing.assert_series_equal(
        d10.expected_transactions, plain.expected_transactions
    )
    assert (d10.predicted_clv_p90 <= plain.predicted_clv_p90).all()
    assert (d10.predicted_clv_p10 <= d10.predicted_clv_p50).all()


def test_bgnbd_clv_deterministic_and_round_trip(
    clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame, clv_pred: pd.DataFrame
) -> None:
    loaded = clv.BgnbdClv.from_bytes(clv_model.to_bytes())
    pd.testing.assert_frame_equal(loaded.predict(clv_sim, HORIZON), clv_pred)
    refit = clv.BgnbdClv(seed=7).fit(clv_sim).predict(clv_sim, HORIZON)
    pd.testing.assert_frame_equal(refit, clv_pred)
    other = clv.BgnbdClv.from_bytes(clv_model.to_bytes())
    other.seed = 8
    other_pred = other.predict(clv_sim.head(5000), HORIZON)
    pd.testing.assert_series_equal(
        other_pred.predicted_clv, clv_pred.predicted_clv.head(5000)
    )
    assert not other_pred.predicted_clv_p90.equals(
        clv_pred.predicted_clv_p90.head(5000)
    )


def test_bgnbd_p_alive_equals_predict_column(
    clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame, clv_pred: pd.DataFrame
) -> None:
    # score_clv takes P(alive) from p_alive() when the GBM serves the value.
    np.testing.assert_array_equal(clv_model.p_alive(clv_sim), clv_pred.p_alive)
    with pytest.raises(ValueError, match="not fitted"):
        clv.BgnbdClv().p_alive(clv_sim)


def test_bgnbd_clv_input_errors(clv_model: clv.BgnbdClv, clv_sim: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no column avg_repeat_value"):
        clv_model.predict(clv_sim.drop(columns="avg_repeat_value"), 90)
    with pytest.raises(ValueError, match="horizon_days"):
        clv_model.predict(clv_sim, -1)
    with pytest.raises(ValueError, match="not fitted"):
        clv.BgnbdClv().predict(clv_sim, 90)


def test_summary_from_orders_matches_direct_computation() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    orders = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i:03d}" for i in range(300)], n),
            "order_date": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "amount": np.round(rng.normal(40, 30, n), 2),  # some refunds (< 0)
        }
    )
    cutoff = pd.Timestamp("2025-12-01")
    got = clv.summary_from_orders(orders, cutoff.date()).set_index("customer_id")
    rows = {}
    for cid, g in orders.groupby("customer_id"):
        g = g[(g.amount > 0) & (g.order_date < cutoff)]
        if g.empty:
            continue
        by_day = g.groupby(g.order_date.dt.floor("D")).amount.sum().sort_index()
        days = by_day.index
        rows[cid] = {
            "frequency": len(days) - 1,
            "recency_days": (days[-1] - days[0]).days,
            "age_days": (cutoff - days[0]).days,
            "avg_repeat_value": by_day.iloc[1:].mean() if len(days) > 1 else np.nan,
        }
    want = pd.DataFrame.from_dict(rows, orient="index")
    assert list(got.index) == sorted(rows)
    np.testing.assert_array_equal(got.frequency, want.frequency)
    np.testing.assert_array_equal(got.recency_days, want.recency_days)
    np.testing.assert_array_equal(got.age_days, want.age_days)
    np.testing.assert_allclose(got.avg_repeat_value, want.avg_repeat_value, rtol=1e-12)
    with pytest.raises(ValueError, match="no column amount"):
        clv.summary_from_orders(orders.drop(columns="amount"), cutoff)


def test_clv_eligibility(clv_sim: pd.DataFrame) -> None:
    assert clv.clv_eligibility(clv_sim) == []
    reasons = clv.clv_eligibility(clv_sim.head(50))
    assert len(reasons) == 2 and "50 customers" in reasons[0]


# --------------------------------------------------------------------------
# supervised CLV


def _gbm_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, revenue and its true expectation: purchases ~ Poisson with a
    rate driven by f1, f2 and the channel, spend per purchase by f3."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(1, 7)})
    X["channel"] = rng.choice(["a", "b", "c", "d"], n)
    X["empty"] = np.nan
    X["constant"] = 1.0
    rate = np.exp(-0.7 + 0.9 * X.f1 - 0.6 * X.f2 + 0.7 * (X.channel == "b")).to_numpy()
    spend = 50 * np.exp(0.3 * X.f3.to_numpy())
    k = rng.poisson(rate)
    y = rng.gamma(2.0 * k) * spend / 2.0  # sum of k Gamma(2) purchases
    return X, y, rate * spend


@pytest.fixture(scope="module")
def gbm_data() -> dict:
    X, y, _ = _gbm_data(6000, 41)
    X_test, y_test, mu_test = _gbm_data(4000, 42)
    return {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "mu_test": mu_test}


@pytest.fixture(scope="module")
def gbm(gbm_data: dict) -> clv.QuantileGbmClv:
    return clv.QuantileGbmClv(seed=3, nthread=1).fit(gbm_data["X"], gbm_data["y"])


def test_gbm_ranks_close_to_oracle(gbm: clv.QuantileGbmClv, gbm_data: dict) -> None:
    pred = gbm.predict(gbm_data["X_test"])
    model = metrics.top_decile_capture(gbm_data["y_test"], pred.predicted_clv)
    oracle = metrics.top_decile_capture(gbm_data["y_test"], gbm_data["mu_test"])
    print(f"top-decile capture: model {model:.4f}, oracle {oracle:.4f}")
    assert model > oracle - 0.05
    total = pred.predicted_clv.sum() / gbm_data["y_test"].sum()
    assert abs(total - 1) < 0.15
    assert gbm.mean_objective_ in {"reg:tweedie", "reg:squarederror"}
    assert gbm.mean_objective_ == min(
        ("reg:tweedie", "reg:squarederror"),
        key=lambda o: gbm.selection_[f"valid_rmse_{o.split(':')[1]}"],
    )


def test_gbm_quantiles_monotone_and_nonnegative(
    gbm: clv.QuantileGbmClv, gbm_data: dict
) -> None:
    pred = gbm.predict(gbm_data["X_test"])
    assert list(pred.columns) == [
        "predicted_clv",
        "predicted_clv_p10",
        "predicted_clv_p50",
        "predicted_clv_p90",
    ]
    assert (pred >= 0).all().all()
    assert (pred.predicted_clv_p10 <= pred.predicted_clv_p50).all()
    assert (pred.predicted_clv_p50 <= pred.predicted_clv_p90).all()
    # P90 is a real upper quantile: ~90 % of outcomes at or below it
    covered = (gbm_data["y_test"] <= pred.predicted_clv_p90).mean()
    assert 0.85 < covered < 0.95


def test_gbm_features(gbm: clv.QuantileGbmClv, gbm_data: dict) -> None:
    assert gbm.dropped_features_ == {"empty": "all null", "constant": "constant"}
    assert gbm.feature_names_[:6] == [f"f{i}" for i in range(1, 7)]
    assert gbm.feature_names_[6:] == [f"channel={c}" for c in "abcd"]
    X = gbm_data["X_test"].head(20).copy()
    X["channel"] = ["z"] * 10 + [None] * 10  # unseen and missing levels
    X["extra"] = 1.0  # ignored
    pred = gbm.predict(X.drop(columns=["empty", "constant"]))
    assert pred.notna().all().all()
    with pytest.raises(ValueError, match="no column f3"):
        gbm.predict(X.drop(columns="f3"))


def test_gbm_deterministic_and_round_trip(
    gbm: clv.QuantileGbmClv, gbm_data: dict
) -> None:
    pred = gbm.predict(gbm_data["X_test"])
    loaded = clv.QuantileGbmClv.from_bytes(gbm.to_bytes())
    pd.testing.assert_frame_equal(loaded.predict(gbm_data["X_test"]), pred)
    again = clv.QuantileGbmClv(seed=3, nthread=1).fit(gbm_data["X"], gbm_data["y"])
    pd.testing.assert_frame_equal(again.predict(gbm_data["X_test"]), pred)


def test_gbm_quantile_booster_is_early_stopped_and_capped(
    gbm: clv.QuantileGbmClv, gbm_data: dict
) -> None:
    # The mean model is refitted on all rows; the quantile model keeps its
    # booster trained on the 80 % split and stopped on the other 20 %.
    assert gbm.n_train_ == {"mean": 6000, "quantile": 4800}
    kwargs = {"seed": 3, "nthread": 1, "params": {"num_boost_round": 60}}
    capped = clv.QuantileGbmClv(**kwargs, max_quantile_rows=1000)
    capped.fit(gbm_data["X"], gbm_data["y"])
    assert capped.n_train_ == {"mean": 6000, "quantile": 1000}
    pred = capped.predict(gbm_data["X_test"])
    assert (pred.predicted_clv_p10 <= pred.predicted_clv_p90).all()
    again = clv.QuantileGbmClv(**kwargs, max_quantile_rows=1000)
    again.fit(gbm_data["X"], gbm_data["y"])
    pd.testing.assert_frame_equal(again.predict(gbm_data["X_test"]), pred)
    loaded = clv.QuantileGbmClv.from_bytes(capped.to_bytes())
    assert loaded.max_quantile_rows == 1000
    assert loaded.n_train_ == capped.n_train_
    pd.testing.assert_frame_equal(loaded.predict(gbm_data["X_test"]), pred)
    # The mean model does not depend on the quantile cap.
    uncapped = clv.QuantileGbmClv(**kwargs).fit(gbm_data["X"], gbm_data["y"])
    np.testing.assert_array_equal(
        uncapped.predict(gbm_data["X_test"]).predicted_clv, pred.predicted_clv
    )
    with pytest.raises(ValueError, match="max_quantile_rows"):
        clv.QuantileGbmClv(max_quantile_rows=10)


def test_gbm_external_validation_and_negative_targets(gbm_data: dict) -> None:
    X, y = gbm_data["X"].head(1500), gbm_data["y"][:1500].copy()
    y[:7] = -10.0  # net refunds
    model = clv.QuantileGbmClv(seed=1, nthread=1, params={"num_boost_round": 80})
    model.fit(
        X, y, X_valid=gbm_data["X_test"].head(800), y_valid=gbm_data["y_test"][:800]
    )
    assert model.n_clipped_negative_ == 7
    assert model.selection_["validation"] == "given"
    assert model.n_rounds_["mean"] <= 80
    with pytest.raises(ValueError, match="objective"):
        clv.QuantileGbmClv(params={"objective": "reg:gamma"})
    with pytest.raises(ValueError, match="missing or infinite"):
        model.fit(X, np.full(len(X), np.nan))


# --------------------------------------------------------------------------
# evaluation


def test_evaluate_clv(clv_pred: pd.DataFrame, clv_sim: pd.DataFrame) -> None:
    actual = clv_sim.future_value.to_numpy()
    report = clv.evaluate_clv(actual, clv_pred)
    assert report["customers"] == len(actual)
    assert report["actual_total"] == pytest.approx(actual.sum())
    assert report["predicted_total"] == pytest.approx(clv_pred.predicted_clv.sum())
    deciles = report["value_by_decile"]
    assert [d["decile"] for d in deciles] == list(range(1, 11))
    assert sum(d["customers"] for d in deciles) == len(actual)
    # the top decile of value_by_decile is the one top_decile_capture measures
    assert deciles[-1]["share_of_actual"] == pytest.approx(report["top_decile_capture"])
    # a model that knows the history ranks far better than chance
    assert report["top_decile_capture"] > 0.3
    assert report["mae"] <= report["rmse"]
    assert 0.75 < report["p10_p90_coverage"] <= 1
    plain = clv.evaluate_clv(actual, clv_pred.predicted_clv.to_numpy())
    assert "p10_p90_coverage" not in plain
    assert plain["mae"] == report["mae"]


def test_capped_training_sample_is_seeded_and_in_order() -> None:
    frame = pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(1000)]})
    capped = clv._capped(frame, 300, seed=5)
    assert len(capped) == 300
    assert capped.index.is_monotonic_increasing
    assert capped["customer_id"].is_unique
    pd.testing.assert_frame_equal(capped, clv._capped(frame, 300, seed=5))
    assert not capped.equals(clv._capped(frame, 300, seed=6))
    assert clv._capped(frame, None, seed=5) is frame
    assert clv._capped(frame, 1000, seed=5) is frame
    with pytest.raises(ValueError, match="positive"):
        clv._capped(frame, 0, seed=5)
