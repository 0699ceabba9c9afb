"""The gate's pure logic: proposal validation, portfolio metrics, freshness, and SPEC's policy table."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from actors.gate import parse_request
from actors.policy import (ACTIONS, COLD, COLD_KS_HARD, COOLDOWN, FAIL_CLOSED_REASONS, FAIL_CLOSED_STATE, FULL, HOLD,
                           NOT_ALLOWED, P25, P50, P75, PASS, RISKOFF, BadRequest, Position, PortfolioState, Proposal,
                           batch_gate_metrics, batch_portfolio, cluster_k, decide, evaluate, evaluate_batch,
                           parse_snapshot, policy_transitions, portfolio_metrics, stress_of, validate_proposal)
from launcher.topology import GateSettings

S = GateSettings()
NOW = 1_700_000_000.0


def policy(action, *, stress=0.5, kill_score=0.0, cooldown=False, allowed=True, state_ok=True):
    return decide(action, allowed=allowed, state_ok=state_ok, cooldown=cooldown, stress=stress,
                  kill_score=kill_score, settings=S)


# --------------------------------------------------------------------------- stress and metrics


def test_production_example_heat_1_concentration_1_k_0748_gives_stress_0962():
    assert stress_of(1.0, 1.0, 0.748, S) == pytest.approx(0.9622)
    assert round(stress_of(1.0, 1.0, 0.748, S), 3) == 0.962


def test_stress_is_clipped_to_one():
    assert stress_of(1.0, 1.0, 5.0, S) == 1.0


def test_two_longs_give_full_concentration_and_proxy_one_with_constant_sigma_heat_one():
    m = portfolio_metrics([Position("BTCUSDT", 32000.0), Position("ETHUSDT", 27200.0)], None, S)
    assert (m.heat, m.concentration, m.corr_proxy, m.k, m.k_source) == (1.0, 1.0, 1.0, 1.0, "proxy")
    assert m.stress == pytest.approx(1.0)
    assert m.total_abs_notional == pytest.approx(59200.0)


def test_a_hedged_book_has_concentration_net_over_gross_and_proxy_the_weight_on_the_net_side():
    m = portfolio_metrics([Position("BTCUSDT", 600.0), Position("ETHUSDT", 200.0), Position("SOLUSDT", -200.0)], None, S)
    assert m.concentration == pytest.approx(600 / 1000)
    assert m.corr_proxy == pytest.approx(800 / 1000)
    assert m.k == m.corr_proxy


def test_a_net_short_book_has_concentration_net_over_gross_and_proxy_the_weight_of_the_shorts():
    m = portfolio_metrics([Position("BTCUSDT", -600.0), Position("ETHUSDT", -200.0), Position("SOLUSDT", 200.0)], None, S)
    assert m.concentration == pytest.approx(600 / 1000)
    assert m.corr_proxy == pytest.approx(800 / 1000)
    assert m.k == m.corr_proxy


def test_a_net_flat_book_has_proxy_zero():
    m = portfolio_metrics([Position("BTCUSDT", 500.0), Position("ETHUSDT", -500.0)], None, S)
    assert m.concentration == 0.0 and m.corr_proxy == 0.0


def test_fresh_cluster_stress_replaces_the_proxy_as_k():
    m = portfolio_metrics([Position("BTCUSDT", 100.0), Position("ETHUSDT", 100.0)], 0.748, S)
    assert (m.k, m.k_source) == (0.748, "cluster")
    assert m.stress == pytest.approx(0.9622)


def test_total_notional_zero_gives_every_metric_zero():
    m = portfolio_metrics([Position("BTCUSDT", 0.0)], 0.9, S)
    assert (m.heat, m.concentration, m.corr_proxy, m.k, m.stress, m.total_abs_notional) == (0, 0, 0, 0, 0, 0)


def test_realized_sigma_lowers_heat_and_a_symbol_without_it_falls_back_to_the_constant_visibly():
    positions = [Position("BTCUSDT", 500.0), Position("ETHUSDT", 500.0)]
    m = portfolio_metrics(positions, None, S, sigmas={"BTCUSDT": 0.1, "ETHUSDT": 0.1})
    assert m.heat == pytest.approx((0.1 - 0.05) / 0.30)
    assert m.sigma_fallback_symbols == ()
    m = portfolio_metrics(positions, None, S, sigmas={"BTCUSDT": 0.1})
    assert m.heat == pytest.approx(1.0)  # 0.5 x 0.1 + 0.5 x 1.0 = 0.55 -> clipped
    assert m.sigma_fallback_symbols == ("ETHUSDT",)


def test_notional_usd_wins_over_amount_times_price_and_the_side_comes_from_the_amount():
    position, age = parse_snapshot("SOLUSDT", ["-40", "150", str(NOW - 10), "-7000"], NOW, 300)
    assert position == Position("SOLUSDT", -7000.0) and age == 10
    position, _ = parse_snapshot("SOLUSDT", ["-40", "150", str(NOW), None], NOW, 300)
    assert position == Position("SOLUSDT", -6000.0)


def test_a_snapshot_older_than_300_s_is_stale_and_one_at_300_s_is_fresh():
    assert parse_snapshot("BTCUSDT", ["1", "100", str(NOW - 300), None], NOW, 300)[0] is not None
    position, age = parse_snapshot("BTCUSDT", ["1", "100", str(NOW - 301), None], NOW, 300)
    assert position is None and age == 301


def test_a_snapshot_with_garbage_fields_is_not_used():
    assert parse_snapshot("BTCUSDT", ["abc", "100", str(NOW), None], NOW, 300)[0] is None
    assert parse_snapshot("BTCUSDT", ["1", "100", None, None], NOW, 300) == (None, None)


# --------------------------------------------------------------------------- freshness and fallback


def test_gate_uses_cluster_stress_when_cluster_state_is_fresh():
    assert cluster_k(NOW - 30, "0.788", NOW, 120) == 0.788


def test_gate_falls_back_to_proxy_when_cluster_state_is_missing():
    assert cluster_k(None, None, NOW, 120) is None


def test_gate_falls_back_to_proxy_when_cluster_state_is_121_s_old_with_60_s_cadence():
    freshness_s = 2 * 60
    assert cluster_k(NOW - 121, "0.788", NOW, freshness_s) is None
    assert cluster_k(NOW - 120, "0.788", NOW, freshness_s) == 0.788


def test_gate_falls_back_to_proxy_when_cluster_state_is_dated_in_the_future():
    assert cluster_k(NOW + 1, "0.788", NOW, 120) is None


def test_gate_returns_to_cluster_stress_when_cluster_state_is_fresh_again():
    positions = [Position("BTCUSDT", 100.0), Position("ETHUSDT", 100.0)]
    stale = portfolio_metrics(positions, cluster_k(NOW - 500, "0.5", NOW, 120), S)
    fresh = portfolio_metrics(positions, cluster_k(NOW - 1, "0.5", NOW, 120), S)
    assert (stale.k_source, stale.k) == ("proxy", 1.0)
    assert (fresh.k_source, fresh.k) == ("cluster", 0.5)


def test_a_decision_records_k_and_where_it_came_from():
    state = PortfolioState([Position("BTCUSDT", 100.0)], {"BTCUSDT": 1.0}, None, None, False)
    decision, _ = evaluate(Proposal("p", "BTCUSDT", P50), state, allowed=True, settings=S, now=NOW)
    assert decision["k_source"] == "proxy" and decision["K"] == 1.0
    assert decision["sigma_source"] == "constant"


def test_overflowing_notionals_fail_closed_with_a_decision_that_still_encodes():
    # Two notionals of 1e308 sum to inf: weights and stress become NaN, which no policy step may pass.
    state = PortfolioState([Position("BTCUSDT", 1e308), Position("ETHUSDT", 1e308)], {}, None, None, False)
    metrics = portfolio_metrics(state.positions, None, S)
    assert metrics.total_abs_notional == float("inf")
    decision, _ = evaluate(Proposal("p", "BTCUSDT", FULL), state, allowed=True, settings=S, now=NOW)
    assert (decision["final_action"], decision["gate_reason"]) == (HOLD, FAIL_CLOSED_STATE)
    assert decision["stress"] is None
    json.dumps(decision, allow_nan=False)  # the issuer request that carries it can be encoded


def test_a_stress_that_is_not_a_number_fails_closed():
    assert policy(FULL, stress=float("nan")) == (HOLD, FAIL_CLOSED_STATE)
    assert policy(P50, stress=float("inf")) == (HOLD, FAIL_CLOSED_STATE)


# --------------------------------------------------------------------------- batches

BOOK_STATE = PortfolioState([Position("BTCUSDT", 100.0), Position("ETHUSDT", -100.0)], {}, 0.3, None, False,
                            cooldowns={"BTCUSDT": False, "ETHUSDT": False})
ALLOWED = frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT"})


def batch(*proposals, state=BOOK_STATE):
    items, _ = evaluate_batch(list(proposals), state, allowed=ALLOWED, settings=S, now=NOW)
    return [(it.decision["final_action"], it.decision["gate_reason"], it.cooldown_seen, it.cooldown_from_batch)
            for it in items]


def test_the_second_proposal_for_a_symbol_in_one_batch_sees_the_cooldown_the_first_sets():
    assert batch(Proposal("a", "BTCUSDT", P50), Proposal("b", "BTCUSDT", P50)) == [
        (P50, PASS, False, False), (P25, COOLDOWN, True, True)]


def test_a_batch_decides_as_one_at_a_time_would_for_other_symbols_and_holds():
    assert batch(Proposal("a", "BTCUSDT", HOLD), Proposal("b", "BTCUSDT", P50), Proposal("c", "ETHUSDT", P25),
                 Proposal("d", "DOGEUSDT", P50), Proposal("e", "ETHUSDT", HOLD)) == [
        (HOLD, PASS, False, False), (P50, PASS, False, False), (P25, PASS, False, False),
        (HOLD, NOT_ALLOWED, False, False), (HOLD, PASS, True, False)]


def test_a_cooldown_read_from_redis_is_not_marked_as_set_by_the_batch():
    state = PortfolioState(BOOK_STATE.positions, {}, 0.3, None, False, cooldowns={"BTCUSDT": True})
    assert batch(Proposal("a", "BTCUSDT", P50), Proposal("b", "BTCUSDT", P75), state=state) == [
        (P25, COOLDOWN, True, False), (P50, COOLDOWN, True, False)]


def test_a_batch_without_fresh_state_fails_closed_for_every_proposal():
    state = PortfolioState([], {}, None, None, False, cooldowns={"BTCUSDT": False})
    assert batch(Proposal("a", "BTCUSDT", P50), Proposal("b", "BTCUSDT", P50), state=state) == [
        (HOLD, FAIL_CLOSED_STATE, False, False)] * 2


# --------------------------------------------------------------------------- policy, step by step


def test_step_1_a_symbol_outside_the_allowlist_is_hold_not_allowed():
    assert policy(FULL, allowed=False, state_ok=False) == (HOLD, NOT_ALLOWED)


def test_step_2_missing_or_stale_portfolio_state_fails_closed():
    assert policy(P50, state_ok=False) == (HOLD, FAIL_CLOSED_STATE)


def test_step_3_an_untouched_proposal_passes():
    assert policy(P50, stress=0.7) == (P50, PASS)
    assert policy(HOLD, stress=0.9) == (HOLD, PASS)


@pytest.mark.parametrize("proposed, expected", [(FULL, P75), (P75, P50), (P50, P25), (P25, HOLD)])
def test_step_4_a_cooldown_steps_the_action_down_once(proposed, expected):
    assert policy(proposed, stress=0.7, cooldown=True) == (expected, COOLDOWN)


def test_step_4_cooldown_leaves_hold_as_a_pass():
    assert policy(HOLD, cooldown=True) == (HOLD, PASS)


def test_step_5_a_cold_full_close_becomes_partial_50():
    assert policy(FULL, stress=0.2, kill_score=0.5) == (P50, COLD)


def test_step_5_a_cold_full_close_with_kill_score_at_085_becomes_partial_75():
    assert policy(FULL, stress=0.2, kill_score=0.85) == (P75, COLD_KS_HARD)


def test_step_5_kill_score_just_below_085_is_not_hard():
    assert policy(FULL, stress=0.2, kill_score=0.8499999) == (P50, COLD)


def test_step_5_stress_just_below_055_is_cold_and_at_055_is_not():
    assert policy(FULL, stress=0.5499999) == (P50, COLD)
    assert policy(FULL, stress=0.55) == (FULL, PASS)


@pytest.mark.parametrize("heat, concentration, k, threshold", [
    (1.0, 0.5, 0.5, 0.80), (1.0, 0.32, 0.8, 0.80), (0.5, 0.7, 0.5, 0.55), (0.75, 0.4, 0.0, 0.55)])
def test_a_stress_whose_terms_add_up_to_a_threshold_is_at_the_threshold(heat, concentration, k, threshold):
    """0.6 x heat + 0.25 x concentration + 0.15 x K adds up to 0.80 or 0.55 exactly, and float arithmetic gave
    1e-16 less: the policy took it as below the threshold while the decision recorded it (6 decimals) at it."""
    stress = stress_of(heat, concentration, k, S)
    assert stress == threshold and round(stress, 6) == stress


@pytest.mark.parametrize("proposed", [P25, P50])
def test_step_6_stress_at_080_accelerates_partial_25_and_50_to_75(proposed):
    assert policy(proposed, stress=0.80) == (P75, RISKOFF)


@pytest.mark.parametrize("proposed", [P25, P50])
def test_step_6_stress_just_below_080_does_not_accelerate(proposed):
    assert policy(proposed, stress=0.7999999) == (proposed, PASS)


@pytest.mark.parametrize("proposed", [HOLD, P75, FULL])
def test_step_6_riskoff_leaves_other_actions_alone(proposed):
    assert policy(proposed, stress=0.95) == (proposed, PASS)


def test_steps_apply_in_order_so_a_cooled_down_full_close_is_not_also_forbidden_as_cold():
    assert policy(FULL, stress=0.2, cooldown=True) == (P75, COOLDOWN)


def test_steps_apply_in_order_so_riskoff_acts_on_the_cooled_down_action():
    # SPEC order: cooldown takes PARTIAL_50 to PARTIAL_25, then stress >= 0.80 accelerates it.
    assert policy(P50, stress=0.9, cooldown=True) == (P75, RISKOFF)


def test_steps_apply_in_order_so_a_cooled_down_partial_25_is_hold_even_at_riskoff_stress():
    # SPEC order: the cooldown takes PARTIAL_25 to HOLD first, and step 6 accelerates PARTIAL_25/50 only. (The
    # PARTIAL_50 case above gives PARTIAL_75 whichever of steps 4 and 6 comes first, so it cannot show the order.)
    assert policy(P25, stress=0.9, cooldown=True) == (HOLD, COOLDOWN)


def test_thresholds_come_from_the_settings():
    strict = GateSettings(cold_stress=0.9, riskoff_stress=0.99, kill_score_hard=0.5)
    assert decide(FULL, allowed=True, state_ok=True, cooldown=False, stress=0.85, kill_score=0.6,
                  settings=strict) == (P75, COLD_KS_HARD)


# --------------------------------------------------------------------------- request validation


def good(**overrides):
    body = {"plan_id": "abc", "symbol": "ETHUSDT", "action_proposed": "PARTIAL_50"}
    body.update(overrides)
    return body


def test_a_minimal_proposal_defaults_kill_score_to_zero():
    assert validate_proposal(good()) == Proposal("abc", "ETHUSDT", P50, 0.0, None, None)


@pytest.mark.parametrize("body, words", [
    (good(plan_id=None), "plan_id"),
    (good(plan_id=""), "plan_id"),
    (good(plan_id=7), "plan_id"),
    ({"symbol": "ETHUSDT", "action_proposed": "HOLD"}, "plan_id"),
    (good(symbol=None), "symbol"),
    (good(action_proposed="SELL_ALL"), "action_proposed"),
    (good(kill_score=1.01), "kill_score"),
    (good(kill_score=-0.1), "kill_score"),
    (good(kill_score="0.5"), "kill_score"),
    (good(kill_score=True), "kill_score"),
    (good(r_net="x"), "r_net"),
    (good(ts_epoch=[1]), "ts_epoch"),
    (good(deadline_ms=0), "deadline_ms must be a positive number"),  # not a deadline that has always passed
    (good(deadline_ms=-5.0), "deadline_ms must be a positive number"),
    (good(colour="red"), "unknown fields: colour"),
])
def test_an_invalid_proposal_is_refused_naming_the_field(body, words):
    with pytest.raises(BadRequest, match=words) as info:
        validate_proposal(body)
    assert info.value.reason == "invalid_proposal"


# docs/proposal-api.md's limits, spelled out here (not the product's constants, which a bug could move).
PLAN_ID_MAX_CHARS, SYMBOL_MAX_CHARS = 128, 32


def test_a_plan_id_and_a_symbol_at_their_limits_are_valid():
    proposal = validate_proposal(good(plan_id="p" * PLAN_ID_MAX_CHARS, symbol="S" * SYMBOL_MAX_CHARS))
    assert (len(proposal.plan_id), len(proposal.symbol)) == (PLAN_ID_MAX_CHARS, SYMBOL_MAX_CHARS)


@pytest.mark.parametrize("body, words", [
    (good(plan_id="p" * (PLAN_ID_MAX_CHARS + 1)), "plan_id must be at most 128 characters, got 129"),
    (good(plan_id="p" * 200), "plan_id must be at most 128 characters, got 200"),
    (good(symbol="S" * (SYMBOL_MAX_CHARS + 1)), "symbol must be at most 32 characters, got 33"),
    (good(symbol="S" * 40), "symbol must be at most 32 characters, got 40"),
    *((good(plan_id=f"plan{c}1"), f"plan_id must be printable: character U\\+{ord(c):04X} at index 4 is not")
      for c in ("\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\u2028")),
    (good(symbol="ETH\nUSDT"), "symbol must be printable: character U\\+000A at index 3 is not"),
])
def test_a_plan_id_or_symbol_past_its_limit_or_with_a_control_character_is_refused(body, words):
    with pytest.raises(BadRequest, match=words) as info:
        validate_proposal(body)
    assert info.value.reason == "invalid_proposal"
    if "plan_id" in words:
        assert info.value.plan_id is None  # an unusable plan_id is never echoed back


@pytest.mark.parametrize("frames, reason", [
    ([b"{}", b"{}"], "multipart"),
    ([b"x" * 70_000], "too_large"),
    ([b"\xff\xfe\x00"], "not_utf8"),
    ([b"{not json"], "not_json"),
    ([b"[1, 2]"], "not_an_object"),
    ([b"null"], "not_an_object"),
])
def test_a_malformed_request_is_refused_with_a_stable_reason(frames, reason):
    with pytest.raises(BadRequest) as info:
        parse_request(frames, 65536)
    assert info.value.reason == reason


@pytest.mark.parametrize("frame, says", [
    (b"[" * 5000 + b"]" * 5000, "nests deeper than"),
    (b'{"plan_id": "p", "kill_score": ' + b"7" * 5000 + b"}", "more than 4,300 digits"),
])
def test_json_too_deep_or_an_integer_too_long_is_refused_saying_so_not_as_text_that_is_not_json(frame, says):
    """Both are JSON that this gate does not read: the detail says which limit, not "request is not JSON: maximum
    recursion depth exceeded" or "Exceeds the limit (4300 digits)", which read as a malformed client (review note)."""
    with pytest.raises(BadRequest) as info:
        parse_request([frame], 65536)
    assert info.value.reason == "not_json"
    assert says in info.value.detail and "is not JSON" not in info.value.detail, info.value.detail


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=6),
                              max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_any_request_either_parses_to_a_valid_proposal_or_is_refused_with_badrequest(frame):
    try:
        proposal = parse_request([frame], 65536)
    except BadRequest as exc:
        assert exc.reason and exc.detail
    else:
        assert proposal.action_proposed in (HOLD, P25, P50, P75, FULL)
        assert 0.0 <= proposal.kill_score <= 1.0 and proposal.plan_id


