"""The oracle of the demo data: exact where it can be checked, achievable.

The truth (true_churn_probability, true_purchase_probability, ...) is the
posterior predictive given what is observable at T (see synth/_oracle.py).
Here its integrals are checked against brute-force numeric integration on
hand-made histories, and a plain reference model (point-in-time order
features, xgboost) trained at earlier cutoffs must come within 0.03 AUC of
it on the realized outcomes after T: the oracle is the best possible model,
not an unreachable one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.special import gammaln, logsumexp
from sklearn.metrics import roc_auc_score

from predictive_segments.synth import SynthConfig, generate
from predictive_segments.synth import _params as P
from predictive_segments.synth._oracle import _rows, campaign_windows, observe

PP = P.PERSONA_PARAMS
T0, H0 = 0.0, -730.0
AUC_GAP = 0.03


# ---------------------------------------------------------------- brute force
def _history():
    """Six customers: (customer, time, rate order, first order, EUR amount)."""
    orders = [
        (0, -399.9, False, True, 40.0),
        (0, -300.2, True, False, 55.0),
        (0, -200.5, True, False, 31.0),
        (0, -150.1, True, False, 70.0),
        (1, -500.3, True, False, 12.0),
        (2, -599.95, False, True, 90.0),
        (2, -100.4, True, False, 60.0),
        (2, -70.2, True, False, 45.0),  # inside the summer window (treated)
        (2, -60.7, True, False, 80.0),
        (5, -20.3, True, False, 0.0),  # free order inside the winback window
    ]
    cust, t, rate, first, eur = (np.array(v) for v in zip(*orders, strict=True))
    with np.errstate(divide="ignore"):
        log_eur = np.where(eur > 0, np.log(eur), np.nan)
    signup = np.array([-400.0, -1000.0, -600.0, -100.0, -0.02, -50.0])
    treated = np.zeros((6, 2), bool)
    treated[2, 0] = treated[5, 1] = True
    hist = observe(cust, t, rate, first, log_eur, signup, treated, T0, H0)
    return hist, (cust, t, rate, eur)


def _phi(t, persona, c, treated):
    g = PP["g"][persona] / 365.0
    k = PP["decline_k"][persona] if np.isfinite(c) else 0.0
    out = np.exp(g * (t - P.T_REF) - k * np.maximum(t - c, 0.0))
    for w, (lo, hi, eff) in enumerate(campaign_windows(T0)):
        if treated[w]:
            out = out * np.where((t >= lo) & (t < hi), np.exp(eff[persona]), 1.0)
    return out


def _log_amounts(persona, t, eur):
    """log likelihood of the positive order amounts, by numeric integration
    over the customer's order value level."""
    pos = eur > 0
    y, t = np.log(eur[pos]), t[pos]
    m, sig, tau = (
        np.log(PP["aov"][persona]),
        PP["order_sd"][persona],
        PP["aov_sd"][persona],
    )
    z = y + sig**2 / 2 - PP["aov_g"][persona] / 365.0 * (t - P.T_REF)
    mu = m + tau * np.linspace(-8, 8, 4001)
    log_prior = -0.5 * ((mu - m) / tau) ** 2 - np.log(tau * np.sqrt(2 * np.pi))
    ll = -0.5 * ((z[None, :] - mu[:, None]) / sig) ** 2 - np.log(
        sig * np.sqrt(2 * np.pi)
    )
    return logsumexp(log_prior + ll.sum(axis=1)) + np.log(mu[1] - mu[0])