TEXTS = st.text(max_size=8) | st.text(min_size=50, max_size=80)  # short, or about as long as the quote
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(min_value=-10 ** 400, max_value=10 ** 400) | TEXTS,
    lambda inner: st.lists(inner, max_size=40) | st.dictionaries(TEXTS, inner, max_size=8),
    max_leaves=30)


@hsettings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_an_error_quotes_a_value_as_the_first_60_characters_of_its_json(value):
    from actors.policy import _shown
    assert _shown(value) == json.dumps(value)[:60]


@pytest.mark.parametrize("value", [
    "é\u2028\"\\\n\x00" * 20, "😀" * 40, "x" * 59, "x" * 60, "x" * 61, 10 ** 400, -0.0, 1e300, float("nan"),
    float("-inf"), [], {}, [[]], [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    {"a" * 100: 1}, {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {}}}}}}}}}}}, (1, [2, (3,)]),
    {1: 2, None: 3, True: 4, 1.5: 5, float("nan"): 6},
])
def test_an_error_quotes_odd_values_as_json_dumps_would(value):
    from actors.policy import _shown
    assert _shown(value) == json.dumps(value)[:60]


class CountedArray(list):
    """A list that counts the elements read from it."""

    read = 0

    def __iter__(self):
        for item in list.__iter__(self):
            CountedArray.read += 1
            yield item