def _brute_row(persona, c, s0, pending, times, log_amount, treated, signup, first):
    """log prior + log likelihood of one hypothesis, and P(alive | it), by
    numeric integration over the rate level and the dropout time."""
    q, share = P.Q_OBSERVED, PP["share"][persona] / PP["share"].sum()
    delay = P.FIRST_ORDER_DELAY_DAYS
    log_prior = np.log(share / (P.DECLINE_STARTS.shape[0] if np.isfinite(c) else 1))
    since = T0 - signup
    if pending:
        log_prior += -since / delay
    elif PP["buyer"][persona] and not np.isfinite(first) and signup >= H0:
        log_prior += np.log(P.P_CANCELLED * -np.expm1(-since / delay))
    n = times.shape[0]

    lam_mean = PP["lam"][persona]
    if pending or s0 >= T0:
        return log_prior + log_amount + (0.0 if n == 0 else -np.inf), 1.0
    mu0 = 1.0 / PP["life"][persona]
    mu1 = 1.0 / PP["decline_life"][persona] if np.isfinite(c) else 0.0
    if lam_mean == 0:  # no orders either way: the prior survival
        surv = np.exp(-(mu0 * (T0 - s0) + mu1 * max(T0 - max(c, s0), 0.0)))
        return log_prior + log_amount + (0.0 if n == 0 else -np.inf), surv
    a = max(s0, H0)
    edges = [lo for lo, _, _ in campaign_windows(T0)] + [
        h for _, h, _ in campaign_windows(T0)
    ]
    grid = np.union1d(np.arange(a, T0, 0.05), [e for e in [c, *edges] if a < e < T0])
    grid = np.append(grid, T0)
    phi = _phi(grid, persona, c, treated)
    big_phi = np.concatenate(
        [[0.0], np.cumsum(np.diff(grid) * (phi[1:] + phi[:-1]) / 2)]
    )
    hazard = mu0 + mu1 * (grid >= c)
    log_surv = -(mu0 * (grid - s0) + mu1 * np.maximum(grid - max(c, s0), 0.0))

    shape = PP["lam_shape"][persona]
    lam = lam_mean * np.exp(np.linspace(np.log(1e-4), np.log(40), 600))
    log_gamma = (
        shape * np.log(shape / lam_mean)
        + (shape - 1) * np.log(lam)
        - shape * lam / lam_mean
        - gammaln(shape)
    )
    log_w = log_gamma + np.log(lam) + np.log(np.gradient(np.log(lam)))
    orders = n * np.log(q * lam) + np.log(_phi(times, persona, c, treated)).sum()
    alive = -lam * q * big_phi[-1] + log_surv[-1]
    last = times.max() if n else a
    after = grid >= last
    g_after, bp_after = grid[after], big_phi[after]
    dens = np.log(hazard[after]) + log_surv[after]
    inner = dens[None, :] - lam[:, None] * q * bp_after[None, :]
    step = np.gradient(g_after)
    dead = (
        logsumexp(inner + np.log(step)[None, :], axis=1) if after.sum() > 1 else -np.inf
    )
    log_alive = logsumexp(log_w + orders + alive)
    log_dead = logsumexp(log_w + orders + dead)
    terms = [log_alive, log_dead]
    if n == 0 and s0 < a:
        surv_a = mu0 * (a - s0) + mu1 * max(a - max(c, s0), 0.0)
        terms.append(np.log(-np.expm1(-surv_a)))
    log_lik = logsumexp(terms)
    return log_prior + log_amount + log_lik, np.exp(log_alive - log_lik)


def test_posterior_weights_and_alive_match_brute_force():
    hist, (cust, t, rate, eur) = _history()
    idx = np.arange(hist.signup.shape[0])
    rows = _rows(hist, idx)
    log_w = np.empty(rows.cust.shape[0])
    alive = np.empty(rows.cust.shape[0])
    for i in range(rows.cust.shape[0]):
        j = rows.cust[i]
        mine = cust == j
        log_w[i], alive[i] = _brute_row(
            rows.persona[i],
            rows.c[i],
            rows.s0[i],
            rows.pending[i],
            t[mine & rate],
            _log_amounts(rows.persona[i], t[mine], eur[mine]),
            hist.treated[j],
            hist.signup[j],
            hist.first[j],
        )
    frame = pd.DataFrame({"cust": rows.cust, "log_w": log_w})
    norm = frame.groupby("cust")["log_w"].transform(lambda v: logsumexp(v.to_numpy()))
    weight = np.exp(log_w - norm.to_numpy())
    np.testing.assert_allclose(rows.weight, weight, atol=2e-3)
    heavy = weight > 1e-3
    np.testing.assert_allclose(rows.p_alive[heavy], alive[heavy], atol=3e-3)
    # the cases are not trivial: several personas and both alive states matter
    assert ((weight > 0.05) & (alive > 0.1) & (alive < 0.9)).sum() >= 5