class CountedObject(dict):
    """A dict that counts the members read from it."""

    read = 0

    def items(self):
        for pair in dict.items(self):
            CountedObject.read += 1
            yield pair


def test_quoting_a_huge_value_in_an_error_reads_and_writes_only_as_far_as_its_first_60_characters():
    """A 64 KB request holding a 31,000-element array where an action belongs: the error detail quoted its
    first 60 characters by writing the whole array's JSON (93 KB) first: about 3 of the 5 ms the gate spent on it.
    Work is counted (elements read, bytes allocated), not timed."""
    import tracemalloc
    from actors.policy import _shown
    plain = ([0] * 31_000, {f"k{i}": [i] for i in range(31_000)},
             "x" * 64_000, "é" * 31_000)  # the last is 186 KB of JSON (each é is written \u00e9)
    counted = (CountedArray(plain[0]), CountedObject(plain[1]), *plain[2:])
    CountedArray.read = CountedObject.read = 0
    quoted, peaks = [], []
    tracemalloc.start()
    try:
        for value in counted:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            quoted.append(_shown(value))
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    assert quoted == [json.dumps(value)[:60] for value in plain]
    assert CountedArray.read <= 60 and CountedObject.read <= 60, (CountedArray.read, CountedObject.read)
    assert max(peaks) < 16_000, f"bytes allocated to quote 60 characters of each: {peaks}"


# --------------------------------------------------------------------------- the state cache

from actors.gate import StateCache, cooldown_deadlines, freshness_boundaries, parse_state  # noqa: E402
from actors.policy import BatchItem, cooldown_mattered  # noqa: E402

CACHE_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
STALE_AFTER_S, FRESHNESS_S = 300.0, 120.0


def cache_replies(snapshot_ts, cluster_ts, pttls=(-2, -2)):
    """Replies of one refresh read: two snapshots, the cluster state, then one PTTL per symbol."""
    return [["0.5", "64000", str(snapshot_ts), None], ["-8", "3400", str(snapshot_ts), None],
            [None if cluster_ts is None else str(cluster_ts), "0.748"], *pttls]


def make_cache(replies, read_at=NOW):
    return StateCache(replies, CACHE_SYMBOLS, read_at=read_at, stale_after_s=STALE_AFTER_S, freshness_s=FRESHNESS_S,
                      realized=False, settings=S, cooldown_symbols=CACHE_SYMBOLS)


def test_the_cache_judges_snapshot_freshness_at_decision_time_not_at_read_time():
    cache = make_cache(cache_replies(NOW - 290, NOW))
    fresh, _ = cache.state_at(NOW)
    assert len(fresh.positions) == 2
    still, _ = cache.state_at(NOW + 10)  # age exactly 300 s: still fresh
    assert len(still.positions) == 2
    stale, _ = cache.state_at(NOW + 10.5)  # 300.5 s old: a read now would fail closed, so does the cache
    assert stale.positions == []