# ---------------------------------------------------------------- reference
def _point_in_time(ids, signup, buy, cutoff):
    """Simple features from purchases strictly before ``cutoff`` (days)."""
    b = buy[np.floor(buy["day"]) < cutoff]
    age = cutoff - np.floor(b["day"])
    by = b.groupby("customer_id")
    f = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    f["frequency"] = by.size()
    f["monetary"] = by["amount"].sum()
    f["aov"] = by["amount"].mean()
    f["recency"] = cutoff - by["day"].max()
    f["tenure"] = cutoff - by["day"].min()
    counts = ["frequency", "monetary"]
    for w in (30, 90, 180, 365):
        f[f"orders_{w}d"] = b[age <= w].groupby("customer_id").size()
        counts.append(f"orders_{w}d")
    f["revenue_90d"] = b[age <= 90].groupby("customer_id")["amount"].sum()
    prev = b[(age > 90) & (age <= 180)]
    f["revenue_prev_90d"] = prev.groupby("customer_id")["amount"].sum()
    f = f.fillna({c: 0.0 for c in [*counts, "revenue_90d", "revenue_prev_90d"]})
    f["spend_trend"] = f["revenue_90d"] - f["revenue_prev_90d"]
    f["mean_gap"] = f["tenure"] / (f["frequency"] - 1).where(f["frequency"] > 1)
    f["recency_over_gap"] = f["recency"] / f["mean_gap"]
    f["days_since_signup"] = cutoff - signup
    return f


def _fit_score(x: pd.DataFrame, y: np.ndarray, x_score: pd.DataFrame) -> np.ndarray:
    model = xgb.XGBClassifier(
        n_estimators=300,
        learning_rate=0.05,
        max_depth=4,
        min_child_weight=10,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=5.0,
        nthread=1,
        random_state=0,
    )
    model.fit(x, y)
    return model.predict_proba(x_score)[:, 1]


@pytest.fixture(scope="module")
def reference():
    """Reference-model and oracle AUCs on the realized outcomes after T."""
    result = generate(SynthConfig(customers=20_000, seed=5, bad_row_rate=0.0))
    as_of = pd.Timestamp(result.config.as_of, tz="UTC")
    day = pd.Timedelta(days=1)
    truth = result.truth["customers"].to_pandas().set_index("customer_id")
    customers = result.tables["customers"].to_pandas()
    test_account = truth.loc[customers["customer_id"], "is_test_account"]
    customers = customers[~test_account.to_numpy()]
    ids = customers["customer_id"].to_numpy()
    signup = (
        (pd.to_datetime(customers["signed_up_at"], utc=True) - as_of) / day
    ).to_numpy()
    o = result.tables["orders"].to_pandas()
    o["day"] = (
        pd.to_datetime(o["ordered_at"], format="ISO8601", utc=True) - as_of
    ) / day
    o["amount"] = pd.to_numeric(o["amount"])
    buy = o[(o["status"] == "completed") & (o["amount"] > 0)]
    buy = buy[buy["customer_id"].isin(set(ids))]

    def bought(lo, hi):
        win = buy[(np.floor(buy["day"]) >= lo) & (np.floor(buy["day"]) < hi)]
        return np.isin(ids, win["customer_id"].unique())

    now = _point_in_time(ids, signup, buy, 0)
    t = truth.loc[ids]
    has_history = (now["frequency"] > 0).to_numpy()
    out = {}
    # churn: no purchase within 90 days, among customers who bought before
    f = _point_in_time(ids, signup, buy, -180)
    pop = (f["frequency"] > 0).to_numpy()
    score = _fit_score(f[pop], ~bought(-180, -90)[pop], now)
    y = t["churned_in_window"].to_numpy()[has_history]
    out["churn"] = (
        roc_auc_score(y, score[has_history]),
        roc_auc_score(y, t["true_churn_probability"].to_numpy()[has_history]),
    )
    # purchase: at least one purchase within 30 days, every known customer
    f = _point_in_time(ids, signup, buy, -60)
    pop = signup < -60
    score = _fit_score(f[pop], bought(-60, -30)[pop], now)
    for name, sel in (("purchase", has_history), ("purchase_all", signup < 0)):
        y = t["purchased_in_window"].to_numpy()[sel]
        out[name] = (
            roc_auc_score(y, score[sel]),
            roc_auc_score(y, t["true_purchase_probability"].to_numpy()[sel]),
        )
    return out


def test_oracle_auc_is_in_the_target_band(reference):
    for name in ("churn", "purchase"):
        _, oracle = reference[name]
        assert 0.75 <= oracle <= 0.92, name


@pytest.mark.parametrize("name", ["churn", "purchase", "purchase_all"])
def test_reference_model_comes_within_003_of_the_oracle(reference, name):
    model, oracle = reference[name]
    assert model >= oracle - AUC_GAP
    assert model <= oracle + 0.01  # nothing beats the best possible model