def test_the_cache_judges_cluster_freshness_at_decision_time():
    cache = make_cache(cache_replies(NOW, NOW - 119))
    _, m = cache.state_at(NOW)
    assert (m.k_source, m.k) == ("cluster", 0.748)
    _, m = cache.state_at(NOW + 1)  # 120 s: fresh
    assert m.k_source == "cluster"
    _, m = cache.state_at(NOW + 2)  # 121 s: the proxy
    assert m.k_source == "proxy"


def test_cluster_state_from_the_future_becomes_usable_once_its_time_comes():
    cache = make_cache(cache_replies(NOW, NOW + 3))
    assert cache.state_at(NOW)[1].k_source == "proxy"
    assert cache.state_at(NOW + 3)[1].k_source == "cluster"


def test_the_cache_gives_what_a_read_at_the_same_time_would_at_every_time():
    replies = cache_replies(NOW - 295, NOW - 115)
    cache = make_cache(replies)
    for dt in [x / 4 for x in range(0, 60)] + [4.999, 5.0, 5.001, 10.0, 10.0005, 10.002]:
        state, metrics = cache.state_at(NOW + dt)
        direct = parse_state(replies[:3], CACHE_SYMBOLS, NOW + dt, STALE_AFTER_S, FRESHNESS_S, False)
        assert (state.positions, state.cluster_stress) == (direct.positions, direct.cluster_stress), dt
        assert metrics == portfolio_metrics(direct.positions, direct.cluster_stress, S)


def test_the_cache_re_parses_when_time_goes_back():
    cache = make_cache(cache_replies(NOW - 299, NOW))
    assert cache.state_at(NOW + 5)[0].positions == []
    assert len(cache.state_at(NOW)[0].positions) == 2


def test_the_lone_paths_cache_re_parses_when_time_goes_back():
    """state_of (the lone proposal's path) keeps its own answers: a host clock stepped back after a parse gives
    what a read at the stepped time gives, in both directions (snapshots fresh again, cluster state future)."""
    cache = make_cache(cache_replies(NOW - 299, NOW))
    assert cache.state_of("ETHUSDT", NOW + 5)[0].positions == []
    assert len(cache.state_of("ETHUSDT", NOW)[0].positions) == 2
    cache = make_cache(cache_replies(NOW, NOW + 3))
    assert cache.state_of("ETHUSDT", NOW + 3)[1].k_source == "cluster"
    assert cache.state_of("ETHUSDT", NOW)[1].k_source == "proxy"  # from the future again: stale


def test_freshness_boundaries_are_the_snapshot_and_cluster_limits():
    replies = cache_replies(NOW, NOW - 10)[:3]
    assert sorted(freshness_boundaries(replies, CACHE_SYMBOLS, 300.0, 120.0)) == [
        NOW - 10, NOW - 5, NOW - 5, NOW + 110, NOW + 300, NOW + 300]


def test_cluster_state_written_late_in_its_second_is_judged_by_updated_ts_ms_not_the_whole_second():
    """updated_ts is whole seconds (SPEC), so a state written at x.9 s looked 0.9 s older than it was: at a
    sub-second cadence, or across a standby's takeover, the gate fell back to the proxy on a fresh state. The
    state writer's updated_ts_ms refines it; the cache's boundaries use the same value as the parse."""
    from actors.gate import state_commands
    assert state_commands(CACHE_SYMBOLS, "quantum:position:snapshot:{symbol}", False)[2] == (
        "HMGET", "quantum:portfolio:cluster_state", "updated_ts", "cluster_stress", "updated_ts_ms")
    second = 1_700_000_000
    now = second + 120.5  # whole seconds: 120.5 s old, stale; to the ms: 119.6 s, fresh

    def replies(*cluster):
        return [["0.5", "64000", str(now), None], ["-8", "3400", str(now), None], list(cluster)]

    written_late = replies(str(second), "0.748", str(second * 1000 + 900))
    assert parse_state(written_late, CACHE_SYMBOLS, now, STALE_AFTER_S, FRESHNESS_S, False).cluster_stress == 0.748
    assert second + 120.9 in freshness_boundaries(written_late, CACHE_SYMBOLS, STALE_AFTER_S, FRESHNESS_S)
    cache = make_cache(written_late, read_at=second + 1)
    assert cache.state_at(second + 1)[1].k_source == "cluster"
    assert cache.state_at(now)[1].k_source == "cluster"  # the cache re-parsed at the ms boundary, not at 120 s
    assert cache.state_at(second + 120.95)[1].k_source == "proxy"
    # Written by an older writer (no updated_ts_ms), or one left behind by it (HSET keeps the other fields:
    # not within updated_ts's second), or garbage: updated_ts, whole seconds, as SPEC says.
    for cluster in ([str(second), "0.748"], [str(second), "0.748", None], [str(second), "0.748", "garbage"], [str(second), "0.748", "4" * 400],
                    [str(second), "0.748", str((second - 5) * 1000)], [str(second), "0.748", str((second + 3) * 1000)],
                    [None, "0.748", str(second * 1000 + 900)]):
        stale = replies(*cluster)
        assert parse_state(stale, CACHE_SYMBOLS, now, STALE_AFTER_S, FRESHNESS_S, False).cluster_stress is None, cluster
        assert second + 120.9 not in freshness_boundaries(stale, CACHE_SYMBOLS, STALE_AFTER_S, FRESHNESS_S)
    # From the future only before its whole second, as before: a writer's clock ahead by under the fraction
    # it stamped is not a fault that makes the gate fall back.
    assert cluster_k(str(second), "0.748", second + 0.5, FRESHNESS_S, str(second * 1000 + 900)) == 0.748
    assert cluster_k(str(second), "0.748", second - 0.1, FRESHNESS_S, str(second * 1000 + 900)) is None


def test_cooldowns_come_from_pttl_and_expire_at_their_time():
    assert cooldown_deadlines([-2, -1, 1500], ["A", "B", "C"], NOW) == {"B": float("inf"), "C": NOW + 1.5}
    cache = make_cache(cache_replies(NOW, NOW, pttls=(2000, -2)))
    state, _ = cache.state_at(NOW + 1.0, ["BTCUSDT", "ETHUSDT"])
    assert state.cooldowns == {"BTCUSDT": True, "ETHUSDT": False}
    state, _ = cache.state_at(NOW + 2.0, ["BTCUSDT"])
    assert state.cooldowns == {"BTCUSDT": False} and state.cooldown is False


def test_a_cooldown_the_gate_set_applies_until_its_ttl_runs_out():
    cache = make_cache(cache_replies(NOW, NOW))
    cache.set_cooldown("ETHUSDT", NOW + 60)
    assert cache.state_at(NOW + 59.9, ["ETHUSDT"])[0].cooldown is True
    assert cache.state_at(NOW + 60, ["ETHUSDT"])[0].cooldown is False


def test_a_batch_decided_from_the_cache_sees_its_cooldowns():
    cache = make_cache(cache_replies(NOW, NOW, pttls=(5000, -2)))
    state, metrics = cache.state_at(NOW, ["BTCUSDT", "ETHUSDT"])
    items, _ = evaluate_batch([Proposal("a", "BTCUSDT", P50), Proposal("b", "ETHUSDT", P50)], state,
                              allowed=ALLOWED, settings=S, now=NOW, metrics=metrics)
    assert [it.decision["final_action"] for it in items] == [P25, P50]


def test_the_issuer_is_asked_to_check_a_cooldown_only_when_the_decision_depended_on_it():
    def item(action, reason, seen=True):
        return BatchItem({"action_proposed": action, "gate_reason": reason}, seen, False)
    assert cooldown_mattered(item(P50, COOLDOWN))
    assert cooldown_mattered(item(P25, COOLDOWN))  # P25 -> HOLD: the cooldown made it a HOLD
    assert not cooldown_mattered(item(HOLD, PASS))
    assert not cooldown_mattered(item(P50, NOT_ALLOWED))
    assert not cooldown_mattered(item(P50, FAIL_CLOSED_STATE))
    assert not cooldown_mattered(item(P50, PASS, seen=False))


def test_a_lone_symbols_kept_state_follows_its_cooldown_and_the_caches_parse():
    """state_of (the lone proposal's path) keeps one state per symbol; it must be made again when the symbol's
    cooldown changes (the gate's own permit, an expiry) or the cache re-parses (a snapshot went stale), and
    always equal what state_at gives at that time."""
    cache = make_cache(cache_replies(NOW - 290, NOW, pttls=(-2, 5000)))

    def same(symbol, t):
        state, metrics = cache.state_of(symbol, t)
        assert (state, metrics) == cache.state_at(t, [] if symbol is None else [symbol]), (symbol, t)
        return state

    first = same("BTCUSDT", NOW + 0.25)
    assert first.cooldown is False and len(first.positions) == 2
    assert cache.state_of("BTCUSDT", NOW + 0.5)[0] is first  # kept: nothing it depends on changed
    cache.set_cooldown("BTCUSDT", NOW + 60)  # the gate's own permit
    assert same("BTCUSDT", NOW + 1).cooldown is True
    assert same("ETHUSDT", NOW + 1).cooldown is True  # Redis's PTTL: 5 s
    assert same("ETHUSDT", NOW + 5).cooldown is False  # expired
    assert same("BTCUSDT", NOW + 60).cooldown is False
    assert same(None, NOW + 60).cooldown is False and same(None, NOW + 60).cooldowns == {}
    assert len(same("BTCUSDT", NOW + 10).positions) == 2
    assert same("BTCUSDT", NOW + 10.5).positions == []  # 300.5 s old: re-parsed, so fail closed
    assert same(None, NOW + 10.5).positions == []
    assert len(same("BTCUSDT", NOW).positions) == 2  # time went back: parsed again


@pytest.mark.parametrize("settings", [S, GateSettings(policy="monotone")], ids=["spec", "monotone"])
def test_a_cooldown_never_changes_a_decision_whose_cooldown_the_gate_does_not_look_up(settings):
    from actors.policy import ACTIONS, decision_depends_on_cooldown
    changed = 0
    for action in ACTIONS:
        for allowed in (True, False):
            for state_ok in (True, False):
                for stress in (0.0, 0.3, 0.549, 0.55, 0.7, 0.799, 0.8, 1.0, float("nan")):
                    for kill_score in (0.0, 0.5, 0.85, 1.0):
                        answers = {decide(action, allowed=allowed, state_ok=state_ok, cooldown=cooldown, stress=stress,
                                          kill_score=kill_score, settings=settings) for cooldown in (False, True)}
                        if not decision_depends_on_cooldown(action, allowed):
                            assert len(answers) == 1, (action, allowed, state_ok, stress, kill_score, answers)
                        changed += len(answers) > 1
    assert changed  # the cooldown does change others: the check above is not vacuous


# --------------------------------------------------------------------------- policy: spec | monotone (issue 16)

MONOTONE = GateSettings(policy="monotone")
ORDER = {a: i for i, a in enumerate((HOLD, P25, P50, P75, FULL))}


def monotone(action, *, stress=0.5, kill_score=0.0, cooldown=False):
    return decide(action, allowed=True, state_ok=True, cooldown=cooldown, stress=stress, kill_score=kill_score,
                  settings=MONOTONE)


def test_spec_policy_stays_the_default_and_a_cooldown_can_enlarge_a_cold_full_close_under_it():
    assert GateSettings().policy == "spec"
    assert policy(FULL, stress=0.2) == (P50, COLD)
    assert policy(FULL, stress=0.2, cooldown=True) == (P75, COOLDOWN)


def test_monotone_policy_never_lets_a_cooldown_enlarge_a_cold_full_close():
    assert monotone(FULL, stress=0.2) == (P50, COLD)
    assert monotone(FULL, stress=0.2, cooldown=True) == (P25, COOLDOWN)


def test_monotone_policy_keeps_riskoff_from_raising_a_cooled_down_partial_50_above_its_step_down():
    assert policy(P50, stress=0.9, cooldown=True) == (P75, RISKOFF)
    assert monotone(P50, stress=0.9) == (P75, RISKOFF)
    assert monotone(P50, stress=0.9, cooldown=True) == (P50, COOLDOWN)


@given(st.sampled_from([HOLD, P25, P50, P75, FULL]), st.floats(0, 1), st.floats(0, 1))
def test_under_monotone_a_cooldown_never_gives_a_larger_action_than_no_cooldown_nor_than_spec(action, stress, ks):
    with_cd = monotone(action, stress=stress, kill_score=ks, cooldown=True)[0]
    assert ORDER[with_cd] <= ORDER[monotone(action, stress=stress, kill_score=ks)[0]]
    assert ORDER[with_cd] <= ORDER[policy(action, stress=stress, kill_score=ks, cooldown=True)[0]]
    # Without a cooldown the two policies agree.
    assert monotone(action, stress=stress, kill_score=ks) == policy(action, stress=stress, kill_score=ks)


def docs_policy_table() -> list[list[str]]:
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "proposal-api.md").read_text()
    start, end = text.index("<!-- policy-table:start -->"), text.index("<!-- policy-table:end -->")
    rows = [line for line in text[start:end].splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # header and rule dropped


def cell(result) -> str:
    action, reason = result
    return f"{action} `{reason}`"


def test_the_docs_policy_table_lists_every_case_as_the_gate_decides_it():
    bands = {"< 0.55": 0.3, "0.55 to < 0.80": 0.7, ">= 0.80": 0.9}
    kills = {"< 0.85": 0.5, ">= 0.85": 0.9, "any": 0.5}
    rows = docs_policy_table()
    seen = set()
    for proposed, band, kill, plain, spec, mono in rows:
        stress, ks = bands[band], kills[kill]
        assert plain == cell(policy(proposed, stress=stress, kill_score=ks)), (proposed, band, kill)
        assert spec == cell(policy(proposed, stress=stress, kill_score=ks, cooldown=True)), (proposed, band, kill)
        assert mono == cell(monotone(proposed, stress=stress, kill_score=ks, cooldown=True)), (proposed, band, kill)
        seen.add((proposed, band, kill))
    # Every proposed action in every stress band; FULL_CLOSE split by kill_score where it matters (cold).
    expected = {(a, b, "any") for a in (HOLD, P25, P50, P75) for b in bands}
    expected |= {(FULL, "< 0.55", "< 0.85"), (FULL, "< 0.55", ">= 0.85"), (FULL, "0.55 to < 0.80", "any"),
                 (FULL, ">= 0.80", "any")}
    assert seen == expected


@pytest.mark.parametrize("value, expected", [("1795636342.5", 1795636342.5), (b"17", 17.0), (12, 12.0), ("nan", None),
                                             ("inf", None), (10 ** 400, None), (-(10 ** 400), None), ("x", None),
                                             (None, None), ([1], None)])
def test_a_timestamp_is_a_finite_float_or_none_never_an_exception(value, expected):
    """finite_number reads Redis values and decoded JSON numbers (the state writer's check of a state's ts): an
    integer past float's range is None, not an OverflowError out of the actor's handler."""
    from actors.policy import finite_number
    assert finite_number(value) == expected


class CountedName(str):
    """A field name that counts every time the validation looks at it (hash, compare, str)."""

    looks = 0

    def __hash__(self) -> int:
        CountedName.looks += 1
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        CountedName.looks += 1
        return str.__eq__(self, other)

    def __lt__(self, other: str) -> bool:
        CountedName.looks += 1
        return str.__lt__(self, other)

    def __str__(self) -> str:
        CountedName.looks += 1
        return str.__str__(self)


def test_a_request_of_ten_thousand_unknown_fields_is_refused_naming_a_few_and_the_count_without_sorting_all():
    # Every unknown name was sorted, joined and then cut to 200 characters, on the gate's only thread: a 64 KB
    # request of 8,000 names took 4 ms there, 5 times orjson's read of it.
    names = [CountedName(f"f{i:05d}") for i in range(10_000, 0, -1)]
    body = {**good(), **{name: 0 for name in names}}
    CountedName.looks = 0
    with pytest.raises(BadRequest) as info:
        validate_proposal(body)
    assert CountedName.looks < 100, CountedName.looks
    assert "unknown fields: f10000, f09999" in info.value.detail, info.value.detail
    assert "9990 more, 10000 in all" in info.value.detail and "f00001" not in info.value.detail, info.value.detail


# --------------------------------------------------------------------------- found by breaking the product (canfail)


@pytest.mark.parametrize("policy_name", ["spec", "monotone"])
def test_every_downgrade_the_policy_can_make_is_a_series_the_gate_exports_from_the_start(policy_name):
    """The gate creates p26_actions_downgraded_total{from_action,to_action,reason} at 0 for policy_transitions();
    a transition missing there appears only on its first decision, so rate() and absent() alerts on it see no
    series until then (STYLE: export 0 for series that will exist)."""
    settings = GateSettings(policy=policy_name)
    made = set()
    for action in ACTIONS:
        for allowed in (True, False):
            for state_ok in (True, False):
                for cooldown in (True, False):
                    for stress in (0.0, 0.3, 0.549, 0.55, 0.7, 0.799, 0.8, 1.0):
                        for ks in (0.0, 0.85, 1.0):
                            final, reason = decide(action, allowed=allowed, state_ok=state_ok, cooldown=cooldown,
                                                   stress=stress, kill_score=ks, settings=settings)
                            if final != action:
                                made.add((action, final, reason))
    exported = set(policy_transitions())
    assert made <= exported, sorted(made - exported)
    faults = {(a, HOLD, r) for a in (P25, P50, P75, FULL) for r in FAIL_CLOSED_REASONS}
    assert faults <= exported  # the issuer's fault HOLDs, which decide() never makes


@pytest.mark.parametrize("raw, expected", [("nan", None), ("inf", None), ("-inf", None), ("1.5", 1.0), ("-0.2", 0.0),
                                           ("0.748", 0.748)])
def test_cluster_stress_that_is_no_number_in_0_1_falls_back_or_is_clipped(raw, expected):
    """A fresh cluster state whose cluster_stress is not finite is unusable: K falls back to the proxy (None), not
    a NaN stress that holds every proposal; one outside [0, 1] is clipped, so K never weighs more than 0.15."""
    assert cluster_k(str(NOW - 10), raw, NOW, 120.0) == expected


def test_a_book_of_flat_positions_is_state_in_the_backtest_as_in_the_gate():
    """evaluate decides on a book whose fresh snapshots are all flat (every metric 0, not fail closed); the
    backtest's batch_portfolio must say the same, or its decisions differ from the live gate's."""
    import numpy as np
    state = PortfolioState([Position("BTCUSDT", 0.0), Position("ETHUSDT", 0.0)], {}, None, None, False)
    decision, _ = evaluate(Proposal("p", "ETHUSDT", P50), state, allowed=True, settings=S, now=NOW)
    assert decision["gate_reason"] == PASS
    out = batch_portfolio(np.array([[0.0, 0.0], [np.nan, np.nan]]), np.array([np.nan, np.nan]),
                          np.ones((2, 2)), S)
    assert out["state_ok"].tolist() == [True, False]


def _batch_gate(now: float, state_ts: float, vol: float, settings: GateSettings) -> dict:
    import numpy as np
    return batch_gate_metrics(np.array([now]), np.array([0]), np.array([state_ts]), np.array([0.3]),
                              np.array([[vol, 0.2]]), np.array([[True, True]]), np.array([[1000.0, 1000.0]]),
                              settings, 120.0)


def test_the_backtests_gate_metrics_take_a_cluster_state_from_the_future_as_stale():
    """SPEC: a timestamp from the future is stale, as cluster_k judges it for the live gate."""
    assert cluster_k(str(NOW + 5), "0.3", NOW, 120.0) is None
    ahead = _batch_gate(NOW, NOW + 5, 0.2, S)
    assert (ahead["k_source"].tolist(), ahead["K"].tolist()) == (["proxy"], [1.0])
    fresh = _batch_gate(NOW, NOW - 5, 0.2, S)
    assert (fresh["k_source"].tolist(), fresh["K"].tolist()) == (["cluster"], [0.3])


def test_the_backtest_takes_the_constant_sigma_for_a_symbol_whose_realized_vol_is_0():
    """The live correlator publishes no realized vol of 0 (a flat series), so the live gate uses the constant sigma
    for that symbol; the backtest's vol array holds the 0 and must skip it the same way."""
    settings = GateSettings(sigma_source="realized")
    zero = _batch_gate(NOW, NOW - 5, 0.0, settings)
    # weights 1/2 each: sigma (1.0 + 0.2) / 2 = 0.6 -> heat 1; with sigma 0 taken: 0.1 -> heat (0.1 - 0.05) / 0.3
    assert zero["heat"].tolist() == [1.0]


def test_a_hedged_book_whose_net_is_exactly_0_has_proxy_0_in_the_backtest_as_in_the_gate():
    """SPEC: corr_proxy is 0 when net is 0. Long 1,000 beside short 1,000 is net flat: the gate's proxy (and K from
    it) is 0, and the backtest's batch_portfolio must say 0 too; it could say the long side's weight, 0.5, since
    the random books of the parity test are never net flat to the cent."""
    import numpy as np
    live = portfolio_metrics([Position("BTCUSDT", 1000.0), Position("ETHUSDT", -1000.0)], None, S)
    assert (live.corr_proxy, live.k, live.stress) == (0.0, 0.0, 0.6)
    out = batch_portfolio(np.array([[1000.0, -1000.0]]), np.array([np.nan]), np.ones((1, 2)), S)
    assert (out["corr_proxy"].tolist(), out["K"].tolist(), out["stress"].tolist()) == ([0.0], [0.0], [0.6])


def test_the_backtests_gate_metrics_take_k_from_a_cluster_state_exactly_freshness_s_old_and_not_older():
    """SPEC: K is the cluster's while 0 <= now - updated_ts <= 120 s, at 120 s itself too, as cluster_k judges it for
    the live gate; 121 s old is stale."""
    assert cluster_k(str(NOW - 120), "0.3", NOW, 120.0) == 0.3 and cluster_k(str(NOW - 121), "0.3", NOW, 120.0) is None
    at_limit = _batch_gate(NOW, NOW - 120, 0.2, S)
    assert (at_limit["k_source"].tolist(), at_limit["K"].tolist()) == (["cluster"], [0.3])
    older = _batch_gate(NOW, NOW - 121, 0.2, S)
    assert (older["k_source"].tolist(), older["K"].tolist()) == (["proxy"], [1.0])


def test_the_backtest_takes_the_constant_sigma_for_a_symbol_out_of_the_matrix():
    """The live correlator publishes realized vol for the matrix's symbols alone (a symbol warming up, with fewer
    than min_returns returns, has a vol but is not in the matrix), so the live gate takes the constant sigma for any
    other symbol; the backtest's vol array holds a vol for it and must skip it the same way."""
    import numpy as np
    settings = GateSettings(sigma_source="realized")
    live = portfolio_metrics([Position("BTCUSDT", 1000.0), Position("ETHUSDT", 1000.0)], 0.3, settings,
                             {"ETHUSDT": 0.2})
    out = batch_gate_metrics(np.array([NOW]), np.array([0]), np.array([NOW - 5]), np.array([0.3]),
                             np.array([[0.2, 0.2]]), np.array([[False, True]]), np.array([[1000.0, 1000.0]]),
                             settings, 120.0)
    # sigma (1.0 + 0.2) / 2 = 0.6: heat 1; with the vol of the symbol out of the matrix taken, 0.2: heat 0.5
    assert out["heat"].tolist() == [live.heat] == [1.0]


def test_an_invalid_proposal_is_refused_naming_its_plan_id_when_it_is_usable():
    """docs/proposal-api.md's error reply names the plan_id ({"status": "error", "reason": "invalid_proposal",
    "plan_id": "p-2", ...}) so a client matches it to its request; a plan_id that is itself invalid is not named."""
    from actors.policy import with_plan_id
    from actors.wire import error_envelope
    with pytest.raises(BadRequest) as info:
        parse_request([json.dumps(good(plan_id="p-2", action_proposed="CLOSE")).encode()], 8192)
    reply = with_plan_id(error_envelope(info.value.reason, info.value.detail), info.value.plan_id)
    assert (reply["status"], reply["reason"], reply["plan_id"]) == ("error", "invalid_proposal", "p-2")
    for bad in ("", "   ", "x" * 129, "a\x00b", 7):
        with pytest.raises(BadRequest) as info:
            validate_proposal(good(plan_id=bad, action_proposed="CLOSE"))
        assert info.value.plan_id is None, bad
