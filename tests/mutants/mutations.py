"""The curated mutations of `make mutants`: one per promise, each with the tests that must catch it.

A mutation replaces `anchor` (which must occur exactly once in `file`) with `replacement`, and each
(file, anchor, replacement) of `also` likewise (a promise kept by two defences is broken by breaking
both). Keep
anchors small and unique: other engineers change these files, and a moved anchor must fail loudly
("mutation no longer applies") rather than test an unbroken product. Every new promise gets its
mutation here; a finding fixed in the tests keeps the mutation that exposed it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    promise: str
    file: str
    anchor: str
    replacement: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str, str], ...] = ()


CRASHES = "tests/test_reliability_crashes.py"
NX_REVIEW = "tests/test_permit_nx_review.py::"
MONITOR_LIVE = "tests/test_monitor_live.py"
DURABILITY = "tests/test_ha_durability.py"
DUST = "tests/test_held_dust_without_prices.py::"
HA_HOST_FAULTS = ("tests/test_ha_host_faults.py::"
                  "test_gate_host_crashes_and_partitions_under_load_lose_no_decision_and_decide_no_plan_id_twice")
DURABILITY_FAULTS = "tests/test_ha_durability_faults.py"
SKEW = "tests/test_state_writer_skew.py"
HA_PRIMARY_KILLS = ("tests/test_ha_host_faults.py::"
                    "test_the_redis_primary_sigkilled_five_times_under_load_loses_no_recorded_decision_and_no_actor_restarts")
LAUNCHER_RECORD_LOCKED_UP = ("tests/test_launcher.py::"
                             "test_an_up_whose_record_temp_file_another_process_locks_applies_its_change_whole_and_says_so")
HOSTS_SAY_HOSTILE = ("tests/test_multihost_side_by_side.py::test_status_all_hosts_reads_a_hosts_malformed_exits_"
                     "as_unreadable_and_shows_what_hosts_say_printable")
PROOF_STALE_WINDOW = ("tests/test_proofs.py::"
                      "test_fallback_proof_fails_when_the_gate_keeps_k_from_a_state_stale_by_the_topologys_window")
PROOF_CLUSTER_SIDE_ELSEWHERE = ("tests/test_proofs.py::"
                                "test_fallback_proof_fails_when_the_cluster_side_comes_back_writing_to_another_redis_database")
PROOF_EXECUTION_SIDE_ELSEWHERE = ("tests/test_proofs.py::"
                                  "test_readiness_proof_fails_when_the_book_gate_and_issuer_run_on_another_redis_database")
PROOF_TWO_GATES = "tests/test_proofs.py::test_with_two_gates_readiness_and_fallback_ask_each_gate_on_its_own"
GP = "tests/test_gate_policy.py::"
TV_REFUSED = "tests/test_topology_validation.py::test_a_setting_the_system_cannot_run_with_is_refused_naming_it"
CLUSTERS_E2E_TEST = "tests/test_clusters_end_to_end.py::"
BT_SUMMARY = "tests/test_backtest_review.py::test_the_summary_times_and_shares_of_a_hand_made_run"
BT_LIVE = "tests/test_backtest_live_decisions.py::"
JUMP_LIMITS = ("tests/test_cluster_hardening.py::"
               "test_a_print_exactly_at_the_limit_is_accepted_and_the_topologys_per_symbol_limits_are_used")
BT_REFUSES = "tests/test_backtest_attack.py::test_settings_the_live_topology_refuses_are_refused_by_the_backtest"
LINK = "tests/test_gate_issuer_link.py::"
LIVENESS = "tests/test_loop_liveness.py::"
REVCLUS = "tests/test_cluster_side_review3.py::"
LIVENESS_SLOW_START = (f"{LIVENESS}"
                       "test_setup_is_not_a_stuck_main_loop_and_the_loops_first_turn_is_timed_from_the_loops_start")
LIVENESS_STOPPED = (f"{LIVENESS}"
                    "test_a_feed_reading_a_large_replay_file_is_not_said_stuck_and_a_stopped_actor_is_not_said_to_have_hung")
LIVENESS_HANG = (f"{LIVENESS}"
                 "test_a_gate_whose_main_loop_hangs_reads_not_ready_status_names_it_and_it_reads_ready_again_when_it_turns")
OPERATOR_REVIEW = "tests/test_launcher_operator_review.py::"
STATUS_NEWEST = ("tests/test_status_overview.py::"
                 "test_status_shows_the_newest_price_over_all_symbols_and_a_symbol_at_the_points_needed_as_ready")

MUTATIONS: list[Mutation] = [
    Mutation(
        "drop_every_10th_reply",
        "every proposal gets exactly one reply (issue 19 finding 1)",
        "actors/runtime.py",
        "                        send_frames(s, envelope)\n",
        "                        self._mutant_n = getattr(self, '_mutant_n', 0) + 1\n"
        "                        if self.kind != 'gate' or self._mutant_n % 10:\n"
        "                            send_frames(s, envelope)\n",
        (CRASHES,)),
    # Since bcb1d3f the append sits in a try block (an unencodable reply), indented deeper: the old anchor
    # still matched inside the deeper line and the mutant was a SyntaxError that every actor died of, a
    # "kill" that proved nothing (full run, 3 Dec 2026). run.py now refuses such an anchor and any
    # mutant that does not compile.
    Mutation(
        "garble_one_reply",
        "every reply is a well-formed envelope; the load counts every proposal (finding 2)",
        "actors/runtime.py",
        "                        envelope.append(reply if type(reply) is bytes else self.encode_reply(reply))\n",
        "                        envelope.append(reply if type(reply) is bytes else self.encode_reply(reply))\n"
        "                        self._mutant_n = getattr(self, '_mutant_n', 0) + 1\n"
        "                        if self.kind == 'gate' and self._mutant_n == 400:\n"
        "                            envelope[-1] = b'{not json'\n",
        (CRASHES,)),
    Mutation(
        "skip_permit_write",
        "a non-HOLD decision gets its permit with TTL 60 s",
        "actors/permit_issuer.py",
        "  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then\n",
        "  if false then\n",
        ("tests/test_gate_service.py::test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream",)),
    # Since issue 14 the gate reads its socket into its own queue and answers overloaded past
    # overload_queue_depth / overload_queue_age_ms, so the hwm alone ignored left memory bounded and the
    # mutation survived (make mutants, 2 Dec 2026): the two bounds back each other up, so it breaks both.
    Mutation(
        "ignore_the_hwm",
        "the proposals socket's hwm and the gate's own overload queue bound its queue and memory (finding 3, issue 14)",
        "actors/runtime.py",
        "        sock.setsockopt(zmq.RCVHWM, sock_spec.hwm)\n",
        "        pass  # mutant: the configured receive hwm is ignored (libzmq default 1000)\n",
        ("tests/test_reliability_overload.py",),
        also=(("actors/gate.py", "self.handle_proposals, shedding=Shedding(",
               "self.handle_proposals, shedding=None and Shedding("),)),
    Mutation(
        "drop_accepted_ticks",
        "every tick the buffer receives is used or counted as rejected (finding 4)",
        "actors/buffer.py",
        "        reason = add_checked_tick(self.grid, self.jumps, tick.symbol, tick.price, tick.ts, now)\n",
        "        self._mutant_n = getattr(self, '_mutant_n', 0) + 1\n"
        "        if self._mutant_n % 10 == 0:\n"
        "            return\n"
        "        reason = add_checked_tick(self.grid, self.jumps, tick.symbol, tick.price, tick.ts, now)\n",
        ("tests/test_bench_smoke.py::test_every_tick_sent_to_the_buffer_is_counted_as_accepted_or_rejected",)),
    Mutation(
        "gate_never_asks_the_issuer",
        "the gate benchmark counts only recorded decisions, with their permits and records (finding 5)",
        "actors/gate.py",
        "        reply = self.ask_issuer({",
        "        reply = None if True else self.ask_issuer({",
        ("tests/test_bench_smoke.py::test_the_gate_benchmark_counts_only_recorded_decisions",)),
    Mutation(
        "slow_shutdown",
        "an actor exits 0 within 2 s of SIGTERM (finding 6)",
        "actors/runtime.py",
        "            self._guard(self.teardown, self._errors_timer, \"teardown\")\n",
        "            time.sleep(4.0)\n"
        "            self._guard(self.teardown, self._errors_timer, \"teardown\")\n",
        ("tests/test_runtime.py::test_sigterm_stops_the_actor_within_the_shutdown_bound_with_exit_code_0",)),
    # Was feed_never_sets_its_last_tick_time: the rules moved to the buffer's series (issue 15's review),
    # so breaking the feed's gauge broke no rule and the mutation survived (make mutants, 2 Dec 2026).
    Mutation(
        "buffer_exports_its_last_tick_time_under_another_name",
        "every series an alert rule uses is set by a live actor (finding 7)",
        "actors/buffer.py",
        'Gauge("p27_buffer_last_accepted_tick_timestamp_seconds",',
        'Gauge("p27_buffer_last_accepted_tick_ts_seconds",',
        ("tests/test_alerts.py::test_every_series_a_rule_uses_has_a_sample_on_a_live_actor",)),
    Mutation(
        "correlator_deaf_for_1_2_s_at_start",
        "p27_corr_ready is back to 1 within one cadence of the correlator starting (finding 8); deaf in its main "
        "loop, whose start the warm-restart proof times from (a sleep in setup moved that start) - loadflaky; deaf "
        "at the first window it handles, the snapshot or a live one: a sleep in on_snapshot_reply alone survived "
        "when the buffer's first live window came first and made it ready (1 run of 2) - revloadflaky",
        "actors/correlator.py",
        "        self.last_window_at = time.monotonic()\n        result = correlate_window(",
        "        if not getattr(self, \"_deaf_once\", False):\n            self._deaf_once = True\n"
        "            time.sleep(1.2)\n        self.last_window_at = time.monotonic()\n        result = correlate_window(",
        ("tests/test_proofs.py::test_proof_passes_on_the_demo_and_writes_its_report",)),
    Mutation(
        "accept_kill_score_above_1",
        "a kill_score outside [0, 1] is a clear error, never a decision (fuzz oracle, minor)",
        "actors/policy.py",
        "not 0.0 <= kill_score <= 1.0",
        "not 0.0 <= kill_score",
        ("tests/test_reliability_bad_input.py::test_ten_thousand_fuzzed_proposals_get_one_envelope_each_are_counted_and_invalid_ones_never_get_a_permit",)),
    Mutation(
        "ignore_freshness",
        "cluster state older than the freshness window falls back to the proxy",
        "actors/policy.py",
        "    return 0 <= age_s <= freshness_s\n",
        "    return 0 <= age_s\n",
        ("tests/test_gate_policy.py",)),
    Mutation(
        "gate_ignores_updated_ts_ms",
        "the gate judges the cluster state's freshness to the ms (updated_ts_ms), not by its whole second: a state "
        "written late in its second is not taken for up to a second older than it is",
        "actors/freshness.py",
        "    return refined if updated <= refined <= updated + 1 else updated\n",
        "    return updated\n",
        ("tests/test_gate_policy.py::"
         "test_cluster_state_written_late_in_its_second_is_judged_by_updated_ts_ms_not_the_whole_second",)),
    Mutation(
        "gate_judges_realized_vol_by_whole_seconds",
        "the gate judges realized vol's freshness to the ms, as the cluster state's: K and sigma are fresh, or "
        "stale, at the same instants (never k_source cluster with sigma_source constant_fallback from one write)",
        "actors/gate.py",
        "state_is_fresh(vols[0], vol_updated_ts_ms_of(vols, symbols), now, freshness_s)",
        "state_is_fresh(vols[0], None, now, freshness_s)",
        ("tests/test_cluster_hardening.py::"
         "test_realized_vol_written_late_in_its_second_is_judged_to_the_ms_so_k_and_sigma_agree_at_every_instant",)),
    Mutation(
        "backtest_judges_realized_vol_by_whole_seconds",
        "the backtest judges realized vol's freshness as the gate does, to the ms: backtest/live parity of sigma_source",
        "launcher/backtest.py",
        "if state_is_fresh(updated, updated_ms, t, settings.freshness_s):",
        "if state_is_fresh(updated, None, t, settings.freshness_s):",
        ("tests/test_cluster_hardening.py::"
         "test_realized_vol_written_late_in_its_second_is_judged_to_the_ms_so_k_and_sigma_agree_at_every_instant",)),
    Mutation(
        "no_cooldown",
        "a cooldown steps a non-HOLD action down once",
        "actors/policy.py",
        "    if cooldown and action != HOLD:\n",
        "    if False and cooldown and action != HOLD:\n",
        ("tests/test_gate_policy.py",)),
    Mutation(
        "ignore_deadline_ms",
        "a proposal reached after its deadline_ms (less the skew) gets expired: no decision, record or permit (issue 14)",
        "actors/gate.py",
        "    if late_ms <= 0:\n        return None\n",
        "    if True:\n        return None\n",
        ("tests/test_gate_deadlines.py::test_a_proposal_past_its_deadline_gets_expired_and_nothing_is_written",)),
    Mutation(
        "no_deadline_check_after_the_state_read",
        "a deadline that passes while the gate reads its state never reaches the issuer (issue 14)",
        "actors/gate.py",
        "            kept = self._drop_expired(proposals, results, todo, decided_at)\n",
        "            kept = todo\n",
        ("tests/test_gate_deadlines.py::test_a_deadline_that_passes_while_the_gate_reads_its_state_gets_expired_before_any_write",)),
    Mutation(
        "issuer_ignores_the_item_deadline",
        "the issuer's script refuses (expired) an item whose own deadline Redis's clock has passed (issue 14)",
        "actors/permit_issuer.py",
        "else str(script_deadline_ms(own if not deadline else min(own, deadline), ahead_s, within_s)),",
        "else deadline_ms,",
        ("tests/test_gate_deadlines.py::test_the_issuer_writes_nothing_for_an_item_whose_own_deadline_redis_time_has_passed",)),
    Mutation(
        "never_answer_overloaded",
        "past overload_queue_depth or overload_queue_age_ms the gate answers overloaded at once (issue 14)",
        "actors/gate.py",
        "self.handle_proposals, shedding=Shedding(",
        "self.handle_proposals, shedding=None and Shedding(",
        ("tests/test_gate_deadlines.py::test_under_five_times_overload_every_proposal_gets_a_decision_overloaded_or_expired_none_permitted_late_and_the_counters_add_up",)),
    Mutation(
        "client_sends_no_deadline",
        "GateClient and clustergate propose send their timeout as deadline_ms (issue 14)",
        "launcher/client.py",
        "            if self.send_deadline:\n",
        "            if False:\n",
        ("tests/test_gate_deadlines.py::test_gateclient_sends_its_timeout_as_the_deadline_of_each_attempt_unless_told_not_to",)),
    Mutation(
        "client_no_backoff_on_overloaded",
        "the client backs off and resends the same plan_id after overloaded (issue 14)",
        "launcher/client.py",
        "    return reply.get(\"status\") != \"ok\" and reply.get(\"reason\") == \"overloaded\"\n",
        "    return False\n",
        ("tests/test_gate_deadlines.py::test_an_overloaded_reply_is_retried_with_the_same_plan_id_after_a_growing_backoff",)),
    Mutation(
        "state_writer_down_never_alerts",
        "a stopped state writer raises ClustergateActorDown (issue 15: proven on a live Prometheus)",
        "configs/alerts.yml",
        'expr: up{job!~"gate|permit_issuer",clustergate_kind!~"gate|permit_issuer"} == 0\n',
        'expr: up{job!~"gate|permit_issuer",clustergate_kind!~"gate|permit_issuer"} == 2\n',
        (MONITOR_LIVE,)),
    Mutation(
        "p27_updates_absent_never_fires",
        "a missing p27_updates_total raises ClustergateMetricAbsent (issue 15: live Prometheus)",
        "configs/alerts.yml",
        "expr: absent(p27_updates_total)\n",
        "expr: absent(p27_updates_total) * 0 > 1\n",
        (MONITOR_LIVE,)),
    Mutation(
        "internal_error_ends_the_call",
        "a gate's internal_error (outcome unknown) sends the same plan_id to the next gate, as a fault HOLD does",
        "launcher/client.py",
        '        return reply.get("reason") == "internal_error"\n',
        '        return False\n',
        ("tests/test_ha_failover.py::test_an_internal_error_is_not_final_the_same_plan_id_goes_to_the_next_gate_which_decides",)),
    Mutation(
        "p27_updates_stalled_never_fires",
        "a state writer that gets no new state raises P27UpdatesStalled (issue 15: live Prometheus)",
        "configs/alerts.yml",
        "          rate(p27_updates_total[10m]) == 0\n",
        "          rate(p27_updates_total[10m]) < 0\n",
        (MONITOR_LIVE + "::test_a_writer_that_gets_no_new_state_raises_p27_updates_stalled_pending_then_firing_and_it_resolves",)),
    Mutation(
        "monitor_listens_elsewhere_than_its_url",
        "the monitor's Prometheus listens on 127.0.0.1:PORT, the URL it reports (the mutant stays on loopback)",
        "launcher/monitor.py",
        '"--web.listen-address", f"127.0.0.1:{port}",',
        '"--web.listen-address", f"127.0.0.2:{port}",',
        (MONITOR_LIVE + "::test_monitor_scrapes_every_actor_and_status_shows_each_target_up",)),
    Mutation(
        "prometheus_outlives_supervisord",
        "the monitor's Prometheus dies with the home's supervisord, even a killed one",
        "launcher/monitor.py",
        "command = _command(python, str(PARENT_DEATH_SHIM), binary,",
        "command = _command(binary,",
        (MONITOR_LIVE + "::test_prometheus_dies_with_a_killed_supervisord",)),
    Mutation(
        "down_misses_a_stray_prometheus",
        "`clustergate down` stops a Prometheus of the home that no supervisord runs",
        "launcher/supervise.py",
        'elif ("--storage.tsdb.path", prometheus_data) in pairs:',
        "elif False:",
        (MONITOR_LIVE + "::test_clustergate_down_stops_a_prometheus_of_the_home_left_without_supervisord",)),
    Mutation(
        "an_actor_may_be_named_prometheus",
        "no actor may take the name of the monitor's program (`monitor up` would replace it) (review 15)",
        "launcher/topology.py",
        'RESERVED_PROGRAM_NAMES = {"redis", "prometheus"}',
        'RESERVED_PROGRAM_NAMES = {"redis"}',
        ("tests/test_topology_validation.py::test_an_actor_named_like_a_program_the_launcher_runs_itself_is_refused",)),
    Mutation(
        "monitor_up_returns_before_the_first_scrape",
        "`monitor status` right after `monitor up` sees every target scraped (review 15)",
        "launcher/monitor.py",
        "            scraped = wait_first_scrape(url, set(topo.actors), args.scrape_interval, deadline)\n",
        "            scraped = []\n",
        (MONITOR_LIVE + "::test_monitor_status_right_after_monitor_up_sees_every_target_scraped",)),
    Mutation(
        "two_monitor_ups_at_once",
        "one `monitor up`/`down` of a home at a time; another says so, with no traceback (review 15)",
        "launcher/monitor.py",
        "            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)\n",
        "            pass\n",
        (MONITOR_LIVE + "::test_monitor_commands_wait_for_no_one_and_refuse_while_another_holds_the_home",)),
    Mutation(
        "monitor_status_blind_to_a_changed_topology",
        "`monitor status` exits 1 naming an actor of the running topology Prometheus does not scrape (review 15)",
        "launcher/monitor.py",
        '    out["unscraped"], out["not_in_topology"] = compare_targets(home, out["targets"])\n',
        '    out["unscraped"], out["not_in_topology"] = [], []\n',
        (MONITOR_LIVE + "::test_monitor_status_says_when_the_running_topology_has_targets_prometheus_does_not_scrape",)),
    Mutation(
        "launcher_imports_an_actor_by_name_lazily",
        "launcher/ imports no actor module but the I/O-free ones, also not lazily by a literal name (review 15)",
        "launcher/monitor.py",
        "def find_prometheus() -> str | None:\n",
        "def _mutant_lazy_actor():\n    import importlib\n    return importlib.import_module('actors.wire')\n\n\n"
        "def find_prometheus() -> str | None:\n",
        ("tests/test_layering.py::test_the_launcher_imports_only_the_actors_io_free_modules",)),
    Mutation(
        "launcher_imports_an_actor_by_a_computed_name",
        "importing the launcher loads no actor module but the I/O-free ones, whatever the name's spelling (review 15)",
        "launcher/monitor.py",
        "MONITOR_PROGRAM = \"prometheus\"\n",
        "MONITOR_PROGRAM = \"prometheus\"\n__import__('importlib').import_module('.'.join(('actors', 'wire')))\n",
        ("tests/test_layering.py::test_importing_every_launcher_module_loads_no_actor_module_but_the_io_free_ones"
         "_and_no_proof_bench_or_test",)),
    Mutation(
        "a_proof_imports_a_test_helper",
        "nothing imports tests/ (review 15)",
        "proofs/common.py",
        "from launcher.redis_conn import auth_refusal, connect\n",
        "from launcher.redis_conn import auth_refusal, connect\nfrom helpers import REPO as _MUTANT_REPO  # noqa: F401\n",
        ("tests/test_layering.py::test_nothing_imports_the_tests",)),
    Mutation(
        "time_to_permit_never_observed",
        "the dashboard's time-to-permit panels show numbers on the demo, not NaN (review 15: NaN counted as data)",
        "actors/gate.py",
        "self._observe_time_to_permit(time.perf_counter() - received)",
        "self._observe_time_to_permit(time.perf_counter() - received) if False else None",
        ("tests/test_gate_hot_path.py::test_the_gate_and_issuer_counters_add_up_over_a_mixed_load",
         MONITOR_LIVE + "::test_every_dashboard_and_alert_expression_evaluates_with_data_on_the_live_demo")),
    Mutation(
        "docs_runnable_marker_misspelt",
        "a misspelt runnable marker fails the docs test instead of silently skipping its block (review 15)",
        "docs/monitoring.md",
        "```sh runnable\n.venv/bin/clustergate monitor up",
        "```sh runable\n.venv/bin/clustergate monitor up",
        ("tests/test_docs.py::test_every_fence_names_its_language_and_every_runnable_marker_is_one_the_finder_reads",)),
    Mutation(
        "docs_runnable_block_breaks",
        "a runnable docs block that no longer works fails the docs test (review 15)",
        "docs/monitoring.md",
        ".venv/bin/clustergate monitor status   #",
        ".venv/bin/clustergate monitor statuz   #",
        ("tests/test_docs.py",)),
    Mutation(
        "backtest_looks_ahead_one_slot",
        "a backtest decision uses only the state published at or before its time, never its own slot's prices (issue 13)",
        "launcher/backtest.py",
        '        idx = np.searchsorted(publish, times, side="right") - 1\n',
        '        idx = np.minimum(np.searchsorted(publish, times, side="right"), len(publish) - 1)\n',
        ("tests/test_backtest.py::test_a_decision_never_sees_a_price_from_its_own_slot",)),
    Mutation(
        "backtest_ignores_cooldowns",
        "in the backtest a permitted decision sets its symbol's cooldown for cooldown_ttl_s, as the issuer does (issue 13)",
        "launcher/backtest.py",
        "                cooldown_until[proposal.symbol] = t + pi.cooldown_ttl_s\n",
        "                pass  # mutant: no cooldown\n",
        ("tests/test_backtest.py::test_a_second_proposal_within_the_cooldown_is_stepped_down_and_one_after_it_is_not",)),
    Mutation(
        "batch_windows_keep_flat_rows",
        "the batch correlator, like the live one, gives a row of rounding noise (constant growth) no correlation (issue 13)",
        "actors/correlation.py",
        "            usable_sym = in_matrix & ~flat & (n >= max(min_returns, 2))\n",
        "            usable_sym = in_matrix & (n >= max(min_returns, 2))\n",
        ("tests/test_backtest.py::test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols",)),
    Mutation(
        "batch_windows_uncentred",
        "the backtest's cluster state per slot equals the live actors' on the same replay (1e-9) (issue 13)",
        "actors/correlation.py",
        "            pair = sxy - s1[iu] * (s1[ju] / lookback)\n",
        "            pair = sxy.copy()\n",
        ("tests/test_backtest_parity.py",
         "tests/test_backtest.py::test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols")),
    Mutation(
        "issuers_ignore_a_cooldown_another_issuer_set",
        "with two gate + permit_issuer pairs on one Redis, a symbol gets one permit at its proposed action per cooldown (issue 12)",
        "actors/permit_issuer.py",
        "if issue and ARGV[7] == '0' and redis.call('EXISTS', KEYS[4]) == 1 then",
        "if false then",
        ("tests/test_ha_gates.py::test_two_issuers_given_the_same_symbol_at_once_without_a_cooldown_issue_one_permit_and_refuse_the_other",)),
    Mutation(
        "issuers_decide_a_plan_id_again",
        "two gates deciding one plan_id at once give one decision; the other gets it replayed (issue 12)",
        "actors/permit_issuer.py",
        "local previous = redis.call('GET', KEYS[1])\n",
        "local previous = false\n",
        ("tests/test_ha_gates.py::test_two_gates_deciding_the_same_plan_id_at_once_give_one_decision_and_the_other_is_a_replay",)),
    Mutation(
        "buffer_history_loaded_but_not_merged",
        "a warm restart of the buffer loses only the slots it was down for: its history is merged back (flake audit)",
        "actors/buffer.py",
        "        self.grid.merge_from(saved)\n",
        "        pass  # mutant: the saved history is read, logged as loaded, and dropped\n",
        ("tests/test_clusters_end_to_end.py::test_warm_restart_of_buffer_then_of_every_actor_keeps_points_and_readiness",)),
    Mutation(
        "state_writer_counts_no_upstream_not_ready",
        "a not-ready state is counted once, by the state writer, as p27_fail_closed_total{reason=upstream_not_ready} "
        "(the test now makes its not-ready states itself: without prices, not left to start-up order)",
        "actors/state_writer.py",
        "            self.m.fail_closed.labels(reason=\"upstream_not_ready\").inc()\n",
        "            pass  # mutant: a not-ready state is not counted\n",
        ("tests/test_clusters_end_to_end.py::test_each_p27_contract_series_has_one_meaning",)),
    Mutation(
        "realized_vol_keeps_its_first_timestamp",
        "the realized-vol hash's updated_ts is renewed with every state write (flake audit)",
        "actors/state_writer.py",
        "        pipe.hset(keys.REALIZED_VOL, mapping={**vol, keys.REALIZED_VOL_UPDATED_TS: updated_ts,\n",
        "        queue_writes.first_ts = getattr(queue_writes, 'first_ts', updated_ts)  # mutant: stamped once\n"
        "        pipe.hset(keys.REALIZED_VOL, mapping={**vol, keys.REALIZED_VOL_UPDATED_TS: queue_writes.first_ts,\n",
        ("tests/test_clusters_end_to_end.py::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent",)),
    Mutation(
        "propose_asks_only_the_first_gate_of_the_topology",
        "clustergate propose --topology asks every gate of the topology, so it fails over (issue 12)",
        "launcher/client.py",
        "    return endpoints\n",
        "    return endpoints[:1]\n",
        ("tests/test_ha_failover.py::test_clustergate_propose_asks_every_gate_of_the_topology_by_default_and_fails_over",)),
    Mutation(
        "failover_with_a_new_plan_id",
        "the client moves to the next gate with the same plan_id (issue 12)",
        "launcher/client.py",
        "                self._next_server()\n                timeouts += 1\n",
        "                self._next_server()\n                body['plan_id'] = uuid.uuid4().hex\n                timeouts += 1\n",
        ("tests/test_ha_failover.py::test_a_client_gets_its_decision_from_the_other_gate_when_the_first_is_sigkilled",)),
    Mutation(
        "no_failover_on_timeout",
        "on a timeout the client asks the next gate (issue 12)",
        "launcher/client.py",
        "                self._next_server()\n                timeouts += 1\n",
        "                self._reset()\n                timeouts += 1\n",
        ("tests/test_ha_failover.py::test_a_client_gets_its_decision_from_the_other_gate_when_the_first_is_sigkilled",)),
    Mutation(
        "overloaded_stays_on_the_same_gate",
        "an overloaded reply moves the client to the next gate at once (issue 12)",
        "launcher/client.py",
        "            if servers > 1:\n                self._next_server()\n",
        "            if False:\n                self._next_server()\n",
        ("tests/test_ha_failover.py::test_every_attempt_of_a_failover_carries_the_same_plan_id_and_an_overloaded_gate_hands_over_at_once",)),
    Mutation(
        "client_attempt_waits_past_the_budget",
        "the call's budget is a hard bound: an attempt waits only what is left of it, and its deadline_ms says so (issue 12)",
        "launcher/client.py",
        "            wait_ms = min(float(self.timeout_ms), (budget_end - time.monotonic()) * 1000.0)\n",
        "            wait_ms = float(self.timeout_ms)\n",
        ("tests/test_gate_deadlines.py::test_after_overload_backoffs_the_last_attempt_waits_only_what_is_left_of_the_calls_budget_and_its_deadline_says_so",)),
    Mutation(
        "fault_hold_ends_the_call",
        "a fault HOLD (recorded false) moves the client to the next gate with the same plan_id (issue 12)",
        "launcher/client.py",
        "            fault = garbage is None and is_fault_hold(reply)\n",
        "            fault = False\n",
        ("tests/test_ha_failover.py::test_a_gate_whose_issuer_is_dead_hands_the_same_plan_id_to_the_other_gate_which_records_the_decision",)),
    Mutation(
        "fault_holds_cycle_for_the_whole_budget",
        "a fault HOLD from every gate in a row ends the call with the last one (issue 12)",
        "launcher/client.py",
        "            if faults >= servers or garbled >= servers or unread",
        "            if garbled >= servers or unread",
        ("tests/test_ha_failover.py::test_a_fault_hold_from_every_gate_in_a_row_is_the_answer_and_the_next_call_starts_at_the_next_gate",)),
    Mutation(
        "propose_uses_one_server_key_for_every_endpoint",
        "clustergate propose pairs each --endpoint with its own --server-key, so it fails over between CurveZMQ gates (issue 12)",
        "launcher/client.py",
        "                         publics if len(publics) > 1 else publics[0])\n",
        "                         publics[-1])\n",
        ("tests/test_ha_failover.py::test_clustergate_propose_pairs_each_endpoint_with_its_own_server_key_and_fails_over_between_curve_gates",)),
    Mutation(
        "client_socket_left_open_when_its_setup_fails",
        "a client socket whose setup fails is closed, so leaving the client never hangs in ctx.term()",
        "launcher/client.py",
        "                # A socket left open (held by the traceback) makes close()'s ctx.term() wait for ever.\n"
        "                sock.close(linger=0)\n",
        "                pass\n",
        ("tests/test_client.py::test_a_socket_whose_setup_fails_is_closed_so_leaving_the_with_block_never_hangs",)),
    Mutation(
        "client_bad_endpoint_found_only_at_failover",
        "an endpoint ZeroMQ cannot connect is refused before any proposal is sent",
        "launcher/client.py",
        "        self._check_endpoints()\n",
        "",
        ("tests/test_client.py::test_a_bad_endpoint_anywhere_in_the_list_is_refused_before_anything_is_sent",)),
    Mutation(
        "ha_load_looks_ignore_the_permit_ttl",
        "the HA load looks at the permit keys at least 4 times per the topology's permit TTL, so the audit sees every permit",
        "launcher/ha_load.py",
        "    every_s = min(PERMIT_LOOK_S, permit_ttl_of(topology) / LOOKS_PER_PERMIT_TTL)\n",
        "    every_s = PERMIT_LOOK_S\n",
        ("tests/test_ha_audit.py::test_the_load_looks_at_permits_often_enough_for_the_topologys_permit_ttl",)),
    Mutation(
        "ha_audit_passes_without_looks",
        "an HA audit whose load looked at the permits fewer than twice, or a TTL apart, has a violation",
        "launcher/ha_load.py",
        "    if gap_s >= permit_ttl_s:\n",
        "    if False:\n",
        ("tests/test_ha_audit.py::test_looks_fewer_than_two_or_further_apart_than_the_permit_ttl_are_a_violation",)),
    Mutation(
        "clock_aligned_seed_past_philox_validates",
        "a clock-aligned seed Philox cannot key (>= 2**128) is refused by validate, not met by the feed every slot",
        "launcher/topology.py",
        "            if syn.clock_aligned and syn.seed >= 2 ** 128:\n",
        "            if False:\n",
        ("tests/test_price_feed_clock_aligned.py::"
         "test_a_seed_philox_cannot_key_is_refused_by_validate_and_the_feed_exits_rather_than_failing_every_slot",)),
    Mutation(
        "client_takes_a_zero_timeout",
        "a client attempt timeout below 1 ms is refused before a proposal with a past deadline is sent",
        "launcher/client.py",
        "or not timeout_ms >= 1:\n",
        "or not timeout_ms >= -1e9:\n",
        ("tests/test_client.py::test_a_timeout_below_1_ms_is_refused_before_a_proposal_with_a_past_deadline_is_sent",),
        also=(("launcher/client.py", "    if not 1 <= args.timeout_ms <= MAX_TIMEOUT_MS:\n",
               "    if not args.timeout_ms <= MAX_TIMEOUT_MS:\n"),)),
    Mutation(
        "client_counts_only_a_list_of_gate_keys",
        "gate public keys given as a tuple are counted against the endpoints and paired in order, like a list",
        "launcher/client.py",
        "        if isinstance(server_public_key, (list, tuple)):\n",
        "        if isinstance(server_public_key, list):\n",
        ("tests/test_client.py::test_gate_public_keys_as_a_tuple_are_paired_and_counted_like_a_list",)),
    Mutation(
        "clock_aligned_ignored_on_other_sources",
        "synthetic.clock_aligned on a replay or redis_snapshots feed is refused, not silently ignored",
        "launcher/topology.py",
        "            if source != block and source in known and raw.get(block) is not None:\n",
        "            if block == 'replay' and source != block and source in known and raw.get(block) is not None:\n",
        ("tests/test_price_feed_clock_aligned.py::test_clock_aligned_on_a_feed_whose_source_is_not_synthetic_is_refused",)),
    Mutation(
        "clock_aligned_window_summed_every_slot",
        "a clock-aligned feed's next slot costs O(symbols), no sum over the 2,048-slot window",
        "actors/slot_prices.py",
        "        if last is not None and 0 <= slot - last < size:\n",
        "        if False:\n",
        ("tests/test_price_feed_clock_aligned.py::"
         "test_the_next_slot_costs_no_sum_over_the_window_and_a_long_run_stays_bit_identical_to_a_fresh_start",)),
    Mutation(
        "clock_aligned_sum_keeps_the_oldest_shock",
        "a clock-aligned generator that stepped many slots gives the prices a fresh one gives, bit for bit",
        "actors/slot_prices.py",
        "                    self._sum[i] += q - oldest[i]\n",
        "                    self._sum[i] += q\n",
        ("tests/test_price_feed_clock_aligned.py::"
         "test_the_next_slot_costs_no_sum_over_the_window_and_a_long_run_stays_bit_identical_to_a_fresh_start",)),
    Mutation(
        "ha_load_final_look_not_retried",
        "the HA load's look at the permits after the load is retried through a Redis outage, and its absence is a violation",
        "launcher/ha_load.py",
        "                for _ in range(FINAL_LOOK_TRIES - 1):\n",
        "                for _ in range(0):\n",
        ("tests/test_ha_audit.py::"
         "test_the_last_look_after_the_load_is_retried_through_a_redis_outage_and_its_absence_is_a_violation",)),
    Mutation(
        "client_deadline_follows_a_wall_clock_step",
        "a wall-clock step during a call moves no attempt's deadline_ms (the call's start plus monotonic time)",
        "launcher/client.py",
        '                body["deadline_ms"] = int(start_epoch_ms + (time.monotonic() - start) * 1000.0 + wait_ms)\n',
        '                body["deadline_ms"] = int(time.time() * 1000 + wait_ms)\n',
        ("tests/test_client.py::test_a_wall_clock_step_during_a_call_moves_no_attempts_deadline",)),
    Mutation(
        "client_garbage_reply_ends_the_call",
        "a reply that is not a gate envelope hands the call to the next gate with the same plan_id",
        "launcher/client.py",
        "            garbled = garbled + 1 if garbage is not None else 0\n",
        "            garbled = servers if garbage is not None else 0\n",
        ("tests/test_client.py::test_a_gate_answering_garbage_hands_the_call_to_the_next_gate_with_the_same_plan_id",)),
    Mutation(
        "ha_load_failover_by_endpoint",
        "the HA load counts as a failover every call that moved to another gate, also one that went round them all",
        "launcher/ha_load.py",
        '"failover": client.moves != before,',
        '"failover": client.endpoint != endpoint_before,',
        ("tests/test_ha_audit.py::test_a_call_that_went_round_every_gate_and_back_counts_as_a_failover",),
        also=(("launcher/ha_load.py", "    before = client.moves  # not the endpoint: a call that went round every gate ends where it began\n",
               "    before = client.moves\n    endpoint_before = client.endpoint\n"),)),
    Mutation(
        "ha_load_gap_end_to_end",
        "the gap between two looks at the permits runs from the start of one scan to the end of the next",
        "launcher/ha_load.py",
        "    gap = max((b - a for a, b in zip(starts, ends[1:])), default=None)\n",
        "    gap = max((b - a for a, b in zip(ends, ends[1:])), default=None)\n",
        ("tests/test_ha_audit.py::test_the_gap_between_looks_runs_from_the_start_of_one_scan_to_the_end_of_the_next",)),
    Mutation(
        "client_garbage_resets_the_streak",
        "a reply that is not a gate envelope counts in the streak of replies without a decision, so the client backs off",
        "launcher/client.py",
        "            streak += 1\n",
        "            streak = 0 if garbage is not None else streak + 1\n",
        ("tests/test_client.py::test_a_garbage_gate_and_an_overloaded_gate_get_backed_off_not_hammered",)),
    Mutation(
        "state_write_ignores_the_fencing_token",
        "a state writer paused past its lease can never overwrite a newer one: the write checks the token (issue 12)",
        "actors/state_writer.py",
        "                    if newest is None or not re.fullmatch(r\"-?\\d+\", newest) or int(newest) != fence:  # a string by hand\n",
        "                    if False:\n",
        ("tests/test_ha_standby.py::test_a_write_with_an_older_token_than_the_newest_is_refused_and_writes_nothing",)),
    Mutation(
        "paused_writer_resumes_and_writes_with_its_old_token",
        "a writer paused with its write in flight, resumed after a takeover, is refused by the fencing token: "
        "real writers, the write held between the fence check and Redis (issue 12)",
        "actors/state_writer.py",
        "                    if newest is None or not re.fullmatch(r\"-?\\d+\", newest) or int(newest) != fence:  # a string by hand\n",
        "                    if False:\n",
        ("tests/test_ha_standby.py::test_a_writer_paused_with_its_write_in_flight_resumes_after_the_takeover_and_its_write_is_refused_by_the_token",)),
    Mutation(
        "standby_writes_without_the_lease",
        "only the holder of the lease writes; the standby stays warm and writes nothing (issue 12)",
        "actors/state_writer.py",
        "        if self.lease_ms and self.fence is None:  # standing by",
        "        if False:  # standing by",
        ("tests/test_ha_standby.py::test_two_state_writers_one_writes_the_other_stands_by_and_every_record_carries_a_rising_token",)),
    Mutation(
        "standby_never_takes_a_free_lease",
        "the standby takes over within 2 cadences of the active writer's death (issue 12)",
        "actors/state_writer.py",
        "        if token:\n            self.fence, self.lease_value",
        "        if token and self.name == 'state_writer':\n            self.fence, self.lease_value",
        ("tests/test_ha_standby.py::test_the_standby_writes_within_two_cadences_of_the_active_writer_being_killed",)),
    Mutation(
        "holder_keeps_its_lease_without_new_state",
        "the active chain dead upstream of its live writer: the standby writes within 2 cadences of the last "
        "write, and the gate never falls back (issue 12)",
        "actors/state_writer.py",
        "                ttl_ms = lease_ttl_ms(self.hold_from_mono, now, self.hold_s, self.lease_ms)\n",
        "                ttl_ms = self.lease_ms\n",
        ("tests/test_ha_standby.py::test_the_active_clusterer_killed_the_standby_writes_within_two_cadences_and_the_gate_never_falls_back",)),
    Mutation(
        "holder_renews_only_on_its_quarter_cadence_timer",
        "a healthy holder whose write comes within 1.5 cadences of its last keeps its lease: no takeover "
        "without a fault (issue 12)",
        "actors/state_writer.py",
        "        if self.lease_ms and self.fence is not None:\n            self.renew_now()\n",
        "",
        ("tests/test_ha_standby.py::test_a_holder_whose_states_come_late_by_under_half_a_cadence_keeps_its_lease",)),
    Mutation(
        "several_writers_accept_any_lease_ms",
        "with several state writers validate refuses lease_ms 0 (an unfenced writer beside the holder) or under "
        "two renewals (issue 12)",
        "launcher/topology.py",
        "                and len(topo.actors_of_kind(\"state_writer\")) > 1 and s.lease_ms < 500 * topo.clusters.cadence_s):",
        "                and False):",
        ("tests/test_ha_standby.py::test_with_two_state_writers_a_lease_that_is_off_or_shorter_than_two_renewals_is_refused",)),
    Mutation(
        "superseded_check_in_whole_seconds",
        "a state older than the stored one to the ms is not written: the state never goes back on the stream (issue 12)",
        "actors/state_writer.py",
        "    if by_ms:\n        return stored - stamp_ms / 1000\n",
        "    if False:\n        return stored - stamp_ms / 1000\n",
        ("tests/test_ha_standby.py::test_a_state_older_than_the_stored_one_within_the_same_second_is_not_written",)),
    Mutation(
        "fence_check_outside_the_transaction",
        "the fencing token is checked atomically with the state write (WATCH on the fence counter) (issue 12)",
        "actors/state_writer.py",
        "                           *(() if fence is None else (keys.STATE_WRITER_FENCE,)),\n",
        "",
        ("tests/test_ha_standby.py::test_a_newer_token_taken_between_the_fence_check_and_exec_aborts_the_old_writers_transaction",)),
    Mutation(
        "free_port_ignores_other_processes_claims",
        "a port one live test process was handed is not handed to another (side-by-side runs)",
        "launcher/harness.py",
        "            if holder == os.getpid() or (holder and _pid_alive(holder)):",
        "            if holder == os.getpid():",
        ("tests/test_harness_ports.py",)),
    Mutation(
        "wait_result_ignored",
        "a decision is reported recorded only when the replicas asked for acknowledged it (issue 12, durability)",
        "actors/permit_issuer.py",
        "    return scripts, None if acked >= wait.replicas else acked\n",
        "    return scripts, None\n",
        (DURABILITY + "::test_with_the_replica_stopped_the_decision_is_a_fault_hold_and_after_resuming_the_same_plan_id_is_replayed",)),
    Mutation(
        "replay_not_waited_for",
        "a replay of a decision no replica has yet is not reported recorded either (issue 12, durability)",
        "actors/permit_issuer.py",
        "            if acked is not None and result in (\"written\", \"replayed\"):\n",
        "            if acked is not None and result in (\"written\",):\n",
        (DURABILITY + "::test_with_the_replica_stopped_the_decision_is_a_fault_hold_and_after_resuming_the_same_plan_id_is_replayed",)),
    Mutation(
        "wait_without_publish",
        "WAIT covers a replayed decision another connection wrote: PUBLISH moves the connection's offset first (issue 12)",
        "actors/permit_issuer.py",
        "    tail = [(\"PUBLISH\", keys.WAIT_MARK_CHANNEL, \"1\"), ",
        "    tail = [",
        (DURABILITY + "::test_with_a_live_replica_a_decision_is_recorded_and_already_on_the_replica_when_answered",)),
    Mutation(
        "wait_socket_timeout_too_short",
        "the issuer's Redis socket outlasts WAIT, so a timed-out WAIT is replica_unacknowledged, not a resent pipeline (issue 12)",
        "actors/permit_issuer.py",
        "            self.redis.timeout_s += (self._wait.timeout_ms + WAIT_LATE_MS) / 1000.0",
        "            pass",
        (DURABILITY + "::test_with_the_replica_stopped_the_decision_is_a_fault_hold_and_after_resuming_the_same_plan_id_is_replayed",)),
    Mutation(
        "wait_socket_timeout_ignores_the_cron_tick",
        "the issuer's Redis socket outlasts a WAIT that Redis ends a cron tick late, even with a short redis.timeout_ms "
        "(issue 12 attack-wait finding 1)",
        "actors/permit_issuer.py",
        "            self.redis.timeout_s += (self._wait.timeout_ms + WAIT_LATE_MS) / 1000.0",
        "            self.redis.timeout_s += self._wait.timeout_ms / 1000.0",
        (DURABILITY_FAULTS + "::test_a_short_redis_timeout_still_lets_a_timed_out_wait_answer_replica_unacknowledged",)),
    Mutation(
        "noscript_round_waits_again_after_a_timed_out_wait",
        "after NOSCRIPT, a batch whose first WAIT fell short is not waited for a second time (issue 12 attack-wait finding 3)",
        "actors/permit_issuer.py",
        "        again_tail = tail if isinstance(acked, int) and acked >= wait.replicas else []\n",
        "        again_tail = tail\n",
        (DURABILITY_FAULTS + "::test_with_the_script_cache_empty_and_the_replica_stopped_the_batch_waits_once_not_twice",)),
    Mutation(
        "noscript_round_not_waited_for",
        "after NOSCRIPT, the decisions the EVAL round wrote are waited for when the replica acknowledges (issue 12)",
        "actors/permit_issuer.py",
        "        again_tail = tail if isinstance(acked, int) and acked >= wait.replicas else []\n",
        "        again_tail = []\n",
        (DURABILITY_FAULTS + "::test_with_the_script_cache_empty_and_the_replica_stopped_the_batch_waits_once_not_twice",)),
    Mutation(
        "refused_wait_blamed_on_a_slow_replica",
        "a WAIT Redis refused (issuer on a replica) is named in the HOLD's detail (issue 12 attack-wait finding 4)",
        "actors/permit_issuer.py",
        "    if isinstance(acked, ReplyError):  # e.g. WAIT sent to a replica",
        "    if False:  # e.g. WAIT sent to a replica",
        (DURABILITY_FAULTS + "::test_an_issuer_pointed_at_a_replica_says_wait_was_refused_rather_than_blame_a_slow_replica",)),
    Mutation(
        "resent_pipeline_reported_as_replay",
        "a pipeline RespClient re-sent after its socket gave up inside WAIT finds its own write: written, once "
        "(issue 12 attack-wait)",
        "actors/permit_issuer.py",
        "  if previous == ARGV[1] then return {'written', ''} end\n",
        "",
        (DURABILITY_FAULTS + "::test_a_pipeline_resent_after_its_socket_gave_up_in_wait_writes_once_and_reports_its_own_write",)),
    Mutation(
        "refused_publish_ignored",
        "a refused PUBLISH (the WAIT may not cover a replay) makes the decision unacknowledged (issue 12 attack-wait finding 5)",
        "actors/permit_issuer.py",
        "    if isinstance(marked, ReplyError):  # e.g. NOPERM",
        "    if False:  # e.g. NOPERM",
        (DURABILITY_FAULTS + "::test_a_refused_publish_is_not_taken_as_an_acknowledgement",)),
    Mutation(
        "wait_always_on",
        "without replicas no WAIT is sent and decisions are unchanged (issue 12, durability)",
        "launcher/topology.py",
        "        return 1 if redis.replicas_expected() > 0 else 0\n",
        "        return 1\n",
        (DURABILITY + "::test_without_replicas_no_wait_is_sent_and_decisions_are_recorded",
         DURABILITY + "::test_wait_is_off_by_default_without_replicas")),
    Mutation(
        "wait_timeout_not_checked_against_the_gates",
        "WAIT's timeout must fit in every gate's permit_timeout_ms (issue 12, durability)",
        "launcher/topology.py",
        "                and 2 * (s.wait_timeout_ms + WAIT_LATE_MS) > spec.settings.permit_timeout_ms):\n",
        "                and False):\n",
        (DURABILITY + "::test_an_external_redis_may_be_waited_on_and_the_wait_must_fit_in_the_gates_permit_timeout",)),
    Mutation(
        "wait_timeout_check_ignores_the_cron_tick",
        "wait_timeout_ms plus the cron tick by which WAIT ends late must fit in half of every gate's permit_timeout_ms "
        "(issue 12 attack-wait finding 2)",
        "launcher/topology.py",
        "                and 2 * (s.wait_timeout_ms + WAIT_LATE_MS) > spec.settings.permit_timeout_ms):\n",
        "                and 2 * s.wait_timeout_ms > spec.settings.permit_timeout_ms):\n",
        (DURABILITY + "::test_an_external_redis_may_be_waited_on_and_the_wait_must_fit_in_the_gates_permit_timeout",)),
    Mutation(
        "a_stalled_monitor_fails_the_trading_status",
        "clustergate status reports the monitor but its exit code is the trading system's alone (issue 15 review)",
        "launcher/supervise.py",
        '            and all(r["state"] == "RUNNING" and r.get("ready") for r in programs)\n',
        '            and all(r["state"] == "RUNNING" and r.get("ready") for r in status["programs"])\n',
        (MONITOR_LIVE + "::test_a_stalled_monitor_shows_in_status_but_does_not_fail_the_trading_systems_status",)),
    Mutation(
        "fast_send_drops_the_last_frame",
        "every reply leaves on all its frames after the hot path went to pyzmq's compiled calls (issue 14)",
        "actors/runtime.py",
        "    _zmq_send(sock, frames[last], _NOBLOCK)\n",
        "    if b'invalid_proposal' not in frames[last]:\n        _zmq_send(sock, frames[last], _NOBLOCK)\n",
        ("tests/test_gate_hot_path.py::test_error_replies_keep_their_bytes",)),
    Mutation(
        "permit_counted_once_per_batch",
        "p26_permit_issued_total counts every permit the issuer wrote, whatever the batch (issue 14)",
        "actors/gate.py",
        "                if outcome.get(\"permit_issued\"):\n                    self._count_permit()\n",
        "                if outcome.get(\"permit_issued\") and not getattr(self, '_mutant_counted', False):\n"
        "                    self._count_permit()\n                    self._mutant_counted = True\n",
        ("tests/test_gate_hot_path.py::test_the_gate_and_issuer_counters_add_up_over_a_mixed_load",)),
    Mutation(
        "gate_kept_state_never_made_again",
        "a lone proposal is decided on its symbol's state as it is now: the state the gate keeps per symbol is made "
        "again when the cache re-parses or the symbol's cooldown changes (issue 14)",
        "actors/gate.py",
        "        if kept is None or kept[0] is not base or kept[1].cooldown is not cooldown:\n",
        "        if kept is None:\n",
        ("tests/test_gate_policy.py::test_a_lone_symbols_kept_state_follows_its_cooldown_and_the_caches_parse",
         "tests/test_gate_hot_path.py::"
         "test_proposals_one_at_a_time_get_the_replies_records_and_counters_the_same_proposals_get_in_one_batch")),
    Mutation(
        "gate_skips_every_cooldown_lookup",
        "the gate skips a lone proposal's cooldown lookup only where the policy says a cooldown cannot change the "
        "decision (issue 14)",
        "actors/policy.py",
        "    return allowed and action_proposed != HOLD\n",
        "    return False\n",
        ("tests/test_gate_policy.py::test_a_cooldown_never_changes_a_decision_whose_cooldown_the_gate_does_not_look_up",
         "tests/test_gate_hot_path.py::"
         "test_proposals_one_at_a_time_get_the_replies_records_and_counters_the_same_proposals_get_in_one_batch")),
    Mutation(
        "gate_lone_path_decides_on_an_old_cache",
        "a lone proposal finding the state cache older than state_refresh_ms (its refresh timer late) reads Redis "
        "before deciding, as a batch does (review of issue 14's lone path: no test held this)",
        "actors/gate.py",
        "        if cache is None or received - self._cache_read_mono >= self.state_refresh_s:\n",
        "        if cache is None:\n",
        ("tests/test_gate_fast_path_attack.py::test_a_lone_proposal_reads_again_when_the_refresh_timer_is_late",)),
    Mutation(
        "gate_lone_path_never_decides_again_after_a_cooldown_conflict",
        "a lone proposal decided from a kept state that missed another gate's cooldown is read and decided again "
        "after the issuer's cooldown_conflict, not answered with a fault HOLD (review of issue 14's lone path)",
        "actors/gate.py",
        "            return self.decide_and_record((proposal,), first_attempt=1)[0]\n",
        "            return fault_decision(proposal, PERMIT_UNAVAILABLE, now)\n",
        ("tests/test_gate_fast_path_attack.py::"
         "test_a_cooldown_another_gate_set_is_respected_by_a_lone_proposal_decided_from_a_kept_state",
         "tests/test_gate_service.py::test_a_cooldown_set_in_redis_by_another_writer_is_respected_at_once")),
    Mutation(
        "gate_lone_path_never_asks_the_issuer_to_check_its_cooldown",
        "a lone proposal decided under a cooldown the gate's kept state still has asks the issuer to check that "
        "cooldown still exists (review of issue 14's lone path)",
        "actors/gate.py",
        "        seen = state.cooldown and cooldown_mattered_to(decision, True)\n",
        "        seen = False\n",
        ("tests/test_gate_service.py::test_a_cooldown_deleted_in_redis_by_another_writer_no_longer_downgrades",)),
    Mutation(
        "time_to_permit_bucket_found_one_too_high",
        "the direct observe of p26_time_to_permit_seconds (and of the issuer's permit_issuer_write_seconds) exports "
        "what prometheus_client's observe exports (issue 14)",
        "actors/runtime.py",
        "        i = bisect_left(bounds, amount)",
        "        i = min(bisect_left(bounds, amount) + (amount in bounds), len(bounds) - 1)",
        ("tests/test_gate_hot_path.py::test_the_time_to_permit_histogram_observed_directly_exports_what_its_observe_exports",)),
    Mutation(
        "reply_with_spaces",
        "replies stay the documented compact JSON byte for byte (issue 14)",
        "actors/wire.py",
        "_ENCODER = json.JSONEncoder(separators=(\",\", \":\"), allow_nan=False)",
        "_ENCODER = json.JSONEncoder(allow_nan=False)",
        ("tests/test_gate_hot_path.py::test_every_decision_reply_is_the_documented_compact_json_byte_for_byte",)),
    Mutation(
        "redis_client_polls_before_each_call",
        "the Redis client waits with the kernel's timeout, one system call per send or receive (issue 14)",
        "launcher/resp.py",
        "            _kernel_timeouts(sock, self.timeout_s)\n",
        "            pass\n",
        ("tests/test_gate_hot_path.py::test_the_redis_client_waits_with_the_kernels_timeout_and_still_fails_fast",)),
    Mutation(
        "issuer_item_check_takes_empty_fields",
        "the issuer's one-pass item check refuses what the plain checks refuse, with the same words (issue 14)",
        "actors/permit_issuer.py",
        "    if required is None or not (_STR.issuperset(map(type, required)) and all(required)):\n",
        "    if required is None or not _STR.issuperset(map(type, required)):\n",
        ("tests/test_gate_hot_path.py::test_the_issuer_refuses_a_bad_item_exactly_as_the_plain_checks_do",)),
    Mutation(
        "issuer_stream_values_sent_unconverted",
        "a stream value that is not a plain str, int or float is written as the plain code writes it (issue 14)",
        "actors/permit_issuer.py",
        "    if values is None or not _PLAIN_TYPES.issuperset(map(type, values)):\n",
        "    if values is None:\n",
        ("tests/test_gate_hot_path.py::test_the_issuers_script_arguments_are_those_of_the_plain_code",)),
    Mutation(
        "issuer_chunk_cache_keeps_zeros",
        "the issuer's templated command writes -0.0 as -0.0 after a 0.0 (its chunk cache keeps no zero, issue 14)",
        "actors/permit_issuer.py",
        "value == value and value != 0.0):",
        "value == value):",
        ("tests/test_gate_hot_path.py::test_the_issuers_templated_evalsha_is_the_bytes_hiredis_gives_for_its_command",)),
    Mutation(
        "issuer_chunk_cache_keeps_long_text",
        "the issuer's chunk cache keeps no long text that a sender chose (1,024 x 15,000 characters held 26 MB)",
        "actors/permit_issuer.py",
        "        if (len(value) <= self.MAX_KEPT_CHARS and value.isascii() if type(value) is str",
        "        if (value.isascii() if type(value) is str",
        ("tests/test_gate_hot_path.py::test_the_issuers_chunk_cache_keeps_no_long_text_that_a_sender_chose",)),
    Mutation(
        "issuer_chunk_cache_looks_up_ints",
        "the issuer's templated command writes an int as an int after an equal float (1 after 1.0, issue 14)",
        "actors/permit_issuer.py",
        "_CHUNKED_TYPES = frozenset((str, float, type(None)))",
        "_CHUNKED_TYPES = frozenset((str, float, int, type(None)))",
        ("tests/test_gate_hot_path.py::test_the_issuers_templated_evalsha_is_the_bytes_hiredis_gives_for_its_command",)),
    Mutation(
        "issuer_template_takes_text_outside_ascii",
        "the issuer's templated command counts a value's length in bytes: text outside ASCII goes the plain way (issue 14)",
        "actors/permit_issuer.py",
        "            if head.isascii() and tail.isascii():",
        "            if True:",
        ("tests/test_gate_hot_path.py::test_the_issuers_templated_evalsha_is_the_bytes_hiredis_gives_for_its_command",)),
    Mutation(
        "eval_payload_takes_any_bytes",
        "a NOSCRIPT retry's EVAL is made only from an EVALSHA of the script's own (issue 14)",
        "launcher/resp.py",
        "        if count_end < 2 or not payload.startswith(b\"*\") or not payload.startswith(self._evalsha_name, count_end):",
        "        if False:",
        ("tests/test_gate_hot_path.py::test_eval_payload_refuses_what_is_not_an_evalsha_of_its_script",)),
    Mutation(
        "issuer_noscript_not_loaded_again",
        "decisions refused with NOSCRIPT (Redis restarted or failed over) run again with EVAL, without WAIT too (issue 14)",
        "launcher/resp.py",
        "        if ReplyError not in map(type, replies):",
        "        if True:",
        ("tests/test_gate_hot_path.py::test_commands_refused_with_noscript_run_again_with_eval_in_order",)),
    # Gate host faults under load (issue 12): the faults, the clients' failover and the audit must catch these.
    Mutation(
        "host_faults_failover_with_a_new_plan_id",
        "through gate host crashes and partitions, a client's failover keeps its plan_id (issue 12)",
        "launcher/client.py",
        "                self._next_server()\n                timeouts += 1\n",
        "                self._next_server()\n                body['plan_id'] = uuid.uuid4().hex\n                timeouts += 1\n",
        (HA_HOST_FAULTS,)),
    Mutation(
        "host_faults_issuers_decide_a_plan_id_again",
        "after gate host faults, every answered plan_id resubmitted gets its decision replayed (issue 12)",
        "actors/permit_issuer.py",
        "local previous = redis.call('GET', KEYS[1])\n",
        "local previous = false\n",
        (HA_HOST_FAULTS,)),
    Mutation(
        "host_faults_permit_without_its_record",
        "no permit exists without its stream record; every reply that says recorded is on the stream (issue 12)",
        "actors/permit_issuer.py",
        "redis.call('XADD', KEYS[2], '*', unpack(record))\n",
        "",
        (HA_HOST_FAULTS,)),
    Mutation(
        "up_port_locks_ignore_the_network_namespace",
        "up's port locks are per network namespace: hosts tried side by side in namespaces do not refuse each other",
        "launcher/supervise.py",
        'return f"tcp:{_net_namespace()}:" + endpoint.rpartition(":")[2]',
        'return "tcp:" + endpoint.rpartition(":")[2]',
        ("tests/test_up_claims_netns.py",)),
    Mutation(
        "resp_client_ignores_readonly",
        "the gate's RESP client asks Sentinel again when a write is refused with READONLY (issue 12)",
        "launcher/resp.py",
        "                if isinstance(reply, ReplyError) and is_readonly(reply):\n",
        "                if False:\n",
        ("tests/test_sentinel_failover.py::test_a_demoted_primary_answers_readonly_and_the_clients_ask_sentinel_again",)),
    Mutation(
        "redis_py_ignores_readonly",
        "redis-py (launcher.redis_conn) drops a connection refused with READONLY and asks Sentinel again (issue 12)",
        "launcher/redis_conn.py",
        "        except ReadOnlyError as exc:\n",
        "        except ZeroDivisionError as exc:\n",
        ("tests/test_sentinel_failover.py::test_a_demoted_primary_answers_readonly_and_the_clients_ask_sentinel_again",)),
    Mutation(
        "sentinel_answer_not_checked_with_role",
        "discovery checks the sentinel's answer with ROLE, as Redis's client guidelines advise (issue 12)",
        "launcher/sentinel.py",
        'if isinstance(role, _Refused) or not role or role[0] != "master":',
        "if isinstance(role, _Refused) or not role:",
        ("tests/test_sentinel_failover.py::test_a_named_primary_whose_role_is_replica_is_not_used",)),
    # Since the SentinelWatch (591c0f7) the client also moves to the primary the watch names, so asking Sentinel
    # only at the first connect survived on its own (full run, 3 Dec 2026): the two ways of finding the new
    # primary back each other up, so it breaks both.
    Mutation(
        "primary_kills_resp_client_discovers_once",
        "the gate's and issuer's RESP client asks Sentinel on every reconnect and follows its SentinelWatch, so decisions resume after a failover with no restart (issue 12)",
        "launcher/resp.py",
        "            else:\n                try:\n                    self.host, self.port = discover_primary(",
        "            elif not getattr(self, \"_found_once\", False):\n                self._found_once = True\n"
        "                try:\n                    self.host, self.port = discover_primary(",
        (HA_PRIMARY_KILLS,),
        also=(("launcher/resp.py", "            if primary is not None and primary != self._followed:\n",
               "            if False:  # mutant: the watch's primary is never followed\n"),)),
    Mutation(
        "ha_topology_with_two_data_servers",
        "the shipped HA topology keeps recording decisions (WAIT acknowledged) while the primary's host is down (issue 12)",
        "configs/ha.yaml",
        "servers: [store:6390, market_b:6391, market_a:6392]",
        "servers: [store:6390, market_b:6391]",
        ("tests/test_ha_host_faults.py::test_the_redis_primarys_host_crashed_and_kept_down_decisions_are_recorded_again_without_it",)),
    Mutation(
        "restarted_primary_does_not_wait_for_the_failover",
        "a killed primary restarted by supervisord rejoins as the new primary's replica (issue 12)",
        "launcher/redis_node.py",
        "    if said and said[1] and same_address(said[0], me):\n",
        "    if False:\n",
        ("tests/test_sentinel_failover.py::test_managed_sentinel_topology_fails_over_and_every_actor_follows",)),
    Mutation(
        "node_start_does_not_wait_for_the_sentinels",
        "a data server started with the sentinels takes the role they name, so down/up after a failover keeps the promoted primary (issue 12)",
        "launcher/redis_node.py",
        "    while said is None and time.monotonic() < deadline:\n",
        "    while False:\n",
        ("tests/test_sentinel_failover.py::test_a_data_server_started_before_the_sentinels_answer_waits_for_them_and_takes_the_role_they_name",)),
    Mutation(
        "restarted_host_follows_its_own_stale_sentinel",
        "a server coming back with its host follows the sentinels' newest config-epoch, not its own sentinel's stale file (issue 12)",
        "launcher/sentinel.py",
        "        if best is None or said[0] > best[0] or (said[0] == best[0] and said[2] and not best[2]):\n",
        "        if best is None:\n",
        ("tests/test_sentinel_failover.py::test_the_start_shim_follows_the_sentinels_with_the_newest_epoch_not_a_stale_one",
         "tests/test_sentinel_multihost.py::test_the_store_host_crashed_the_sentinels_promote_the_replica_on_exec_and_store_rejoins_as_replica")),
    Mutation(
        "sentinel_down_after_floor_dropped",
        "down-after leaves room for a sentinel's first PING to a just-promoted primary, else the sentinels fail over again (issue 12)",
        "launcher/topology.py",
        "        if sentinel.down_after_ms < MIN_DOWN_AFTER_MS:\n",
        "        if False:\n",
        ("tests/test_sentinel_config.py::test_down_after_leaves_a_sentinel_room_for_its_first_ping_after_a_failover",)),
    Mutation(
        "sentinel_programs_without_umask",
        "the configs Sentinel rewrites (password inside) stay private: the managed servers and sentinels run with umask 077 (issue 12)",
        "launcher/supervise.py",
        '                                umask="077"))\n',
        "                                umask=None))\n",
        ("tests/test_sentinel_config.py::test_redis_under_sentinel_runs_with_umask_077_so_rewritten_configs_keep_the_password_private",)),
    Mutation(
        "sentinel_noquorum_not_reported",
        "status says when too few sentinels are left to fail over (SENTINEL CKQUORUM), not only that some stopped (issue 12)",
        "launcher/sentinel.py",
        '            if text.startswith("NOQUORUM"):\n',
        "            if False:\n",
        ("tests/test_sentinel_failover.py::test_failover_readiness_says_when_too_few_sentinels_are_left_to_fail_over",)),
    Mutation(
        "sentinel_one_host_port_twice",
        "on one host every managed server and sentinel needs its own port: localhost:P and 127.0.0.1:P are one socket (issue 12)",
        "launcher/hosts.py",
        "                    elif place.port in ports:\n",
        "                    elif False:\n",
        ("tests/test_sentinel_config.py::test_on_one_host_two_spellings_of_one_loopback_port_are_refused",)),
    Mutation(
        "sentinel_place_allows_control_characters",
        "a sentinel or server address with a space or control character is refused (issue 12)",
        "launcher/sentinel.py",
        "    if any(c.isspace() or not c.isprintable() for c in host):\n",
        "    if False:\n",
        ("tests/test_sentinel_config.py::test_a_sentinel_address_with_whitespace_or_control_characters_is_refused",)),
    Mutation(
        "sentinel_rejoin_sync_delayed",
        "a replica rejoining after a failover is synced at once, not after Redis's 5 s diskless-sync wait (issue 12)",
        "launcher/sentinel.py",
        '             "repl-diskless-sync-delay 0"]\n',
        '             "repl-diskless-sync-delay 5"]\n',
        ("tests/test_sentinel_config.py::test_a_rejoining_replica_is_synced_at_once_not_after_redis_default_5_s_wait",)),
    Mutation(
        "clock_aligned_feed_runs_the_gbm",
        "two feeds with the same clock-aligned settings, started apart or restarted, publish the same price per slot (issue 12)",
        "actors/price_feed.py",
        "        if self.settings.synthetic.clock_aligned:\n",
        "        if False:\n",
        ("tests/test_price_feed_clock_aligned.py::"
         "test_two_feed_processes_started_a_second_apart_or_restarted_publish_the_same_price_for_every_slot",)),
    Mutation(
        "clock_aligned_slot_draws_overlap",
        "a clock-aligned slot's draws are its own: neighbouring slots never share a shock (issue 12)",
        "actors/slot_prices.py",
        "_COUNTER_SLOT_WORD = 64\n",
        "_COUNTER_SLOT_WORD = 0\n",
        ("tests/test_price_feed_clock_aligned.py::test_neighbouring_slots_never_share_a_draw_however_many_symbols",)),
    Mutation(
        "script_deadline_ignores_clock_uncertainty",
        "no decision is written after its deadline, whatever Redis's clock offset within its measured uncertainty (issue 14)",
        "actors/permit_issuer.py",
        "    return max(1, math.floor((deadline_s + redis_ahead_s - uncertainty_s) * 1000) - 1)\n",
        "    return max(1, int((deadline_s + redis_ahead_s) * 1000))\n",
        ("tests/test_gate_deadlines.py::"
         "test_the_script_is_given_a_deadline_no_write_can_land_after_whatever_the_clock_offset_within_its_uncertainty",)),
    Mutation(
        "issuer_ignores_a_wall_clock_step",
        "a step of the issuer host's wall clock between readings of Redis's clock neither lets a decision be written "
        "after its deadline nor refuses one with time left (issue 14)",
        "actors/permit_issuer.py",
        "        ahead_s = self._redis_clock_ahead_s - step_s\n",
        "        ahead_s = self._redis_clock_ahead_s\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_wall_clock_step_back_on_the_issuer_host_does_not_make_a_decision_with_time_left_expired",
         "tests/test_gate_deadlines.py::"
         "test_a_wall_clock_step_forward_on_the_issuer_host_does_not_let_a_decision_be_written_after_its_deadline"),
        # Two defences since the issuer reads Redis's clock again after a step: both broken.
        (("actors/permit_issuer.py", "        if abs(step_s) > WALL_STEP_REREAD_S:\n", "        if False:\n"),)),
    Mutation(
        "clock_reading_keeps_a_stalled_round_trip",
        "one stalled reading of Redis's clock does not make decisions with time left expired (issue 14)",
        "actors/permit_issuer.py",
        "CLOCK_SAMPLES = 3 ",
        "CLOCK_SAMPLES = 1 ",
        ("tests/test_gate_deadlines.py::"
         "test_one_stalled_reading_of_redis_clock_does_not_make_decisions_with_time_left_expired",)),
    Mutation(
        "issuer_takes_any_deadline_epoch",
        "a deadline_epoch that is no epoch time is a bad request, never an internal error or no deadline (issue 14)",
        "actors/permit_issuer.py",
        "    if not -MAX_DEADLINE_EPOCH_S < deadline < MAX_DEADLINE_EPOCH_S:\n",
        "    if False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_deadline_epoch_too_large_for_the_script_is_a_bad_request_not_an_internal_error",)),
    Mutation(
        "writers_trust_a_leftover_updated_ts_ms",
        "the writers time the stored state as the gate does: an older writer's leftover updated_ts_ms never lets a "
        "lagging state overwrite a newer one (issue 12)",
        "actors/state_writer.py",
        "    stored = cluster_state_time_s(updated, stored_ms)\n",
        "    stored = int(stored_ms) / 1000 if str(stored_ms).isdigit() else updated\n",
        ("tests/test_ha_standby.py::"
         "test_an_older_writers_leftover_updated_ts_ms_does_not_let_a_lagging_state_overwrite_a_newer_one",)),
    Mutation(
        "item_deadline_may_lengthen_the_requests",
        "an item's own deadline only shortens its request's: nothing is written after the request's deadline (issue 14)",
        "actors/permit_issuer.py",
        "own if not deadline else min(own, deadline)",
        "own",
        ("tests/test_gate_deadlines.py::"
         "test_an_items_own_deadline_later_than_the_requests_does_not_let_it_be_written_after_the_requests",)),
    Mutation(
        "lease_key_never_expires_unnamed",
        "a hand-made lease key with no expiry, which blocks every state writer, is named in their logs (issue 12)",
        "actors/state_writer.py",
        "        if pttl_ms == -1 and not self.lease_blocked:",
        "        if False:",
        ("tests/test_ha_standby.py::"
         "test_a_hand_made_lease_key_that_blocks_every_writer_is_named_in_their_logs_and_deleting_it_recovers",)),
    Mutation(
        "lease_key_never_expires_logged_every_tick",
        "a lease key that never expires is logged once per writer, not at every lease tick (issue 12)",
        "actors/state_writer.py",
        "            self.lease_blocked = True\n",
        "            self.lease_blocked = False\n",
        ("tests/test_ha_standby.py::"
         "test_a_hand_made_lease_key_that_blocks_every_writer_is_named_in_their_logs_and_deleting_it_recovers",)),
    Mutation(
        "router_send_queue_one_loop_turn",
        "a rush of one client's proposals is answered in full: the gate's ROUTER queues every reply of a loop "
        "turn (issue 14; CI lost 151 of 29,464)",
        "actors/runtime.py",
        "ROUTER_MIN_SNDHWM = 4 * (SHED_READS_PER_TURN + BATCHES_PER_TURN * REQUEST_DRAIN)",
        "ROUTER_MIN_SNDHWM = 4 * BATCHES_PER_TURN * REQUEST_DRAIN",
        ("tests/test_gate_deadlines.py::"
         "test_a_rush_of_proposals_from_one_client_is_answered_in_full_none_dropped_by_the_gates_send_queue",)),
    Mutation(
        "router_drops_replies_without_a_word",
        "a reply the gate cannot deliver is counted and logged (issue 14)",
        "actors/runtime.py",
        "            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)\n",
        "",
        ("tests/test_gate_deadlines.py::"
         "test_a_reply_to_a_client_that_has_gone_is_counted_and_logged_not_lost_without_a_word",)),
    # Survived the full run of 3 Dec 2026: the test killed Redis after 200 decisions at its load's 100 a second,
    # which could all fall in the 2.5 s a crash may lose, so losing every one passed. It now waits for older ones first.
    Mutation(
        "managed_redis_without_aof",
        "a Redis crash loses no recorded decision but those of the last seconds Redis held back from its AOF "
        "(issue 19)",
        "launcher/supervise.py",
        '"appendonly yes", "appendfsync everysec"',
        '"appendonly no", "appendfsync everysec"',
        ("tests/test_reliability_redis_outage.py::"
         "test_the_gate_holds_through_a_redis_outage_and_everything_recovers_with_history_and_decisions",)),
    Mutation(
        "replies_dropped_series_born_at_first_drop",
        "the gate exports clustergate_replies_dropped_total at 0 for each reason before any drop, so rate() and "
        "alerts see the first one",
        "actors/runtime.py",
        "                REPLIES_DROPPED.labels(actor=self.name, reason=reason)\n",
        "                pass\n",
        ("tests/test_gate_deadlines.py::"
         "test_the_gates_dropped_replies_series_exist_at_0_before_any_reply_is_dropped",)),
    Mutation(
        "a_replaced_redis_config_forgets_the_hosts_addresses",
        "a RedisConfig given another timeout still reaches the addresses validation placed it at (the HA audit's client)",
        "launcher/topology.py",
        "            object.__setattr__(new, placed, getattr(self, placed))\n",
        "            pass\n",
        ("tests/test_multihost_topology.py::"
         "test_a_redis_config_replaced_with_another_timeout_still_reaches_the_hosts_addresses",)),
    Mutation(
        "a_reply_to_a_gone_client_is_counted_as_a_send_error",
        "a reply to a client that disconnected is counted as client_gone (CI flake fixed: the test now waits "
        "for the gate to close that connection)",
        "actors/runtime.py",
        "            \"client_gone\" if exc.errno == zmq.EHOSTUNREACH else \"send_error\")\n",
        "            \"send_error\")\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_reply_to_a_client_that_has_gone_is_counted_and_logged_not_lost_without_a_word",)),
    Mutation(
        "reply_dropped_log_keeps_only_the_first_of_each_second",
        "the rate-limited reply_dropped lines account for every dropped reply, the last second's too",
        "actors/runtime.py",
        "        pending = self._throttled[spell] = [0, fields, level, count_field]\n"
        "        self.after(THROTTLED_LOG_S, lambda: self._log_throttled_since(spell, pending), name=\"throttled_log\")\n",
        "        pending = self._throttled[spell] = [0, fields, level, count_field]\n",
        ("tests/test_gate_deadlines.py::"
         "test_every_reply_dropped_is_in_the_reply_dropped_log_lines_not_only_the_first_of_each_second",)),
    Mutation(
        "a_message_read_stops_at_its_second_frame",
        "the runtime reads every frame of a waiting message, by each frame's `more`, and nothing more (issue 14: "
        "no getsockopt per frame)",
        "actors/runtime.py",
        "    while frame.more:  # a message's frames arrive together: the rest are there\n",
        "    if frame.more:  # a message's frames arrive together: the rest are there\n",
        ("tests/test_runtime.py::"
         "test_a_waiting_message_is_read_whole_in_order_and_nothing_is_read_when_none_waits",)),
    Mutation(
        "unencodable_reply_ends_the_actor",
        "a reply JSON cannot encode gets internal_error and the actor keeps serving (issue 14 review)",
        "actors/runtime.py",
        "                    except (TypeError, ValueError) as exc:  # NaN, a non-JSON value: the loop must go on\n",
        "                    except ZeroDivisionError as exc:\n",
        ("tests/test_runtime.py::test_a_reply_json_cannot_encode_gets_internal_error_and_the_actor_keeps_serving",)),
    Mutation(
        "redis_py_stays_with_an_old_primary_until_it_is_demoted",
        "after a Sentinel failover redis-py (launcher.redis_conn) writes to the primary the sentinels name now, not to "
        "the old one, still a master for 8 s or more, where the writes and a standby state writer's takeover are lost "
        "(CI: a 12.5-cadence gap)",
        "launcher/redis_conn.py",
        "            self.follow_the_sentinels(connection)\n",
        "            pass\n",
        ("tests/test_sentinel_failover.py::"
         "test_after_a_failover_redis_py_writes_to_the_new_primary_while_sentinel_has_not_yet_demoted_the_old_one",
         "tests/test_ha_standby.py::"
         "test_a_sentinel_failover_then_the_lease_holder_killed_the_standby_writes_to_the_new_primary_within_two_cadences")),
    Mutation(
        "lost_state_write_not_written_again",
        "a holder whose last write was lost (a failover: it reached the old primary before the sentinels switched) "
        "writes it again on its lease timer",
        "actors/state_writer.py",
        "                    self.write_again_if_lost()\n",
        "                    pass\n",
        ("tests/test_ha_standby.py::test_a_holders_write_lost_by_a_failover_is_written_again_on_its_lease_timer",)),
    Mutation(
        "dropped_replies_never_alert",
        "replies the gate could not hand to their clients raise ClustergateRepliesDropped",
        "configs/alerts.yml",
        "(increase(clustergate_replies_dropped_total[5m])) > 0\n",
        "(increase(clustergate_replies_dropped_total[5m])) > 100\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "overloaded_replies_never_alert",
        "proposals the gate answered overloaded (not decided) raise ClustergateGateShedding",
        "configs/alerts.yml",
        'result=~"overloaded|expired"}',
        'result=~"expired"}',
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "sentinel_check_on_the_callers_path",
        "no redis-py call waits for a hung sentinel: the pool asks the sentinels in its own thread (on the call's "
        "path, one call a second waited 0.756 s with three SIGSTOPped sentinels)",
        "launcher/redis_conn.py",
        "        named = self.named\n",
        "        named = self.named = self.named_primary() or self.named\n",
        ("tests/test_sentinel_failover.py::"
         "test_with_every_sentinel_hung_no_redis_py_call_waits_for_them_and_the_pool_keeps_asking",)),
    Mutation(
        "sentinel_check_in_an_order_of_its_own",
        "the pool's checker asks the sentinels in the connections' order (discovery moves the one whose primary "
        "said ROLE master first): a sentinel naming a replica does not make every redis-py call reconnect. Since "
        "revha the checker takes a majority's word, which outvotes that sentinel whatever the order: the mutation "
        "also makes it trust the first sentinel alone, as before",
        "launcher/redis_conn.py",
        'self.check_order = kwargs["sentinels"]\n',
        'self.check_order = list(kwargs["sentinels"])\n',
        ("tests/test_sentinel_failover.py::"
         "test_a_sentinel_that_names_a_replica_does_not_make_every_redis_py_call_reconnect",),
        also=(("launcher/redis_conn.py", "        return majority_word(self.check_order, ask)\n",
               "        return majority_word(self.check_order[:1], ask)\n"),)),
    Mutation(
        "sentinel_check_timeout_capped_at_100ms",
        "the pool's checker waits for a sentinel as long as the topology's timeout: sentinels that answer in 150 ms "
        "are heard, and redis-py follows a failover before the old primary is demoted",
        "launcher/redis_conn.py",
        'timeout_s = kw.get("socket_connect_timeout") or 0.25\n',
        'timeout_s = min(kw.get("socket_connect_timeout") or 0.1, 0.1)\n',
        ("tests/test_sentinel_failover.py::test_with_sentinels_that_answer_in_150_ms_redis_py_still_follows_a_failover_"
         "before_the_old_primary_is_demoted",)),
    Mutation(
        "sentinel_checker_outlives_its_client",
        "closing or dropping a launcher.redis_conn client ends its pool's sentinel-check thread",
        "launcher/redis_conn.py",
        "        client.auto_close_connection_pool = True\n",
        "",
        ("tests/test_sentinel_failover.py::test_a_redis_py_client_closed_or_dropped_stops_its_pools_sentinel_checker",)),
    Mutation(
        "sentinel_answer_of_the_wrong_shape_escapes_discovery",
        "a sentinel's address that answers something other than an address (+OK) is skipped by discovery, not "
        "raised as ValueError into the call",
        "launcher/sentinel.py",
        "        primary = named_address(answer)\n",
        "        primary = (str(answer[0]), int(answer[1]))\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_sentinel_address_that_answers_garbage_is_skipped_by_both_clients_and_the_pools_checker",)),
    Mutation(
        "not_resp_escapes_discovery",
        "a sentinel's address where something other than Redis answers (not RESP) is skipped by discovery, not "
        "raised as hiredis.ProtocolError into the call",
        "launcher/sentinel.py",
        "    except hiredis.ProtocolError as exc:  # something else",
        "    except ZeroDivisionError as exc:  # something else",
        ("tests/test_sentinel_failover.py::"
         "test_a_sentinel_address_that_answers_garbage_is_skipped_by_both_clients_and_the_pools_checker",)),
    Mutation(
        "sentinel_garbage_stops_the_checkers_round",
        "the pool's checker skips a sentinel address that answers something other than an address and asks the next",
        "launcher/redis_conn.py",
        "            except Exception:  # noqa: BLE001 (not only RedisError",
        "            except redis.RedisError:  # (not only RedisError",
        ("tests/test_sentinel_failover.py::"
         "test_a_sentinel_address_that_answers_garbage_is_skipped_by_both_clients_and_the_pools_checker",)),
    Mutation(
        "resp_client_stays_with_an_old_primary_until_it_is_demoted",
        "after a Sentinel failover the gate's and issuer's RESP client writes to the primary the sentinels name now, "
        "not to the old one, still a master for 8 s or more (every decision a fault HOLD replica_unacknowledged)",
        "launcher/resp.py",
        "                    self.close()  # the sentinels name another primary, which said ROLE master: move to it now\n"
        "                    self._connect(primary)\n",
        "                    pass\n",
        ("tests/test_sentinel_failover.py::"
         "test_after_a_failover_the_gates_resp_client_writes_to_the_new_primary_while_sentinel_has_not_yet_demoted_the_old_one",)),
    Mutation(
        "sentinel_watch_keeps_asking_a_hung_sentinel_first",
        "the RESP client's sentinel watch asks the sentinel that answered first, not a hung one that costs it a "
        "timeout at every check (a planned failover seen a timeout late)",
        "launcher/sentinel.py",
        "            order[:] = sorted(dict.fromkeys(order), key=lambda address: rank.get(address, 1))  # (stable)\n",
        "            pass\n",
        ("tests/test_sentinel_failover.py::"
         "test_with_the_first_sentinel_hung_the_resp_clients_watch_asks_the_one_that_answers_first",)),
    Mutation(
        "sentinel_watch_checks_a_new_primary_once",
        "a primary the sentinels name that did not answer the watch's ROLE check in time is checked again at the next "
        "answer, and the RESP client moves to it (it stayed on the old primary until its demotion, 8-12 s)",
        "launcher/sentinel.py",
        "            if named is not None and named != watch.primary:\n",
        "            if named is not None and named != watch.primary and named != watch.named:\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_named_primary_whose_role_check_timed_out_once_is_checked_again_and_followed",)),
    Mutation(
        "sentinel_watch_not_restarted_in_a_forked_child",
        "a forked child's sentinel watch asks the sentinels again over connections of its own",
        "launcher/sentinel.py",
        "os.register_at_fork(after_in_child=_restart_watches_in_child)\n",
        "",
        ("tests/test_sentinel_failover.py::test_a_forked_child_gets_a_sentinel_watch_of_its_own",)),
    Mutation(
        "planned_failover_leaves_the_old_primary_taking_writes",
        "a planned failover (ha_load failover) of three data servers loses no decision answered recorded: the old "
        "primary's writes are paused before SENTINEL FAILOVER until it is the new primary's replica (F3)",
        "launcher/ha_load.py",
        '            old.execute_command("CLIENT", "PAUSE", max(1, int(lease_s * 1000)), "WRITE")\n',
        "            pass\n",
        ("tests/test_sentinel_planned_failover.py::"
         "test_a_planned_failover_of_three_data_servers_loses_no_decision_answered_recorded",),
        also=(("launcher/ha_load.py", "            while behind := lagging(old, lease_s / 4):\n",
               "            while False:\n"),
              ("launcher/ha_load.py",
               '            old.execute_command("CLIENT", "PAUSE", max(1, int((switch_by - time.monotonic()) * 1000)), "WRITE")\n',
               "            pass\n"))),
    Mutation(
        "planned_failover_pauses_until_its_deadline",
        "a planned failover (ha_load failover) killed before SENTINEL FAILOVER leaves its pause of the old primary "
        "shorter than down_after_ms: the sentinels never mark it down and fail it over on their own",
        "launcher/ha_load.py",
        '            old.execute_command("CLIENT", "PAUSE", max(1, int(lease_s * 1000)), "WRITE")\n',
        '            old.execute_command("CLIENT", "PAUSE", max(1, int((deadline - time.monotonic()) * 1000)), "WRITE")\n',
        ("tests/test_sentinel_planned_failover_faults.py::"
         "test_a_planned_failover_killed_while_the_primary_is_paused_leaves_a_pause_the_sentinels_do_not_see",)),
    Mutation(
        "planned_failover_waits_for_a_stopped_replica_past_down_after",
        "a planned failover whose replica does not catch up gives up within half its pause lease and unpauses the "
        "old primary, naming the replica: the sentinels never see the paused primary down (its own pause then "
        "lasts as long as the tool waits)",
        "launcher/ha_load.py",
        "                if time.monotonic() >= lease_from + lease_s / 2:\n",
        "                old.execute_command(\"CLIENT\", \"PAUSE\", max(1, int(lease_s * 1000)), \"WRITE\")\n"
        "                if time.monotonic() >= lease_from + 5.0:\n",
        ("tests/test_sentinel_planned_failover_faults.py::"
         "test_a_planned_failover_with_a_stopped_replica_refuses_naming_it_and_the_sentinels_never_see_the_primary_down",)),
    Mutation(
        "planned_failover_refusal_names_no_replica",
        "a planned failover refused because a replica did not catch up names that replica",
        "launcher/ha_load.py",
        "f\"down_after_ms): {'; '.join(behind)}\")",
        "f\"down_after_ms)\")",
        ("tests/test_sentinel_planned_failover_faults.py::"
         "test_a_planned_failover_with_a_stopped_replica_refuses_naming_it_and_the_sentinels_never_see_the_primary_down",)),
    Mutation(
        "planned_failover_to_a_non_replica_asks_the_sentinels",
        "a planned failover with --to naming the primary or a server outside the topology is refused before any "
        "pause, naming it as not a replica",
        "launcher/ha_load.py",
        "        if to is not None and (to not in servers or to == old_at):\n",
        "        if False:\n",
        ("tests/test_sentinel_planned_failover_faults.py::"
         "test_a_planned_failover_to_a_server_that_is_not_a_replica_is_refused_naming_it",)),
    Mutation(
        "planned_failover_to_a_host_name_is_not_resolved",
        "ha_load failover --to HOST:PORT reads HOST as the topology does (a host name is its address)",
        "launcher/ha_load.py",
        '        to = _at((cfg.address_of(place.where), place.port))\n',
        '        to = _at((place.where, place.port))\n',
        ("tests/test_sentinel_planned_failover_faults.py::"
         "test_a_planned_failover_to_a_replica_named_by_its_host_name_promotes_it",)),
    Mutation(
        "client_takes_expired_after_a_timeout_as_final",
        "an `expired` answer after an attempt of the same call that may have been decided (a timeout) is no final "
        "answer: the client asks again with the same plan_id and gets the recorded decision back (review of issue 14)",
        "launcher/client.py",
        "            late = expired and maybe_decided\n",
        "            late = False\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_call_whose_timed_out_attempt_was_decided_never_ends_with_expired_as_if_nothing_was",)),
    Mutation(
        "lone_proposal_past_its_deadline_gets_a_fault_hold_after_a_refused_request",
        "a lone proposal whose deadline passed before the issuer refused its request unwritten gets expired, not a "
        "fault HOLD (review of issue 14)",
        "actors/gate.py",
        "            if outcomes[2] and proposal.deadline_ms is not None:  # nothing recorded: past its deadline, expired\n",
        "            if False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_proposal_whose_deadline_passed_before_the_issuer_refused_its_late_request_gets_expired[lone]",)),
    Mutation(
        "batched_proposal_past_its_deadline_gets_a_fault_hold_after_a_refused_request",
        "a batch's proposal whose deadline passed before the issuer refused the batch unwritten gets expired, not a "
        "fault HOLD; one with time left keeps its fault HOLD (review of issue 14)",
        "actors/gate.py",
        "                if outcomes[2]:  # nothing was recorded: a proposal past its deadline by now gets expired\n",
        "                if False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_proposal_whose_deadline_passed_before_the_issuer_refused_its_late_request_gets_expired[batch]",)),
    Mutation(
        "deadline_in_microseconds_taken_as_no_deadline",
        "a deadline_ms in epoch microseconds is refused naming the unit, not taken as a deadline that never comes "
        "(review of issue 14)",
        "actors/policy.py",
        "    elif deadline_ms >= MAX_DEADLINE_MS:\n",
        "    elif False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_deadline_in_epoch_microseconds_is_refused_naming_the_unit_not_taken_as_no_deadline",)),
    Mutation(
        "stale_queue_makes_fresh_proposals_find_it_full",
        "proposals that waited past overload_queue_age_ms are shed before new ones are read, so they never make "
        "a fresh proposal find the gate's queue full (review of issue 14)",
        "actors/runtime.py",
        "        while backlog and backlog[0][2] < oldest:\n",
        "        while False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_proposals_that_waited_past_the_queue_age_do_not_make_fresh_ones_find_the_queue_full",),
        also=(("actors/runtime.py",
               "            envelope, body, at = backlog.popleft()\n"
               "            envelopes.append(envelope)\n"
               "            bodies.append(body)\n",
               "            envelope, body, at = backlog.popleft()\n"
               "            if at < oldest:\n"
               "                shed.append(envelope)\n"
               "                continue\n"
               "            envelopes.append(envelope)\n"
               "            bodies.append(body)\n"),)),
    Mutation(
        "gate_and_issuer_on_two_hosts_validate",
        "a topology that runs a gate's permit issuer on another host (a second clock no deadline setting covers) "
        "is refused (review of issue 14)",
        "launcher/hosts.py",
        '                elif (spec.kind, role) == ("gate", "permits"):\n',
        "                elif False:\n",
        ("tests/test_multihost_topology.py::test_a_gate_whose_permit_issuer_runs_on_another_host_is_refused",)),
    Mutation(
        "client_takes_an_endless_timeout",
        "a GateClient timeout_ms that is not finite or too long for a deadline the gate takes is refused when the "
        "client is made (review of issue 14)",
        "launcher/client.py",
        "        if not timeout_ms <= MAX_TIMEOUT_MS:\n",
        "        if False:\n",
        ("tests/test_client.py::test_a_timeout_too_long_for_a_deadline_is_refused_before_anything_is_sent",)),
    Mutation(
        "script_writes_after_a_trim_past_the_deadline",
        "the issuer's script reads Redis's clock again after trimming the gate stream: a deadline the trim took "
        "gets expired, nothing written (review of issue 14)",
        "actors/permit_issuer.py",
        "  if deadline > 0 and now_ms > deadline then\n",
        "  if false then\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_deadline_that_passes_while_the_script_trims_the_stream_gets_expired_and_nothing_is_written",)),
    Mutation(
        "gate_blocks_on_a_bound_permits_socket_without_issuer",
        "a gate whose permits socket binds answers HOLD permit_unavailable (nothing recorded) while no issuer is "
        "connected, and stops on SIGTERM (rev-operator)",
        "actors/gate.py",
        "send_one(sock, frame, _NOBLOCK)  # queued at once whenever a pipe exists",
        "send_one(sock, frame)  # queued at once whenever a pipe exists",
        ("tests/test_bound_requesters.py::"
         "test_a_gate_whose_bound_permits_socket_has_no_issuer_answers_hold_nothing_recorded_and_stops_on_sigterm",)),
    Mutation(
        "correlator_blocks_on_a_bound_snapshot_socket_without_buffer",
        "a correlator whose snapshot socket binds keeps running and stops on SIGTERM while no buffer is connected "
        "(rev-operator)",
        "actors/correlator.py",
        'self.sockets["snapshot"].send(encode({"op": "snapshot"}), zmq.NOBLOCK)',
        'self.sockets["snapshot"].send(encode({"op": "snapshot"}))',
        ("tests/test_bound_requesters.py::"
         "test_a_correlator_whose_bound_snapshot_socket_has_no_buffer_keeps_running_and_stops_on_sigterm",)),
    Mutation(
        "validate_accepts_a_bound_requester_nobody_connects_to",
        "validate refuses a REQ or SUB socket that binds where no actor connects, naming it (rev-operator)",
        "launcher/topology.py",
        '        if kind in ("REQ", "SUB") and endpoint not in connected:\n',
        "        if False:\n",
        ("tests/test_topology_validation.py::"
         "test_a_requester_or_subscriber_that_binds_where_no_actor_connects_is_rejected",)),
    Mutation(
        "gate_silent_while_redis_is_unavailable",
        "a gate that cannot read Redis logs once why it is not ready, naming the Redis (rev-operator)",
        "actors/gate.py",
        "            if not self._redis_down:  # once per outage",
        "            if False:  # once per outage",
        ("tests/test_gate_says_why_not_ready.py::"
         "test_a_gate_without_redis_logs_once_that_redis_is_unavailable_naming_it_and_once_that_it_is_back",)),
    Mutation(
        "warm_restart_proof_ignores_the_outage_slots",
        "proof warm-restart --all-programs passes on a healthy system whose buffer window is full (rev-operator)",
        "proofs/warm_restart.py",
        "min(before[s], window_points) - outage_slots - POINT_SLACK",
        "min(before[s], window_points) - POINT_SLACK",
        ("tests/test_proofs.py::"
         "test_warm_restart_of_every_program_keeps_a_full_window_and_fails_when_the_buffer_keeps_no_history",)),
    Mutation(
        "warm_restart_proof_never_finds_points_lost",
        "proof warm-restart fails when the buffer comes back without its history",
        "proofs/warm_restart.py",
        "min(before[s], window_points) - outage_slots - POINT_SLACK",
        "min(before[s], window_points) - outage_slots - POINT_SLACK - 10**6",
        ("tests/test_proofs.py::"
         "test_warm_restart_of_every_program_keeps_a_full_window_and_fails_when_the_buffer_keeps_no_history",)),
    # Each proof check below passed on every healthy demo and was failed by no test, so a check that could not fail
    # went unseen. Each mutation makes one check accept the break its test sets up (proofs branch).
    Mutation(
        "fallback_proof_takes_k_from_the_cluster_for_a_fallback",
        "proof fallback fails when the gate still takes K from a state stale by the topology's window",
        "proofs/fallback.py",
        'p.check("stale: K taken from the proxy", source == "proxy",',
        'p.check("stale: K taken from the proxy", source in ("proxy", "cluster"),',
        (PROOF_STALE_WINDOW,)),
    Mutation(
        "fallback_proof_accepts_a_fallback_count_that_did_not_rise",
        "proof fallback fails when p26_cluster_fallback_total did not rise while the state was stale",
        "proofs/fallback.py",
        "fallbacks > fallbacks_before,",
        "fallbacks >= fallbacks_before,",
        (PROOF_STALE_WINDOW,)),
    Mutation(
        "fallback_proof_accepts_any_cluster_stress_used_when_stale",
        "proof fallback fails when p26_cluster_stress_used is not 0 while the state is stale",
        "proofs/fallback.py",
        '"p26_cluster_stress_used is 0", used == 0.0, used)',
        '"p26_cluster_stress_used is 0", used in (0.0, 1.0), used)',
        (PROOF_STALE_WINDOW,)),
    Mutation(
        "fallback_proof_recovery_accepts_any_k_source",
        "proof fallback fails when the gate does not take K from the cluster again after the cluster side restarts",
        "proofs/fallback.py",
        'lambda s: s == "cluster", limit, 0.25)',
        'lambda s: s is not None, limit, 0.25)',
        (PROOF_CLUSTER_SIDE_ELSEWHERE,)),
    Mutation(
        "fallback_proof_accepts_any_cluster_stress_used_after_recovery",
        "proof fallback fails when p26_cluster_stress_used is not 1 again after the cluster side restarts",
        "proofs/fallback.py",
        '"p26_cluster_stress_used is 1 again", used == 1.0, used)',
        '"p26_cluster_stress_used is 1 again", used is not None, used)',
        (PROOF_CLUSTER_SIDE_ELSEWHERE,)),
    Mutation(
        "fallback_proof_waits_for_the_first_gates_window_only",
        "proof fallback passes on a healthy system whose gates have freshness windows of their own (proofs branch)",
        "proofs/fallback.py",
        '    return max(p.topo.gate_freshness_s(g) for g in p.topo.actors_of_kind("gate"))\n',
        "    return p.freshness_s\n",
        (PROOF_TWO_GATES,)),
    Mutation(
        "readiness_proof_gate_sees_any_k_source",
        "proof readiness fails when the gate's HOLD probes do not take K from the fresh cluster state",
        "proofs/readiness.py",
        'lambda v: v == "cluster", CACHE_GRACE_S, 0.05)',
        'lambda v: v is not None, CACHE_GRACE_S, 0.05)',
        (PROOF_EXECUTION_SIDE_ELSEWHERE,)),
    Mutation(
        "readiness_proof_accepts_k_from_the_proxy",
        "proof readiness fails when the proposal is decided with K from the proxy",
        "proofs/readiness.py",
        'decision.get("k_source") == "cluster",',
        'decision.get("k_source") in ("cluster", "proxy"),',
        (PROOF_EXECUTION_SIDE_ELSEWHERE,)),
    Mutation(
        "readiness_proof_accepts_any_cluster_stress_used",
        "proof readiness fails when p26_cluster_stress_used is not 1",
        "proofs/readiness.py",
        '"p26_cluster_stress_used is 1", used == 1.0, used)',
        '"p26_cluster_stress_used is 1", used is not None, used)',
        (PROOF_EXECUTION_SIDE_ELSEWHERE,)),
    Mutation(
        "readiness_proof_takes_a_missing_permit_for_one_with_a_ttl",
        "proof readiness fails when the decision's permit is not in the topology's Redis (TTL -2)",
        "proofs/readiness.py",
        "0 < ttl <= 60,",
        "ttl <= 60,",
        (PROOF_EXECUTION_SIDE_ELSEWHERE,)),
    Mutation(
        "readiness_proof_takes_a_missing_record_for_one_on_the_stream",
        "proof readiness fails when the decision is not on the topology's gate stream",
        "proofs/readiness.py",
        "record is not None and record.get(\"final_action\")",
        "record is None or record.get(\"final_action\")",
        (PROOF_EXECUTION_SIDE_ELSEWHERE,)),
    Mutation(
        "positions_amount_error_names_the_parser",
        "positions set with an amount or price that is not a number says so, not argparse's function name",
        "launcher/number_args.py",
        '        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None\n',
        "        raise\n",
        ("tests/test_positions_cli.py::"
         "test_positions_refuses_an_amount_that_is_not_a_number_naming_it_not_the_parser",)),
    Mutation(
        "topology_not_utf8_is_a_traceback",
        "a topology file that is not UTF-8 is one problem line and exit 2, never a traceback (rev-operator)",
        "launcher/topology.py",
        "    except UnicodeDecodeError as exc:\n        raise SchemaError",
        "    except ZeroDivisionError as exc:\n        raise SchemaError",
        ("tests/test_topology_validation.py::"
         "test_a_topology_file_that_is_not_utf8_is_one_line_and_exit_2_not_a_traceback",)),
    Mutation(
        "validate_accepts_an_ipc_path_too_long_for_a_socket",
        "validate refuses an absolute ipc:// path longer than a socket path holds (rev-operator)",
        "launcher/topology.py",
        'if path.startswith("/") and len(os.fsencode(path)) > MAX_IPC_PATH_BYTES:',
        "if False:",
        ("tests/test_topology_validation.py::"
         "test_an_absolute_ipc_path_longer_than_a_socket_path_holds_is_rejected_by_validate",)),
    Mutation(
        "up_leaves_programs_stopped_by_hand_stopped",
        "up of an unchanged topology starts the programs stopped by hand instead of waiting for them (rev-operator)",
        "launcher/supervise.py",
        "                    for name in restart:\n                        sup.api.startProcess(name, False)\n",
        "                    for name in restart:\n                        pass\n",
        ("tests/test_launcher.py::test_up_again_starts_the_programs_stopped_by_hand_and_leaves_the_others_running",)),
    Mutation(
        "gate_takes_a_stale_issuer_reply_for_its_own",
        "a re-opened permits socket drops the reply to a request the gate gave up on (rev-merged)",
        "actors/gate.py",
        "        sock.setsockopt(zmq.REQ_CORRELATE, 1)\n",
        "",
        ("tests/test_bound_requesters.py::"
         "test_a_reply_to_a_request_the_gate_gave_up_on_is_not_taken_for_the_next_requests",)),
    Mutation(
        "gate_says_no_issuer_without_waiting_for_its_reconnect",
        "a gate whose bound permits socket was re-opened waits for the issuer to reconnect, not HOLDs (rev-merged)",
        "actors/gate.py",
        "            if wait_ms <= 0 or not self.wait_or_stop(sock, zmq.POLLOUT, wait_ms):\n",
        "            if True:\n",
        ("tests/test_bound_requesters.py::"
         "test_a_gate_whose_bound_permits_socket_was_recreated_after_a_timeout_records_the_next_proposals",)),
    Mutation(
        "rebind_gives_up_at_once",
        "a re-created socket re-binds the endpoint its closed predecessor still holds for a moment (rev-merged)",
        "actors/runtime.py",
        "REBIND_WAIT_S = 1.0\n",
        "REBIND_WAIT_S = 0.0\n",
        ("tests/test_bound_requesters.py::"
         "test_a_re_created_socket_binds_the_endpoint_its_closed_predecessor_still_holds_for_a_moment",)),
    Mutation(
        "correlator_never_resends_an_unsent_snapshot_request",
        "a correlator whose snapshot socket binds sends its request once a buffer connects (rev-merged)",
        "actors/correlator.py",
        "        if self.snapshot_unsent:\n            self.snapshot_unsent = not self.send_snapshot_request()\n",
        "",
        ("tests/test_bound_requesters.py::"
         "test_a_correlator_whose_bound_snapshot_socket_gets_the_running_buffers_snapshot",)),
    Mutation(
        "validate_lets_a_remote_issuer_connect_to_a_bound_permits_socket",
        "validate refuses a gate and its permit issuer on two hosts whichever way the link runs (rev-merged)",
        "launcher/hosts.py",
        '                elif (topo.actors[peer[0]].kind, peer[1]) == ("gate", "permits"):',
        "                elif False:",
        ("tests/test_multihost_topology.py::"
         "test_a_gate_whose_permit_issuer_on_another_host_connects_to_its_bound_permits_socket_is_refused",)),
    Mutation(
        "gate_fails_every_proposal_once_its_permits_socket_cannot_be_reopened",
        "a gate whose permits socket cannot be re-opened (its bound endpoint taken, its ipc directory gone) holds "
        "each proposal, nothing recorded, and re-opens it once it can, instead of internal_error until restarted",
        "actors/gate.py",
        '        except StartError as exc:\n            self.log.warning("permit_socket_unavailable"',
        '        except ZeroDivisionError as exc:\n            self.log.warning("permit_socket_unavailable"',
        ("tests/test_bound_requesters.py::"
         "test_a_gate_that_cannot_re_open_its_bound_permits_socket_holds_and_recovers_once_it_can",)),
    Mutation(
        "backtest_positions_rows_never_go_stale",
        "in the backtest a positions row counts for stale_after_s after its ts, as the gate counts a snapshot, and "
        "then the gate fails closed; --set stale_after_s moves that edge (rev-backtest)",
        "launcher/backtest.py",
        "            have[have] = times[have] - positions.ts[rows[at[have]]] <= stale_after_s\n",
        "            pass  # mutant: a row holds until the next one\n",
        ("tests/test_backtest_review.py::"
         "test_a_positions_row_older_than_stale_after_s_is_not_held_as_the_gate_judges_a_snapshot",
         "tests/test_backtest_live_decisions.py")),
    Mutation(
        "backtest_counts_fail_closed_time_as_cold",
        "the backtest's summary counts time without a fresh position as fail closed, not as cold (rev-backtest)",
        "launcher/backtest.py",
        "    cold = has_state & (st < g.cold_stress)\n",
        "    cold = st < g.cold_stress\n",
        ("tests/test_backtest_review.py::"
         "test_the_summary_counts_slots_without_a_fresh_position_as_fail_closed_not_cold",)),
    Mutation(
        "backtest_summary_leaves_refused_proposals_uncounted",
        "the backtest's summary counts add up: decisions = by_final_action + refused + replayed (rev-backtest)",
        "launcher/backtest.py",
        "            self.refused += 1\n",
        "            pass  # mutant: refused not counted\n",
        ("tests/test_backtest_review.py::test_summary_counts_add_up_to_the_decisions",)),
    Mutation(
        "backtest_reads_any_parquet_column_as_numbers",
        "a Parquet prices column that is not numbers (text, booleans, lists) is refused naming it, exit 2 (rev-backtest)",
        "launcher/backtest.py",
        "        if not (pa.types.is_integer(col.type)",
        "        if False and not (pa.types.is_integer(col.type)",
        ("tests/test_backtest_review.py::test_a_parquet_column_that_is_not_numbers_is_refused_naming_it",)),
    Mutation(
        "backtest_positions_and_proposals_crash_on_text_that_is_not_utf8",
        "a positions or proposals file that is not UTF-8 is refused naming it, exit 2 (rev-backtest)",
        "launcher/backtest.py",
        "    except UnicodeDecodeError as exc:\n",
        "    except ZeroDivisionError as exc:\n",
        ("tests/test_backtest_review.py::test_a_positions_or_proposals_file_that_is_not_utf8_is_refused_naming_it",)),
    Mutation(
        "backtest_runs_before_finding_out_cannot_be_a_directory",
        "an --out that names a file, or a path under one, is refused before the run, exit 2 (rev-backtest)",
        "launcher/backtest.py",
        "    check_out_dir(Path(args.out))\n",
        "",
        ("tests/test_backtest_review.py::test_an_out_path_that_cannot_be_a_directory_is_refused_before_the_run",)),
    Mutation(
        "backtest_crashes_on_a_csv_field_over_the_csv_limit",
        "a prices, positions or proposals CSV with a field over 128 KiB is refused naming the file, exit 2 (rev-backtest)",
        "launcher/backtest.py",
        "    except csv.Error as exc:  # a field over the csv module's limit (128 KiB)\n",
        "    except ZeroDivisionError as exc:\n",
        ("tests/test_backtest_review.py::test_a_csv_field_longer_than_the_csv_modules_limit_is_refused_naming_the_file",),
        also=(("launcher/backtest.py", "    except (ValueError, csv.Error) as exc:", "    except ValueError as exc:"),)),
    Mutation(
        "gate_reply_encoder_fails_what_orjson_refuses",
        "a reply orjson cannot write (lone surrogate, integer beyond 64 bits, nesting past 254) is written by the json "
        "module, the same value (issue 14, the gate's orjson replies)",
        "actors/wire.py",
        "    except TypeError:  # orjson.JSONEncodeError is a TypeError\n        return encode(obj)\n",
        "    except TypeError:  # orjson.JSONEncodeError is a TypeError\n        raise\n",
        ("tests/test_gate_hot_path.py::test_the_finite_encoder_gives_the_json_modules_value",
         "tests/test_gate_hot_path.py::test_the_finite_encoder_still_writes_what_orjson_refuses_nested_deep")),
    Mutation(
        "gate_takes_a_request_that_names_a_field_twice",
        "a proposal naming a field twice is refused invalid_proposal, also when orjson reads the request (issue 14)",
        "actors/gate.py",
        "    return obj if frame.count(b'\"') == quotes else None\n",
        "    return obj\n",
        ("tests/test_gate_hot_path.py::test_a_request_read_by_orjson_is_the_proposal_or_the_error_the_json_module_gave",)),
    Mutation(
        "gate_reads_an_integer_beyond_64_bits_as_a_float",
        "a request is read as the json module reads it: an integer beyond 64 bits stays an integer (issue 14)",
        "actors/gate.py",
        "            if not -_BIG_FLOAT < value < _BIG_FLOAT:\n",
        "            if False:\n",
        ("tests/test_gate_hot_path.py::test_a_request_read_by_orjson_is_the_proposal_or_the_error_the_json_module_gave",)),
    Mutation(
        "backtest_csv_columns_lose_the_file_order_of_equal_times",
        "a CSV read into columns for the backtest gives the rows in the row reader's order: time, then file order "
        "for equal times (the CSV read as it goes, not an object per row)",
        "launcher/feed_inputs.py",
        "        order = np.argsort(ts, kind=\"stable\")\n",
        "        order = np.argsort(ts, kind=\"quicksort\")\n",
        ("tests/test_price_feed_replay.py::"
         "test_a_file_read_into_columns_gives_the_rows_in_the_order_the_row_reader_gives_them",)),
    Mutation(
        "backtest_csv_lines_end_at_a_lone_cr",
        "the backtest reads a CSV's lines as the live feed's text read does: a lone CR is no line end (the file "
        "refused, line numbers counted alike), not universal newlines",
        "launcher/backtest.py",
        "newline=\"\\n\") as fh:\n            data = parse_replay_csv(",
        "newline=\"\") as fh:\n            data = parse_replay_csv(",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files",)),
    Mutation(
        "backtest_csv_bad_byte_found_as_it_goes",
        "a CSV's bad byte is the backtest's error wherever it is, named by its place in the file, before any error "
        "of its rows (the whole file checked as UTF-8 first, a block at a time)",
        "launcher/backtest.py",
        "        not_utf8 = utf8_error(path)\n",
        "        not_utf8 = None\n",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files",)),
    Mutation(
        "backtest_csv_second_bom_kept",
        "a BOM after the one utf-8-sig skips is skipped when a CSV is read as it goes, as when its text is read",
        "launcher/feed_inputs.py",
        "        yield line.removeprefix(\"\\ufeff\")\n",
        "        yield line\n",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files",)),
    Mutation(
        "backtest_csv_order_error_names_its_file_twice",
        "a prices CSV refused inside the read with an InputError (not UTF-8) names its file once: the InputError "
        "is not wrapped again as a ValueError",
        "launcher/backtest.py",
        "    except InputError:\n        raise\n    except (ValueError, csv.Error) as exc:  # csv.Error",
        "    except (ValueError, csv.Error) as exc:  # csv.Error",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files",)),
    Mutation(
        "replay_feed_crashes_on_a_csv_field_over_the_csv_limit",
        "a replay file with a field over 128 KiB is refused naming the file and line: validate and the feed exit 2 "
        "(rev-cluster)",
        "launcher/feed_inputs.py",
        "        except csv.Error as exc:\n            raise ValueError(f\"line {reader.line_num}: {exc}\") from None\n",
        "",
        ("tests/test_price_feed_replay.py::"
         "test_a_replay_file_with_a_field_over_the_csv_limit_is_refused_naming_the_file_and_line",)),
    Mutation(
        "up_leaves_a_lone_state_writer_running_without_a_lease_beside_a_new_standby",
        "`up` adding a standby state writer restarts the running one, so only the lease holder writes (rev-cluster)",
        "launcher/supervise.py",
        "    if lease_ms:\n        hashed[\"lease_ms\"] = lease_ms\n",
        "",
        ("tests/test_launcher.py::"
         "test_up_adding_a_standby_state_writer_restarts_the_running_one_so_only_the_lease_holder_writes",)),
    Mutation(
        "a_tick_number_past_float_range_escapes_as_a_handler_error",
        "a tick whose price or ts is an integer past float's range is counted bad_frame, no traceback (rev-cluster)",
        "actors/message_checks.py",
        "    except OverflowError:\n        return None\n",
        "    except ZeroDivisionError:\n        return None\n",
        ("tests/test_reliability_bad_input.py::"
         "test_hostile_ticks_are_counted_by_reason_and_the_buffer_and_book_keep_running",)),
    Mutation(
        "a_restarted_replay_feed_starts_its_file_again",
        "a restarted replay feed continues where it stopped, never jumping every symbol back to the file's first "
        "price (rev-cluster)",
        "actors/price_feed.py",
        "            due = self.schedule.resume(saved, appended=saved.get(\"sha256\") != self.replay_identity[\"sha256\"])\n",
        "            due = None\n",
        ("tests/test_price_feed_replay.py::"
         "test_a_restarted_replay_feed_continues_where_it_stopped_instead_of_jumping_back_to_the_first_prices",)),
    Mutation(
        "a_clusterer_clock_step_goes_unnamed",
        "a clusterer whose clock stepped (states stale on arrival) is named in the state writer's log (rev-cluster)",
        "actors/state_writer.py",
        "        self.check_state_age(message)\n",
        "",
        ("tests/test_cluster_side_attack.py::"
         "test_a_clusterer_whose_clock_stepped_is_named_in_the_state_writers_log_and_its_end_too",)),
    Mutation(
        "a_clusterer_writes_a_queued_old_matrix_as_fresh",
        "a matrix older than max_price_age_s when the clusterer uses it is not written as a fresh state (rev-cluster)",
        "actors/clusterer.py",
        "        if header.get(\"ready\") and matrix_is_stale(header, now, self.topology.max_price_age_s):\n",
        "        if False and matrix_is_stale(header, now, self.topology.max_price_age_s):\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_clusterer_that_resumes_after_its_correlator_died_does_not_write_an_old_matrix_as_fresh",)),
    Mutation(
        "a_snapshot_byte_that_is_not_utf8_stops_the_clusterer",
        "a position snapshot holding bytes that are not UTF-8 leaves the cluster side writing states (rev-cluster)",
        "actors/clusterer.py",
        "        self.redis = RespClient.from_config(self.topology.redis, decode=False)  # snapshot values may hold any bytes\n",
        "        self.redis = RespClient.from_config(self.topology.redis)\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_position_snapshot_holding_bytes_that_are_not_utf8_does_not_stop_the_cluster_side",),
        also=(("launcher/resp.py", "hiredis.Reader(replyError=ReplyError, encoding=\"utf-8\", errors=\"replace\")",
               "hiredis.Reader(replyError=ReplyError, encoding=\"utf-8\")"),)),
    Mutation(
        "a_snapshot_price_byte_that_is_not_utf8_stops_the_feed",
        "a snapshot mark_price that is not UTF-8 is refused for its symbol, the others keep ticking (rev-cluster)",
        "actors/price_feed.py",
        "        self.redis = RespClient.from_config(self.topology.redis, decode=False)\n",
        "        self.redis = RespClient.from_config(self.topology.redis)\n",
        ("tests/test_price_feed_process.py::"
         "test_a_snapshot_mark_price_of_bytes_that_are_not_utf8_is_refused_and_the_other_symbols_keep_ticking",),
        also=(("launcher/resp.py", "hiredis.Reader(replyError=ReplyError, encoding=\"utf-8\", errors=\"replace\")",
               "hiredis.Reader(replyError=ReplyError, encoding=\"utf-8\")"),)),
    Mutation(
        "launcher_takes_a_cut_off_supervisord_answer_for_a_traceback",
        "supervisord killed while it writes an answer is reported as gone, in one line (CI, 3 Dec 2026)",
        "launcher/supervise.py",
        "            except ExpatError as exc:  # supervisord died while it wrote its answer: the connection was lost\n",
        "            except ZeroDivisionError as exc:\n",
        ("tests/test_launcher_attacks.py::test_a_supervisord_answer_cut_off_midway_is_a_connection_lost_not_a_traceback",)),
    Mutation(
        "a_timestamp_past_float_range_raises_out_of_finite_number",
        "a state's ts (or any timestamp) that is an integer past float's range is no number, not an OverflowError "
        "out of the state writer's handler (read-through, session 12)",
        "actors/policy.py",
        "    except (TypeError, ValueError, OverflowError):\n        return None\n    return number if math.isfinite(number) else None\n",
        "    except (TypeError, ValueError):\n        return None\n    return number if math.isfinite(number) else None\n",
        ("tests/test_gate_policy.py::test_a_timestamp_is_a_finite_float_or_none_never_an_exception",)),
    Mutation(
        "a_saved_replay_position_nested_past_the_parsers_depth_stops_the_feed",
        "a replay_position key holding garbage starts the file again, never stops the feed (rev-replay)",
        "actors/price_feed.py",
        "        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested past the parser's depth\n",
        "        except ValueError:\n",
        ("tests/test_price_feed_replay.py::test_a_saved_replay_position_holding_garbage_starts_the_file_again_and_never_stops_the_feed",)),
    Mutation(
        "a_saved_replay_position_of_a_million_loops_overflows_the_replay",
        "a replay_position key holding garbage starts the file again, never stops the feed (rev-replay)",
        "actors/price_feed.py",
        "        if type(passes) is not int or not 0 <= passes <= MAX_REPLAY_PASSES or self._rebase_overflows(passes) \\\n",
        "        if type(passes) is not int or not 0 <= passes <= MAX_REPLAY_PASSES \\\n",
        ("tests/test_price_feed_replay.py::test_a_saved_replay_position_holding_garbage_starts_the_file_again_and_never_stops_the_feed",)),
    Mutation(
        "a_replay_position_is_a_row_number_of_the_allowed_symbols_rows",
        "a replay restarted with another allowlist continues at the same recorded time (rev-replay)",
        "actors/price_feed.py",
        "        return {\"ts\": float(self.ts[self.index]) if self.index < self.n else None,\n",
        "        return {\"ts\": self.index if self.index < self.n else None,\n",
        ("tests/test_price_feed_replay.py::test_a_replay_restarted_with_another_allowlist_continues_at_the_same_recorded_time",),
        also=(("actors/price_feed.py", "            index = int(np.searchsorted(self.ts, float(ts), side=\"left\"))\n",
               "            index = int(ts)\n"),)),
    Mutation(
        "a_replay_file_is_known_by_its_size_and_mtime",
        "a replay file replaced by another of the same size and mtime starts from its first row (rev-replay)",
        "actors/price_feed.py",
        "        self.replay_identity = {\"file\": str(path), \"sha256\": data.sha256, \"bytes\": data.bytes_parsed}\n",
        "        self.replay_identity = {\"file\": str(path), \"sha256\": f\"{path.stat().st_size}:{path.stat().st_mtime_ns}\",\n"
        "                                \"bytes\": data.bytes_parsed}\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_replaced_by_another_of_the_same_size_and_mtime_starts_from_its_first_row",)),
    Mutation(
        "a_replay_started_while_redis_is_down_starts_its_file_again",
        "a replay feed started while Redis is down resumes once Redis answers (rev-replay)",
        "actors/price_feed.py",
        "            if time.monotonic() < self.position_wait_until:\n",
        "            if False:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_feed_started_while_redis_is_down_resumes_once_redis_answers",)),
    Mutation(
        "a_replay_saves_its_position_on_its_own_loop",
        "a Redis that hangs does not hold up a replay's ticks (rev-replay)",
        "actors/price_feed.py",
        "            self.position_saver.latest = self.schedule.position()\n",
        "            self.position_saver.latest = self.schedule.position()\n            self.position_saver.save()\n",
        ("tests/test_price_feed_replay.py::test_a_redis_that_hangs_does_not_hold_up_a_replays_ticks",)),
    Mutation(
        "the_skew_log_judges_by_the_writers_own_window",
        "the state writer names a state skewed exactly when a gate's own freshness_s refuses it (rev-skew)",
        "actors/state_writer.py",
        "        self.gate_freshness_s = self.topology.strictest_gate_freshness_s  # what check_state_age judges by\n",
        "        self.gate_freshness_s = self.freshness_s\n",
        (f"{SKEW}::test_a_state_older_than_the_gates_own_freshness_window_is_named_while_the_gate_falls_back",
         f"{SKEW}::test_a_state_within_the_gates_own_wider_freshness_window_is_not_named_skew")),
    Mutation(
        "the_skew_log_judges_by_the_widest_gate_window",
        "the skew log judges by the smallest freshness window of the topology's gates (rev-skew)",
        "launcher/topology.py",
        "        return min((self.gate_freshness_s(n) for n in self.actors_of_kind(\"gate\")), default=self.freshness_default_s)\n",
        "        return max((self.gate_freshness_s(n) for n in self.actors_of_kind(\"gate\")), default=self.freshness_default_s)\n",
        (f"{SKEW}::test_the_skew_log_judges_by_the_smallest_freshness_window_of_the_topologys_gates",)),
    Mutation(
        "the_skew_log_tolerates_a_second_ahead",
        "a state stamped in a whole second not yet begun is named skew, though under a second ahead (rev-skew)",
        "actors/state_writer.py",
        "        skewed = not state_is_fresh(updated_ts, updated_ts_ms, now, self.gate_freshness_s)\n",
        "        skewed = not -1.0 <= age_s <= self.gate_freshness_s\n",
        (f"{SKEW}::test_a_state_stamped_in_a_whole_second_not_yet_begun_is_named_skew_though_under_a_second_ahead",)),
    Mutation(
        "a_state_ts_that_is_not_epoch_seconds_reaches_the_writes",
        "a state whose ts is not epoch seconds is refused as bad_state and the writer keeps writing (rev-skew)",
        "actors/state_message.py",
        "    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 <= ts <= MAX_EPOCH_S:  # NaN fails too\n",
        "    if False:\n",
        (f"{SKEW}::test_a_state_whose_ts_is_not_epoch_seconds_is_refused_as_bad_state_and_the_writer_keeps_writing",)),
    Mutation(
        "a_gate_freshness_change_leaves_the_state_writer_running",
        "up restarts the state writer when a gate change moves the smallest freshness window (rev-skew)",
        "launcher/supervise.py",
        "    if topo.actors[name].kind == \"state_writer\" and whole.strictest_gate_freshness_s != whole.freshness_default_s:\n",
        "    if False:\n",
        (f"{SKEW}::test_a_gates_freshness_change_restarts_the_state_writer_when_it_moves_the_smallest_window",)),
    Mutation(
        "an_issuer_cooldown_ttl_change_leaves_the_gates_running",
        "up restarts the gates when the issuer's cooldown_ttl_s, which their caches assume, changes",
        "launcher/supervise.py",
        "    if topo.actors[name].kind == \"gate\" and whole.issuer_cooldown_ttl_s != PermitIssuerSettings().cooldown_ttl_s:\n",
        "    if False:\n",
        ("tests/test_launcher.py::test_a_change_of_the_issuers_cooldown_ttl_restarts_the_gates_whose_cache_assumes_it",)),
    Mutation(
        "an_empty_plan_id_becomes_a_new_one_in_the_client",
        "GateClient sends an empty plan_id as given, never a new uuid in its place (rev-operator)",
        "launcher/client.py",
        "        plan_id = uuid.uuid4().hex if plan_id is None else plan_id  # \"\" goes to the gate, which refuses it\n",
        "        plan_id = plan_id or uuid.uuid4().hex\n",
        ("tests/test_client.py::test_an_empty_plan_id_is_sent_as_given_or_refused_never_swapped_for_a_new_one",)),
    Mutation(
        "propose_sends_a_blank_plan_id",
        "clustergate propose refuses a blank --plan-id before anything is sent (rev-operator)",
        "launcher/client.py",
        "    if args.plan_id is not None and not args.plan_id.strip():  # an empty $PLAN_ID: a new plan_id is no retry\n",
        "    if False:\n",
        ("tests/test_client.py::test_an_empty_plan_id_is_sent_as_given_or_refused_never_swapped_for_a_new_one",)),
    Mutation(
        "up_takes_a_stopped_programs_ports_as_held",
        "up checks the ports of a program stopped by hand (or failing) like a new one's (rev-operator)",
        "launcher/supervise.py",
        "    names = [n for n in redis_program_names(running) + list(running.actors) if n in live]\n",
        "    names = redis_program_names(running) + list(running.actors)\n",
        ("tests/test_launcher.py::test_up_refuses_the_port_of_a_program_stopped_by_hand_that_another_process_took_meanwhile",)),
    Mutation(
        "ctrl_c_interrupts_up_while_it_applies_a_change",
        "Ctrl-C while up applies a change waits for the change to be whole, then says so (rev-operator)",
        "launcher/supervise.py",
        "                signal.signal(signum, self._remember)\n",
        "                pass\n",
        ("tests/test_launcher.py::test_ctrl_c_while_up_applies_a_change_finishes_the_change_and_says_so",)),
    Mutation(
        "ctrl_c_before_up_changes_anything_is_silent",
        "Ctrl-C during up's checks says nothing was changed (rev-operator)",
        "launcher/supervise.py",
        "        print(\"interrupted before anything was changed\", file=sys.stderr)\n",
        "        pass\n",
        ("tests/test_launcher.py::test_ctrl_c_before_up_changes_anything_says_nothing_was_changed",)),
    Mutation(
        "a_kill_or_hang_up_stops_up_mid_change",
        "SIGTERM or SIGHUP (a closed terminal) while up applies a change waits for the change to be whole, "
        "then says so (attack14)",
        "launcher/supervise.py",
        "    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)\n",
        "    SIGNALS = (signal.SIGINT,)\n",
        ("tests/test_launcher.py::test_a_terminal_closing_or_a_kill_while_up_applies_a_change_finishes_the_change_and_says_so",)),
    Mutation(
        "lost_output_mid_change_puts_the_previous_files_back",
        "a line up cannot print while it applies a change neither stops the change nor puts the previous "
        "files back under what runs (attack14)",
        "launcher/supervise.py",
        "        print(text, file=out, flush=True)\n    except OSError:\n",
        "        print(text, file=out, flush=True)\n    except ZeroDivisionError:\n",
        ("tests/test_launcher.py::test_up_whose_terminal_closes_while_it_applies_a_change_keeps_the_files_of_what_runs",)),
    Mutation(
        "supervisord_started_in_ups_process_group",
        "a terminal's Ctrl-C while up starts supervisord lets the start finish (attack14)",
        "launcher/supervise.py",
        "                                cwd=self.home.root, preexec_fn=os.setsid)\n",
        "                                cwd=self.home.root)\n",
        ("tests/test_launcher.py::"
         "test_ctrl_c_pressed_again_and_again_while_up_starts_supervisord_finishes_the_start_and_says_so",)),
    Mutation(
        "up_takes_over_a_signal_it_was_started_ignoring",
        "a signal up was started ignoring (a background job's Ctrl-C, nohup's hang-up) stays ignored (attack14)",
        "launcher/supervise.py",
        "            if previous is not signal.SIG_IGN:\n",
        "            if True:\n",
        ("tests/test_launcher.py::test_an_up_started_ignoring_ctrl_c_keeps_ignoring_it_while_it_applies_a_change",)),
    Mutation(
        "status_calls_redis_down_no_cluster_state",
        "status tells a Redis without cluster state from a Redis that does not answer (rev-operator)",
        "launcher/overview.py",
        "                     else f\"cluster state: unknown, Redis {ov['redis']}\")\n",
        "                     else f\"cluster state: none in Redis ({ov['redis']})\")\n",
        ("tests/test_status_overview.py::test_status_says_whether_no_cluster_state_means_redis_has_none_or_redis_is_down",)),
    Mutation(
        "status_judges_by_the_last_gates_window",
        "status calls the cluster state stale by the strictest gate's freshness window, not the last gate's",
        "launcher/overview.py",
        "    freshness = topo.strictest_gate_freshness_s  # stale for one gate is a fallback on its decisions\n",
        "    freshness = topo.gate_freshness_s(topo.actors_of_kind(\"gate\")[-1])\n",
        ("tests/test_status_overview.py::test_status_judges_the_cluster_states_age_by_the_strictest_gates_window",)),
    Mutation(
        "negative_retries_taken_as_none",
        "GateClient refuses retries outside 0..MAX_RETRIES instead of taking a negative count as 0 (rev-operator)",
        "launcher/client.py",
        "        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:\n",
        "        if False:\n",
        ("tests/test_client.py::test_negative_retries_are_refused_not_taken_as_none",)),
    Mutation(
        "settings_in_cadences_measured_against_the_default_cadence",
        "a misspelt or wrong cadence_s is the one problem named: no setting is measured against the default's 60 s",
        "launcher/topology.py",
        "    cadence_given = not any(_may_be_the_cadence(v, p.path) for p in v.problems)\n",
        "    cadence_given = True\n",
        ("tests/test_topology_validation.py::"
         "test_a_wrong_cadence_is_the_one_problem_named_and_nothing_is_measured_against_a_cadence_not_given",)),
    Mutation(
        "ctrl_c_while_the_command_loads_prints_a_traceback",
        "Ctrl-C while `clustergate` loads the launcher exits 130 with nothing printed",
        "launcher/console.py",
        "    except KeyboardInterrupt:\n        sys.exit(130)\n",
        "    except ImportError:\n        sys.exit(130)\n",
        ("tests/test_launcher.py::test_ctrl_c_while_the_launcher_loads_exits_130_with_nothing_printed",)),
    Mutation(
        "ctrl_c_while_main_loads_supervise_prints_a_traceback",
        "Ctrl-C while a command's main() loads launcher.supervise exits 130 with nothing printed",
        "launcher/cli.py",
        "    except KeyboardInterrupt:  # Ctrl-C while the launcher still loads: nothing read or changed yet\n",
        "    except ImportError:\n",
        ("tests/test_launcher.py::test_ctrl_c_while_the_launcher_loads_exits_130_with_nothing_printed",)),
    Mutation(
        "installed_command_loads_the_cli_unguarded",
        "the installed `clustergate` command starts through launcher.console (Ctrl-C while loading: 130, no traceback)",
        "pyproject.toml",
        'clustergate = "launcher.console:main"\n',
        'clustergate = "launcher.cli:main"\n',
        ("tests/test_launcher.py::test_ctrl_c_while_the_launcher_loads_exits_130_with_nothing_printed",)),
    Mutation(
        "python_m_launcher_loads_the_cli_unguarded",
        "`python -m launcher` starts through launcher.console (Ctrl-C while loading: 130, no traceback)",
        "launcher/__main__.py",
        "from launcher.console import main\n",
        "from launcher.cli import main\n",
        ("tests/test_launcher.py::test_ctrl_c_while_the_launcher_loads_exits_130_with_nothing_printed",)),
    Mutation(
        "status_keeps_quiet_about_a_crash_loop",
        "status names a program that exited unexpectedly (a crash loop shows RUNNING between crashes)",
        "launcher/supervise.py",
        "            if \"unexpected_exits\" in row:\n",
        "            if False:\n",
        ("tests/test_launcher.py::"
         "test_status_says_how_often_a_program_exited_unexpectedly_and_not_when_it_was_restarted_on_purpose",)),
    Mutation(
        "unexpected_exits_counted_since_the_log_began",
        "status counts unexpected exits within its window only",
        "launcher/exits.py",
        "        if now - window_s <= at <= now + 1:\n",
        "        if at <= now + 1:\n",
        ("tests/test_status_overview.py::"
         "test_unexpected_exits_are_counted_from_supervisords_log_within_the_window_and_asked_stops_are_not",)),
    Mutation(
        "asked_stops_counted_as_unexpected_exits",
        "a stop asked for (stopped:, or an expected exit) is not counted as an unexpected exit",
        "launcher/exits.py",
        "\\w+ exited: ([A-Za-z0-9_.:-]+) \\((.*); not expected\\)$\")",
        "\\w+ (?:exited|stopped): ([A-Za-z0-9_.:-]+) \\((.*?)(?:; not expected|; expected)?\\)$\")",
        ("tests/test_status_overview.py::"
         "test_unexpected_exits_are_counted_from_supervisords_log_within_the_window_and_asked_stops_are_not",)),
    Mutation(
        "proposal_check_quotes_a_value_nested_too_deep",
        "a request's value nested too deep for the json module to write back gets its error reply, counted, not "
        "internal_error (attack15): its quote is written by a loop, not by the json module's recursion",
        "actors/policy.py",
        "    pieces: list[str] = []\n",
        "    return json.dumps(value)[:QUOTE_CHARS]  # recursive: RecursionError past the stack\n",
        ("tests/test_gate_attack.py::"
         "test_a_value_nested_as_deep_as_the_json_module_reads_gets_its_error_and_every_request_is_counted_once",)),
    Mutation(
        "duplicate_names_counted_against_each_other",
        "the names a request gives twice are found in one pass, not by counting each against all (attack15)",
        "actors/gate.py",
        "            (twice if name in seen else seen).add(name)\n",
        "            if [other for other, _ in pairs].count(name) > 1:\n                twice.add(name)\n",
        ("tests/test_gate_attack.py::"
         "test_finding_the_names_a_request_gives_twice_takes_comparisons_in_proportion_to_its_names",)),
    Mutation(
        "time_to_permit_starts_at_the_batch",
        "p26_time_to_permit_seconds counts a proposal's wait in the gate's own queue, from when it was read off the "
        "socket (attack15)",
        "actors/gate.py",
        "                at = received if read_at is None else read_at[slot]\n",
        "                at = received\n",
        ("tests/test_gate_hot_path.py::test_time_to_permit_counts_from_when_the_gate_read_the_proposal_off_its_socket",),
        also=(("actors/gate.py",
               "self.decide_one(admitted, now, received), received if read_at is None else read_at)\n",
               "self.decide_one(admitted, now, received), received)\n"),)),
    Mutation(
        "client_lets_a_too_deep_reply_raise",
        "GateClient takes a reply nested past the json module's depth as no gate envelope (GateUnavailable naming "
        "the plan_id, or the next gate), not a RecursionError (attack15)",
        "launcher/client.py",
        "                except (ValueError, RecursionError) as exc:  # not a gate",
        "                except ValueError as exc:  # not a gate",
        ("tests/test_gate_attack.py::test_gateclient_propose_answered_by_a_bad_reply_says_which_plan_id_it_sent",)),
    Mutation(
        "readiness_proof_takes_a_fault_hold_for_a_decision",
        "the readiness proof fails 'the gate decides a proposal' on a fault HOLD (nothing recorded), not the checks "
        "after it on the fault's default values",
        "proofs/readiness.py",
        '    fault = reply.get("status") == "ok" and decision.get("recorded") is False\n',
        "    fault = False\n",
        ("tests/test_proofs.py::test_readiness_proof_says_the_gate_decided_nothing_when_its_answer_is_a_fault_hold",)),
    Mutation(
        "any_problem_under_clusters_hides_the_cadence_checks",
        "a problem under clusters other than cadence_s leaves freshness_s measured against the cadence given",
        "launcher/topology.py",
        "    cadence_given = not any(_may_be_the_cadence(v, p.path) for p in v.problems)\n",
        "    cadence_given = not any(p.path[:1] == (\"clusters\",) for p in v.problems)\n",
        ("tests/test_topology_validation.py::"
         "test_another_problem_under_clusters_leaves_freshness_measured_against_the_cadence_given",)),
    Mutation(
        "supervisords_log_read_in_the_callers_zone",
        "status reads supervisord's log times in supervisord's zone, not in its own TZ",
        "launcher/supervise.py",
        "    exits = unexpected_exits(home.run / \"supervisord.log\", supervisord_pid=sup.pid())\n",
        "    exits = unexpected_exits(home.run / \"supervisord.log\")\n",
        ("tests/test_launcher.py::"
         "test_status_says_how_often_a_program_exited_unexpectedly_and_not_when_it_was_restarted_on_purpose",)),
    Mutation(
        "exits_before_the_logs_rotation_forgotten",
        "status counts the window's unexpected exits that supervisord logged before it rotated its log",
        "launcher/exits.py",
        "    if len(tail) < TAIL_BYTES:  # rotated lately",
        "    if False:  # rotated lately",
        ("tests/test_status_overview.py::test_unexpected_exits_logged_before_supervisord_rotated_its_log_still_count",)),
    Mutation(
        "up_leaves_a_fatal_program_fatal",
        "up of the same topology starts a program supervisord gave up on (FATAL), its ports checked first",
        "launcher/supervise.py",
        "    return [p[\"name\"] for p in infos if p[\"statename\"] in (\"STOPPED\", \"FATAL\")]\n",
        "    return [p[\"name\"] for p in infos if p[\"statename\"] in (\"STOPPED\",)]\n",
        ("tests/test_launcher.py::test_up_again_starts_a_program_supervisord_gave_up_on_as_one_stopped_by_hand",
         "tests/test_launcher.py::test_up_again_starts_the_programs_stopped_by_hand_and_leaves_the_others_running")),
    Mutation(
        "snapshot_key_of_another_type_fails_every_symbol",
        "a position snapshot key of another type makes that symbol not held, not a failed read for every symbol",
        "launcher/keys.py",
        "    return isinstance(reply, Exception) and str(reply).startswith(\"WRONGTYPE\")\n",
        "    return False\n",
        ("tests/test_cluster_side_attack.py::test_a_position_snapshot_holding_bytes_that_are_not_utf8_does_not_stop_the_cluster_side",
         "tests/test_price_feed_process.py::test_a_snapshot_mark_price_of_bytes_that_are_not_utf8_is_refused_and_the_other_symbols_keep_ticking",
         "tests/test_book.py::test_the_book_writes_fresh_snapshots_of_every_position_and_rewrites_a_deleted_one",
         "tests/test_positions_cli.py::test_positions_list_and_set_name_a_snapshot_key_of_another_type_and_a_field_that_is_not_utf8")),
    Mutation(
        "clusterer_silent_about_an_unreadable_snapshot",
        "the clusterer names the symbols whose snapshot key it cannot read",
        "actors/clusterer.py",
        "            self.note_unreadable(unreadable)\n",
        "",
        ("tests/test_cluster_side_attack.py::test_a_position_snapshot_holding_bytes_that_are_not_utf8_does_not_stop_the_cluster_side",)),
    Mutation(
        "feed_skips_a_snapshot_that_is_not_a_hash_uncounted",
        "a redis_snapshots feed counts a snapshot key that is not a hash (not_a_hash) and logs its error",
        "actors/price_feed.py",
        "                self._skip(symbol, None, \"not_a_hash\", error=str(reply))\n",
        "",
        ("tests/test_price_feed_process.py::test_a_snapshot_mark_price_of_bytes_that_are_not_utf8_is_refused_and_the_other_symbols_keep_ticking",)),
    Mutation(
        "client_ends_the_call_at_the_first_expired",
        "GateClient asks the next gate after an `expired` (one gate whose clock runs ahead answers every proposal "
        "so); the call ends with `expired` only when every gate in a row answered it (attack16a)",
        "launcher/client.py",
        " or unread >= servers or ",
        " or unread >= 1 or ",
        ("tests/test_client.py::test_a_gate_answering_expired_at_once_hands_the_call_to_the_next_gate_with_the_same_plan_id",)),
    Mutation(
        "client_connects_ipv6_gates_without_ipv6",
        "GateClient reaches a gate whose proposals endpoint is an IPv6 address, tcp://[::1]:PORT (attack16a)",
        "launcher/client.py",
        '                if self.endpoint.startswith("tcp://["):  # without it',
        '                if False:  # without it',
        ("tests/test_client.py::test_a_gate_on_an_ipv6_endpoint_is_reached",)),
    Mutation(
        "propose_dies_silently_on_sigterm",
        "clustergate propose ended by SIGTERM or SIGHUP prints the plan_id it sent, as after Ctrl-C (attack16a)",
        "launcher/client.py",
        "    previous = {signum: signal.signal(signum, _raise_terminated) for signum in TERMINATING_SIGNALS\n",
        "    previous = {signum: signal.getsignal(signum) for signum in TERMINATING_SIGNALS\n",
        ("tests/test_client.py::test_clustergate_propose_terminated_while_waiting_prints_the_plan_id_it_sent",)),
    Mutation(
        "propose_interrupted_says_nothing",
        "clustergate propose interrupted says so (the exception is truthy; its text is empty) (attack16a)",
        "launcher/client.py",
        "{str(exc) or 'interrupted'}",
        "{exc or 'interrupted'}",
        ("tests/test_gate_attack.py::test_clustergate_propose_interrupted_while_waiting_prints_the_plan_id_it_sent",)),
    Mutation(
        "client_takes_an_answer_for_another_plan_id",
        "GateClient never returns a reply naming another plan_id (a reply sent twice, read by the next request) as the "
        "proposal's answer (attack16a)",
        "launcher/client.py",
        "    if named != plan_id:  # another request's (a reply sent twice)\n",
        "    if False:\n",
        ("tests/test_client.py::test_a_reply_naming_another_plan_id_or_of_several_frames_is_never_taken_for_the_proposals_answer",)),
    Mutation(
        "client_reads_one_frame_of_a_reply",
        "GateClient takes a reply of several frames as no gate envelope and reads it whole, so its socket can send the "
        "next request (attack16a)",
        "launcher/client.py",
        "                frames = sock.recv_multipart() if _wait_for_reply(sock, wait_ms) else None",
        "                frames = [sock.recv()] if _wait_for_reply(sock, wait_ms) else None",
        ("tests/test_client.py::test_a_reply_naming_another_plan_id_or_of_several_frames_is_never_taken_for_the_proposals_answer",)),
    # Test-can-fail audit (canfail): tests whose names make a strong claim that no mutation named, each broken the
    # way its name says the product cannot be.
    Mutation(
        "permits_written_without_their_records",
        "every permit in Redis has its decision on the stream (the script records only HOLDs)",
        "actors/permit_issuer.py",
        "redis.call('XADD', KEYS[2], '*', unpack(record))\n",
        "if not issue then redis.call('XADD', KEYS[2], '*', unpack(record)) end\n",
        ("tests/test_gate_service.py::test_every_permit_in_redis_has_its_decision_on_the_stream",)),
    Mutation(
        "decision_never_stored_under_its_plan_id",
        "a plan_id twice in one issuer batch gets one decision and one permit: the second is a replay",
        "actors/permit_issuer.py",
        "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n",
        "",
        ("tests/test_gate_service.py::test_a_plan_id_twice_in_one_issuer_batch_gets_one_decision_and_one_permit",)),
    Mutation(
        "concurrent_clients_decide_a_plan_id_again",
        "six DEALER clients sending one plan_id at once get one decision and one record (the script never replays)",
        "actors/permit_issuer.py",
        "local previous = redis.call('GET', KEYS[1])\n",
        "local previous = false\n",
        ("tests/test_gate_service.py::test_concurrent_dealer_clients_get_one_decision_and_one_permit_per_plan_id",)),
    Mutation(
        "plan_id_reused_with_another_kill_score_replayed",
        "a plan_id resent with another kill_score is refused with plan_id_conflict, not given the first decision",
        "actors/permit_issuer.py",
        'PROPOSAL_IDENTITY = ("symbol", "action_proposed", "kill_score")',
        'PROPOSAL_IDENTITY = ("symbol", "action_proposed")',
        ("tests/test_gate_service.py::test_a_plan_id_reused_for_another_proposal_is_refused_with_plan_id_conflict",)),
    Mutation(
        "script_ignores_the_gates_deadline",
        "no issuer write lands after the gate stopped waiting (the script takes every deadline for none)",
        "actors/permit_issuer.py",
        "local deadline = tonumber(ARGV[8])\n",
        "local deadline = 0\n",
        ("tests/test_gate_service.py::test_an_issuer_write_never_lands_after_the_gate_stopped_waiting",)),
    Mutation(
        "holds_may_fill_the_whole_stream",
        "a storm of HOLDs cannot fill the stream so that a real exit is refused (no tenth kept for permits)",
        "actors/permit_issuer.py",
        "if not issue then cap = cap - math.floor(cap / 10) end",
        "",
        ("tests/test_gate_attack.py::test_a_storm_of_hold_proposals_cannot_fill_the_stream_so_that_a_real_exit_is_refused",)),
    Mutation(
        "stream_trimmed_of_live_permits_records",
        "a live permit keeps its decision record through a burst of HOLDs (the trim drops every record)",
        "actors/permit_issuer.py",
        "'MINID', tostring(now_ms - tonumber(ARGV[9]))",
        "'MINID', tostring(now_ms)",
        ("tests/test_gate_service.py::test_a_live_permit_keeps_its_decision_record_through_a_burst_of_holds",)),
    Mutation(
        "two_issuers_ignore_each_others_cooldown_under_load",
        "with two gates and two issuers at once, a symbol gets one permit at its proposed action per cooldown",
        "actors/permit_issuer.py",
        "if issue and ARGV[7] == '0' and redis.call('EXISTS', KEYS[4]) == 1 then",
        "if false then",
        ("tests/test_ha_gates.py::test_cooldowns_stay_exact_with_two_issuers_writing_at_once",)),
    Mutation(
        "backtest_replay_issues_a_second_permit",
        "in the backtest a replayed plan_id issues no second permit",
        "launcher/backtest.py",
        'yield {**prior[1], "ts": t, "replayed": True, "permit": False}',
        'yield {**prior[1], "ts": t, "replayed": True}',
        ("tests/test_backtest_attack.py::test_a_replayed_plan_id_issues_no_second_permit_and_is_counted_once",)),
    Mutation(
        "feed_publishes_a_negative_price",
        "a snapshot price that is negative is counted and never published",
        "launcher/feed_inputs.py",
        "    if price < 0:\n        return \"negative\"\n",
        "",
        ("tests/test_price_feed_process.py::"
         "test_redis_snapshot_prices_that_are_nan_negative_zero_or_infinite_are_counted_and_never_published",)),
    Mutation(
        "correlations_not_clipped",
        "the matrix never holds a value outside [-1, 1] (rounding past 1 is clipped)",
        "actors/correlation.py",
        "    np.clip(corr, -1.0, 1.0, out=corr)\n",
        "",
        ("tests/test_cluster_maths.py::test_matrix_never_holds_nan_or_values_outside_minus_one_one",
         "tests/test_cluster_maths.py::test_a_perfectly_correlated_pair_is_never_past_one_in_pairwise_pearson")),
    Mutation(
        "audit_takes_an_unanswered_proposal_for_answered",
        "the HA audit counts a proposal no call got a final answer to as lost",
        "launcher/ha_load.py",
        '        if "final" not in kinds and "error" not in kinds:\n',
        "        if not kinds:\n",
        ("tests/test_ha_audit.py::test_a_proposal_never_answered_is_counted_lost",)),
    Mutation(
        "audit_takes_a_hold_record_for_a_permits",
        "the HA audit counts a permit whose plan_id has only a HOLD on the stream as a permit without its record",
        "launcher/ha_load.py",
        '        if not any(r.get("final_action") != "HOLD" for r in records.get(plan, [])):\n',
        "        if not records.get(plan):\n",
        ("tests/test_ha_audit.py::test_a_permit_without_its_record_and_a_recorded_reply_missing_from_the_stream_are_counted",)),
    Mutation(
        "audit_takes_any_record_for_the_recorded_reply",
        "the HA audit counts a recorded reply whose action the stream does not hold as missing from the stream",
        "launcher/ha_load.py",
        '        if not any(r.get("final_action") == decision.get("final_action") for r in records.get(plan, [])):\n',
        "        if not records.get(plan):\n",
        ("tests/test_ha_audit.py::test_a_permit_without_its_record_and_a_recorded_reply_missing_from_the_stream_are_counted",)),
    Mutation(
        "audit_misses_one_decision_recorded_twice",
        "the HA audit counts a plan_id with two stream records as decided twice, even two records of one decision",
        "launcher/ha_load.py",
        "        if len({identity(r) for r in mine}) > 1 or len(mine) > 1:\n",
        "        if len({identity(r) for r in mine}) > 1:\n",
        ("tests/test_ha_audit.py::test_a_plan_id_with_two_records_or_two_different_replies_is_decided_twice",)),
    Mutation(
        "issuer_chunk_cache_never_cleared",
        "the issuer's chunk cache stays bounded under a client sending every kill_score",
        "actors/permit_issuer.py",
        "            if len(self) >= self.MAX_KEPT:\n",
        "            if False:\n",
        ("tests/test_gate_hot_path.py::"
         "test_the_issuers_chunk_cache_stays_bounded_and_right_under_a_client_sending_every_kill_score",)),
    Mutation(
        "issuer_chunk_cache_forgets_none_at_a_clear",
        "the issuer's chunk cache stays right after it is cleared: a null stream value is still sent as \"\"",
        "actors/permit_issuer.py",
        '                self[None] = _bulk("")\n',
        "",
        ("tests/test_gate_hot_path.py::"
         "test_the_issuers_chunk_cache_stays_bounded_and_right_under_a_client_sending_every_kill_score",)),
    Mutation(
        "proposal_naming_a_field_twice_read_by_its_last_value",
        "a proposal naming a field twice is refused on both of the gate's readers, never decided by its last value",
        "actors/gate.py",
        "    return obj if frame.count(b'\"') == quotes else None\n",
        "    return obj\n",
        ("tests/test_gate_attack.py::test_a_proposal_with_a_duplicate_field_is_refused_not_read_by_its_last_value",),
        also=(("actors/gate.py", "    if len(obj) != len(pairs):  # JSON readers differ", "    if False:  # JSON readers differ"),)),
    Mutation(
        "hold_decisions_get_permits",
        "fuzzed requests never get a permit: a HOLD (a valid proposal for a made-up symbol) is recorded without one",
        "actors/permit_issuer.py",
        "local issue = ARGV[6] == '1'\n",
        "local issue = true\n",
        ("tests/test_gate_service.py::test_fuzzed_requests_never_get_a_permit_and_the_gate_keeps_serving",)),
    Mutation(
        "error_quote_writes_the_whole_value",
        "an error detail quotes a request's value by writing its JSON only as far as the 60 characters it keeps: a "
        "31,000-element array cost the gate 3 ms",
        "actors/policy.py",
        "        if chars >= QUOTE_CHARS:\n            break\n",
        "",
        ("tests/test_gate_policy.py::"
         "test_quoting_a_huge_value_in_an_error_reads_and_writes_only_as_far_as_its_first_60_characters",)),
    Mutation(
        "error_quote_writes_a_string_whole",
        "an error detail quotes a long string from its first 60 characters, not by writing it whole",
        "actors/policy.py",
        "        return json.dumps(value[:QUOTE_CHARS])\n",
        "        return json.dumps(value)\n",
        ("tests/test_gate_policy.py::"
         "test_quoting_a_huge_value_in_an_error_reads_and_writes_only_as_far_as_its_first_60_characters",)),
    Mutation(
        "all_hosts_status_without_unexpected_exits",
        "status FILE --all-hosts names each host's unexpected exits (crash loops), read from its supervisord's log",
        "launcher/hosts_status.py",
        "    hosts = collect_all_hosts(topo, lambda host: ask_exits(args, topo, host))\n",
        "    hosts = collect_all_hosts(topo)\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_each_hosts_unexpected_exits_from_its_own_supervisords_log",)),
    Mutation(
        "all_hosts_exits_not_in_the_programs_row",
        "status FILE --all-hosts --json puts a program's unexpected exits in its row, as the one-host status does",
        "launcher/hosts_status.py",
        "                if row[\"name\"] in exits[host].get(\"unexpected_exits\", {}):\n",
        "                if False:\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_each_hosts_unexpected_exits_from_its_own_supervisords_log",)),
    Mutation(
        "readiness_proof_takes_a_starting_actor_for_a_dead_endpoint",
        "the readiness proof gives a metrics endpoint the start grace (RUNNING comes before the actor serves)",
        "proofs/readiness.py",
        "    ok, silent, waited, ran_out = waits.poll(unreachable, lambda u: u == [], STARTING_GRACE_S + 5, 0.3)\n",
        "    ok, silent, waited, ran_out = waits.poll(unreachable, lambda u: u == [], 0, 0.3)\n",
        ("tests/test_proofs.py::test_readiness_proof_waits_for_a_metrics_endpoint_that_answers_within_the_start_grace",)),
    Mutation(
        "propose_sends_a_non_finite_option",
        "clustergate propose refuses --kill-score or --r-net nan/inf before sending, naming the option, exit 2 (the "
        "type positions set also uses)",
        "launcher/number_args.py",
        "    if not math.isfinite(value):\n",
        "    if False:\n",
        ("tests/test_client.py::test_a_non_finite_number_is_refused_naming_it_before_anything_is_sent",)),
    Mutation(
        "gateclient_sends_a_non_finite_number",
        "GateClient.propose refuses a NaN or infinite kill_score, r_net or ts_epoch (not JSON) with ValueError, "
        "nothing sent",
        "launcher/client.py",
        "            if isinstance(number, float) and not math.isfinite(number):",
        "            if False:",
        ("tests/test_client.py::test_a_non_finite_number_is_refused_naming_it_before_anything_is_sent",)),
    Mutation(
        "gateclient_takes_any_object_for_the_answer",
        "a JSON object that is neither status ok with a decision nor status error with a reason is no gate envelope: "
        "the next gate is asked, or GateUnavailable naming the plan_id",
        "launcher/client.py",
        "        return f\"neither status ok nor status error (status {status!r})\"\n",
        "        named = reply.get(\"plan_id\", plan_id)\n",
        ("tests/test_client.py::test_an_object_that_is_neither_a_decision_nor_an_error_is_not_taken_for_the_answer",),
        also=(("launcher/client.py", "            return \"status ok without a decision object\"\n",
               "            decision = {\"plan_id\": plan_id}\n"),)),
    Mutation(
        "propose_prints_the_answer_unguarded",
        "clustergate propose interrupted (Ctrl-C, SIGTERM) while printing the gate's answer names the plan_id",
        "launcher/client.py",
        "        print(json.dumps(reply, indent=2), flush=True)\n",
        "        for signum, handler in previous.items():\n"
        "            signal.signal(signum, handler)\n"
        "        try:\n"
        "            print(json.dumps(reply, indent=2), flush=True)\n"
        "        except KeyboardInterrupt:\n"
        "            return 130\n",
        ("tests/test_client.py::test_clustergate_propose_interrupted_while_printing_the_answer_names_the_plan_id",)),
    Mutation(
        "unknown_fields_all_sorted",
        "an error for unknown fields names the first 10 and their count, in work bounded by 10 (sorting 8,000 names "
        "of a 64 KB request cost the gate 4 ms)",
        "actors/policy.py",
        "    named = [str(k) for k in islice((k for k in obj if k not in _PROPOSAL_FIELD_SET), UNKNOWN_FIELDS_NAMED)]\n",
        "    named = sorted(str(k) for k in obj if k not in _PROPOSAL_FIELD_SET)[:UNKNOWN_FIELDS_NAMED]\n",
        ("tests/test_gate_policy.py::"
         "test_a_request_of_ten_thousand_unknown_fields_is_refused_naming_a_few_and_the_count_without_sorting_all",)),
    Mutation(
        "state_write_beside_a_key_of_another_type",
        "a state write checks the types of the keys it needs first and writes nothing beside one of another type",
        "actors/state_writer.py",
        "                found = keys_of_another_type(client, fence is not None)\n                if found:\n"
        "                    raise KeysOfAnotherType(found)\n",
        "",
        ("tests/test_clusters_end_to_end.py::test_a_state_write_with_a_key_of_another_type_writes_nothing_and_names_the_key",
         "tests/test_ha_standby.py::test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",)),
    Mutation(
        "state_writer_logs_a_key_of_another_type_each_state",
        "the state writer names keys of another type once per change, not at each state",
        "actors/state_writer.py",
        "        if found != self.keys_wrong_type:\n",
        "        if True:\n",
        ("tests/test_ha_standby.py::test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",)),
    Mutation(
        "lease_taken_beside_a_fence_counter_of_another_type",
        "the lease script refuses a fence counter of another type before taking the lease, naming the key",
        "actors/state_writer.py",
        "if fence_type ~= 'string' and fence_type ~= 'none' then\n",
        "if false then\n",
        ("tests/test_ha_standby.py::test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",)),
    Mutation(
        "writer_start_fails_on_a_clusters_key_of_another_type",
        "a clusters key of another type adds no ids rather than failing a writer's start",
        "actors/state_writer.py",
        "    except redis.ResponseError as exc:\n        if not wrong_type(exc):\n            raise\n        ids = set()\n",
        "    except ValueError:\n        ids = set()\n",
        ("tests/test_clusters_end_to_end.py::test_a_state_write_with_a_key_of_another_type_writes_nothing_and_names_the_key",)),
    Mutation(
        "gate_silent_about_a_state_key_of_another_type",
        "the gate names the keys it reads that hold another type, once",
        "actors/gate.py",
        "        self.note_unreadable(replies)\n        cache = StateCache(",
        "        cache = StateCache(",
        ("tests/test_gate_service.py::test_a_state_key_of_another_type_is_named_once_in_the_gates_log_and_counts_as_missing",)),
    Mutation(
        "gate_logs_bad_key_type_per_proposal",
        "the gate logs the issuer's bad_key_type once per key, not per proposal",
        "actors/gate.py",
        "        if reason != \"bad_key_type\" or detail != self._key_type_logged:",
        "        if True:",
        ("tests/test_gate_service.py::test_a_gate_stream_of_another_type_holds_every_proposal_unrecorded_and_is_logged_once",)),
    Mutation(
        "issuer_logs_bad_key_type_per_decision",
        "the permit issuer logs a key of another type once, then when a decision writes it again",
        "actors/permit_issuer.py",
        "            if result == \"bad_key_type\" and not self.first_of_key_type(reply[1]):\n",
        "            if False:\n",
        ("tests/test_gate_service.py::test_a_gate_stream_of_another_type_holds_every_proposal_unrecorded_and_is_logged_once",)),
    Mutation(
        "status_calls_a_key_of_another_type_redis_unavailable",
        "status names a cluster state key of another type instead of calling Redis unavailable",
        "launcher/overview.py",
        "        if wrong_type(reply):\n            problems.append(",
        "        if False:\n            problems.append(",
        ("tests/test_status_overview.py::test_status_names_a_cluster_state_key_of_another_type_instead_of_calling_redis_unavailable",)),
    Mutation(
        "status_silent_about_a_state_stream_of_another_type",
        "status names a state stream of another type (no state is written)",
        "launcher/overview.py",
        "    if replies[2] not in (\"stream\", \"none\"):\n",
        "    if False:\n",
        ("tests/test_status_overview.py::test_status_names_a_cluster_state_key_of_another_type_instead_of_calling_redis_unavailable",)),
    Mutation(
        "proof_reports_a_bare_wrongtype",
        "the readiness proof names a cluster state key of another type and the fix",
        "proofs/common.py",
        "            if not wrong_type(exc):\n                raise\n",
        "            raise\n",
        ("tests/test_status_overview.py::test_the_readiness_proof_names_a_cluster_state_key_of_another_type",)),
    Mutation(
        "replay_waits_on_a_position_key_of_another_type",
        "a replay position key of another type starts the file at once, not after 10 s taken for an outage",
        "actors/price_feed.py",
        "            if wrong_type(exc):  # another type: as unreadable",
        "            if False:  # another type: as unreadable",
        ("tests/test_price_feed_replay.py::test_a_replay_position_key_of_another_type_starts_the_file_at_once_and_is_overwritten",)),
    Mutation(
        "redis_errors_logged_as_their_class_alone",
        "actors log an error's class and message (redis-py 8's repr is the class alone)",
        "actors/runtime.py",
        "    return f\"{type(exc).__name__}: {message}\" if message else type(exc).__name__\n",
        "    return repr(exc)\n",
        ("tests/test_ha_standby.py::test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",
         "tests/test_price_feed_replay.py::test_a_replay_position_key_of_another_type_starts_the_file_at_once_and_is_overwritten",)),
    # Test-can-fail audit, second part (canfail2): the password-never-logged, clock-step, published-once, proof,
    # all-or-nothing `up` and reliability tests whose names make a strong claim that no mutation named.
    Mutation(
        "redis_password_in_the_actors_program_sections",
        "the managed Redis password is never written where logs are read (here: into programs.d, in each actor's "
        "environment= line, instead of reaching the actors through supervisord's own environment)",
        "launcher/supervise.py",
        '                            env={"CLUSTERGATE_CONFIG_HASH": actor_config_hash(topo, name, home), "PYTHONUNBUFFERED": "1",\n',
        '                            env={"CLUSTERGATE_CONFIG_HASH": actor_config_hash(topo, name, home), "PYTHONUNBUFFERED": "1",\n'
        '                                 topo.redis.password_env: topo.redis.password or "",\n',
        ("tests/test_security.py::"
         "test_managed_redis_password_comes_from_the_environment_and_is_never_written_where_logs_are_read",)),
    Mutation(
        "redis_password_quotes_not_escaped_in_redis_conf",
        "a Redis password with spaces and quotes works (its quotes escaped in requirepass)",
        "launcher/supervise.py",
        r"""text.replace("\\", "\\\\").replace('"', '\\"')""",
        r"""text.replace("\\", "\\\\")""",
        ("tests/test_security.py::test_a_redis_password_with_spaces_works_and_is_never_printed",)),
    Mutation(
        "redis_password_with_a_newline_written_to_redis_conf",
        "a Redis password with a newline cannot add config lines: it is refused before anything starts",
        "launcher/supervise.py",
        "    if password is not None and any(ord(c) < 32 or ord(c) == 127 for c in password):\n",
        "    if False:\n",
        ("tests/test_security.py::test_a_redis_password_with_a_newline_cannot_add_config_lines_and_is_refused",)),
    Mutation(
        "changed_redis_password_restarts_nothing",
        "a changed Redis password restarts Redis and the actors with it (redis.conf is rewritten either way)",
        "launcher/supervise.py",
        ("            password_changed = was_running and ((redis_text is not None and _requirepass(redis_text) != old_password)\n"
         "                                                or password_differs_from_running(topo, home))\n"),
        "            password_changed = False\n",
        ("tests/test_security.py::"
         "test_a_changed_redis_password_restarts_redis_and_the_actors_with_it_without_printing_it",)),
    Mutation(
        "failed_up_prints_logs_with_the_password",
        "an `up` that fails prints its programs' last log lines with the Redis password replaced by ***",
        "launcher/supervise.py",
        '            text = text.replace(secret, "***")\n',
        "            pass\n",
        ("tests/test_security.py::test_an_up_that_fails_prints_the_logs_last_lines_without_the_redis_password",)),
    Mutation(
        "lone_path_cache_keeps_a_parse_made_at_a_later_time",
        "a host clock stepped between lone proposals changes no decision a fresh read would not (the lone path's "
        "cache re-parses when the clock goes back)",
        "actors/gate.py",
        "        if not self._parsed_at <= now < self._valid_until:\n            self._parse(now)\n"
        "        base = self._state\n        cooldown = ",
        "        if not now < self._valid_until:\n            self._parse(now)\n"
        "        base = self._state\n        cooldown = ",
        ("tests/test_gate_policy.py::test_the_lone_paths_cache_re_parses_when_time_goes_back",
         "tests/test_gate_fast_path_attack.py::"
         "test_a_host_clock_stepped_between_lone_proposals_changes_no_decision_a_fresh_read_would_not")),
    Mutation(
        "buffer_backward_clock_step_holds_nothing",
        "a backward clock step neither wipes the buffer's saved history nor loses the points (persistence held)",
        "actors/buffer.py",
        "            self.persist_held_until_mono = time.monotonic() + self.grid.capacity * self.cadence_s\n",
        "            self.persist_held_until_mono = None\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_backward_clock_step_neither_wipes_the_saved_history_nor_loses_the_points",)),
    Mutation(
        "buffer_history_not_reloaded_when_the_clock_comes_forward",
        "a backward clock step does not lose the buffer's points: when the clock comes forward again the saved "
        "history is merged back (not refilled tick by tick)",
        "actors/buffer.py",
        "        self.history_pending = self.settings.persist  # the saved slots are back in range: merged at this publish\n",
        "        pass\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_backward_clock_step_neither_wipes_the_saved_history_nor_loses_the_points",)),
    Mutation(
        "buffer_second_backward_step_releases_the_hold",
        "a second backward clock step does not release the buffer's history hold (taken for a forward fault's end)",
        "actors/buffer.py",
        "        ahead_fault_ended = held and not self.held_for_back_step\n",
        "        ahead_fault_ended = held\n",
        ("tests/test_cluster_side_attack.py::test_a_second_backward_clock_step_does_not_release_the_history_hold",)),
    Mutation(
        "buffer_forward_steps_judged_one_at_a_time",
        "forward clock steps each under the threshold do not persist a wiped grid (the steps of a window are summed)",
        "actors/buffer.py",
        "        stepped_ahead = sum(s for _, s in self.recent_steps) > TICK_FUTURE_SKEW_S + self.cadence_s\n",
        "        stepped_ahead = step > TICK_FUTURE_SKEW_S + self.cadence_s\n",
        ("tests/test_cluster_side_attack.py::"
         "test_forward_clock_steps_each_under_the_threshold_do_not_persist_a_wiped_grid",)),
    Mutation(
        "lagging_state_writer_overwrites_a_newer_state",
        "a lagging second state writer does not move updated_ts backwards (its older state is refused)",
        "actors/state_writer.py",
        "                if ahead_s is not None and 0 < ahead_s <= newer_within_s:",
        "                if False:",
        ("tests/test_cluster_side_attack.py::test_a_lagging_second_state_writer_does_not_move_updated_ts_backwards",)),
    Mutation(
        "state_from_the_far_future_blocks_every_later_write",
        "a stored state stamped far in the future (a clock fault) does not block every later write",
        "actors/state_writer.py",
        "                if ahead_s is not None and 0 < ahead_s <= newer_within_s:",
        "                if ahead_s is not None and 0 < ahead_s:",
        ("tests/test_cluster_side_attack.py::"
         "test_a_stored_state_stamped_far_in_the_future_does_not_block_every_later_write",)),
    Mutation(
        "feed_publishes_an_unchanged_snapshot_every_poll",
        "a snapshot's price is published once while it does not change (the feed forgets the ts_epoch it read)",
        "actors/price_feed.py",
        "            self.snapshot_last_ts[symbol] = ts\n",
        "            pass\n",
        ("tests/test_price_feed_process.py::"
         "test_a_snapshot_that_stops_updating_is_published_once_with_its_own_timestamp",)),
    Mutation(
        "feed_stamps_a_snapshot_with_the_poll_time",
        "a snapshot's price is published stamped with its own ts_epoch, not the time the feed read it",
        "actors/price_feed.py",
        "            self.publish(symbol, price, ts)\n",
        "            self.publish(symbol, price, now)\n",
        ("tests/test_price_feed_process.py::"
         "test_a_snapshot_that_stops_updating_is_published_once_with_its_own_timestamp",)),
    Mutation(
        "readiness_proof_takes_a_stopped_program_for_a_running_one",
        "the readiness proof's 'every program RUNNING' fails when a program is stopped (and so does the fallback "
        "proof's 'before: every program RUNNING', which shares it)",
        "proofs/common.py",
        '                if states.get(n) != "RUNNING"}\n',
        '                if states.get(n) not in ("RUNNING", "STOPPED")}\n',
        ("tests/test_proofs.py::test_readiness_proof_fails_when_the_state_writer_is_down",
         "tests/test_proofs.py::test_fallback_proof_with_the_price_feed_stopped_fails_at_once_naming_it_and_stops_nothing")),
    Mutation(
        "readiness_proof_asks_only_the_first_gate",
        "the readiness proof's 'every gate answers' asks each gate on its own and names the one that does not answer",
        "proofs/readiness.py",
        '            for gate, reply in p.propose_to_each_gate("HOLD").items() if reply.get("status") != "ok"}\n',
        '            for gate, reply in list(p.propose_to_each_gate("HOLD").items())[:1] if reply.get("status") != "ok"}\n',
        ("tests/test_proofs.py::test_with_one_of_two_gates_stopped_readiness_fails_naming_that_gate",)),
    Mutation(
        "up_goes_on_past_a_busy_port",
        "an `up` that fails on a busy port changes neither the running topology nor redis.conf (it stops before "
        "writing anything)",
        "launcher/supervise.py",
        "            print(f\"{args.file}: {line}\", file=sys.stderr)\n        return 1\n    password_conf = ",
        "            print(f\"{args.file}: {line}\", file=sys.stderr)\n    password_conf = ",
        ("tests/test_launcher.py::test_an_up_that_fails_on_a_busy_port_changes_neither_the_running_topology_nor_redis_conf",)),
    Mutation(
        "failed_stage_leaves_its_tmp_files",
        "an `up` on a full disk leaves no .tmp files",
        "launcher/supervise.py",
        "                tmp.unlink()\n",
        "                pass\n",
        ("tests/test_launcher.py::test_an_up_on_a_full_disk_fails_in_one_line_and_leaves_no_tmp_files",)),
    Mutation(
        "up_switches_in_each_file_as_it_is_written",
        "an `up` on a full disk changes no file of the running system (every file is staged before any is switched in)",
        "launcher/supervise.py",
        "            try:\n                stage_files(files)\n            except WriteFailed as exc:\n"
        "                tell(f\"FAILED: {exc}\", sys.stderr)\n                return 1\n"
        "            switch_files(list(files))\n",
        "            try:\n                for one in files:\n                    write_files({one: files[one]})\n"
        "            except WriteFailed as exc:\n"
        "                tell(f\"FAILED: {exc}\", sys.stderr)\n                return 1\n",
        ("tests/test_launcher.py::test_an_up_on_a_full_disk_fails_in_one_line_and_leaves_no_tmp_files",)),
    Mutation(
        "two_ups_of_one_home_at_once",
        "two concurrent `up`s of one home leave one system and one clear refusal (one `up` per home at a time)",
        "launcher/supervise.py",
        "            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)\n        except BlockingIOError:\n"
        "            print(f\"FAILED: another `clustergate up`",
        "            pass\n        except BlockingIOError:\n"
        "            print(f\"FAILED: another `clustergate up`",
        ("tests/test_launcher.py::test_two_concurrent_ups_of_one_home_leave_one_system_and_one_clear_refusal",)),
    Mutation(
        "up_starts_a_broken_redis_server",
        "an `up` with a broken redis-server on PATH is refused before anything changes and the running Redis keeps "
        "serving",
        "launcher/supervise.py",
        "        broken = binary_problem(redis_binary)\n",
        "        broken = None\n",
        ("tests/test_launcher_attacks.py::"
         "test_an_up_with_a_broken_redis_server_on_path_is_refused_and_the_running_redis_keeps_serving",)),
    Mutation(
        "yaml_aliases_expand_without_bound",
        "a hostile topology (a billion laughs of YAML aliases) is refused with exit 2 in one line, in bounded memory",
        "launcher/schema.py",
        "            if built > MAX_YAML_VALUES:\n",
        "            if False:\n",
        ("tests/test_reliability_bad_input.py::"
         "test_a_hostile_topology_is_refused_with_exit_2_and_a_one_line_reason_in_bounded_memory[billion_laughs]",)),
    Mutation(
        "corrupt_history_with_negative_prices_merged",
        "a persisted buffer history holding non-positive prices is discarded and counted as corrupt",
        "actors/grid.py",
        "        if np.any(prices[np.isfinite(prices)] <= 0) or np.any(np.isinf(prices)):\n",
        "        if np.any(np.isinf(prices)):\n",
        ("tests/test_reliability_bad_input.py::test_a_corrupt_persisted_buffer_is_discarded_counted_and_overwritten",)),
    Mutation(
        "gate_reads_a_proposal_of_any_size",
        "four clients sending 200 MB each leave the gate under 100 MB (libzmq drops a message over MAXMSGSIZE unread)",
        "actors/runtime.py",
        "            sock.setsockopt(zmq.MAXMSGSIZE, max_bytes)\n",
        "            pass\n",
        ("tests/test_reliability_hostile_size.py::test_four_clients_sending_200_mb_each_leave_the_gate_under_100_mb",)),
    Mutation(
        "status_shows_a_cluster_state_field_that_is_no_number",
        "status names cluster state fields that are no (finite) number instead of showing them or a traceback",
        "launcher/overview.py",
        "    return number if math.isfinite(number) else None\n",
        "    return number\n",
        ("tests/test_status_overview.py::test_status_names_cluster_state_fields_that_are_no_number_instead_of_a_traceback",)),
    Mutation(
        "topology_out_of_memory_said_as_empty_invalid_yaml",
        "validate names a topology too large to read (MemoryError) instead of printing an empty 'not valid YAML: '",
        "launcher/topology.py",
        "    except MemoryError:  # its message is empty",
        "    except ZeroDivisionError:  # its message is empty",
        ("tests/test_topology_validation.py::test_a_topology_too_large_to_read_is_named_so_not_as_empty_invalid_yaml",)),
    Mutation(
        "exits_read_without_the_zone_lock",
        "a supervisord log read in one thread (status --all-hosts: one per host) keeps its supervisord's zone while "
        "another thread's read sets and puts back the process's TZ",
        "launcher/exits.py",
        "    with _ZONE_LOCK:\n",
        "    if True:\n",
        ("tests/test_status_overview.py::"
         "test_unexpected_exits_read_in_two_threads_each_read_their_lines_in_supervisords_zone",)),
    Mutation(
        "all_hosts_status_dies_on_a_log_it_may_not_read",
        "status FILE --all-hosts names a host whose supervisord log this user may not read (another account's home, "
        "run/ 0700) and shows every other host: no traceback",
        "launcher/supervise.py",
        "    except OSError as exc:\n        return {**said, \"error\": f\"cannot read {log}: {exc.strerror}\"}\n",
        "",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_a_host_whose_log_it_may_not_read_and_shows_the_others",)),
    Mutation(
        "propose_loses_the_plan_id_to_a_broken_pipe",
        "clustergate propose whose answer's reader went away (a broken pipe) names the plan_id on stderr, exit 141",
        "launcher/client.py",
        "    except BrokenPipeError:  # the answer's reader went away: the plan_id goes where it can still be read\n",
        "    except ZeroDivisionError:\n",
        ("tests/test_client.py::test_clustergate_propose_whose_reader_went_away_names_the_plan_id",)),
    Mutation(
        "propose_ends_on_a_sighup_nohup_ignores",
        "clustergate propose run under nohup (SIGHUP ignored) keeps waiting for its answer at a hang-up",
        "launcher/client.py",
        "                if handled and signal.getsignal(signum) is not signal.SIG_IGN}\n",
        "                if handled}\n",
        ("tests/test_client.py::test_clustergate_propose_run_under_nohup_keeps_ignoring_sighup",)),
    # review16b: the write path's type check and the standby's readiness after a key of another type
    Mutation(
        "state_stream_retyped_between_the_type_check_and_exec_is_written_beside",
        "the state write WATCHes the stream key with the hashes, so a key retyped after the type check aborts the EXEC",
        "actors/state_writer.py",
        "                pipe.watch(keys.CLUSTERS, keys.CLUSTER_STATE, keys.CLUSTER_STATE_STREAM,\n",
        "                pipe.watch(keys.CLUSTERS, keys.CLUSTER_STATE,\n",
        ("tests/test_ha_standby.py::"
         "test_a_key_given_another_type_between_the_type_check_and_exec_writes_nothing_and_is_named",)),
    Mutation(
        "standby_stays_not_ready_after_a_key_of_another_type_is_deleted",
        "a writer that found keys of another type checks them again each cadence, so a standby is ready once deleted",
        "actors/state_writer.py",
        "            if self.keys_wrong_type:  # a standby writes nothing to find them deleted: not ready until it took over\n",
        "            if False:\n",
        ("tests/test_ha_standby.py::"
         "test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",)),
    Mutation(
        "fence_counter_deleted_starts_again_at_one",
        "a missing fencing token counter starts from Redis's clock, so a deleted one never hands out a token again",
        "actors/state_writer.py",
        "if fence_type == 'none' then\n",
        "if false then\n",
        ("tests/test_ha_standby.py::test_a_fence_counter_deleted_by_hand_never_hands_out_a_token_again",)),
    Mutation(
        "lease_value_names_a_large_token_in_lua_notation",
        "the lease value names its token in full digits (Lua's %.14g wrote 1.7963371068644e+15: no renewal matched)",
        "actors/state_writer.py",
        "ARGV[1] .. '/' .. string.format('%.0f', token)",
        "ARGV[1] .. '/' .. token",
        ("tests/test_ha_standby.py::"
         "test_two_state_writers_one_writes_the_other_stands_by_and_every_record_carries_a_rising_token",)),
    Mutation(
        "lease_taken_beside_a_fence_counter_that_is_no_integer",
        "the lease script refuses a fence counter that INCR cannot add to before taking the lease, naming the key",
        "actors/state_writer.py",
        "if fence_type == 'string' and not string.match(",
        "if false and not string.match(",
        ("tests/test_ha_standby.py::"
         "test_a_fence_counter_that_is_no_integer_is_refused_before_the_lease_is_taken_naming_it",)),
    Mutation(
        "holder_raises_on_a_fence_counter_that_is_no_integer",
        "a holder whose fence counter holds no integer is fenced (stands by), not a ValueError at each state",
        "actors/state_writer.py",
        "newest is None or not re.fullmatch(r\"-?\\d+\", newest) or int(newest) != fence",
        "newest is None or int(newest) != fence",
        ("tests/test_ha_standby.py::"
         "test_a_fence_counter_that_is_no_integer_is_refused_before_the_lease_is_taken_naming_it",)),
    Mutation(
        "writers_take_and_give_up_the_lease_in_turn_beside_a_key_of_another_type",
        "a standby that found keys of another type does not take the lease it could write nothing with",
        "actors/state_writer.py",
        "            if self.keys_wrong_type:  # it could write nothing: two writers took and gave up the lease in turn\n",
        "            if False:\n",
        ("tests/test_ha_standby.py::"
         "test_state_keys_of_another_type_stop_the_writes_with_one_line_naming_them_and_deleting_them_recovers",)),
    Mutation(
        "propose_raises_out_of_its_plan_id_line_on_a_second_signal",
        "clustergate propose, ending on a signal, names its plan_id even when a second SIGTERM or a Ctrl-C comes "
        "while it prints that line (no traceback)",
        "launcher/client.py",
        "        _hold_further_signals(previous, handled)\n        print(f\"clustergate propose: {str(exc) or 'interrupted'}\"",
        "        print(f\"clustergate propose: {str(exc) or 'interrupted'}\"",
        ("tests/test_client.py::"
         "test_clustergate_propose_signalled_again_while_it_names_the_plan_id_still_names_it_without_a_traceback",),
        # the first signal's handler holds the others too (revsignals): both holds go
        also=(("launcher/client.py", "    _hold_further_signals({}, True)\n    raise Terminated(signum)",
               "    raise Terminated(signum)"),)),
    # The layering of docs/developing.md, since the backtest command moved to launcher/backtest.py.
    Mutation(
        "launcher_imports_an_actor_shell",
        "the launcher imports from actors/ only the I/O-free maths and policy modules, never an actor",
        "launcher/backtest.py",
        "from actors.grid import latest_per_slot\n",
        "from actors.grid import latest_per_slot\nimport actors.gate as _mutant_gate  # noqa: F401\n",
        ("tests/test_layering.py::test_the_launcher_imports_only_the_actors_io_free_modules",
         "tests/test_layering.py::test_importing_every_launcher_module_loads_no_actor_module_but_the_io_free_ones"
         "_and_no_proof_bench_or_test")),
    Mutation(
        "an_io_free_actor_module_reads_the_clock",
        "the actors' I/O-free modules import no clock, socket, Redis or file module",
        "actors/policy.py",
        "from itertools import islice\n",
        "from itertools import islice\nimport time as _mutant_clock  # noqa: F401\n",
        ("tests/test_layering.py::"
         "test_the_actors_io_free_modules_import_no_socket_redis_clock_or_file_module_and_no_actor_shell",)),
    Mutation(
        "an_io_free_actor_module_imports_the_redis_reader",
        "the actors' I/O-free modules import no actor module that does I/O (here the snapshots' Redis reader)",
        "actors/clustering.py",
        "from actors.snapshots import HELD_MIN_NOTIONAL\n",
        "from actors.snapshots import HELD_MIN_NOTIONAL\n"
        "from actors.snapshot_reads import read_signed_notionals as _mutant_read  # noqa: F401\n",
        ("tests/test_layering.py::"
         "test_the_actors_io_free_modules_import_no_socket_redis_clock_or_file_module_and_no_actor_shell",)),
    Mutation(
        "two_io_free_actor_modules_import_each_other_at_load_time",
        "no import cycle between modules at load time",
        "actors/jumps.py",
        "import numpy as np\n",
        "import numpy as np\n\nimport actors.grid as _mutant_grid  # noqa: F401\n",
        ("tests/test_layering.py::test_no_import_cycle_between_modules_at_load_time",)),
    Mutation(
        "the_topology_model_imports_the_backtest_lazily",
        "no import cycle outside the launcher's known deferred one, function-level imports included (here launcher "
        "-> actors -> launcher)",
        "launcher/topology.py",
        "    from launcher import curve as keys\n",
        "    from launcher import curve as keys\n    from launcher import backtest as _mutant_backtest  # noqa: F401\n",
        ("tests/test_layering.py::"
         "test_every_import_cycle_with_function_level_imports_is_the_launchers_known_deferred_one",)),
    Mutation(
        "building_the_cli_loads_the_backtest",
        "building the CLI loads no actor module: the backtest runs as its own process",
        "launcher/cli.py",
        "from launcher.topology import dump_schema, load_topology\n",
        "from launcher.topology import dump_schema, load_topology\n"
        "import launcher.backtest as _mutant_backtest  # noqa: F401\n",
        ("tests/test_layering.py::test_building_the_cli_loads_no_actor_proof_bench_or_test_module",)),
    Mutation(
        "batch_correlator_keeps_a_stopped_symbol_in_the_matrix",
        "the backtest's correlator (actors.correlation.rolling_correlator) drops a symbol whose own newest price is "
        "older than max_price_age_s, as the live correlator does",
        "actors/correlation.py",
        "    inm = enough & ~own_stale\n",
        "    inm = enough\n",
        ("tests/test_backtest_attack.py::"
         "test_a_symbol_whose_prices_stopped_leaves_the_matrix_after_max_price_age_s_as_in_the_live_correlator",)),
    Mutation(
        "batch_gate_metrics_judge_k_by_whole_seconds",
        "the backtest's gate metrics (actors.policy.batch_gate_metrics) judge the state's freshness to the ms, as "
        "the gate does",
        "actors/policy.py",
        "    fresh_k = have & (age >= 0) & (now - updated_ms <= freshness_s)\n",
        "    fresh_k = have & (age >= 0) & (now - updated <= freshness_s)\n",
        ("tests/test_cluster_hardening.py::"
         "test_realized_vol_written_late_in_its_second_is_judged_to_the_ms_so_k_and_sigma_agree_at_every_instant",)),
    Mutation(
        "stress_a_float_error_below_a_threshold_its_record_shows",
        "the policy's thresholds apply to the stress the decision records: terms adding up to 0.80 are at risk-off",
        "actors/policy.py",
        "    return round(stress * STRESS_SCALE) / STRESS_SCALE if stress == stress else stress\n",
        "    return stress\n",
        ("tests/test_gate_service.py::test_a_stress_of_exactly_080_accelerates_as_the_decision_record_says",
         "tests/test_gate_policy.py::test_a_stress_whose_terms_add_up_to_a_threshold_is_at_the_threshold")),
    Mutation(
        "issuer_takes_a_host_clock_step_for_one_redis_did_not_make",
        "a step of the host's wall clock, which a local Redis's clock makes too, neither refuses decisions with time "
        "left nor lets one be written after its deadline",
        "actors/permit_issuer.py",
        "        if abs(step_s) > WALL_STEP_REREAD_S:\n",
        "        if False:\n",
        ("tests/test_gate_deadlines.py::"
         "test_a_host_clock_step_forward_with_a_local_redis_does_not_refuse_decisions_with_time_left",
         "tests/test_gate_deadlines.py::"
         "test_a_host_clock_step_back_with_a_local_redis_does_not_let_a_decision_be_written_after_its_deadline")),
    Mutation(
        "status_ages_the_cluster_state_by_whole_seconds",
        "`clustergate status` calls the cluster state fresh or STALE on the gate's age of it (to the ms by "
        "updated_ts_ms), not the whole-second updated_ts",
        "launcher/overview.py",
        "    age_s = cluster_state_age_s(numbers[\"updated_ts\"], state.get(\"updated_ts_ms\"), now)  # the gate's, to the ms\n",
        "    age_s = round(now - numbers[\"updated_ts\"], 1)\n",
        ("tests/test_status_overview.py::"
         "test_status_calls_the_cluster_state_and_the_newest_price_stale_exactly_when_the_gate_and_correlator_do",)),
    Mutation(
        "status_rounds_the_newest_price_age_before_its_limit",
        "`clustergate status` calls the newest price STALE past max_price_age_s on its unrounded age, as the "
        "correlator does",
        "launcher/overview.py",
        "        out[\"newest_tick_age_s\"] = time.time() - max(accepted.values()) if accepted else None\n",
        "        out[\"newest_tick_age_s\"] = round(time.time() - max(accepted.values()), 1) if accepted else None\n",
        ("tests/test_status_overview.py::"
         "test_status_calls_the_cluster_state_and_the_newest_price_stale_exactly_when_the_gate_and_correlator_do",)),
    Mutation(
        "status_shows_an_age_rounded_across_its_limit",
        "an age status or `positions list` shows reads on the side of its limit that the verdict beside it says "
        "(120.04 s past a 120 s window is never shown as 120.0)",
        "launcher/overview.py",
        "        if verdict(float(text)) == verdict(age_s):\n",
        "        if True:\n",
        ("tests/test_status_overview.py::"
         "test_status_calls_the_cluster_state_and_the_newest_price_stale_exactly_when_the_gate_and_correlator_do",
         "tests/test_positions_cli.py::test_positions_list_calls_a_snapshot_stale_exactly_when_the_gate_does")),
    Mutation(
        "positions_list_calls_a_snapshot_stamped_ahead_stale",
        "`positions list` calls a snapshot stale exactly when the gate does: one stamped up to "
        "SNAPSHOT_FUTURE_SKEW_S ahead is fresh",
        "launcher/positions.py",
        "    stale = not_fresh is not None",
        "    stale = age_s is None or age_s > stale_after_s or age_s < 0",
        ("tests/test_positions_cli.py::test_positions_list_calls_a_snapshot_stale_exactly_when_the_gate_does",)),
    Mutation(
        "corr_compared_unrounded",
        "a correlation is published and compared with corr_threshold rounded to CORR_DECIMALS, live and in the "
        "backtest alike: returns that correlate exactly 0.70 are an edge on both sides",
        "actors/correlation.py",
        "    np.rint(corr * _CORR_SCALE, out=corr)\n    corr /= _CORR_SCALE\n",
        "",
        ("tests/test_cluster_maths.py::test_returns_that_correlate_exactly_070_are_an_edge_live_and_in_the_backtest",)),
    Mutation(
        "backtest_rounds_correlations_before_shrinking_them",
        "the backtest shrinks correlations (ledoit_wolf) before rounding them, as the live correlator does",
        "actors/correlation.py",
        "                        published=shrinkage != \"ledoit_wolf\")\n",
        "                        published=True)\n",
        ("tests/test_backtest_attack.py::"
         "test_the_slow_per_slot_settings_give_the_live_cluster_stress_slot_by_slot",)),
    Mutation(
        "status_calls_a_symbol_ready_on_its_points_alone",
        "`clustergate status` calls a symbol ready only when the correlator has it in the matrix (p27_symbol_in_matrix): "
        "enough points can be too few valid returns or a stale price",
        "launcher/overview.py",
        "        elif status == \"ready\" and in_matrix.get(symbol) == 0:",
        "        elif False:",
        ("tests/test_cluster_side_attack.py::"
         "test_an_unheld_symbol_that_stopped_ticking_leaves_the_fresh_state_of_a_real_cluster_side",)),
    Mutation(
        "cluster_state_time_raises_on_an_updated_ts_ms_past_a_floats_range",
        "an updated_ts_ms of 400 digits (hand-written) is garbage: the state is timed by updated_ts, no OverflowError",
        "actors/freshness.py",
        "    except (TypeError, ValueError, OverflowError):  # OverflowError",
        "    except (TypeError, ValueError):  # OverflowError",
        ("tests/test_gate_policy.py::"
         "test_cluster_state_written_late_in_its_second_is_judged_by_updated_ts_ms_not_the_whole_second",)),
    Mutation(
        "log_a_line_per_occurrence_of_a_throttled_event",
        "a fault every proposal meets, or a client repeating one mistake, is logged once a second with its count, "
        "not once per proposal (a flood rotated an actor's whole log away in a minute)",
        "actors/runtime.py",
        "        pending = self._throttled.get(spell)\n        if pending is not None:\n",
        "        pending = self._throttled.get(spell)\n        if False:\n",
        ("tests/test_log_bounds.py",)),
    Mutation(
        "gate_logs_a_redis_outage_per_batch",
        "the gate logs a Redis outage that every proposal meets once a second, not once per batch",
        "actors/gate.py",
        '                self.log_throttled("warning", "redis_unavailable", "state_read", plan_ids=len(batch),\n',
        '                self.log.warning("redis_unavailable", plan_ids=len(batch),\n',
        ("tests/test_log_bounds.py::test_a_redis_outage_is_logged_once_a_second_by_the_gate_not_per_proposal",)),
    Mutation(
        "gate_takes_redis_loading_for_keys_of_another_type",
        "a Redis that refuses the gate's state read for itself (LOADING after a restart) is Redis unavailable, not "
        "keys of another type to delete",
        "actors/gate.py",
        "        if isinstance(reply, ReplyError) and not keys.wrong_type(reply):\n",
        "        if False:\n",
        ("tests/test_gate_says_why_not_ready.py::"
         "test_a_redis_loading_its_data_after_a_restart_is_not_logged_as_keys_of_another_type_to_delete",)),
    Mutation(
        "metrics_endpoint_serves_any_number_of_connections",
        "an actor's /metrics endpoint serves at most MAX_SCRAPE_CONNECTIONS connections at once, each a thread and a "
        "descriptor (1,000 idle ones held 1,004 threads and 1,015 descriptors in a gate)",
        "actors/runtime.py",
        "        if not self.slots.acquire(blocking=False):\n",
        "        if not self.slots.acquire(blocking=False) and False:\n",
        ("tests/test_metrics_connections.py",)),
    Mutation(
        "metrics_endpoint_holds_an_idle_connection_for_ever",
        "an actor's /metrics endpoint closes a connection that sends nothing for SCRAPE_IDLE_TIMEOUT_S",
        "actors/runtime.py",
        "    timeout = SCRAPE_IDLE_TIMEOUT_S\n",
        "    timeout = None\n",
        ("tests/test_metrics_connections.py",)),
    Mutation(
        "issuer_ready_while_redis_refuses_writes",
        "the permit issuer is not ready while its Redis answers but refuses writes (a read-only replica): every "
        "exit is HOLD redis_unavailable, and `clustergate status` and ClustergateActorNotReady must say so",
        "actors/permit_issuer.py",
        "        self.set_ready(self._not_writable is None and self._evicting is None)\n",
        "        self.set_ready(self._evicting is None)\n",
        ("tests/test_redis_read_only.py::test_a_read_only_redis_makes_the_permit_issuer_not_ready_and_counts_every_hold",)),
    Mutation(
        "issuer_before_redis_7_takes_a_replica_for_writable",
        "on a Redis without script flags (before 7) the issuer tells a read-only replica by its ROLE",
        "actors/permit_issuer.py",
        "return None if role and role[0] == \"master\" else",
        "return None if role else",
        ("tests/test_redis_read_only.py::test_before_redis_7_the_issuer_tells_a_read_only_redis_by_its_role",)),
    Mutation(
        "no_alert_on_decisions_failed_closed_by_redis",
        "P26DecisionsFailClosed fires for every fault reason of p26_fail_closed_total (redis_unavailable: a "
        "read-only Redis refuses every permit while every actor is up and ready)",
        "configs/alerts.yml",
        "expr: sum by (job, instance, reason) (increase(p26_fail_closed_total[5m])) > 0\n",
        "expr: sum by (job, instance, reason) (increase(p26_fail_closed_total{reason=\"permit_unavailable\"}[5m])) > 0\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "monitor_status_exits_0_while_alerts_fire",
        "`clustergate monitor status` lists the firing alerts and exits 1 while any fires (no Alertmanager: it is "
        "the monitor's only command-line view of them)",
        "launcher/monitor.py",
        "          and status[\"alerts\"] is not None and not any(a[\"state\"] == \"firing\" for a in status[\"alerts\"])\n",
        "",
        ("tests/test_monitor_live.py::"
         "test_a_redis_that_refuses_writes_fires_p26_decisions_fail_closed_and_monitor_status_lists_the_firing_alerts",)),
    Mutation(
        "status_crashes_on_a_metrics_port_another_service_answers",
        "`clustergate status` shows an actor whose metrics port something else answers (no HTTP, no UTF-8) as READY ?, "
        "not a traceback in place of the table",
        "launcher/supervise.py",
        "    except (http.client.HTTPException, UnicodeDecodeError) as exc:\n",
        "    except ImportError as exc:\n",
        ("tests/test_status_foreign_metrics_port.py::"
         "test_a_metrics_port_answered_by_something_else_reads_as_no_metrics_not_a_traceback",)),
    Mutation(
        "snapshot_ages_freeze_while_redis_is_down",
        "p26_snapshot_age_seconds keeps growing while the gate cannot read Redis, so P26SnapshotsStale can fire in a "
        "long outage",
        "actors/gate.py",
        "            self._snapshot_age[symbol].set(now - stamped)\n",
        "            pass\n",
        ("tests/test_gate_says_why_not_ready.py::test_snapshot_ages_keep_growing_while_the_gate_cannot_read_redis",)),
    Mutation(
        "actors_keep_a_vanished_peers_connection_for_ever",
        "an actor drops a connection whose peer answers no ZMTP PING (a client whose host crashed), and keeps an idle "
        "live one",
        "actors/runtime.py",
        "        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)\n",
        "",
        ("tests/test_dead_peers.py::"
         "test_a_client_that_vanished_without_a_fin_is_dropped_and_an_idle_live_client_is_kept",)),
    Mutation(
        "throttled_counts_lost_at_stop",
        "an actor stopped within a second of a throttled line still logs the occurrences it had not counted yet",
        "actors/runtime.py",
        "            self._guard(self.end_throttled, self._errors_timer, \"throttled_log\")\n",
        "",
        ("tests/test_log_bounds.py::"
         "test_the_occurrences_a_throttled_line_has_not_yet_counted_are_logged_when_the_actor_stops",)),
    Mutation(
        "metrics_request_may_trickle_for_ever",
        "a /metrics connection must send its whole request within SCRAPE_IDLE_TIMEOUT_S: connections trickling a byte "
        "at a time held every slot and every scrape was refused",
        "actors/runtime.py",
        "        self.rfile.close()  # read through the request's deadline instead\n"
        "        self.rfile = io.BufferedReader(_RequestDeadlineIO(self.connection, time.monotonic() + self.timeout))\n",
        "",
        ("tests/test_metrics_connections.py::"
         "test_connections_that_trickle_a_request_a_byte_at_a_time_do_not_lock_a_scrape_out",)),
    Mutation(
        "gate_waits_refresh_s_after_redis_refused_its_read",
        "a gate that found Redis loading (LOADING: it answers at once) reads again within REFUSED_RETRY_S, not at its "
        "refresh_s retry, so it is ready again soon after the load ends",
        "actors/gate.py",
        "            retry_s = REFUSED_RETRY_S if isinstance(exc, RedisRefused) else self.settings.refresh_s\n",
        "            retry_s = self.settings.refresh_s\n",
        ("tests/test_gate_says_why_not_ready.py::"
         "test_the_gate_is_ready_again_soon_after_redis_finishes_loading_not_at_its_next_refresh_s_retry",)),
    Mutation(
        "issuer_logs_every_redis_refusal_in_one_spell",
        "each Redis error code refusing the issuer's writes is a throttled spell of its own: a READONLY between "
        "NOREPLICAS refusals within a second was never logged",
        "actors/permit_issuer.py",
        '                self.log_throttled("warning", result, redis_error_code(reply), plan_id=decision["plan_id"],\n',
        '                self.log_throttled("warning", result, None, plan_id=decision["plan_id"],\n',
        ("tests/test_log_bounds.py::test_another_fault_refusing_the_issuers_writes_gets_a_line_of_its_own_within_a_spell",)),
    Mutation(
        "gate_logs_every_issuer_refusal_of_a_reason_in_one_spell",
        "the gate's permit_issuer_refused lines have a spell per reason and Redis error code: a READONLY between "
        "NOREPLICAS refusals within a second was never logged",
        "actors/gate.py",
        '            self.log_throttled("warning", "permit_issuer_refused", (str(reason)[:64], code),\n',
        '            self.log_throttled("warning", "permit_issuer_refused", str(reason)[:64],\n',
        ("tests/test_log_bounds.py::test_another_fault_refusing_the_issuers_writes_gets_a_line_of_its_own_within_a_spell",)),
    Mutation(
        "throttled_outage_line_after_the_outage_ended",
        "the gate logs an outage's last throttled count before `redis_available`, never a `redis_unavailable` line "
        "after the line saying Redis is back",
        "actors/gate.py",
        "            self.end_throttled(\"redis_unavailable\")  # the outage's last counts before the line saying it ended\n",
        "",
        ("tests/test_log_bounds.py::test_no_throttled_outage_line_follows_the_line_that_says_the_outage_ended",)),
    Mutation(
        "gate_drops_a_live_client_whose_queue_is_full_while_it_waits_on_its_issuer",
        "the gate's proposals socket keeps a client silent for longer than a turn may wait on the issuer: a live "
        "client whose queue is full has its PONGs unread meanwhile",
        "actors/gate.py",
        "        return math.ceil(self.topology.longest_turn_s(self.name) * 1000) + HEARTBEAT_TIMEOUT_MS\n",
        "        return HEARTBEAT_TIMEOUT_MS\n",
        ("tests/test_dead_peers.py::"
         "test_a_live_client_whose_queue_is_full_while_the_gate_waits_on_its_issuer_is_kept_and_answered",
         "tests/test_dead_peers.py::test_the_gates_proposals_socket_keeps_a_silent_client_for_longer_than_its_longest_turn")),
    Mutation(
        "gate_heartbeat_counts_one_issuer_wait_a_turn",
        "the gate's proposals socket keeps a silent client longer than its longest turn: four batches a turn, each "
        "waiting permit_timeout_ms on a stopped issuer (2 x permit_timeout_ms + HEARTBEAT_TIMEOUT_MS dropped live "
        "clients past a permit_timeout_ms of 5 s)",
        "actors/gate.py",
        "        return math.ceil(self.topology.longest_turn_s(self.name) * 1000) + HEARTBEAT_TIMEOUT_MS\n",
        "        return 2 * self.settings.permit_timeout_ms + HEARTBEAT_TIMEOUT_MS\n",
        ("tests/test_dead_peers.py::test_the_gates_proposals_socket_keeps_a_silent_client_for_longer_than_its_longest_turn",)),
    Mutation(
        "gate_logs_a_stopped_issuer_on_every_turn",
        "the gate logs an issuer that does not answer once a second with repeated=, not on every turn that waited "
        "permit_timeout_ms for it",
        "actors/gate.py",
        '        self.log_throttled("warning", event, key, **fields)\n',
        '        getattr(self.log, "warning")(event, **fields)\n',
        ("tests/test_log_bounds.py::"
         "test_a_stopped_issuer_is_logged_once_a_second_by_the_gate_not_per_turn_and_its_return_after_the_counts",)),
    Mutation(
        "gate_logs_the_issuers_return_before_the_counts_of_its_absence",
        "the gate logs the unanswered turns not yet counted before `permit_issuer_available`",
        "actors/gate.py",
        '            self.end_throttled(event)\n',
        '            pass\n',
        ("tests/test_log_bounds.py::"
         "test_a_stopped_issuer_is_logged_once_a_second_by_the_gate_not_per_turn_and_its_return_after_the_counts",)),
    Mutation(
        "issuer_keeps_the_old_primarys_clock_offset_after_a_failover",
        "the permit issuer reads the new primary's clock before its first write there after a failover, so a "
        "primary whose clock is ahead of the old one's does not see every deadline early",
        "actors/permit_issuer.py",
        "            if self.redis.connected() != self._clock_server:\n",
        "            if self.redis.connected() is None:\n",
        ("tests/test_sentinel_failover.py::"
         "test_after_a_failover_to_a_host_whose_clock_is_ahead_the_issuer_does_not_refuse_decisions_with_time_left",),
        also=(("actors/permit_issuer.py",
               "                                                      self._clock_server, self._check_policy_before_load)\n",
               "                                                      None, self._check_policy_before_load)\n"),)),
    Mutation(
        "issuer_resends_a_write_to_the_primary_a_failover_promoted",
        "a write whose primary stopped answering mid-call is reported redis_unavailable (outcome unknown), never sent "
        "again to the primary a failover promoted",
        "launcher/resp.py",
        "            if self.server != sent_to and (server is not None or not self.resend_to_another_server):\n",
        "            if False:\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_write_whose_primary_stopped_mid_call_is_not_sent_again_to_the_primary_a_failover_promoted",)),
    Mutation(
        "failover_readiness_counts_sentinels_in_tilt_mode",
        "status says no failover is possible while sentinels in TILT mode leave fewer than the quorum able to see "
        "the primary down",
        "launcher/sentinel.py",
        "    if tilted and usable - len(tilted) < quorum:\n",
        "    if False:\n",
        ("tests/test_sentinel_failover.py::"
         "test_failover_readiness_says_when_sentinels_in_tilt_mode_leave_too_few_to_see_a_primary_down",)),
    Mutation(
        "proof_and_backtest_run_the_checkout_in_the_working_directory",
        "`clustergate proof`, `clustergate backtest` and a deploy's proof run this checkout's module (python -P -m), "
        "never a `proofs` or `launcher` package in the working directory",
        "launcher/own_code.py",
        '    return [sys.executable, "-P", "-m", module, *argv]\n',
        '    return [sys.executable, "-m", module, *argv]\n',
        ("tests/test_layering.py::test_proof_and_backtest_run_this_checkouts_code_from_a_directory_holding_another_"
         "proofs_and_launcher",)),
    Mutation(
        "monitor_up_returns_before_the_rules_saw_its_first_scrapes",
        "`clustergate monitor up` returns once every rule group has been evaluated after the first scrape of every "
        "target, so `monitor up && monitor status` lists the rules' verdict on them",
        "launcher/monitor.py",
        "            evaluated = scraped is not None and wait_rules_evaluated(url, time.time(), args.scrape_interval, deadline)\n",
        "            evaluated = True\n",
        ("tests/test_monitor_live.py::"
         "test_monitor_up_returns_once_every_rule_group_has_evaluated_the_first_scrape_of_every_target",)),
    Mutation(
        "an_actor_exports_a_metric_the_docs_do_not_name",
        "every metric an actor exports is named in README.md or docs/, where an operator looks for it",
        "actors/price_feed.py",
        '        self.heartbeats = Counter("price_feed_heartbeats_total", "Heartbeats published while idle")\n',
        '        self.heartbeats = Counter("price_feed_idle_heartbeats_total", "Heartbeats published while idle")\n',
        ("tests/test_docs.py::test_every_metric_an_actor_of_the_live_demo_exports_is_named_in_the_docs",)),
    Mutation(
        "up_of_another_home_says_plain_status_shows_it",
        "`clustergate up --home DIR` ends naming `clustergate status --home DIR`: plain `status` shows another home",
        "launcher/supervise.py",
        '        named = "" if home.root == home_from(argparse.Namespace(home=None)).root else f" --home {shlex.quote(str(home.root))}"\n',
        '        named = ""\n',
        ("tests/test_launcher.py::test_up_status_and_down_of_the_demo_topology",)),
    Mutation(
        "symbols_are_ascii",
        "validate refuses a symbol holding a letter that is not ASCII (a Cyrillic Т in BTCUSDТ), naming it",
        "launcher/topology.py",
        "        foreign = [c for c in s if not c.isascii()]\n",
        "        foreign = []\n",
        ("tests/test_topology_validation.py::"
         "test_a_symbol_with_a_letter_that_is_not_ascii_is_refused_naming_the_symbol_and_the_letter",)),
    Mutation(
        "status_names_programs_supervisord_does_not_run",
        "status lists a program the topology has but supervisord does not run as MISSING, and exits 1",
        "launcher/supervise.py",
        "        if name not in listed:  # removed from supervisord",
        "        if False:  # removed from supervisord",
        ("tests/test_launcher.py::"
         "test_status_names_a_program_of_the_topology_that_supervisord_does_not_run_as_missing_and_exits_1",)),
    Mutation(
        "up_refuses_to_replace_another_topology",
        "`up` of a topology with another name than the one running in the home is refused naming both, unless --replace",
        "launcher/supervise.py",
        '    if running_name is not None and running_name != topo.name and not getattr(args, "replace", False):\n',
        "    if False:\n",
        ("tests/test_launcher.py::"
         "test_up_of_a_topology_with_another_name_is_refused_naming_both_unless_replace_is_given",)),
    Mutation(
        "down_waits_for_an_up_applying_its_change",
        "`down` while an `up` applies its change (the first `up` of a home, before supervisord answers) waits for it, "
        "then stops what it started",
        "launcher/supervise.py",
        "        if not change.take():\n            return 1\n        lost = deploy_lost_host(home, getattr(args, \"deploy_id\", None), \"down\")\n",
        "        lost = deploy_lost_host(home, getattr(args, \"deploy_id\", None), \"down\")\n",
        ("tests/test_launcher.py::"
         "test_down_while_the_first_up_of_a_home_applies_its_change_waits_for_it_and_stops_what_it_started",)),
    Mutation(
        "running_copy_read_leniently_for_held_ports",
        "`up` reads the ports its running system holds from the running copy even when today's validation refuses "
        "that copy: they are its own, not another process's",
        "launcher/supervise.py",
        "        running, _ = load_running_copy(home.topology)\n",
        "        running, _ = load_running_copy(home.topology)\n        if _:\n            return set()\n",
        ("tests/test_launcher.py::"
         "test_a_running_copy_that_todays_validation_refuses_is_still_what_status_shows_and_up_replaces",)),
    Mutation(
        "status_reads_the_running_copy_strictly",
        "status shows the running system whose copy today's validation refuses, with a note, not a traceback",
        "launcher/supervise.py",
        "        topo, problems = load_running_copy(home.topology)\n",
        "        topo, problems = load_running_copy(home.topology)\n        if problems:\n            raise SchemaError(problems)\n",
        ("tests/test_launcher.py::"
         "test_a_running_copy_that_todays_validation_refuses_is_still_what_status_shows_and_up_replaces",)),
    Mutation(
        "up_adds_a_program_supervisord_does_not_run_unchecked",
        "`up` checks the ports of a program supervisord does not run (removed by hand) before adding it back",
        "launcher/supervise.py",
        "                or n in stopped_by_hand or n in not_run]\n",
        "                or n in stopped_by_hand]\n",
        ("tests/test_launcher.py::"
         "test_up_checks_the_ports_of_a_program_supervisord_does_not_run_before_adding_it",)),
    Mutation(
        "topology_name_is_ascii",
        "validate refuses a topology name holding a letter that is not ASCII",
        "launcher/topology.py",
        "            not topo.name or not topo.name.isascii() or",
        "            not topo.name or",
        ("tests/test_topology_validation.py::test_a_topology_name_with_a_letter_that_is_not_ascii_is_refused",)),
    Mutation(
        "up_timeout_nan_waits_forever",
        "`up --timeout` takes a finite number of seconds, 0 or more: nan (no time is past it) is refused",
        "launcher/supervise.py",
        '    if not (0 <= value < float("inf")):\n',
        '    if value < 0:\n',
        ("tests/test_launcher.py::"
         "test_up_with_a_timeout_that_is_no_finite_number_of_seconds_is_refused_before_anything_starts",)),
    # ------------------------------------------------------------------ tests that could not fail (canfail)
    Mutation(
        "freshness_default_hard_coded_90_s",
        "a gate without freshness_s judges the cluster state by the topology's 2 x cadence_s (SPEC), not a fixed window",
        "actors/gate.py",
        "        self.freshness_s = self.topology.gate_freshness_s(self.name)\n",
        "        self.freshness_s = s.freshness_s if s.freshness_s is not None else 90.0\n",
        ("tests/test_state_writer_skew.py::"
         "test_a_gate_without_freshness_s_falls_back_to_the_proxy_past_two_cadences_and_returns",)),
    Mutation(
        "gate_judges_cluster_state_by_a_window_of_a_day",
        "a gate without freshness_s falls back to the proxy for a cluster state older than 2 x cadence_s, not a day",
        "actors/gate.py",
        "        self.freshness_s = self.topology.gate_freshness_s(self.name)\n",
        "        self.freshness_s = s.freshness_s if s.freshness_s is not None else 86400.0\n",
        ("tests/test_state_writer_skew.py::"
         "test_a_gate_without_freshness_s_falls_back_to_the_proxy_past_two_cadences_and_returns",)),
    Mutation(
        "propose_cli_sends_another_action",
        "`clustergate propose --action A` proposes A",
        "launcher/client.py",
        "            reply = client.propose(args.symbol, args.action, kill_score=args.kill_score, plan_id=plan_id,\n",
        "            reply = client.propose(args.symbol, ACTIONS[(ACTIONS.index(args.action) + 1) % len(ACTIONS)],\n"
        "                                   kill_score=args.kill_score, plan_id=plan_id,\n",
        ("tests/test_gate_service.py::test_clustergate_propose_prints_the_decision_and_exits_0",)),
    Mutation(
        "issuer_exports_maxmemory_as_used_memory",
        "clustergate_redis_used_memory_bytes is Redis INFO used_memory",
        "actors/permit_issuer.py",
        '(("used_memory", REDIS_USED_MEMORY), ("maxmemory", REDIS_MAXMEMORY))',
        '(("maxmemory", REDIS_USED_MEMORY), ("maxmemory", REDIS_MAXMEMORY))',
        ("tests/test_gate_service.py::test_the_permit_issuer_exports_redis_memory_use_and_its_limit",)),
    Mutation(
        "snapshot_future_skew_59_s",
        "a position snapshot dated more than 5 s ahead is stale, for the gate and P2.7 alike",
        "actors/snapshots.py",
        "SNAPSHOT_FUTURE_SKEW_S = 5.0\n",
        "SNAPSHOT_FUTURE_SKEW_S = 59.0\n",
        ("tests/test_snapshot_rule.py::test_gate_and_p27_read_every_snapshot_the_same_way",)),
    Mutation(
        "positions_takes_a_mark_price_of_0",
        "`clustergate positions set` refuses a mark price that is not > 0",
        "launcher/positions.py",
        "    if value <= 0:\n",
        "    if value < 0:\n",
        ("tests/test_positions_cli.py::test_positions_refuses_a_price_that_is_not_positive_with_exit_2",)),
    Mutation(
        "loopback_check_refuses_only_the_wildcard",
        "an actor's metrics host beyond loopback is refused on one host, any address, not only 0.0.0.0",
        "launcher/topology.py",
        "    if not is_loopback(spec.host):\n",
        "    if spec.host == \"0.0.0.0\":\n",
        ("tests/test_topology_validation.py::test_metrics_beyond_loopback_are_rejected_whatever_the_address",)),
    Mutation(
        "backtest_plan_id_identity_is_the_symbol_alone",
        "the backtest refuses a plan_id resubmitted with another action or kill_score (plan_id_conflict), as the issuer",
        "launcher/backtest.py",
        "            identity = (proposal.symbol, proposal.action_proposed, proposal.kill_score)\n",
        "            identity = (proposal.symbol,)\n",
        ("tests/test_backtest.py::test_a_resubmitted_plan_id_replays_its_decision_and_other_values_conflict",)),
    Mutation(
        "idle_feed_ready_before_its_first_heartbeat",
        "an idle price feed is ready only once it has published (its first heartbeat)",
        "actors/price_feed.py",
        '        self.log.info("source_ready", source=source, symbols=self.symbols)\n',
        '        self.log.info("source_ready", source=source, symbols=self.symbols)\n'
        '        self.set_ready(True)\n',
        ("tests/test_price_feed_process.py::test_an_idle_feed_sends_heartbeats_and_is_ready_after_the_first_one",)),
    Mutation(
        "plan_id_limit_200_characters",
        "a plan_id longer than 128 characters is an invalid proposal",
        "actors/policy.py",
        "MAX_PLAN_ID_CHARS = 128\n",
        "MAX_PLAN_ID_CHARS = 200\n",
        ("tests/test_gate_policy.py::test_a_plan_id_or_symbol_past_its_limit_or_with_a_control_character_is_refused",)),
    Mutation(
        "symbol_limit_40_characters",
        "a symbol longer than 32 characters is an invalid proposal",
        "actors/policy.py",
        "MAX_SYMBOL_CHARS = 32\n",
        "MAX_SYMBOL_CHARS = 40\n",
        ("tests/test_gate_policy.py::test_a_plan_id_or_symbol_past_its_limit_or_with_a_control_character_is_refused",)),
    Mutation(
        "plan_id_with_a_control_character_valid",
        "a plan_id holding a control character is an invalid proposal",
        "actors/policy.py",
        "    if type(plan_id) is str and plan_id.strip() and len(plan_id) <= MAX_PLAN_ID_CHARS and plan_id.isprintable():\n",
        "    if type(plan_id) is str and plan_id.strip() and len(plan_id) <= MAX_PLAN_ID_CHARS:\n",
        ("tests/test_gate_policy.py::test_a_plan_id_or_symbol_past_its_limit_or_with_a_control_character_is_refused",)),
    Mutation(
        "gate_allowlist_ignores_case",
        "the gate's allowlist is exact: btcusdt is not BTCUSDT (HOLD not_allowed)",
        "actors/gate.py",
        "        self.allowed = frozenset(self.symbols)\n",
        "        self.allowed = frozenset(self.symbols) | frozenset(s.lower() for s in self.symbols)\n",
        ("tests/test_gate_service.py::test_a_symbol_outside_the_allowlist_is_hold_not_allowed_and_recorded",)),
    Mutation(
        "positions_allowlist_ignores_case",
        "`clustergate positions` refuses a symbol not in the allowlist as spelled (btcusdt)",
        "launcher/positions.py",
        "    if symbol not in topo.symbols:\n",
        "    if symbol.upper() not in topo.symbols:\n",
        ("tests/test_positions_cli.py::test_positions_refuses_a_symbol_outside_the_allowlist_with_exit_2_showing_it_"
         "quoted",)),
    Mutation(
        "socket_ports_not_checked_against_metrics_ports",
        "a socket bound on an actor's metrics port is refused by validation",
        "launcher/topology.py",
        '                claim(endpoint_port(sock.bind), ("actors", name, "sockets", role, "bind"))\n',
        '                claim(None if endpoint_port(sock.bind) in {a.metrics_port for a in topo.actors.values()}\n'
        '                      else endpoint_port(sock.bind), ("actors", name, "sockets", role, "bind"))\n',
        ("tests/test_topology_validation.py::test_a_socket_bound_on_a_metrics_port_names_both_users",)),
    Mutation(
        "ha_load_takes_internal_error_for_a_final_error",
        "the HA load's audit counts an internal_error reply as an unknown outcome (resubmitted), not a final error",
        "launcher/ha_load.py",
        '    if reply.get("reason") in ("expired", "overloaded", "internal_error"):\n',
        '    if reply.get("reason") in ("expired", "overloaded"):\n',
        ("tests/test_ha_audit.py::test_outcomes_a_recorded_decision_is_final_and_every_fault_or_silence_is_unknown",)),
    Mutation(
        "backtest_keeps_a_hold_as_long_as_a_permit",
        "the backtest keeps a HOLD's plan_id for hold_decision_ttl_s (600 s), as the issuer, not decision_ttl_s (a day)",
        "launcher/backtest.py",
        '            ttl = pi.decision_ttl_s if decision["final_action"] != HOLD else pi.hold_decision_ttl_s\n',
        '            ttl = pi.decision_ttl_s\n',
        ("tests/test_backtest.py::test_a_hold_is_kept_for_the_hold_decision_ttl_only_and_then_decided_afresh",)),
    Mutation(
        "ha_load_takes_a_decision_not_said_recorded_for_final",
        "the HA load's audit counts a decision final only when it says recorded: true",
        "launcher/ha_load.py",
        '        return "final" if reply.get("decision", {}).get("recorded") is True else "unknown"\n',
        '        return "final" if reply.get("decision", {}).get("recorded") is not False else "unknown"\n',
        ("tests/test_ha_audit.py::test_outcomes_a_recorded_decision_is_final_and_every_fault_or_silence_is_unknown",)),
    Mutation(
        "propose_cli_ignores_no_deadline",
        "`clustergate propose --no-deadline` sends no deadline_ms; without it, deadline_ms in epoch ms",
        "launcher/client.py",
        "send_deadline=not args.no_deadline",
        "send_deadline=True",
        ("tests/test_client.py::test_clustergate_propose_sends_the_proposal_asked_for_with_a_deadline_unless_told_not_to",)),
    Mutation(
        "correlator_ready_since_follows_every_ready_window",
        "p27_corr_ready_since_timestamp_seconds is the time the matrix went ready (the warm-restart proof's clock), "
        "not the latest ready window's",
        "actors/correlator.py",
        '        if result["ready"] and not self.ready:\n',
        '        if result["ready"]:\n',
        ("tests/test_clusters_end_to_end.py::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent",)),
    Mutation(
        "state_writer_never_sets_its_last_update_time",
        "p27_last_update_timestamp_seconds is the updated_ts of the state writer's last write",
        "actors/state_writer.py",
        "        self.m.last_update.set(updated_ts)\n",
        "",
        ("tests/test_clusters_end_to_end.py::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent",)),
    Mutation(
        "book_never_sets_its_snapshot_time",
        "book_snapshot_timestamp_seconds{symbol} is the time of the book's last snapshot written",
        "actors/book.py",
        "            SNAPSHOT_TS.labels(symbol=symbol).set(now)\n",
        "            pass\n",
        ("tests/test_book.py::test_the_book_writes_fresh_snapshots_of_every_position_and_rewrites_a_deleted_one",)),
    Mutation(
        "actor_start_time_never_set",
        "clustergate_actor_started_timestamp_seconds is the actor process's start (the warm-restart proof's origin)",
        "actors/runtime.py",
        "        STARTED.labels(actor=self.name, kind=self.kind).set(time.time())\n",
        "",
        ("tests/test_book.py::test_the_book_writes_fresh_snapshots_of_every_position_and_rewrites_a_deleted_one",)),
    Mutation(
        "issuer_permit_ttl_is_the_cooldowns",
        "a permit's TTL is permit_ttl_s, not cooldown_ttl_s (both 60 s by default)",
        "actors/permit_issuer.py",
        "permit_ttl=str(s.permit_ttl_s)",
        "permit_ttl=str(s.cooldown_ttl_s)",
        ("tests/test_gate_service.py::test_the_permit_and_the_cooldown_each_take_their_own_configured_ttl",)),
    Mutation(
        "issuer_cooldown_ttl_is_the_permits",
        "a cooldown's TTL is cooldown_ttl_s, not permit_ttl_s (both 60 s by default)",
        "actors/permit_issuer.py",
        "cooldown_ttl=str(s.cooldown_ttl_s)",
        "cooldown_ttl=str(s.permit_ttl_s)",
        ("tests/test_gate_service.py::test_the_permit_and_the_cooldown_each_take_their_own_configured_ttl",)),
    Mutation(
        "duplicate_symbol_valid",
        "a topology listing a symbol twice is refused, naming the second",
        "launcher/topology.py",
        "        if s in seen:\n",
        "        if False:\n",
        ("tests/test_topology_validation.py::test_a_symbol_listed_twice_is_refused_naming_the_second",)),
    Mutation(
        "positions_list_signs_a_notional_without_notional_usd",
        "`clustergate positions list` shows notional |position_amt x mark_price| when the snapshot has no notional_usd",
        "launcher/positions.py",
        '"notional": None if why else abs(signed)',
        '"notional": None if why else signed',
        ("tests/test_positions_cli.py::test_positions_set_list_and_clear_round_trip_through_redis",)),
    Mutation(
        "scrape_timeout_past_a_short_interval",
        "the rendered Prometheus config's scrape timeout is 10 s or the scrape interval when shorter",
        "launcher/monitoring.py",
        '            "scrape_timeout": f"{min(10, scrape_interval_s)}s",\n',
        '            "scrape_timeout": "10s",\n',
        ("tests/test_alerts.py::test_prometheus_scrapes_every_15_s_by_default_and_times_out_within_10_s_and_the_interval",)),
    Mutation(
        "scrape_interval_default_60",
        "Prometheus scrapes and evaluates the rules every 15 s by default (docs/monitoring.md)",
        "launcher/monitoring.py",
        "SCRAPE_INTERVAL_S_DEFAULT = 15\n",
        "SCRAPE_INTERVAL_S_DEFAULT = 60\n",
        ("tests/test_alerts.py::test_prometheus_scrapes_every_15_s_by_default_and_times_out_within_10_s_and_the_interval",)),
    Mutation(
        "held_above_1e_3_of_notional",
        "SPEC: a member is held (counts in its cluster) when its notional is > 1e-9, however small above that",
        "actors/snapshots.py",
        "HELD_MIN_NOTIONAL = 1e-9\n",
        "HELD_MIN_NOTIONAL = 1e-3\n",
        ("tests/test_cluster_maths.py::test_a_member_is_held_above_1e_9_of_notional_however_small",)),
    Mutation(
        "propose_cli_drops_r_net",
        "`clustergate propose --r-net X` sends r_net X with the proposal",
        "launcher/client.py",
        "                                   r_net=args.r_net)\n",
        "                                   r_net=None)\n",
        ("tests/test_client.py::test_clustergate_propose_sends_the_proposal_asked_for_with_a_deadline_unless_told_not_to",)),
    Mutation(
        "duplicate_field_error_names_no_plan_id",
        "a request giving a field twice is refused naming its plan_id when that was given once and is usable, never "
        "a plan_id from a nested object",
        "actors/gate.py",
        '    plan_id = None if "plan_id" in obj.twice else usable_plan_id(obj.get("plan_id"))\n',
        "    plan_id = None\n",
        ("tests/test_gate_attack.py::"
         "test_a_duplicate_field_error_names_the_plan_id_given_once_and_never_one_from_a_nested_object",)),
    Mutation(
        "bad_plan_id_or_symbol_error_says_only_required",
        "a plan_id or symbol of another type, blank, too long or holding a character that is not printable is refused "
        "saying which, and what was got",
        "actors/policy.py",
        "    if value is None:\n        return f\"{name} is required: {wanted}\"\n",
        "    if True:\n        return f\"{name} is required: {wanted}\"\n",
        ("tests/test_gate_attack.py::test_a_bad_plan_id_or_symbol_is_refused_saying_what_was_wrong_with_it",)),
    Mutation(
        "actors_keep_the_soft_descriptor_limit",
        "idle TCP connections past an actor's inherited soft descriptor limit do not stop the gate answering proposals",
        "actors/runtime.py",
        "    raise_descriptor_limit()\n    parser = argparse.ArgumentParser(",
        "    parser = argparse.ArgumentParser(",
        ("tests/test_dead_peers.py::"
         "test_idle_tcp_connections_past_the_soft_descriptor_limit_leave_the_gate_answering_proposals",)),
    Mutation(
        "clusterer_ignores_a_book_total_that_overflows",
        "held notionals that sum past a float's range make the clusterer's state not ready (notional_overflow), "
        "named in its log, never a NaN state it cannot send",
        "actors/clusterer.py",
        "    return not math.isfinite(sum(abs(v) for v in signed.values()))\n",
        "    return False\n",
        ("tests/test_cluster_side_attack.py::test_held_notionals_whose_book_total_overflows_fail_closed_named_and_recover",)),
    Mutation(
        "buffer_jump_filter_starts_empty_after_a_restart",
        "the buffer's jump filter checks the first print after a restart against the newest price of the loaded history",
        "actors/buffer.py",
        "            self.jumps.last.setdefault(symbol, price)\n",
        "            pass\n",
        ("tests/test_cluster_side_attack.py::test_the_first_print_after_a_buffer_restart_is_checked_against_the_history_it_loaded",)),
    Mutation(
        "overloaded_gate_handed_over_after_a_timeout",
        "an overloaded reply moves the client to the next gate at once, not after waiting out an attempt's timeout",
        "launcher/client.py",
        "            if streak < servers:  # another gate may decide it: ask it at once\n",
        "            if streak < servers:  # another gate may decide it: ask it at once\n"
        "                time.sleep(self.timeout_ms / 1000)\n",
        ("tests/test_ha_failover.py::test_every_attempt_of_a_failover_carries_the_same_plan_id_and_an_overloaded_gate_hands_over_at_once",)),
    Mutation(
        "max_request_bytes_default_below_the_largest_valid_proposal",
        "the default max_request_bytes reads and decides the largest valid proposal (2,715 bytes JSON-escaped), with room",
        "launcher/topology.py",
        "    max_request_bytes: int = setting(8192,",
        "    max_request_bytes: int = setting(2048,",
        ("tests/test_request_size_limit.py::test_the_largest_valid_proposal_is_valid_at_every_limit_and_fits_the_default_with_room",
         "tests/test_request_size_limit.py::"
         "test_a_gate_on_the_default_limit_decides_the_largest_valid_proposal_and_drops_one_byte_over")),
    Mutation(
        "max_request_bytes_default_back_to_64_kb",
        "the default max_request_bytes stays within 4 times the largest valid proposal, so hostile connections hold "
        "little of the gate's memory (connections x hwm x max_request_bytes)",
        "launcher/topology.py",
        "    max_request_bytes: int = setting(8192,",
        "    max_request_bytes: int = setting(65536,",
        ("tests/test_request_size_limit.py::test_the_default_limit_stays_within_four_times_the_largest_valid_proposal",)),
    Mutation(
        "backtest_parquet_bad_rows_counts_the_listed_20",
        "summary.json's prices.bad_rows counts every Parquet row without a timestamp, not the first 20 it lists",
        "launcher/backtest.py",
        "    n_bad = int(bad_ts.sum())\n",
        "    n_bad = min(int(bad_ts.sum()), 20)\n",
        ("tests/test_backtest_counts.py::test_every_parquet_row_without_a_timestamp_is_counted_not_the_first_20",)),
    Mutation(
        "backtest_parquet_null_timestamp_read_as_1677",
        "a null in a Parquet timestamp-typed ts column is a bad row, as a null in a numeric one",
        "launcher/backtest.py",
        "        ts_raw[ts_col.is_null().to_numpy(zero_copy_only=False)] = np.nan",
        "        pass",
        ("tests/test_backtest_counts.py::test_a_null_in_a_parquet_timestamp_column_is_a_bad_row_as_in_a_numeric_one",)),
    Mutation(
        "backtest_parquet_order_error_names_the_row_among_timed_rows",
        "a Parquet row out of time order is named by its own row of the file, rows without a timestamp counted",
        "launcher/backtest.py",
        "row {int(timed[order_bad[0] + 1]) + 1}:",
        "row {int(order_bad[0]) + 2}:",
        ("tests/test_backtest_counts.py::"
         "test_a_parquet_row_out_of_time_order_is_named_by_its_row_after_a_row_without_a_timestamp",)),
    Mutation(
        "backtest_csv_file_rows_counts_prices_read",
        "summary.json's prices.file_rows is the CSV's rows under the header (wide or long, symbols outside the "
        "topology included), as for Parquet, not the prices it read",
        "launcher/backtest.py",
        "data.form, file_rows, data.bad_rows,",
        "data.form, rows + len(data.bad_rows), data.bad_rows,",
        ("tests/test_backtest_counts.py::test_prices_file_rows_is_the_files_rows_in_both_forms_and_formats",)),
    Mutation(
        "backtest_chunks_ignore_the_pairs",
        "the backtest computes fewer windows at a time as the pairs of symbols grow, so that its memory does not grow "
        "with k^2 x 2048 slots",
        "launcher/backtest.py",
        "    per_chunk = chunk_slots(k, c.lookback_returns)\n",
        "    per_chunk = CHUNK_SLOTS\n",
        ("tests/test_backtest_counts.py::test_many_symbols_do_not_take_memory_growing_with_pairs_times_2048_slots",)),
    Mutation(
        "backtest_prices_directory_called_missing",
        "a --prices path that is a directory is refused as a directory, not as a missing file",
        "launcher/feed_inputs.py",
        '    return ("is a directory, not a prices file" if os.path.isdir(path) else\n',
        '    return ("no such file" if os.path.isdir(path) else\n',
        ("tests/test_backtest_counts.py::test_a_prices_path_that_is_a_directory_is_named_as_one_not_as_missing",)),
    Mutation(
        "backtest_parquet_float32_epochs_read",
        "a Parquet ts column of 32-bit floats (today's epochs rounded to 128 s) is refused naming it, not read",
        "launcher/backtest.py",
        "        if pa.types.is_floating(ts_col.type) and ts_col.type.bit_width < 64:",
        "        if pa.types.is_floating(ts_col.type) and ts_col.type.bit_width < 32:",
        ("tests/test_backtest_counts.py::test_a_parquet_ts_column_of_32_bit_floats_is_refused_not_rounded_to_128_s",)),
    Mutation(
        "monitor_reads_the_running_copy_strictly",
        "monitor reads the home's running copy leniently, as status does: a copy today's validation refuses is what runs",
        "launcher/monitor.py",
        "        return load_running_copy(home.topology)[0]\n",
        "        topo, problems = load_running_copy(home.topology)\n"
        "        if problems:\n"
        "            raise SchemaError(problems)\n"
        "        return topo\n",
        ("tests/test_monitor_live.py::test_monitor_reads_a_running_copy_that_todays_validation_refuses_as_status_does",)),
    Mutation(
        "down_waiting_on_a_stopped_up_does_not_say_so",
        "a down waiting on a paused up (Ctrl-Z) says the up's pid is stopped and that `kill -CONT PID` resumes it",
        "launcher/supervise.py",
        "    if state not in ([b\"T\"], [b\"t\"]):\n",
        "    if state not in ([b\"X\"],):\n",
        ("tests/test_launcher.py::"
         "test_down_while_the_first_up_of_a_home_applies_its_change_waits_for_it_and_stops_what_it_started",)),
    Mutation(
        "deploy_replace_not_passed_to_each_hosts_up",
        "deploy --replace passes --replace to each host's up, so a renamed topology replaces what each host runs",
        "launcher/deploy.py",
        "*([\"--replace\"] if args.replace else [])",
        "*([] if args.replace else [])",
        ("tests/test_multihost_side_by_side.py::"
         "test_deploy_of_a_renamed_topology_says_to_give_replace_and_with_replace_passes_it_to_each_hosts_up",)),
    Mutation(
        "all_hosts_status_without_each_hosts_supervised_programs",
        "status --all-hosts shows a program a host's supervisord does not run as MISSING, not as an unreached `?`",
        "launcher/supervise.py",
        "    return {**said, \"log_found\": True, \"supervised\": None if infos is None else sorted(p[\"name\"] for p in infos),\n",
        "    return {**said, \"log_found\": True,\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_shows_a_program_a_hosts_supervisord_does_not_run_as_missing",)),
    Mutation(
        "free_port_hands_out_the_os_pick_inside_the_ephemeral_range",
        "free_port hands out ports below the kernel's ephemeral range, where no other process's bind(0) or outgoing "
        "connection is given one before the actor binds it (CI: a state writer's metrics port refused for 60 s)",
        "launcher/ports.py",
        "    if spans and attempt < 1000:\n",
        "    if False:\n",
        ("tests/test_harness_ports.py::"
         "test_free_port_hands_out_ports_outside_the_range_the_os_gives_to_bind_0_and_outgoing_connections",)),
    Mutation(
        "deploy_goes_on_with_a_running_copy_it_could_not_put_back",
        "deploy refuses, before changing any host, a host whose running copy its rollback's up would refuse",
        "launcher/deploy.py",
        '                record["refused"] = f"{host}\'s running copy does not validate: {first}"\n'
        '                return finish("refused", 2)\n',
        "                pass\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_deploy_refuses_before_changing_any_host_when_a_hosts_running_copy_could_not_be_put_back",)),
    Mutation(
        "up_says_only_permission_denied_for_a_low_port",
        "up refuses a port below the unprivileged range it may not bind, naming the field and what binding it takes",
        "launcher/endpoints.py",
        '            hint = low_port_hint(port) if exc.errno == errno.EACCES else ""\n',
        '            hint = ""\n',
        ("tests/test_launcher.py::test_up_refuses_a_metrics_port_below_1024_it_may_not_bind_naming_the_field_and_why",)),
    Mutation(
        "backtest_keeps_recorded_decisions_past_their_ttl",
        "the backtest forgets a plan_id's recorded decision once its TTL passed: memory follows the proposals within a TTL, not the file",
        "launcher/backtest.py",
        "                if recorded.get(plan_id, (None, None, None))[2] == until:\n"
        "                    del recorded[plan_id]\n",
        "                pass\n",
        ("tests/test_backtest_attack.py::test_a_proposals_file_ten_times_longer_does_not_take_ten_times_the_memory",)),
    Mutation(
        "backtest_reads_the_proposals_file_whole",
        "the backtest reads --proposals a row at a time",
        "launcher/backtest.py",
        "def read_proposals(path: str) -> ProposalFile:\n    return ProposalFile(path)\n",
        "def read_proposals(path: str) -> ProposalFile:\n    return list(ProposalFile(path))  # type: ignore[return-value]\n",
        ("tests/test_backtest_attack.py::test_a_proposals_file_ten_times_longer_does_not_take_ten_times_the_memory",)),
    # ------------------------------------------------------------ canfail: breaks no test caught (4 Dec 2026)
    Mutation(
        "riskoff_partial_25_series_not_exported_at_0",
        "p26_actions_downgraded_total exists at 0 for every (from, to, reason) the policy can make (canfail)",
        "actors/policy.py",
        "(P25, P75, RISKOFF), (P50, P75, RISKOFF)]",
        "(P50, P75, RISKOFF)]",
        (GP + "test_every_downgrade_the_policy_can_make_is_a_series_the_gate_exports_from_the_start",)),
    Mutation(
        "monotone_cooldown_series_not_exported_at_0",
        "under policy monotone a cooled-down cold FULL_CLOSE's downgrade series exist at 0 from the start (canfail, "
        "product fix)",
        "actors/policy.py",
        "    out += [(FULL, P50, COOLDOWN), (FULL, P25, COOLDOWN)]\n",
        "",
        (GP + "test_every_downgrade_the_policy_can_make_is_a_series_the_gate_exports_from_the_start",)),
    Mutation(
        "deadline_ms_0_taken_as_a_deadline",
        "a deadline_ms of 0 is an invalid proposal, not a deadline that has always passed (canfail)",
        "actors/policy.py",
        "_is_number(deadline_ms)) or deadline_ms <= 0:",
        "_is_number(deadline_ms)) or deadline_ms < 0:",
        (GP + "test_an_invalid_proposal_is_refused_naming_the_field",)),
    Mutation(
        "cluster_k_takes_a_nan_cluster_stress",
        "a fresh cluster state whose cluster_stress is not finite falls back to the proxy, never a NaN stress (canfail)",
        "actors/policy.py",
        "    if not math.isfinite(stress) or not state_is_fresh(",
        "    if not state_is_fresh(",
        (GP + "test_cluster_stress_that_is_no_number_in_0_1_falls_back_or_is_clipped",)),
    Mutation(
        "cluster_k_not_clipped",
        "K from the cluster state is clipped to [0, 1] (canfail)",
        "actors/policy.py",
        "    return min(max(stress, 0.0), 1.0)\n",
        "    return stress\n",
        (GP + "test_cluster_stress_that_is_no_number_in_0_1_falls_back_or_is_clipped",)),
    Mutation(
        "backtest_fails_a_flat_book_closed",
        "the backtest, like the gate, decides on a book of flat fresh positions instead of failing closed (canfail)",
        "actors/policy.py",
        "\"state_ok\": held.any(axis=1)}",
        "\"state_ok\": (np.abs(v) > 0).any(axis=1)}",
        (GP + "test_a_book_of_flat_positions_is_state_in_the_backtest_as_in_the_gate",)),
    Mutation(
        "backtest_takes_a_future_cluster_state_as_fresh",
        "SPEC: a cluster state from the future is stale, in the backtest's gate metrics too (canfail)",
        "actors/policy.py",
        "fresh_k = have & (age >= 0) & (now - updated_ms <= freshness_s)",
        "fresh_k = have & (now - updated_ms <= freshness_s)",
        (GP + "test_the_backtests_gate_metrics_take_a_cluster_state_from_the_future_as_stale",)),
    Mutation(
        "backtest_takes_a_realized_vol_of_0",
        "the backtest takes the constant sigma for a symbol whose realized vol is 0, as the live correlator "
        "publishes none (canfail)",
        "actors/policy.py",
        "realized = in_matrix[at] & np.isfinite(v) & (v > 0) & fresh_k[lo:hi, None]",
        "realized = in_matrix[at] & np.isfinite(v) & fresh_k[lo:hi, None]",
        (GP + "test_the_backtest_takes_the_constant_sigma_for_a_symbol_whose_realized_vol_is_0",)),
    Mutation(
        "linkage_cut_leaves_out_070",
        "average and complete linkage join a pair at exactly corr 0.70, as the threshold method does (canfail)",
        "actors/clustering.py",
        "t=1.0 - threshold + 1e-12,",
        "t=1.0 - threshold - 1e-12,",
        ("tests/test_cluster_maths.py::test_linkage_joins_a_pair_at_exactly_070_and_not_just_below",)),
    Mutation(
        "heat_ceiling_equal_to_the_floor_valid",
        "validate refuses heat_ceiling == heat_floor (heat would divide by zero) (canfail)",
        "launcher/topology.py",
        "if kwargs.get(\"heat_ceiling\", 0.35) <= kwargs.get(\"heat_floor\", 0.05):",
        "if kwargs.get(\"heat_ceiling\", 0.35) < kwargs.get(\"heat_floor\", 0.05):",
        (TV_REFUSED,)),
    Mutation(
        "book_position_outside_the_allowlist_valid",
        "validate refuses a book position for a symbol outside the allowlist (canfail)",
        "launcher/topology.py",
        "            for sym in s.positions:\n                if symbols_read and sym not in allow:\n",
        "            for sym in s.positions:\n                if False:\n",
        (TV_REFUSED,)),
    Mutation(
        "feed_correlation_of_1_valid",
        "validate refuses a synthetic pair correlation of 1, naming the range (canfail)",
        "launcher/topology.py",
        "                if not -1 < rho < 1:",
        "                if not -1 <= rho <= 1:",
        (TV_REFUSED,)),
    Mutation(
        "feed_volatility_0_valid",
        "validate refuses a synthetic volatility of 0 (canfail)",
        "launcher/topology.py",
        "                    if not value > 0 and not refused:",
        "                    if not value >= 0 and not refused:",
        (TV_REFUSED,)),
    Mutation(
        "tick_jump_for_a_symbol_outside_the_allowlist_valid",
        "validate refuses max_tick_jump_by_symbol for a symbol outside the allowlist (canfail)",
        "launcher/topology.py",
        "        if symbol not in topo.symbols and not _symbols_unreadable(v):\n            v.problem((\"clusters\", \"max_tick_jump_by_symbol\", symbol)",
        "        if False:\n            v.problem((\"clusters\", \"max_tick_jump_by_symbol\", symbol)",
        (TV_REFUSED,)),
    Mutation(
        "tick_jump_over_100_valid",
        "validate refuses a max_tick_jump_by_symbol over 100 (canfail)",
        "launcher/topology.py",
        "isinstance(limit, (int, float)) and 0 < limit <= 100):",
        "isinstance(limit, (int, float)) and 0 < limit):",
        (TV_REFUSED,)),
    Mutation(
        "empty_allowlist_valid",
        "validate refuses an empty allowlist (every proposal would be HOLD not_allowed) (canfail)",
        "launcher/topology.py",
        "    if not topo.symbols and not _symbols_unreadable(v):\n        v.problem((\"symbols\",), \"the allowlist is empty\")\n",
        "",
        (TV_REFUSED,)),
    Mutation(
        "several_writers_lease_floor_halved",
        "with several state writers validate refuses a lease_ms just under 500 x cadence_s (canfail)",
        "launcher/topology.py",
        "and s.lease_ms < 500 * topo.clusters.cadence_s):",
        "and s.lease_ms < 250 * topo.clusters.cadence_s):",
        ("tests/test_ha_standby.py::test_with_two_state_writers_a_lease_that_is_off_or_shorter_than_two_renewals_is_refused",)),
    Mutation(
        "max_price_age_default_2_cadences",
        "clusters.max_price_age_s defaults to 5 x cadence_s, as documented (canfail)",
        "launcher/topology.py",
        "return c.max_price_age_s if c.max_price_age_s is not None else 5.0 * c.cadence_s",
        "return c.max_price_age_s if c.max_price_age_s is not None else 2.0 * c.cadence_s",
        ("tests/test_topology_validation.py::test_max_price_age_defaults_to_five_cadences",)),
    Mutation(
        "state_writer_deletes_only_the_ids_the_clusters_hash_lists",
        "a per-cluster hash found at start that the clusters hash does not list is deleted at the first write (canfail)",
        "actors/state_writer.py",
        "stale = (known_ids | set(pipe.hkeys(keys.CLUSTERS))) - new_ids",
        "stale = set(pipe.hkeys(keys.CLUSTERS)) - new_ids",
        (CLUSTERS_E2E_TEST + "test_a_per_cluster_hash_found_at_start_that_the_clusters_hash_does_not_list_is_deleted_at_"
                             "the_first_write",)),
    Mutation(
        "clusterer_stress_max_is_the_sum",
        "SPEC: p27_cluster_stress_max is the largest single cluster stress, at the clusterer too (canfail)",
        "actors/clusterer.py",
        "\"cluster_stress_max\": max((c.stress for c in clusters), default=0.0),",
        "\"cluster_stress_max\": cluster_stress,",
        (CLUSTERS_E2E_TEST + "test_the_clusterers_gauges_give_the_largest_cluster_stress_and_no_matrix_symbols_until_ready",)),
    Mutation(
        "clusterer_counts_matrix_symbols_while_not_ready",
        "p27_symbols_in_matrix is 0 while the correlator is not ready (canfail)",
        "actors/clusterer.py",
        "\"symbols_in_matrix\": len(matrix_symbols) if header.get(\"ready\") else 0,",
        "\"symbols_in_matrix\": len(matrix_symbols),",
        (CLUSTERS_E2E_TEST + "test_the_clusterers_gauges_give_the_largest_cluster_stress_and_no_matrix_symbols_until_ready",)),
    Mutation(
        "backtest_cold_time_takes_in_055",
        "the backtest's time cold is stress < cold_stress: 0.55 itself is not cold (canfail)",
        "launcher/backtest.py",
        "    cold = has_state & (st < g.cold_stress)\n",
        "    cold = has_state & (st <= g.cold_stress)\n",
        (BT_SUMMARY,)),
    Mutation(
        "backtest_proxy_time_leaves_out_fail_closed_slots",
        "the backtest's time on the proxy counts every slot whose K came from the proxy (canfail)",
        "launcher/backtest.py",
        "\"share_on_proxy\": float(proxy.mean()) if n else 0.0,",
        "\"share_on_proxy\": float((has_state & proxy).mean()) if n else 0.0,",
        (BT_SUMMARY,)),
    Mutation(
        "backtest_corr_ready_share_is_the_books",
        "the backtest's share_corr_ready is the correlator's readiness, not the book's (canfail)",
        "launcher/backtest.py",
        "\"share_corr_ready\": float(run.ready.mean()) if n else 0.0,",
        "\"share_corr_ready\": float(has_state.mean()) if n else 0.0,",
        (BT_SUMMARY,)),
    Mutation(
        "backtest_first_ts_is_the_first_publish",
        "the backtest's first_ts is the start of its first slot (canfail)",
        "launcher/backtest.py",
        "\"first_ts\": float(run.publish_ts[0] - cadence) if n else None,",
        "\"first_ts\": float(run.publish_ts[0]) if n else None,",
        (BT_SUMMARY,)),
    Mutation(
        "error_reply_never_names_the_plan_id",
        "an invalid proposal's error reply names its plan_id when that is usable (docs/proposal-api.md) (canfail)",
        "actors/policy.py",
        "    if type(plan_id) is str and plan_id.strip() and len(plan_id) <= MAX_PLAN_ID_CHARS and plan_id.isprintable():\n"
        "        return plan_id\n",
        "    if False:\n        return plan_id\n",
        (GP + "test_an_invalid_proposal_is_refused_naming_its_plan_id_when_it_is_usable",)),
    Mutation(
        "proposal_expired_at_its_deadline",
        "a proposal reached at its deadline_ms less the skew, not after it, is decided, not expired (canfail)",
        "actors/gate.py",
        "    if late_ms <= 0:\n        return None\n",
        "    if late_ms < 0:\n        return None\n",
        ("tests/test_gate_deadlines.py::test_a_deadline_counts_as_passed_once_the_gate_clock_is_past_it_less_the_allowed_skew",)),
    Mutation(
        "permit_issuer_down_not_critical",
        "a permit issuer whose metrics endpoint is down is critical after 1m, as a gate is: no permit can be issued "
        "(canfail)",
        "configs/alerts.yml",
        "expr: up{job=~\"gate|permit_issuer\"} == 0 or up{clustergate_kind=~\"gate|permit_issuer\"} == 0\n",
        "expr: up{job=~\"gate\"} == 0 or up{clustergate_kind=~\"gate\"} == 0\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "issuer_stream_retention_is_the_shortest_ttl",
        "the gate stream keeps every record younger than the longest permit or cooldown TTL (canfail)",
        "actors/permit_issuer.py",
        "retention_ms=str(1000 * max(s.permit_ttl_s, s.cooldown_ttl_s)),",
        "retention_ms=str(1000 * min(s.permit_ttl_s, s.cooldown_ttl_s)),",
        ("tests/test_gate_deadlines.py::"
         "test_the_issuer_keeps_stream_records_for_the_longest_of_its_permit_and_cooldown_ttls",)),
    Mutation(
        "status_calls_a_symbol_at_its_points_needed_warming",
        "`clustergate status` shows a symbol with exactly min_returns + 1 points as ready (canfail)",
        "launcher/overview.py",
        "else \"ready\" if value >= ov[\"points_needed\"] else \"warming\"",
        "else \"ready\" if value > ov[\"points_needed\"] else \"warming\"",
        (STATUS_NEWEST,)),
    Mutation(
        "status_newest_price_is_the_oldest_symbols",
        "`clustergate status`'s newest accepted price is the newest over the symbols, not the oldest (canfail)",
        "launcher/overview.py",
        "out[\"newest_tick_age_s\"] = time.time() - max(accepted.values()) if accepted else None",
        "out[\"newest_tick_age_s\"] = time.time() - min(accepted.values()) if accepted else None",
        (STATUS_NEWEST,)),
    Mutation(
        "snapshot_age_series_kept_after_its_snapshot_is_gone",
        "p26_snapshot_age_seconds{symbol} goes away with the symbol's snapshot, never left at its last age (canfail)",
        "actors/gate.py",
        "                try:\n                    P26_SNAPSHOT_AGE.remove(symbol)\n                except KeyError:\n                    pass\n",
        "                pass\n",
        ("tests/test_gate_service.py::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw",)),
    Mutation(
        "jump_filter_refuses_a_print_at_its_limit",
        "a print exactly at the jump limit from the last accepted price is accepted: only a further one is refused "
        "(canfail)",
        "actors/jumps.py",
        "        if limit is None or last is None or abs(price - last) <= limit * last:\n",
        "        if limit is None or last is None or abs(price - last) < limit * last:\n",
        (JUMP_LIMITS,)),
    Mutation(
        "jump_filter_built_without_the_per_symbol_limits",
        "clusters.max_tick_jump_by_symbol reaches the jump filters built from the topology (canfail)",
        "actors/jumps.py",
        "        return cls(clusters.max_tick_jump, dict(clusters.max_tick_jump_by_symbol))\n",
        "        return cls(clusters.max_tick_jump, {})\n",
        (JUMP_LIMITS,)),
    Mutation(
        "jump_filter_remembers_a_refusal_past_an_accepted_print",
        "a lone bad print after the price came back is refused again: an accepted print forgets the refusal (canfail)",
        "actors/jumps.py",
        "        self.refused.pop(symbol, None)\n",
        "",
        ("tests/test_cluster_hardening.py::"
         "test_a_print_30_percent_off_for_one_slot_is_refused_and_a_lasting_new_level_is_accepted",)),
    Mutation(
        "backtest_takes_a_closed_heat_band",
        "the backtest refuses --set heat_ceiling equal to heat_floor, as validate does (canfail)",
        "launcher/backtest.py",
        "    if g.heat_ceiling <= g.heat_floor:\n",
        "    if g.heat_ceiling < g.heat_floor:\n",
        (BT_REFUSES,)),
    Mutation(
        "backtest_takes_min_returns_above_lookback",
        "the backtest refuses min_returns above lookback_returns (no symbol could enter the matrix) (canfail)",
        "launcher/backtest.py",
        "    if out.clusters.min_returns > out.clusters.lookback_returns:\n",
        "    if False:\n",
        (BT_REFUSES,)),
    Mutation(
        "backtest_takes_a_nan_setting",
        "the backtest refuses --set KEY=nan, which every bound check lets through (canfail)",
        "launcher/backtest.py",
        "    if isinstance(value, float) and not math.isfinite(value):\n",
        "    if False:\n",
        (BT_REFUSES,)),
    Mutation(
        "backtest_gt_bound_takes_the_bound",
        "the backtest refuses a --set value at a setting's exclusive (gt) bound (canfail)",
        "launcher/backtest.py",
        "(\"gt\", lambda v, b: v > b, \">\")",
        "(\"gt\", lambda v, b: v >= b, \">\")",
        (BT_REFUSES,)),
    Mutation(
        "backtest_sweeps_a_key_twice",
        "the backtest refuses a --sweep of one key given twice (canfail)",
        "launcher/backtest.py",
        "        if swept:\n",
        "        if False:\n",
        (BT_REFUSES,)),
    Mutation(
        "backtest_alias_stress_cold_sets_riskoff",
        "the backtest's --set stress_cold sets cold_stress (the earlier stack's name), not another threshold (canfail)",
        "launcher/backtest.py",
        "ALIASES = {\"stress_cold\": \"cold_stress\",",
        "ALIASES = {\"stress_cold\": \"riskoff_stress\",",
        ("tests/test_backtest_attack.py::test_the_backtests_setting_aliases_set_the_setting_they_name",)),
    Mutation(
        "issuer_deadline_is_the_whole_permit_timeout",
        "the gate gives the issuer half its permit_timeout_ms to write, on the lone and the batch path alike: a "
        "deadline of the whole timeout survived every deadline test on the lone path (canfail)",
        "actors/gate.py",
        "    return decided_at + permit_timeout_ms / 2000.0\n",
        "    return decided_at + permit_timeout_ms / 1000.0\n",
        ("tests/test_gate_deadlines.py::test_the_gate_gives_the_issuer_half_its_permit_timeout_to_write_a_decision",)),
    Mutation(
        "correlator_window_stale_after_30_cadences",
        "the correlator publishes not ready (window_stale) once no window came for three cadences (canfail)",
        "actors/correlator.py",
        "STALE_AFTER_CADENCES = 3.0\n",
        "STALE_AFTER_CADENCES = 30.0\n",
        ("tests/test_cluster_hardening.py::test_the_correlator_says_not_ready_once_no_window_came_for_three_cadences",)),
    # ------------------------------------------------------------ attack: today's changes, hostile review (4 Dec 2026)
    Mutation(
        "backtest_reads_the_proposals_file_again_for_the_run",
        "the backtest decides the --proposals bytes it checked and hashed (a pipe, a file changed after the check)",
        "launcher/backtest.py",
        'timed_rows(self.path, "--proposals", PROPOSAL_HEADER, copy=self.copy)',
        'timed_rows(self.path, "--proposals", PROPOSAL_HEADER)',
        ("tests/test_backtest_attack.py::test_proposals_from_a_pipe_are_decided_as_from_the_same_file",
         "tests/test_backtest_attack.py::test_a_proposals_file_changed_after_its_check_is_read_as_checked")),
    Mutation(
        "up_crashes_naming_a_real_time_signal",
        "up names any signal that killed supervisord at once (no traceback, the change undone)",
        "launcher/supervise.py",
        'said = (f"killed by {signal_name(-result.returncode)}" if result.returncode < 0',
        'said = (f"killed by {signal.Signals(-result.returncode).name}" if result.returncode < 0',
        ("tests/test_launcher.py::test_a_supervisord_that_ends_at_once_saying_nothing_is_named_and_the_change_undone",)),
    Mutation(
        "supervisord_failure_names_nothing_when_it_printed_nothing",
        "up says how supervisord ended when it printed nothing (killed by SIGNAL, exit status N)",
        "launcher/supervise.py",
        "            if not said:\n                said = (f\"killed by",
        "            if False:\n                said = (f\"killed by",
        ("tests/test_launcher.py::test_a_supervisord_that_ends_at_once_saying_nothing_is_named_and_the_change_undone",)),
    Mutation(
        "low_port_hint_tells_root_to_run_as_root",
        "a root process without CAP_NET_BIND_SERVICE is told the capability is missing, not to run as root",
        "launcher/endpoints.py",
        "    if os.geteuid() == 0:  # root without the capability",
        "    if False:  # root without the capability",
        ("tests/test_launcher.py::"
         "test_up_as_root_without_cap_net_bind_service_says_the_capability_is_missing_not_to_run_as_root",)),
    Mutation(
        "deploy_takes_a_stopped_hosts_kept_copy_for_what_it_runs",
        "a host stopped by down runs nothing for deploy: a failed deploy leaves it stopped, its old copy never refuses",
        "launcher/deploy.py",
        "        if result.returncode == 0 and result.stdout.strip() and not _stopped(args, topo, host):\n",
        "        if result.returncode == 0 and result.stdout.strip():\n",
        ("tests/test_multihost_side_by_side.py::test_a_failed_deploy_leaves_a_host_that_was_stopped_stopped",
         "tests/test_multihost_side_by_side.py::"
         "test_the_deploy_refusal_of_a_copy_that_does_not_validate_names_a_way_out_that_works")),
    Mutation(
        "free_port_looks_for_room_below_the_ephemeral_range_only",
        "free_port hands out ports above a narrowed ephemeral range (1024 60999, 9000 9100), not the OS's pick in it",
        "launcher/ports.py",
        "    spans = [(_PORT_FLOOR, low), (max(high + 1, _PORT_FLOOR), 65536)]\n",
        "    spans = [(_PORT_FLOOR, low)]\n",
        ("tests/test_harness_ports.py::test_free_port_keeps_out_of_a_narrowed_ephemeral_range_using_the_ports_above_it",)),
    Mutation(
        "monitor_picks_its_prometheus_port_inside_the_ephemeral_range",
        "monitor up's own pick of Prometheus's port lies outside the ephemeral range (no bind(0) or outgoing "
        "connection is given it before Prometheus binds it)",
        "launcher/monitor.py",
        "    return port_outside_ephemeral_range()\n",
        "    import socket\n    with socket.socket() as s:\n        s.bind((\"127.0.0.1\", 0))\n        return s.getsockname()[1]\n",
        ("tests/test_harness_ports.py::test_monitor_ups_own_pick_of_a_prometheus_port_lies_outside_the_ephemeral_range",)),
    Mutation(
        "live_gate_takes_a_realized_vol_of_0_as_sigma_0",
        "a realized vol of 0 (a flat series) is none: the live gate takes the constant sigma, as the backtest (s21)",
        "actors/gate.py",
        "                if math.isfinite(value) and value > 0:",
        "                if math.isfinite(value) and value >= 0:",
        ("tests/test_cluster_hardening.py::"
         "test_a_realized_vol_of_0_is_no_realized_vol_the_live_gate_takes_the_constant_sigma_as_the_backtest_does",)),
    Mutation(
        "up_copies_the_topology_file_as_it_is_after_waiting",
        "up runs the topology text it validated, not an edit of the file saved while it waited for the change lock (s21)",
        "launcher/supervise.py",
        "    data = load_yaml_with_lines(topo.source_text)[0] if topo.source_text else {}\n",
        "    data = load_yaml_with_lines(Path(topo.source_path).read_text())[0] if topo.source_path else {}\n",
        ("tests/test_launcher_attacks.py::"
         "test_an_up_runs_the_topology_it_validated_even_when_the_file_is_edited_while_it_waits",)),
    Mutation(
        "deploy_lets_each_host_read_the_topology_file_again",
        "every host of a deploy runs the text the deploy validated: a file edited meanwhile is applied to no host (s21)",
        "launcher/deploy.py",
        '                                                  str(args.up_timeout), "--expect-sha256", record["file_sha256"],\n',
        "                                                  str(args.up_timeout),\n",
        ("tests/test_multihost_deploy_attack.py::test_a_topology_file_edited_during_a_deploy_is_applied_to_no_host",)),
    Mutation(
        "status_takes_a_program_running_an_unapplied_config_for_applied",
        "status names a program that runs another config than the one up last wrote (an up killed part-way) and "
        "exits 1 (s21)",
        "launcher/supervise.py",
        '            applied[name] = None if running_hash is None else running_hash == rendered[name]\n',
        '            applied[name] = None if running_hash is None else True\n',
        ("tests/test_launcher_attacks.py::"
         "test_status_names_a_program_still_running_the_config_an_up_killed_part_way_did_not_apply",)),
    Mutation(
        "deploy_rollback_names_a_copy_only_the_deploying_machine_has",
        "a rollback sends the host its recorded copy before up of it: a host reached by ssh does not see the "
        "deploying machine's files (s21)",
        "launcher/deploy.py",
        '                    back = run_on(args, topo, h, clustergate("up", there, "--host", h, "--home", h_home, "--timeout",\n',
        '                    back = run_on(args, topo, h, clustergate("up", str(saved[h]), "--host", h, "--home", h_home, "--timeout",\n',
        ("tests/test_multihost_side_by_side.py::"
         "test_a_rollback_puts_a_host_back_when_the_host_cannot_see_the_deploying_machines_files",)),
    Mutation(
        "proof_dies_on_sigterm_and_sighup_leaving_what_it_stopped_stopped",
        "a proof killed (SIGTERM) or hung up (SIGHUP) part-way starts again the programs it stopped (s21)",
        "proofs/common.py",
        "            signal.signal(signum, _raise_interrupted)\n",
        "            pass\n",
        ("tests/test_proofs.py::test_a_proof_killed_or_hung_up_part_way_starts_the_programs_it_stopped[fallback-SIGTERM]",
         "tests/test_proofs.py::test_a_proof_killed_or_hung_up_part_way_starts_the_programs_it_stopped[fallback-SIGHUP]")),
    Mutation(
        "warm_restart_proof_leaves_its_start_to_a_daemon_thread_cut_off_at_its_end",
        "the warm-restart proof starts what it stopped whatever ends it (a failed check, SIGTERM, SIGHUP) (s21)",
        "proofs/warm_restart.py",
        "        if starter.ident is not None:\n"
        "            starter.join(PROGRAM_START_TIMEOUT_S + 5)\n"
        "        p.start_programs([n for n in programs if p.program_states().get(n) == \"STOPPED\"])\n",
        "        pass\n",
        ("tests/test_proofs.py::test_a_proof_killed_or_hung_up_part_way_starts_the_programs_it_stopped[warm-restart-SIGTERM]",)),
    Mutation(
        "deploy_takes_a_proof_timeout_of_nan",
        "deploy refuses a timeout that is no finite number of seconds before any host is touched (s21)",
        "launcher/deploy.py",
        '    p.add_argument("--proof-timeout", type=timeout_seconds, default=DEFAULT_PROOF_TIMEOUT_S,',
        '    p.add_argument("--proof-timeout", type=float, default=DEFAULT_PROOF_TIMEOUT_S,',
        ("tests/test_multihost_deploy_attack.py::test_a_timeout_that_is_no_finite_number_of_seconds_is_refused_before_any_host_is_touched[--proof-timeout-nan]", "tests/test_multihost_deploy_attack.py::test_a_timeout_that_is_no_finite_number_of_seconds_is_refused_before_any_host_is_touched[--proof-timeout-inf]")),
    Mutation(
        "status_reads_missing_cluster_state_fields_as_0",
        "status names a half-written cluster state's missing fields, never shows them as a fresh ClusterStress 0 (s21)",
        "launcher/overview.py",
        "    numbers = {name: _finite(state[name]) for name in fields if name in state}\n",
        "    numbers = {name: _finite(state.get(name, 0)) for name in fields}\n",
        ("tests/test_status_overview.py::"
         "test_status_names_a_half_written_cluster_state_instead_of_showing_its_missing_fields_as_0",),
        also=(("launcher/overview.py", "    missing = [name for name in fields if name not in state]",
               "    missing = []"),)),
    Mutation(
        "validate_accepts_a_cluster_side_with_one_symbol",
        "validate refuses a correlator with one symbol, which could never be ready (the gate on the proxy forever) (s21)",
        "launcher/topology.py",
        "    if n == 1 and correlators:  # SPEC: ready when at least 2 symbols are in the matrix\n",
        "    if n == 1 and correlators and False:  # SPEC: ready when at least 2 symbols are in the matrix\n",
        ("tests/test_topology_validation.py::test_a_cluster_side_with_one_symbol_is_refused_as_it_could_never_be_ready",)),
    Mutation(
        "state_writer_finds_redis_back_by_a_write_without_logging_it",
        "a state writer whose write finds Redis back logs redis_ready, not only its once-a-cadence check (s21)",
        "actors/state_writer.py",
        "        self.m.last_update.set(updated_ts)\n        self.redis_answers()\n",
        "        self.m.last_update.set(updated_ts)\n        self.redis_ok = True\n",
        (f"{SKEW}::test_a_state_writer_whose_write_finds_redis_back_first_says_so_in_its_log",)),
    Mutation(
        "issuer_takes_a_request_not_signed_with_the_redis_password",
        "(s21) the permit issuer writes nothing for a request not signed with the topology's Redis password: a "
        "local process that cannot write Redis cannot get a permit past the gate's policy from the issuer's socket",
        "actors/permit_issuer.py",
        "        if body is None:\n            return self.unauthorized()\n",
        "        if body is None:\n            body = frames[0].partition(b\"\\n\")[0]\n",
        ("tests/test_gate_attack.py::test_a_local_process_without_the_redis_password_gets_no_permit_from_the_issuers_socket",)),
    Mutation(
        "gate_does_not_sign_its_requests_to_the_issuer",
        "(s21) with a Redis password, the gate signs its requests to the issuer, so its own proposals still get permits",
        "actors/gate.py",
        "            frame = signed_issuer_request(encode_internal(request), self._issuer_key)\n",
        "            frame = encode_internal(request)\n",
        ("tests/test_gate_attack.py::test_a_local_process_without_the_redis_password_gets_no_permit_from_the_issuers_socket",)),
    Mutation(
        "a_stopping_gate_drops_the_proposals_waiting_in_its_queue",
        "(s21) every proposal waiting in the gate's queue or socket when it stops is answered overloaded, not dropped",
        "actors/runtime.py",
        "            self._guard(self._answer_waiting_requests, self._errors_timer, \"stopping_replies\")\n",
        "",
        ("tests/test_gate_attack.py::"
         "test_proposals_waiting_in_the_gates_queue_when_it_stops_are_answered_overloaded_not_dropped",)),
    Mutation(
        "a_stopping_gate_decides_more_batches_before_it_stops",
        "(s21) a gate asked to stop during a batch decides no other batch of that turn (each could wait "
        "permit_timeout_ms for a stalled issuer, 4 in a turn: 2 s past its SIGTERM); what waits is answered overloaded",
        "actors/runtime.py",
        "                if self._stopping:  # asked to stop during a batch: what waits is answered at stop, not decided\n"
        "                    return\n",
        "",
        ("tests/test_gate_attack.py::"
         "test_proposals_waiting_in_the_gates_queue_when_it_stops_are_answered_overloaded_not_dropped",)),
    Mutation(
        "a_stopping_gate_stops_reading_at_its_first_empty_read",
        "(s21) a stopping gate reads its socket until it stays empty a while: an empty non-blocking read can leave "
        "hundreds of proposals libzmq took unanswered",
        "actors/runtime.py",
        "                    if wait_ms > 0 and not sock.closed and sock.poll(wait_ms, zmq.POLLIN):\n",
        "                    if False:\n",
        ("tests/test_gate_attack.py::test_a_gate_stopped_as_proposals_arrive_answers_each_one_its_socket_took",)),
    Mutation(
        "gate_reads_unauthorized_as_an_unknown_outcome",
        "(s21) an issuer's `unauthorized` (a gate given another Redis password than its issuer's) is a refusal "
        "before any write: the HOLD says nothing was recorded",
        "actors/gate.py",
        'REFUSED_BEFORE_ANY_WRITE = ("bad_request", "expired", "unauthorized")\n',
        'REFUSED_BEFORE_ANY_WRITE = ("bad_request", "expired")\n',
        ("tests/test_gate_attack.py::test_a_gate_and_issuer_given_different_redis_passwords_hold_saying_so_and_record_nothing",)),
    Mutation(
        "unauthorized_reply_does_not_name_the_password_variable",
        "(s21) the issuer's `unauthorized` names the password variable the gate and the issuer must agree on, so a "
        "gate given another password says so in its log",
        "actors/permit_issuer.py",
        '                              f"issuer\'s Redis password (${variable}); only a gate of this topology may ask for "\n'
        '                              f"permits, and a gate given another ${variable} than its issuer\'s is refused so")\n',
        '                              f"issuer\'s Redis password; only a gate of this topology may ask for permits")\n',
        ("tests/test_gate_attack.py::test_a_gate_and_issuer_given_different_redis_passwords_hold_saying_so_and_record_nothing",)),
    Mutation(
        "gate_takes_an_unsigned_reply_from_the_issuers_port",
        "(s21) with a Redis password the gate takes only a reply the issuer signed for its request: a process on the "
        "issuer's port cannot answer it `written` with no permit and no cooldown in Redis",
        "actors/gate.py",
        "        body = verified_issuer_request(raw, issuer_reply_key(self._issuer_key, frame))\n",
        "        body = verified_issuer_request(raw, issuer_reply_key(None, frame))\n",
        ("tests/test_gate_attack.py::"
         "test_a_process_on_the_issuers_port_cannot_answer_the_gate_written_with_nothing_in_redis",)),
    Mutation(
        "issuer_does_not_sign_its_replies",
        "(s21) with a Redis password the issuer signs each reply for its request, so the gate's own proposals still "
        "get permits",
        "actors/permit_issuer.py",
        "        return signed_issuer_request(reply if type(reply) is bytes else self.encode_reply(reply),\n"
        "                                     issuer_reply_key(self._key, frames[0]))\n",
        "        return reply\n",
        ("tests/test_gate_attack.py::test_a_local_process_without_the_redis_password_gets_no_permit_from_the_issuers_socket",)),
    Mutation(
        "bench_gate_ignores_its_redis_password",
        "bench_gate --redis-password measures production.yaml's signed path: its Redis requires the password (s21)",
        "bench/bench_gate.py",
        "    PASSWORD = args.redis_password or None\n",
        "    PASSWORD = None\n",
        ("tests/test_bench_smoke.py::test_the_gate_benchmark_counts_only_recorded_decisions",)),
    Mutation(
        "clusterer_never_says_a_positions_outage_ended",
        "after a Redis outage the clusterer logs positions_available_again, not only its outage lines (s21)",
        "actors/clusterer.py",
        "                    self.log.info(\"positions_available_again\")\n",
        "                    pass\n",
        ("tests/test_reliability_redis_outage.py::test_the_gate_holds_through_a_redis_outage_and_everything_recovers_with_history_and_decisions",)),
    Mutation(
        "buffer_never_says_its_history_is_persisted_again",
        "after a Redis outage the buffer logs history_persisted_again, not only history_not_persisted (s21)",
        "actors/buffer.py",
        "                self.log.info(\"history_persisted_again\", key=self.history_key)\n",
        "                pass\n",
        ("tests/test_reliability_redis_outage.py::test_the_gate_holds_through_a_redis_outage_and_everything_recovers_with_history_and_decisions",)),
    Mutation(
        "proof_start_fails_on_a_program_another_start_has_begun",
        "a proof starting a program another start has begun (its own starter thread) takes it as started (s21)",
        "proofs/common.py",
        "            if fault.faultCode != Faults.ALREADY_STARTED:\n                raise\n",
        "            raise\n",
        ("tests/test_proofs.py::test_a_proof_starting_programs_another_start_has_begun_takes_them_as_started",)),
    Mutation(
        "buffer_never_tells_a_frozen_price",
        "a frozen price feed (fresh timestamps, a price that never moves) is told: the buffer logs price_frozen, "
        "sets p27_buffer_price_frozen{symbol} to 1, and logs price_moving_again when it moves (review note: frozen feed)",
        "actors/buffer.py",
        "        self.tell_frozen_prices(header[\"first_slot\"], prices)\n",
        "        pass\n",
        ("tests/test_frozen_prices.py::"
         "test_a_real_buffer_fed_a_frozen_price_says_so_once_exports_it_and_says_when_it_moves_again",)),
    Mutation(
        "frozen_price_said_again_every_cadence",
        "a frozen price is said once while it stays frozen, not once a cadence (review note: frozen feed)",
        "actors/frozen_prices.py",
        "            if has_price[i] and newest[i] == was.price:  # not moved: a run cut short (aged out, a clock step)\n",
        "            if False:\n",
        ("tests/test_frozen_prices.py::test_the_watch_says_price_frozen_once_and_price_moving_again_when_the_price_moves",
         "tests/test_frozen_prices.py::"
         "test_a_real_buffer_fed_a_frozen_price_says_so_once_exports_it_and_says_when_it_moves_again")),
    Mutation(
        "frozen_run_broken_by_a_missing_slot",
        "a missing slot neither changes a frozen price nor breaks its run (review note: frozen feed)",
        "actors/frozen_prices.py",
        "    differs = finite & (prices != newest[:, None])\n",
        "    differs = (~finite | (prices != newest[:, None])) & (np.arange(n_cols)[None, :] < newest_col[:, None])\n",
        ("tests/test_frozen_prices.py::test_a_missing_slot_neither_changes_the_price_nor_breaks_its_run",)),
    Mutation(
        "frozen_after_slots_longer_than_the_window_accepted",
        "validate refuses a buffer frozen_after_slots above clusters.lookback_returns: it could never fire "
        "(review note: frozen feed)",
        "launcher/topology.py",
        "        if (isinstance(s, BufferSettings) and s.frozen_after_slots > topo.clusters.lookback_returns\n",
        "        if (isinstance(s, BufferSettings) and s.frozen_after_slots > 10 * topo.clusters.lookback_returns\n",
        ("tests/test_frozen_prices.py::test_a_frozen_after_slots_that_could_never_fire_is_refused_naming_it",)),
    Mutation(
        "gate_calls_json_nested_too_deep_not_json",
        "a request nested deeper than the gate reads is told so, not \"request is not JSON\" (review note, session 21)",
        "actors/gate.py",
        "    except RecursionError:  # JSON nested deeper than Python's stack\n",
        "    except (RecursionError, ValueError) as exc:\n        raise BadRequest(\"not_json\", f\"request is not JSON: {exc}\")\n"
        "    except RecursionError:\n",
        ("tests/test_gate_policy.py::"
         "test_json_too_deep_or_an_integer_too_long_is_refused_saying_so_not_as_text_that_is_not_json",)),
    Mutation(
        "deploy_rollback_waits_only_the_up_timeout_meant_for_the_new_topology",
        "a rollback's up waits at least up's default for the recorded topology, whatever --up-timeout bounds the new "
        "one's (CI flake of 4 Dec 2026: a rollback reported failed while the old system came back)",
        "launcher/deploy.py",
        "                                                             str(max(args.up_timeout, DEFAULT_UP_TIMEOUT_S)), \"--replace\",\n",
        "                                                             str(args.up_timeout), \"--replace\",\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_a_rollback_puts_a_host_back_when_the_host_cannot_see_the_deploying_machines_files",)),
    Mutation(
        "frozen_price_said_moving_when_its_run_ages_out",
        "a frozen price whose feed then stopped is not said to move (price_moving_again with the frozen price) when "
        "its run left in view falls below frozen_after_slots: it stays frozen until no price is left (frozen attack)",
        "actors/frozen_prices.py",
        "            if has_price[i] and newest[i] == was.price:  # not moved: a run cut short (aged out, a clock step)\n",
        "            if (run := now.get(symbol)) is not None and run.price == was.price:\n",
        ("tests/test_frozen_prices.py::test_a_frozen_price_whose_feed_then_stopped_is_never_said_to_move_while_its_run_ages_out",
         "tests/test_frozen_prices.py::test_a_real_buffer_whose_frozen_feed_then_stops_does_not_say_the_price_moves_again")),
    Mutation(
        "frozen_history_told_only_at_the_first_publish",
        "a buffer restarted on a frozen persisted history sets p27_buffer_price_frozen as it loads it, not a cadence "
        "later at its first publish (the 0 meanwhile resolved P27PriceFrozen) (frozen attack)",
        "actors/buffer.py",
        "        self.tell_frozen_prices(first_slot, window)\n",
        "        pass\n",
        ("tests/test_frozen_prices.py::"
         "test_a_buffer_restarted_on_a_frozen_history_says_so_from_the_start_not_a_cadence_later",)),
    Mutation(
        "frozen_watch_finds_rows_by_list_index",
        "the frozen watch's work a window is linear in the symbols: symbols.index per frozen symbol made it n^2 "
        "(4.5 s a publish at 22,000 symbols all frozen then moving) (frozen attack)",
        "actors/frozen_prices.py",
        "            i = row_of[symbol]\n",
        "            i = symbols.index(symbol)\n",
        ("tests/test_frozen_prices.py::test_the_watchs_work_a_window_grows_with_the_symbols_not_their_square",)),
    Mutation(
        "all_hosts_status_takes_a_hosts_program_running_an_unapplied_config_for_applied",
        "status --all-hosts names, as status --home does, a host's program that runs another config than the one up "
        "last wrote there (NOT APPLIED, text and --json) (s22)",
        "launcher/hosts_status.py",
        '                    row["config_applied"] = applied[row["name"]]\n',
        '                    pass\n',
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_a_hosts_program_still_running_the_config_an_up_killed_part_way_did_not_apply",)),
    Mutation(
        "all_hosts_status_exits_0_with_a_hosts_program_running_an_unapplied_config",
        "status --all-hosts exits 1 while a host's program runs another config than the one up last wrote there (s22)",
        "launcher/hosts_status.py",
        '    return (all(row["ready"] and row.get("config_applied") is not False and row.get("config_as_file") is not False\n',
        '    return (all(row["ready"] and row.get("config_as_file") is not False\n',
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_a_hosts_program_still_running_the_config_an_up_killed_part_way_did_not_apply",)),
    Mutation(
        "deploy_changes_hosts_another_deploy_is_changing",
        "a deploy takes each target host's deploy lock before it reads any host, and refuses, naming the other deploy, "
        "while another deploy (from another deploy home) holds one (s22)",
        "launcher/deploy.py",
        "        refusal = _lock_hosts(args, topo, targets, this_deploy, held)\n",
        "        refusal = None\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_deploy_from_another_deploy_home_is_refused_while_one_changes_the_same_hosts",)),
    Mutation(
        "deploy_lock_outlives_the_deploy_that_took_it",
        "a host's deploy lock is released when the deploy holding it ends or is killed (its deploy-lock's input ends) "
        "(s22)",
        "launcher/deploy.py",
        "    while sys.stdin.buffer.read(65536):\n        pass\n",
        "    while True:\n        time.sleep(1)\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_deploy_from_another_deploy_home_is_refused_while_one_changes_the_same_hosts",)),
    Mutation(
        "deploy_up_changes_a_host_its_killed_deploy_no_longer_holds",
        "an `up` a deploy started changes nothing unless that deploy still holds the host's deploy lock: a killed "
        "deploy's `up` on its way to a host does not apply the dead deploy's topology (s22)",
        "launcher/supervise.py",
        "        lost = deploy_lost_host(home, getattr(args, \"deploy_id\", None))\n",
        "        lost = None\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_an_up_a_killed_deploy_left_on_its_way_to_a_host_changes_nothing_once_that_deploy_lost_the_host",)),
    Mutation(
        "deploy_starts_hosts_ups_without_its_id",
        "each host's `up` a deploy starts carries the deploy's id, so it refuses once that deploy lost the host (s22)",
        "launcher/deploy.py",
        "                                                  \"--deploy-id\", work.name,\n",
        "",
        ("tests/test_multihost_deploy_attack.py::"
         "test_an_up_a_killed_deploy_left_on_its_way_to_a_host_changes_nothing_once_that_deploy_lost_the_host",)),
    Mutation(
        "deploy_lock_holder_reaches_the_terminal_unfiltered",
        "the text a deploy lock's holder named itself with is shown with control characters replaced and cut short "
        "(s22)",
        "launcher/terminal_text.py",
        "    return \"\".join(c if c.isprintable() else \"?\" for c in text[:limit])\n",
        "    return text\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_deploy_lock_holder_named_with_control_characters_and_a_huge_line_is_shown_printable_and_short",)),
    Mutation(
        "deploy_rolls_back_a_host_whose_lock_it_lost",
        "a deploy whose deploy lock on a host ended under it does not roll that host back over what another deploy "
        "may have changed there since (s22)",
        "launcher/deploy.py",
        "            if held[h].poll() is not None:  # its deploy-lock ended: another deploy may have changed h since\n",
        "            if False:\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_deploy_that_lost_a_hosts_lock_does_not_roll_that_host_back_over_what_changed_it_since",)),
    Mutation(
        "deploy_history_says_a_host_never_read_ran_nothing",
        "deploy --history shows BEFORE `-` for a host the deploy never read (refused first), `(nothing)` only for one "
        "read as running nothing (s22)",
        "launcher/deploy.py",
        "        before = (r[\"before\"][host] or \"(nothing)\") if host in r[\"before\"] else \"-\"  # \"-\": never read\n",
        "        before = r[\"before\"].get(host) or \"(nothing)\"\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_history_of_a_deploy_refused_before_it_read_the_hosts_does_not_say_they_ran_nothing",)),
    Mutation(
        "deploy_sigkills_a_host_command_past_its_timeout",
        "a host command (an up) past the deploy's command timeout is sent SIGTERM before SIGKILL, so an up answers "
        "the interruption instead of leaving its program files half-applied (session 21's note)",
        "launcher/deploy.py",
        "        proc.terminate()\n        how = \"stopped (SIGTERM)\"\n",
        "        proc.kill()\n        how = \"stopped (SIGTERM)\"\n",
        ("tests/test_multihost_deploy_attack.py::test_a_host_command_past_its_timeout_is_asked_to_stop_before_it_is_killed",)),
    Mutation(
        "clusterer_keeps_its_stress_gauges_without_a_matrix",
        "the clusterer's p27_clusters_count, p27_cluster_stress_sum and p27_cluster_stress_max read 0 once no matrix "
        "came within the freshness window (rev-fallback: they kept the last ClusterStress for ever)",
        "actors/clusterer.py",
        "        if time.monotonic() - self.last_matrix_mono > self.freshness_s:\n",
        "        if False:\n",
        (CLUSTERS_E2E_TEST + "test_the_clusterers_stress_gauges_expire_when_its_correlator_stops_and_return_with_it",)),
    Mutation(
        "gate_keeps_saying_k_from_the_cluster_while_it_cannot_read_redis",
        "a gate that cannot read Redis exports p26_cluster_stress_used 0, not the last read's 1 (rev-fallback: "
        "`clustergate status` said `gate K from: cluster` beside `cluster state: unknown, Redis unavailable`)",
        "actors/gate.py",
        "        P26_CLUSTER_STRESS_USED.set(0)\n",
        "",
        ("tests/test_gate_says_why_not_ready.py::"
         "test_a_gate_that_cannot_read_redis_does_not_say_it_takes_k_from_the_cluster",)),
    Mutation(
        "fault_hold_claims_k_from_the_proxy_and_zero_metrics",
        "a fault HOLD carries null metrics and no k_source, not stress 0.0 and K 0.0 from the proxy (rev-fallback)",
        "actors/policy.py",
        "_NO_METRICS = PortfolioMetrics(math.nan, math.nan, math.nan, math.nan, None, math.nan, math.nan)",
        "_NO_METRICS = PortfolioMetrics(0.0, 0.0, 0.0, 0.0, \"proxy\", 0.0, 0.0)",
        ("tests/test_gate_says_why_not_ready.py::"
         "test_a_fault_hold_made_without_a_read_of_the_state_claims_no_k_source_and_no_metrics",
         "tests/test_exit_path_review.py::test_a_fault_hold_reports_no_metrics_and_no_k_source_it_never_decided_on")),
    Mutation(
        "status_says_a_bad_clusters_count_sends_the_gate_to_the_proxy",
        "status says the gate takes K from the proxy only when updated_ts or cluster_stress is unreadable, not for a "
        "missing or garbled clusters_count, which the gate does not read (rev-fallback)",
        "launcher/overview.py",
        "        k_unreadable = any(name in missing or name in not_numbers for name in K_FIELDS)\n",
        "        k_unreadable = True\n",
        ("tests/test_status_overview.py::"
         "test_status_does_not_say_the_gate_takes_k_from_the_proxy_when_only_clusters_count_is_unreadable",)),
    Mutation(
        "clusterer_writes_a_state_without_a_held_symbol_whose_price_is_stale",
        "a held symbol whose own price is older than max_price_age_s makes the cluster state not ready "
        "(held_prices_stale), so the gate falls back to the proxy, rather than a fresh state with its notional in no "
        "cluster (rev-fallback: ClusterStress 0.0 with held BTC's feed stuck)",
        "actors/clusterer.py",
        "        if stop:\n            self.m.fail_closed.labels(reason=HELD_PRICES_STALE).inc()\n",
        "        if False:\n            self.m.fail_closed.labels(reason=HELD_PRICES_STALE).inc()\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_held_symbol_whose_ticks_stopped_stops_the_cluster_state_so_the_gate_falls_back_to_the_proxy",)),
    Mutation(
        "backtest_takes_k_from_a_state_without_a_held_symbol_whose_price_is_stale",
        "the backtest, as the live clusterer, takes no state ready while a held symbol's own price is stale "
        "(held_prices_stale) (rev-fallback)",
        "launcher/backtest.py",
        "        ready[lo:hi] = w[\"ready\"] & ~held_stale\n",
        "        ready[lo:hi] = w[\"ready\"]\n",
        ("tests/test_backtest_attack.py::"
         "test_a_symbol_whose_prices_stopped_leaves_the_matrix_after_max_price_age_s_as_in_the_live_correlator",)),
    Mutation(
        "fault_hold_omits_sigma_source",
        "a fault HOLD has every decision field, sigma_source too, null (rev-exitpath)",
        "actors/gate.py",
        "    record[\"sigma_source\"] = None\n",
        "",
        ("tests/test_exit_path_review.py::test_a_fault_hold_reports_no_metrics_and_no_k_source_it_never_decided_on",)),
    Mutation(
        "script_ignores_a_clock_that_went_back_while_it_waited",
        "a host clock stepped back while a stalled Redis holds the issuer's script lets no write land after its "
        "deadline (rev-exitpath)",
        "actors/permit_issuer.py",
        "if now_ms < tonumber(ARGV[10]) then  -- its clock went back while the script waited: the deadline cannot be judged\n",
        "if false then\n",
        ("tests/test_exit_path_review.py::test_a_host_clock_stepped_back_while_redis_holds_the_script_lets_no_write_land_after_its_deadline",)),
    Mutation(
        "issuer_sends_no_floor_for_redis_clock",
        "the issuer gives the script the earliest Redis's clock can read when it runs, so a step back during a stall "
        "is seen (rev-exitpath)",
        "actors/permit_issuer.py",
        "        sent_floor_ms = str(script_deadline_ms(wall - CLOCK_BACK_MARGIN_S, ahead_s, within_s)) if deadline else \"0\"\n",
        "        sent_floor_ms = \"0\"\n",
        ("tests/test_exit_path_review.py::test_a_host_clock_stepped_back_while_redis_holds_the_script_lets_no_write_land_after_its_deadline",)),
    Mutation(
        "issuer_takes_the_gates_deadline_by_the_wall_clock",
        "the issuer takes the gate's deadline by the monotonic clock they share: a wall clock step back while the "
        "request waits for the issuer does not let the decision be written after the gate gave up (rev-exitpath)",
        "actors/permit_issuer.py",
        "            stepped = time.time() + (deadline_mono - time.monotonic())\n",
        "            stepped = deadline if deadline is not None else time.time() + (deadline_mono - time.monotonic())\n",
        ("tests/test_exit_path_review.py::test_a_host_clock_stepped_back_while_the_request_waits_for_the_issuer_does_not_move_the_gates_deadline", "tests/test_exit_path_review.py::test_a_decision_the_gate_gave_up_on_is_not_written_after_a_host_clock_step_back_while_its_issuer_stalled")),
    Mutation(
        "gate_sends_no_monotonic_deadline",
        "the gate sends its issuer its deadline by the monotonic clock too (rev-exitpath)",
        "actors/gate.py",
        '                                 "deadline_mono": deadline_mono, "compact": True})\n',
        '                                 "compact": True})\n',
        ("tests/test_exit_path_review.py::"
         "test_the_gate_sends_its_issuer_the_same_deadline_by_the_monotonic_clock_as_by_the_wall_clock",)),
    Mutation(
        "clock_went_back_check_without_margin",
        "an external Redis's clock a little behind the issuer's reading of it (drift, no step) refuses no decision "
        "(rev-exitpath)",
        "actors/permit_issuer.py",
        "CLOCK_BACK_MARGIN_S = 0.1\n",
        "CLOCK_BACK_MARGIN_S = 0.0\n",
        ("tests/test_exit_path_review.py::"
         "test_an_external_redis_clock_a_little_behind_the_issuers_reading_of_it_refuses_no_decision",)),
    Mutation(
        "issuer_refuses_an_exit_for_redis_clock_alone",
        "an exit proposed just after an external Redis's clock stepped (back past the 100 ms margin, or forward past "
        "the deadline) is decided, not refused: the issuer reads the clock again and runs the script once more "
        "(rev-today)",
        "actors/permit_issuer.py",
        "    if type(reply) is not list or not reply or reply[0] not in CLOCK_REFUSALS:\n        return False\n",
        "    if True:\n        return False\n",
        ("tests/test_exit_path_review.py::"
         "test_an_exit_proposed_just_after_an_external_redis_clock_stepped_is_decided_not_refused",)),
    Mutation(
        "issuer_judges_a_retry_deadline_by_the_wall_clock",
        "a script refused while a stalled local Redis held it and the host stepped back runs again only by the "
        "monotonic clock: by the stepped wall clock the deadline looked 3 s away and the retry wrote it late (rev-today)",
        "actors/permit_issuer.py",
        "    return bool(limit) and time.monotonic() + sent_wall_minus_mono_s < limit\n",
        "    return bool(limit) and time.time() < limit\n",
        ("tests/test_exit_path_review.py::"
         "test_a_host_clock_stepped_back_while_redis_holds_the_script_lets_no_write_land_after_its_deadline",)),
    Mutation(
        "clusterer_hides_which_held_symbol_stops_the_state",
        "the clusterer exports p27_held_price_stale{symbol} 1 for a held symbol whose stale price stops the cluster "
        "state (rev-today)",
        "actors/clusterer.py",
        "labels(symbol=symbol).set(1 if symbol in stale_held else 0)",
        "labels(symbol=symbol).set(0)",
        ("tests/test_cluster_side_attack.py::"
         "test_status_and_a_clusterer_gauge_name_the_held_symbol_whose_stale_price_stops_the_cluster_state",)),
    Mutation(
        "status_does_not_say_a_held_symbol_stops_the_state",
        "clustergate status names the held symbol whose stale price stops the cluster state (rev-today)",
        "launcher/overview.py",
        "        elif held_price_stale.get(symbol) == 1:",
        "        elif False:",
        ("tests/test_cluster_side_attack.py::"
         "test_status_and_a_clusterer_gauge_name_the_held_symbol_whose_stale_price_stops_the_cluster_state",)),
    Mutation(
        "issuer_names_deadline_epoch_for_a_bad_deadline_mono",
        "a bad deadline_mono is refused naming deadline_mono and the monotonic clock, not deadline_epoch (rev-today)",
        "actors/permit_issuer.py",
        'checked_deadline(request.get("deadline_mono"), "request", "deadline_mono", MONOTONIC_UNIT)',
        'checked_deadline(request.get("deadline_mono"), "request: deadline_mono")',
        ("tests/test_exit_path_review.py::test_a_bad_deadline_mono_is_refused_naming_deadline_mono_and_what_it_must_be",)),
    Mutation(
        "clusterer_logs_a_closed_position_on_a_stuck_feed_as_fresh_prices",
        "a position closed on a symbol whose price is still stale is logged as no longer held, not as its prices fresh "
        "again (rev-today)",
        "actors/clusterer.py",
        "            fresh = [s for s in self.stale_held if s in held]\n"
        "            closed = [s for s in self.stale_held if s not in held]\n",
        "            fresh = list(self.stale_held)\n            closed = []\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_position_closed_on_a_symbol_whose_price_is_stale_is_not_logged_as_its_prices_fresh_again",)),
    Mutation(
        "status_reads_the_first_gate_only",
        "`clustergate status` shows every gate's K source, not the first gate's alone (with the first gate's host "
        "down it printed `gate K from: ?` while gate_b decided)",
        "launcher/overview.py",
        "        out[\"gates\"] = [gate_overview(topo, name, samples[name], scraped_at.get(name)) for name in gates]\n",
        "        out[\"gates\"] = [gate_overview(topo, gates[0], samples[gates[0]], scraped_at.get(gates[0]))]\n",
        ("tests/test_status_overview.py::test_status_shows_each_gate_and_reads_the_cluster_side_from_a_standby_when_the_first_does_not_answer",)),
    Mutation(
        "status_reads_the_first_buffer_only",
        "`clustergate status` reads the warm-up from the first buffer whose metrics answer (a standby's when the "
        "first's host is down), not from the first alone",
        "launcher/overview.py",
        "    chosen = max(chains, key=rank) if chains else {}\n",
        "    chosen = chains[0] if chains else {}\n",
        ("tests/test_status_overview.py::test_status_shows_each_gate_and_reads_the_cluster_side_from_a_standby_when_the_first_does_not_answer",)),
    Mutation(
        "status_takes_any_answer_on_an_actors_port_for_its_metrics",
        "`clustergate status` takes an actor's metrics port for the actor only when it answers with that actor's "
        "clustergate_actor_ready (another program on the first gate's and buffer's ports hid gate_b and buffer_b)",
        "launcher/overview.py",
        "    return sample if own_readiness(sample, name) is not None else None\n",
        "    return sample\n",
        ("tests/test_status_ha_review.py::test_status_does_not_take_another_program_on_the_first_gates_or_buffers_port_for_them",)),
    Mutation(
        "scrape_waits_per_read_not_per_answer",
        "a metrics scrape (status, readiness) ends within its timeout for the whole answer, not per read (an endpoint "
        "that sends a byte now and then held `clustergate status` as long as it did)",
        "launcher/supervise.py",
        "        left = self.deadline - time.monotonic()\n",
        "        left = 1.0\n",
        ("tests/test_status_ha_review.py::test_status_ends_when_the_first_gates_metrics_port_drips_bytes_without_ever_finishing",)),
    Mutation(
        "status_mixes_one_chains_buffer_with_anothers_correlator",
        "`clustergate status` shows the warm-up, corr_ready and held prices of one cluster chain, not the first "
        "answering buffer beside another chain's correlator",
        "launcher/overview.py",
        "        name = chosen.get(kind) or next(",
        "        name = next(",
        ("tests/test_status_ha_review.py::test_status_reads_the_cluster_side_from_one_chain_not_one_actor_of_each",)),
    Mutation(
        "status_json_k_source_is_the_first_answering_gates",
        "`status --json`'s flat k_source is proxy when any answering gate takes K from the proxy, not the first "
        "answering gate's source",
        "launcher/overview.py",
        "    return {\"k_source\": \"proxy\" if \"proxy\" in sources else (\"cluster\" if sources == {\"cluster\"} else None),\n",
        "    return {\"k_source\": answered[0][\"k_source\"] if answered else None,\n",
        ("tests/test_status_ha_review.py::test_status_json_flat_k_source_says_proxy_when_any_gate_decides_on_the_proxy",)),
    Mutation(
        "status_all_hosts_reads_another_programs_page_as_not_ready",
        "`status FILE --all-hosts` says an actor's port answers with another program's page, not `READY no` with "
        "no word of why",
        "launcher/hosts_status.py",
        "    ready = own_readiness(sample, name)\n    if ready is None:",
        "    ready = own_readiness(sample, name)\n    if ready is None:\n        ready = 0.0\n    if False:",
        ("tests/test_status_ha_review.py::test_status_all_hosts_says_an_actors_port_answers_with_another_programs_page",)),
    Mutation(
        "status_reads_the_first_answering_chain_not_the_writing_one",
        "`clustergate status` shows the cluster chain whose state writer holds the lease, not the first chain that "
        "answers (a chain with a dead feed beside the standby's fresh state hid the failover)",
        "launcher/overview.py",
        "        return holds_lease(chain), sum(",
        "        return False, sum(",
        ("tests/test_status_ha_review.py::test_status_reads_the_cluster_side_from_the_chain_whose_writer_holds_the_lease",)),
    Mutation(
        "gate_takes_a_null_deadline_for_no_deadline",
        "a proposal whose deadline_ms is null is refused invalid_proposal, not decided (a permit included) with no "
        "deadline however late the gate reaches it (rev-deadline)",
        "actors/policy.py",
        "    deadline_ms = obj.get(\"deadline_ms\", _NO_DEADLINE)\n    if deadline_ms is _NO_DEADLINE:\n",
        "    deadline_ms = obj.get(\"deadline_ms\", _NO_DEADLINE)\n    if deadline_ms is _NO_DEADLINE or deadline_ms is None:\n",
        ("tests/test_deadline_overload_review.py::test_a_null_deadline_is_refused_not_taken_for_no_deadline",)),
    Mutation(
        "expired_detail_rounds_a_fraction_of_a_ms_deadline_to_0",
        "an expired reply names deadline_ms as sent (0.5, not 0, a deadline the gate refuses as invalid) and says a "
        "small one is a time, not seconds nor a timeout (rev-deadline)",
        "actors/gate.py",
        "int(deadline_ms) or deadline_ms >= 1e11 else repr(deadline_ms)\n",
        "int(deadline_ms) or deadline_ms >= 1e11 else f\"{deadline_ms:.0f}\"\n",
        ("tests/test_deadline_overload_review.py::"
         "test_an_expired_reply_names_the_deadline_as_sent_and_the_mistake_a_small_one_may_be",)),
    Mutation(
        "issuer_keeps_items_own_deadlines_on_the_stepped_wall_clock",
        "a step of the gate and issuer host's wall clock while a request waits for the issuer moves no proposal's own "
        "deadline: stepped back, the decision is not written after its client's deadline (rev-deadline)",
        "actors/permit_issuer.py",
        "                shift = stepped - deadline\n",
        "                shift = 0.0\n",
        ("tests/test_deadline_overload_review.py::"
         "test_a_wall_clock_step_back_while_a_decision_waits_for_its_issuer_does_not_let_it_be_written_after_its_deadline",)),
    Mutation(
        "gate_derives_its_monotonic_deadline_after_its_state_read",
        "the gate's deadline by the monotonic clock is read with the decision's wall clock: a wall clock step back "
        "during a stalled state read does not let the issuer write after the gate gave up (rev-deadline)",
        "actors/gate.py",
        "                                   issuer_deadline_s(now_mono + read_s, self.permit_timeout_ms))\n",
        "                                   None)\n",
        ("tests/test_deadline_overload_review.py::"
         "test_a_wall_clock_step_back_while_the_gate_reads_its_state_does_not_move_the_gates_deadline",)),
    Mutation(
        "client_returns_overloaded_after_an_attempt_that_may_have_been_decided",
        "a call that ends `overloaded` after an attempt that timed out (or got a fault HOLD or garbage) raises "
        "GateUnavailable, outcome unknown, not that reply's \"nothing was recorded\" (rev-deadline's finding)",
        "launcher/client.py",
        "                if maybe_decided and is_overloaded(reply):  # type: ignore[arg-type]\n",
        "                if False:\n",
        ("tests/test_client.py::"
         "test_a_call_that_ends_overloaded_after_an_attempt_that_timed_out_is_outcome_unknown_not_overloaded",)),
    Mutation(
        "up_and_status_take_another_actors_readiness_for_this_ones",
        "`up` and `status` read an actor's readiness from its own clustergate_actor_ready{actor=NAME}, not from any "
        "actor's metrics on its port (another home's permit issuer there made a gate that never started read ready)",
        "launcher/supervise.py",
        "    ready = own_readiness(sample, name)\n    if ready is None:",
        "    ready = metric(sample, \"clustergate_actor_ready\")\n    if ready is None:",
        ("tests/test_status_foreign_metrics_port.py::"
         "test_another_actors_metrics_on_an_actors_port_are_not_taken_for_its_readiness",)),
    Mutation(
        "up_hint_names_clustergate_when_it_is_not_on_path",
        "the hint `up` prints names the launcher as it was run (`.venv/bin/clustergate` under `make demo`), not a "
        "`clustergate` that is not on PATH on a fresh clone (revdemo's finding)",
        "launcher/supervise.py",
        "    return shlex.quote(argv0)\n",
        "    return \"clustergate\"\n",
        ("tests/test_front_door_review.py::"
         "test_the_hint_up_prints_works_typed_as_printed_without_an_activated_venv",)),
    Mutation(
        "up_hint_leaves_a_home_with_a_space_unquoted",
        "the `--home` in the hint `up` prints is quoted for the shell: a home with a space was two arguments typed as "
        "printed (revdemo's finding)",
        "launcher/supervise.py",
        "else f\" --home {shlex.quote(str(home.root))}\"\n",
        "else f\" --home {home.root}\"\n",
        ("tests/test_front_door_review.py::"
         "test_the_hint_up_prints_works_typed_as_printed_for_a_home_with_a_space",)),
    Mutation(
        "make_down_runs_a_clustergate_that_is_not_installed",
        "`make down` in a checkout never set up says nothing runs there, not `.venv/bin/clustergate: No such file or "
        "directory` and Error 127 (revdemo's finding)",
        "Makefile",
        '\telse echo "nothing running ($(NOT_SET_UP))"; fi\n',
        '\telse $(BIN)/clustergate down; fi\n',
        ("tests/test_front_door_review.py::test_make_down_and_status_in_a_checkout_never_set_up_say_so",)),
    Mutation(
        "backtest_ends_its_states_at_the_last_ticks_slot",
        "the backtest's states go on after the last price while the held prices are at most max_price_age_s old, as "
        "the live buffer and correlator go on publishing: a proposal then takes K from the cluster, not the proxy "
        "(rev-backtest)",
        "launcher/backtest.py",
        "    tail = math.ceil(settings.max_price_age_s / cadence)\n",
        "    tail = 0\n",
        ("tests/test_backtest_parity.py::"
         "test_states_go_on_after_the_last_tick_as_the_live_correlator_publishes_them",
         "tests/test_backtest_review.py::"
         "test_a_proposal_after_the_last_price_takes_k_from_the_states_the_held_prices_still_make")),
    Mutation(
        "backtest_prints_final_actions_alone_for_its_decisions",
        "the line `clustergate backtest` prints counts every decision in its parentheses, refused and replayed "
        "included, so they add up to the decisions (rev-backtest)",
        "launcher/backtest.py",
        '    actions = ", ".join(f"{a} {n}" for a, n in [*summary["by_final_action"].items(), ("refused", summary["refused"]),\n',
        '    actions = ", ".join(f"{a} {n}" for a, n in [*summary["by_final_action"].items(), ("refused", 0),\n',
        ("tests/test_backtest_review.py::"
         "test_the_printed_line_accounts_for_every_decision_refused_and_replayed_included",)),
    Mutation(
        "backtest_reads_a_prices_column_named_twice",
        "a prices file (CSV or Parquet) whose header names a column twice is refused naming it, exit 2, not read as "
        "one series interleaving both columns (rev-backtest)",
        "launcher/feed_inputs.py",
        "            return name.strip()\n",
        "            return None\n",
        ("tests/test_backtest_review.py::test_a_prices_file_naming_a_column_twice_is_refused_naming_it[csv]",
         "tests/test_backtest_review.py::test_a_prices_file_naming_a_column_twice_is_refused_naming_it[parquet]")),
    Mutation(
        "backtest_holds_positions_rows_as_python_objects",
        "read_positions holds a positions file in typed arrays (24 bytes a row), not a Python object per value "
        "(about 90 bytes a row: 2.1 M rows took 185 MB) (rev-backtest)",
        "launcher/backtest.py",
        '    ts_l, sym_l, val_l = array.array("d"), array.array("q"), array.array("d")\n',
        '    ts_l, sym_l, val_l = [], [], []\n',
        ("tests/test_backtest_review.py::"
         "test_a_positions_file_is_held_in_about_its_arrays_size_not_an_object_per_row",)),
    Mutation(
        "replay_feed_reads_a_column_named_twice",
        "the live replay feed (and validate) refuses a CSV whose header names a column twice, at start, exit 2, "
        "naming the file and column, as the backtest does: not replayed as one series interleaving both (feeddup)",
        "launcher/feed_inputs.py",
        "            if (twice := named_twice(header)) is not None:\n",
        "            if (twice := None) is not None:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_file_and_what_is_wrong[column_named_twice]",
         "tests/test_backtest_review.py::test_a_prices_file_naming_a_column_twice_is_refused_naming_it[csv]")),
    Mutation(
        "replay_feed_sorts_a_row_out_of_time_order",
        "the live replay feed (and validate) refuses a row earlier than the row above, naming the file and line, as "
        "the backtest does: not sorted first with the rest of the file due years later (feeddup)",
        "launcher/feed_inputs.py",
        "        time_order_checked(data)\n",
        "        pass\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_file_and_what_is_wrong[a_row_out_of_time_order]",)),
    Mutation(
        "replay_feed_bad_byte_names_no_file",
        "a replay file that is not UTF-8 stops the feed (and validate) with a line naming the file, as the backtest "
        "says it, not the codec's message alone (feeddup)",
        "launcher/feed_inputs.py",
        "        raise ValueError(f\"{path}: not a prices CSV ({exc})\") from None\n",
        "        raise\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_file_and_what_is_wrong[not_utf8]",)),
    Mutation(
        "replay_feed_opens_a_path_that_is_not_a_regular_file",
        "a replay path that is not a regular file (a FIFO) stops the feed (and validate) at once naming it, as the "
        "backtest refuses it, instead of blocking its setup for ever (feeddup)",
        "launcher/feed_inputs.py",
        "    if (problem := file_problem(path)) is not None:\n        raise ValueError(f\"{path}: {problem}\")\n",
        "    if False:\n        raise ValueError(f\"{path}: {problem}\")\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_file_and_what_is_wrong[a_fifo]",)),
    Mutation(
        "clusterer_stops_the_state_for_any_stale_held_weight",
        "held symbols with a stale price (or none) stop the cluster state only when they weigh more than "
        "max_stale_held_weight of the book: $0.40 of dust in a symbol with no price stopped it for ever (rev-dust)",
        "actors/clustering.py",
        "    return held_prices_stale_weight(stale, signed) > max_stale_held_weight\n",
        "    return _stale_held_and_book(stale, signed)[0] > 0\n",
        (DUST + "test_dust_within_the_tolerance_lets_the_state_be_written_and_more_stops_it",
         DUST + "test_dust_held_in_a_symbol_with_no_prices_leaves_the_gate_on_the_cluster_state_and_is_still_named")),
    Mutation(
        "stale_held_weight_judged_symbol_by_symbol",
        "the stale held symbols stop the state by their combined weight, not each alone (rev-dust)",
        "actors/clustering.py",
        "        return np.where(np.asarray(stale, dtype=bool), absn, 0.0).sum(axis=-1), absn.sum(axis=-1)\n",
        "        return np.where(np.asarray(stale, dtype=bool), absn, 0.0).max(axis=-1), absn.sum(axis=-1)\n",
        (DUST + "test_stale_held_symbols_stop_the_state_by_their_combined_weight_not_each_alone",)),
    Mutation(
        "live_clusterer_ignores_max_stale_held_weight",
        "the live clusterer decides held_prices_stale with its max_stale_held_weight setting (rev-dust)",
        "actors/clusterer.py",
        "self.topology.symbols, self.settings.max_stale_held_weight)",
        "self.topology.symbols, 0.0)",
        (DUST + "test_dust_held_in_a_symbol_with_no_prices_leaves_the_gate_on_the_cluster_state_and_is_still_named",)),
    Mutation(
        "backtest_ignores_max_stale_held_weight",
        "the backtest decides held_prices_stale as the live clusterer does, with max_stale_held_weight (rev-dust)",
        "launcher/backtest.py",
        "settings.clusterer.max_stale_held_weight)",
        "0.0)",
        ("tests/test_backtest_attack.py::"
         "test_a_symbol_whose_prices_stopped_leaves_the_matrix_after_max_price_age_s_as_in_the_live_correlator[dust]",)),
    Mutation(
        "max_stale_held_weight_of_1_accepted",
        "validate refuses max_stale_held_weight outside [0, 1), naming it (rev-dust)",
        "launcher/topology.py",
        '0: any such held symbol stops the state.", ge=0, lt=1)',
        '0: any such held symbol stops the state.", ge=0, le=1)',
        (DUST + "test_a_max_stale_held_weight_outside_0_to_1_is_refused_naming_it[1.0]",)),
    Mutation(
        "status_says_tolerated_dust_stops_the_state",
        "clustergate status says a held symbol with a stale price within max_stale_held_weight leaves the state "
        "written, not that it stops it (rev-dust)",
        "launcher/overview.py",
        "    return weight is not None and limit is not None and limit > 0 and weight <= limit\n",
        "    return False\n",
        (DUST + "test_dust_held_in_a_symbol_with_no_prices_leaves_the_gate_on_the_cluster_state_and_is_still_named",)),
    Mutation(
        "up_refusal_prints_a_line_per_port_in_use",
        "an `up` refused for ports in use says so in one line per holder, not a line per port (16 for a second demo) "
        "(frontdoor2)",
        "launcher/supervise.py",
        '            if "already in use" in problem:\n',
        '            if False:\n',
        ("tests/test_up_refusals.py::test_an_up_of_ports_another_clustergate_system_holds_names_that_home_and_its_down_in_one_line",)),
    Mutation(
        "up_refusal_names_no_holder_of_a_port_in_use",
        "an `up` refused for ports in use names who holds them: another clustergate system by its home, topology and "
        "the `down` that stops it, another process by pid and command (frontdoor2)",
        "launcher/supervise.py",
        "    pids = holder_pids([endpoint for _, endpoint, _ in in_use])\n",
        "    pids: dict[str, int] = {}\n",
        ("tests/test_up_refusals.py::test_an_up_of_ports_another_clustergate_system_holds_names_that_home_and_its_down_in_one_line",
         "tests/test_up_refusals.py::test_a_busy_port_refusal_in_a_new_home_leaves_nothing_and_names_the_process")),
    Mutation(
        "refused_up_leaves_the_home_it_made",
        "a refused `up` leaves nothing it created in its home (supervisord.conf, run/, its locks, parent directories) "
        "(frontdoor2)",
        "launcher/supervise.py",
        "                undo_prepare(home, created)  # refused with nothing switched in: leave nothing it made\n",
        "                pass\n",
        ("tests/test_up_refusals.py::test_an_up_of_ports_another_clustergate_system_holds_names_that_home_and_its_down_in_one_line",
         "tests/test_up_refusals.py::test_a_refused_up_leaves_nothing_it_created_and_keeps_what_was_there",
         "tests/test_up_refusals.py::test_a_busy_port_refusal_in_a_new_home_leaves_nothing_and_names_the_process")),
    Mutation(
        "refused_up_removes_directories_that_were_there",
        "a refused `up` never removes what was there before it (an existing home directory stays) (frontdoor2)",
        "launcher/supervise.py",
        "    if path.is_dir():\n        return\n",
        "    if path.is_dir():\n        created.append(path)\n        return\n",
        ("tests/test_up_refusals.py::test_a_refused_up_leaves_nothing_it_created_and_keeps_what_was_there",)),
    Mutation(
        "change_lock_waiter_keeps_a_removed_lock_file",
        "a command waiting for change.lock that a refused `up` removed takes the file now at the path, not the removed "
        "one (frontdoor2)",
        "launcher/supervise.py",
        "                if _at_its_path(self.file):\n                    break\n",
        "                if True:\n                    break\n",
        ("tests/test_up_refusals.py::test_a_command_waiting_for_a_change_lock_that_a_refused_up_removed_takes_the_new_one",)),
    Mutation(
        "up_port_claims_keep_their_files",
        "`up`'s port claims remove their lock files when released: clustergate-claims-UID/ does not grow with every "
        "port ever claimed (frontdoor2)",
        "launcher/supervise.py",
        "            os.unlink(lock.name)\n",
        "            pass\n",
        ("tests/test_up_refusals.py::test_up_and_down_leave_no_port_claim_file_behind",)),
    Mutation(
        "up_says_nothing_of_a_gone_xdg_runtime_dir",
        "an `up` that cannot make its port-claims directory names $XDG_RUNTIME_DIR (another session's, under su) and "
        "what to do, not only an errno (frontdoor2)",
        "launcher/supervise.py",
        '        whence = f" ($XDG_RUNTIME_DIR={given}, perhaps',
        '        whence = "" and f" ($XDG_RUNTIME_DIR={given}, perhaps',
        ("tests/test_up_refusals.py::test_an_up_whose_xdg_runtime_dir_is_gone_says_so_and_leaves_nothing",)),
    Mutation(
        "up_claim_refusal_names_no_holder",
        "an `up` refused by another `up`'s port claim names that `up` (its pid and home, written in the claim) "
        "(frontdoor2)",
        "launcher/supervise.py",
        '                by = f" ({holder})" if holder else ""\n',
        '                by = ""\n',
        ("tests/test_up_refusals.py::test_an_up_meeting_another_ups_port_claim_names_that_up",)),
    Mutation(
        "refused_up_undoes_a_home_another_up_applied",
        "a refused first `up` leaves a home whole that another `up` applied its system in meanwhile (frontdoor2)",
        "launcher/supervise.py",
        "    if home.programs.exists() or home.topology.exists():\n        return\n",
        "",
        ("tests/test_up_refusals.py::"
         "test_a_refused_first_up_leaves_the_home_whole_once_another_up_applied_its_system_there",)),
    Mutation(
        "home_conf_written_over_another_ups",
        "a home's supervisord.conf is written whole through a file of this process's own and never over one another "
        "`up` wrote first (frontdoor2)",
        "launcher/supervise.py",
        "        os.link(_tmp_of(own), path)\n",
        "        os.replace(_tmp_of(own), path)\n",
        ("tests/test_up_refusals.py::test_supervisord_conf_is_written_whole_once_and_never_over_another_ups",)),
    Mutation(
        "failed_prepare_removes_locks_it_does_not_hold",
        "a home prepare that fails removes no lock file another command opened in the run/ it made (frontdoor2)",
        "launcher/supervise.py",
        "            undo_prepare(self, created, locks_held=False)\n",
        "            undo_prepare(self, created)\n",
        ("tests/test_up_refusals.py::test_a_home_prepare_that_fails_leaves_the_locks_another_command_opened_in_it",)),
    Mutation(
        "readiness_proof_proposes_during_the_warm_up",
        "the readiness proof sends no proposal before every gate reports K from the cluster (its own "
        "p26_cluster_stress_used): right after a fresh `up` its first probe was decided on the proxy and counted as a "
        "cluster fallback (freshstart)",
        "proofs/readiness.py",
        "    p.poll(lambda: (warming_gates(p), {} if p.topo.hosts else stopped_programs(p)),\n",
        "    p.poll(lambda: ({}, {}),\n",
        ("tests/test_fresh_start.py::test_the_readiness_proof_right_after_a_fresh_up_makes_no_decision_on_the_proxy",)),
    Mutation(
        "gate_counts_a_fault_hold_as_a_cluster_fallback",
        "a fault HOLD (recorded false, decided on no K) counts in p26_fail_closed_total, not in "
        "p26_cluster_fallback_total, however stale the cluster state was at the gate's read (freshstart)",
        "actors/gate.py",
        '        settled = sum(1 for r in results if r is not None and type(r) is not Refusal and r.get("recorded") is not False\n',
        "        settled = sum(1 for r in results if r is not None and type(r) is not Refusal\n",
        ("tests/test_fresh_start.py::test_a_fault_hold_on_a_stale_cluster_state_counts_as_fail_closed_not_as_a_cluster_fallback",)),
    Mutation(
        "gate_counts_fallbacks_after_its_first_cluster_k_as_warm_up",
        "p26_cluster_fallback_warm_up_total counts only the fallbacks before the gate first took K from a fresh "
        "cluster state since its start: a fallback after that is one P26ClusterFallbacks sees (freshstart)",
        "actors/gate.py",
        "                self._warming_up = False\n",
        "                self._warming_up = True\n",
        ("tests/test_fresh_start.py::test_fallbacks_before_the_gate_first_takes_k_from_the_cluster_are_its_warm_up_and_later_ones_are_not",)),
    Mutation(
        "fallback_alert_fires_for_a_gates_warm_up",
        "P26ClusterFallbacks does not fire when every fallback in its 30m was counted in the gate's warm-up "
        "(p26_cluster_fallback_warm_up_total) (freshstart)",
        "configs/alerts.yml",
        "          increase((p26_cluster_fallback_total - p26_cluster_fallback_warm_up_total)[30m:]) == 0\n",
        "          increase((p26_cluster_fallback_total - p26_cluster_fallback_warm_up_total)[30m:]) < 0\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "held_price_alert_fires_beside_prices_stopped",
        "P27HeldPriceStale does not fire while P27PricesStopped's condition holds (every price stopped): one cause, "
        "one alert (freshstart)",
        "configs/alerts.yml",
        "        expr: p27_held_price_stale == 1 unless on() time() - max(p27_buffer_last_accepted_tick_timestamp_seconds) > 300\n",
        "        expr: p27_held_price_stale == 1\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "up_names_a_foreign_supervisord_a_clustergate_home",
        "a port held under a supervisord whose conf is not one `up` wrote (identifier=clustergate) is named by the "
        "holder's pid and command, never as another clustergate home with a `down --home` that would stop it (revup)",
        "launcher/supervise.py",
        "            return Path(conf).parent if _is_clustergate_conf(Path(conf)) else None\n",
        "            return Path(conf).parent\n",
        ("tests/test_up_refusals.py::test_a_port_held_under_a_supervisord_of_no_clustergate_home_names_the_process_not_a_clustergate_down",)),
    Mutation(
        "down_stops_a_supervisord_of_no_clustergate_home",
        "`down --home DIR` stops no supervisord whose DIR/supervisord.conf is not one `up` wrote (identifier=clustergate): "
        "the machine's own, or a typo's, is left running with its programs (rev-up)",
        "launcher/supervise.py",
        "            if home.conf.exists() and not _is_clustergate_conf(home.conf):\n                continue\n",
        "            pass\n",
        ("tests/test_up_refusals.py::test_down_of_a_directory_whose_supervisord_conf_is_not_clustergates_stops_nothing",)),
    Mutation(
        "stale_held_state_stop_decided_on_notionals_not_the_exported_weight",
        "the clusterer stops the state for stale held symbols exactly when the weight it exports "
        "(p27_held_price_stale_weight, compared by status) is above max_stale_held_weight (revday)",
        "actors/clustering.py",
        "    return held_prices_stale_weight(stale, signed) > max_stale_held_weight\n",
        "    stale_notional, book = _stale_held_and_book(stale, signed)\n"
        "    return stale_notional > max_stale_held_weight * book\n",
        (DUST + "test_the_stale_held_weight_the_clusterer_exports_decides_whether_the_state_stops",
         DUST + "test_stale_held_dust_at_exactly_the_limit_is_tolerated_by_the_running_clusterer_as_its_gauge_and_"
                "status_say")),
    Mutation(
        "gate_counts_a_replayed_decision_as_a_cluster_fallback",
        "p26_cluster_fallback_total counts decisions made now with K from the proxy: a resent plan_id's first "
        "decision (replayed, with its own K) is not one (revday)",
        "actors/gate.py",
        '                      and not r.get("replayed"))\n',
        "                      )\n",
        ("tests/test_fresh_start.py::test_a_replayed_decision_and_a_plan_id_conflict_are_not_counted_as_cluster_"
         "fallbacks",)),
    Mutation(
        "readiness_proof_waits_out_its_warm_up_timeout_while_a_program_is_stopped",
        "the readiness proof's wait for every gate to take K from the cluster ends when supervisord has stopped a "
        "program: it reports the stopped program, not after the whole warm-up timeout (revday)",
        "proofs/readiness.py",
        "           lambda warming_stopped: warming_stopped[0] == {} or warming_stopped[1] != {}, warm_up_s, 0.2)\n",
        "           lambda warming_stopped: warming_stopped[0] == {}, warm_up_s, 0.2)\n",
        ("tests/test_proofs.py::test_readiness_proof_does_not_wait_out_its_warm_up_timeout_for_gates_while_a_program_is_"
         "stopped",)),
    Mutation(
        "make_install_makes_a_venv_without_checking_python_can",
        "`make install` checks that its python can make a virtual environment (Debian's python3 without python3-venv) "
        "and names what to install before any .venv is made (session 26)",
        "Makefile",
        "\tbash .ci/install-venv $(PYTHON)  # Debian's python3 needs python3-venv for -m venv: installed as root, else named\n",
        "",
        ("tests/test_install_venv.py::test_make_install_stops_before_making_a_venv_with_a_python_that_cannot",)),
    Mutation(
        "venv_check_installs_debian_packages_for_any_python",
        "install-venv installs python3-venv only for Debian's own interpreter (/usr/bin): for another python it names "
        "the packages and the PYTHON= way out instead of installing packages that cannot help it (session 26)",
        ".ci/install-venv",
        "if [[ $real != /usr/bin/* ]] || [[ $(id -u) -ne 0 ]]",
        "if [[ $(id -u) -ne 0 ]]",
        ("tests/test_install_venv.py::test_a_python_without_ensurepip_is_named_with_the_package_to_install",)),
    Mutation(
        "replay_feed_waits_on_a_row_years_after_the_row_above",
        "the live replay feed (and validate) refuses a file with two rows further apart than one day of wall time at "
        "its speed, naming the file, line and gap: not ready on heartbeats alone for ever behind a row 485 years on "
        "(feedfix)",
        "launcher/feed_inputs.py",
        "    if (problem := replay_wait_problem(data, speed)) is not None:\n",
        "    if (problem := None) is not None:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_row_far_after_the_row_above_stops_the_feed_and_validate_"
         "naming_the_file_line_and_gap[a_row_485_years_on]",)),
    Mutation(
        "replay_wait_bound_ignores_the_speed",
        "the replay's bound between rows is on wall time, the gap divided by the speed (feedfix)",
        "launcher/feed_inputs.py",
        "    if gap is None or gap.gap_s / speed <= MAX_REPLAY_WAIT_S:\n",
        "    if gap is None or gap.gap_s <= MAX_REPLAY_WAIT_S:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_gap_is_refused_when_its_wall_time_at_the_speed_passes_one_"
         "day[4-False]",)),
    Mutation(
        "replay_file_hashed_in_a_second_read",
        "a replay's saved position carries the SHA-256 of the bytes the feed parsed, read once: a file replaced "
        "between two reads is not saved under the new file's hash (feedfix)",
        "launcher/feed_inputs.py",
        "    sha256, bytes_parsed = hashlib.sha256(raw).hexdigest(), len(raw)\n",
        "    sha256, bytes_parsed = hashlib.sha256(open(path, \"rb\").read()).hexdigest(), len(raw)\n",
        ("tests/test_price_feed_replay.py::test_the_saved_replay_position_names_the_bytes_the_feed_parsed_even_if_"
         "the_file_is_replaced_while_it_reads",)),
    Mutation(
        "replay_feed_hashes_its_file_in_a_second_read",
        "the feed saves its position under the hash of the bytes it parsed, not of the file read again (feedfix)",
        "actors/price_feed.py",
        "        self.replay_identity = {\"file\": str(path), \"sha256\": data.sha256, \"bytes\": data.bytes_parsed}\n",
        "        self.replay_identity = {\"file\": str(path), \"sha256\": __import__(\"hashlib\").sha256(path.read_bytes())"
        ".hexdigest(), \"bytes\": data.bytes_parsed}\n",
        ("tests/test_price_feed_replay.py::test_the_saved_replay_position_names_the_bytes_the_feed_parsed_even_if_"
         "the_file_is_replaced_while_it_reads",)),
    Mutation(
        "replay_columns_taken_as_in_time_order",
        "columns read from a file out of time order (a backtest's) are put in time order, stable for equal times; only "
        "a file in order is used as read, without a copy (feedfix)",
        "launcher/feed_inputs.py",
        "        if not np.any(ts[1:] < ts[:-1]):  # in time order already (a replay file must be): the columns, no copy\n",
        "        if True:\n",
        ("tests/test_price_feed_replay.py::test_a_file_read_into_columns_gives_the_rows_in_the_order_the_row_reader_"
         "gives_them[long]",)),
    Mutation(
        "replay_loop_growth_from_the_first_price_of_the_reversed_rows",
        "a looping replay kept as columns rebases each pass by the file's last usable price over its first, as the "
        "rows did (feedfix)",
        "launcher/feed_inputs.py",
        "    last = len(symbols) - 1 - np.unique(symbols[::-1], return_index=True)[1]\n",
        "    last = np.unique(symbols[::-1], return_index=True)[1]\n",
        ("tests/test_price_feed_replay.py::test_a_looped_replay_of_independent_symbols_makes_no_correlation_at_the_"
         "seam",)),
    Mutation(
        "backtest_prices_out_of_time_order_counted_not_refused",
        "the backtest refuses a prices CSV with a row earlier than the row above, from the order noted as its rows "
        "are read (one read fewer, feedfix)",
        "launcher/backtest.py",
        "        file_rows = time_order_checked(data)\n",
        "        file_rows = data.file_rows\n",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files"
         "[out_of_order]",)),
    Mutation(
        "gate_waits_for_an_issuer_to_connect_by_the_wall_clock",
        "a gate whose `permits` socket binds waits for an issuer to connect until the request's deadline by the "
        "monotonic clock: a wall clock step back since its decision does not wedge it, answering nobody (sendwait)",
        "actors/gate.py",
        "            wait_ms = int((deadline_mono - time.monotonic()) * 1000.0)\n",
        "            wait_ms = int((deadline_mono - time.time()) * 1000.0)\n",
        ("tests/test_deadline_overload_review.py::test_a_wall_clock_step_back_before_a_gate_waits_for_an_issuer_to_"
         "connect_does_not_wedge_it",),
        also=(("actors/gate.py", 'self._send_when_connected(sock, frame, request["deadline_mono"])',
               'self._send_when_connected(sock, frame, request["deadline_epoch"])'),)),
    Mutation(
        "replay_wait_measured_from_a_row_whose_price_is_never_published",
        "the replay's bound between rows measures from the last row with a usable price: a NaN, zero, negative or "
        "infinite price between two published rows does not hide a two-day wait (revfeed)",
        "launcher/feed_inputs.py",
        "        if self._last_read is None or 0.0 < price < math.inf:",
        "        if True:",
        ("tests/test_price_feed_replay.py::test_a_replay_gap_is_not_shortened_by_rows_whose_price_is_never_published"
         "[a_nan_price_between]",)),
    Mutation(
        "replay_no_usable_row_counts_the_empty_row_list_of_columns",
        "a replay file without one usable row is refused naming how many rows it read for the allowlist, not 0 "
        "(revfeed)",
        "launcher/feed_inputs.py",
        "no usable row ({data.read_rows()} rows for the allowlist",
        "no usable row ({len(data.rows)} rows for the allowlist",
        ("tests/test_price_feed_replay.py::test_a_file_without_one_usable_row_is_refused_counting_the_rows_it_read_"
         "for_the_allowlist",)),
    Mutation(
        "replay_wait_refusal_names_the_line_above_not_the_row_it_measured_from",
        "the replay's refusal of a gap names the line of the row the gap is measured from (rows of symbols outside "
        "the allowlist may lie between), not the line above (revfeed)",
        "launcher/feed_inputs.py",
        "                self.widest_gap = RowGap(gap_s, line, ts_text, self._last_read[1], self._last_read[2])\n",
        "                self.widest_gap = RowGap(gap_s, line, ts_text, self._last_read[1], line - 1)\n",
        ("tests/test_price_feed_replay.py::test_a_replay_gap_counts_only_the_rows_the_feed_publishes",)),
    Mutation(
        "replay_time_order_refusal_names_the_last_row_out_of_order",
        "a replay or prices CSV out of time order is refused naming the first row earlier than the row above, as the "
        "separate order check did before feedfix folded it into the parse (revfeed)",
        "launcher/feed_inputs.py",
        "        if self.out_of_order is None and self._last_timed is not None and ts < self._last_timed:\n",
        "        if self._last_timed is not None and ts < self._last_timed:\n",
        ("tests/test_price_feed_replay.py::test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files"
         "[out_of_order_twice]",)),
    Mutation(
        "backtest_prints_a_stray_timestamps_gap_in_full",
        "the backtest's refusal of a stray timestamp prints its span and widest gap in a line an operator can read: "
        "1e300 (read as nanoseconds) printed two 290-digit numbers (revfeed, session 26)",
        "launcher/backtest.py",
        "widest gap {gap[0]:.3g} s ",
        "widest gap {gap[0]:.0f} s ",
        ("tests/test_backtest_attack.py::test_a_timestamp_far_from_the_others_is_refused_naming_the_file_not_a_memory_"
         "error",)),
    Mutation(
        "status_names_the_state_writer_that_holds_the_lease",
        "with a standby chain status names the state writer that holds the write lease and the standby, or that none "
        "holds it: it said nothing while the first chain's writer held it (revstatus)",
        "launcher/overview.py",
        "    if len(writers) > 1:  # a standby chain",
        "    if len(writers) > 2:  # a standby chain",
        ("tests/test_status_ha_review.py::test_status_names_the_state_writer_that_holds_the_lease_when_it_is_the_first",)),
    Mutation(
        "status_says_the_newest_price_is_unknown_when_the_buffer_does_not_answer",
        "status says the buffer's newest price is unknown when its metrics did not answer: a hung buffer read "
        "`none yet`, every symbol `warming`, as if the system had just started (revstatus)",
        "launcher/overview.py",
        "        out[\"buffer_answered\"] = sample is not None",
        "        out[\"buffer_answered\"] = True",
        ("tests/test_status_overview.py::test_status_does_not_say_no_price_yet_or_warming_when_the_buffers_metrics_did_"
         "not_answer",)),
    Mutation(
        "keys_generate_writes_the_secret_through_a_planted_symlink",
        "`keys generate` never writes a key through a symlink at NAME.key_secret or NAME.key, dangling or not, nor "
        "over a file that appeared after it looked: it exits 1 naming the path (revops: the secret was written to "
        "wherever a dangling symlink pointed)",
        "launcher/curve.py",
        "os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW",
        "os.O_WRONLY | os.O_CREAT | os.O_TRUNC",
        ("tests/test_security.py::test_keys_generate_refuses_a_symlink_planted_at_the_secret_files_path_and_writes_"
         "nothing_through_it",
         "tests/test_security.py::test_generate_keypair_never_writes_through_a_symlink_or_over_a_file_at_its_paths"),
        also=(("launcher/keys_cli.py", "if os.path.lexists(p)]  # a symlink counts", "if p.exists()]  # a symlink counts"),)),
    Mutation(
        "positions_list_shows_a_notional_the_gate_does_not_count",
        "`positions list` shows no notional for a snapshot the gate counts as not held (no usable position_amt, a "
        "notional_usd that is no number, neither notional_usd nor mark_price, |amount x mark| not finite, no ts_epoch) "
        "and names why on an UNUSABLE row; it showed |amount x mark| beside a bad notional_usd, and 'fresh' (revops)",
        "launcher/positions.py",
        '"notional": None if why else abs(signed)',
        '"notional": abs(signed) if signed is not None else abs(amount * mark) if amount is not None and mark is not None else None',
        tuple(f"tests/test_positions_cli.py::test_positions_list_names_a_snapshot_the_gate_does_not_count_and_shows_no_"
              f"notional_for_it[{case}]" for case in ("notional_usd_not_a_number",)),
        also=(("launcher/positions.py", '"problem": f"{why}: the gate counts {symbol} as not held" if why else None}',
               '"problem": None}'),)),
    Mutation(
        "positions_set_writes_an_infinite_notional",
        "`positions set` refuses (exit 2, nothing written) an amount and mark price whose product is not finite: "
        "1e300 x 1e300 exited 0 writing notional_usd=inf, which the gate counts as not held (revops)",
        "launcher/positions.py",
        "    if not math.isfinite(args.amount * args.mark_price):",
        "    if False:",
        ("tests/test_positions_cli.py::test_positions_set_refuses_an_amount_and_price_whose_product_overflows_and_"
         "writes_nothing",)),
    Mutation(
        "positions_prints_redis_pys_hello_error_for_a_missing_password",
        "`positions` against a Redis that asks for a password names the variable to set ($CLUSTERGATE_REDIS_PASSWORD, "
        "the topology's redis.password_env), not redis-py's 'HELLO must be called with the client already "
        "authenticated' (revops)",
        "launcher/positions.py",
        "    except redis.AuthenticationError as exc:  # redis-py's",
        "    except ZeroDivisionError as exc:  # redis-py's",
        ("tests/test_positions_cli.py::test_positions_against_a_redis_asking_for_a_password_names_the_variable_to_set",)),
    Mutation(
        "snapshot_key_pattern_among_clustergates_own_keys_is_valid",
        "a positions.key_pattern naming keys among clustergate's own (quantum:portfolio:cluster_state:*, cooldowns, "
        "permits, clustergate:*) is refused naming them: the state writer deleted such snapshots as cluster ids gone, "
        "the permit issuer SETs cooldowns over them (revops)",
        "launcher/topology.py",
        '        clash = own_key_clash(pattern.replace("{symbol}", "SYMBOL"))\n',
        "        clash = None\n",
        ("tests/test_topology_validation.py::test_a_snapshot_key_pattern_inside_keys_clustergate_writes_is_refused_"
         "naming_them",)),
    Mutation(
        "gate_falls_back_to_k_0_labelled_proxy",
        "the fallback proof fails a gate whose stale-state K is not its corr_proxy though labelled proxy: with K 0 on "
        "fallback (corr_proxy 0.91 on the demo) every other check passed, the proof too (revops)",
        "actors/policy.py",
        "    k = cluster_stress if cluster_stress is not None else corr_proxy\n",
        "    k = cluster_stress if cluster_stress is not None else 0.0\n",
        ("tests/test_proofs.py::test_proof_passes_on_the_demo_and_writes_its_report[fallback]",)),
    Mutation(
        "secret_certificate_cut_short_told_to_name_the_key_secret_file",
        "a NAME.key_secret with no secret-key line (cut short) is named as such, not answered 'name the .key_secret "
        "file' (revops)",
        "launcher/curve.py",
        "    if secret is None and path.name.endswith(SECRET_SUFFIX):\n",
        "    if False:\n",
        ("tests/test_security.py::test_a_secret_certificate_cut_short_is_named_as_such_not_as_the_wrong_file",)),
    Mutation(
        "positions_set_takes_only_argparses_negative_numbers",
        "`positions set --amount -1e3` (any notation float() reads: -1E+3, -.5e2, -1., -1_000) takes the number as the "
        "option's value; argparse alone took only -2 and -2.5 and failed 'argument --amount: expected one argument', "
        "and -inf was not refused as not finite (posargs)",
        "launcher/number_args.py",
        "    parser._negative_number_matcher = _FloatLike()",
        "    parser._negative_number_matcher = parser._negative_number_matcher",
        ("tests/test_positions_cli.py::test_positions_set_takes_a_negative_amount_in_any_float_notation_as_the_value_"
         "of_amount",
         "tests/test_client.py::test_clustergate_propose_takes_a_negative_number_in_any_float_notation_as_the_option_"
         "value")),
    Mutation(
        "propose_takes_only_argparses_negative_numbers",
        "`clustergate propose --r-net -1.5E+3 --kill-score -1e-3` sends those numbers; argparse alone failed "
        "'argument --r-net: expected one argument' (posargs)",
        "launcher/client.py",
        "    p = takes_negative_numbers(subparsers.add_parser(",
        "    p = (subparsers.add_parser(",
        ("tests/test_client.py::test_clustergate_propose_takes_a_negative_number_in_any_float_notation_as_the_option_"
         "value",)),
    Mutation(
        "positions_allowlist_refusal_hides_whitespace",
        "`positions set|clear` refusing a symbol outside the allowlist shows it quoted and says when it has leading or "
        "trailing whitespace: ' BTCUSDT' was printed 'clustergate positions:  BTCUSDT is not in the allowlist' "
        "(posargs)",
        "launcher/positions.py",
        '        raise UsageError(f"{symbol!r} is not in the allowlist',
        '        raise UsageError(f"{symbol} is not in the allowlist',
        ("tests/test_positions_cli.py::test_positions_refuses_a_symbol_outside_the_allowlist_with_exit_2_showing_it_"
         "quoted",)),
    Mutation(
        "secret_certificate_with_a_public_key_not_its_own_is_accepted",
        "a NAME.key_secret whose public-key line does not belong to its secret key (two spliced, a line edited) is "
        "refused naming the file; it was accepted and peers timed out naming nothing (keycheck)",
        "launcher/curve.py",
        "    if zmq.curve_public(secret) != public:\n",
        "    if False:\n",
        ("tests/test_security.py::test_a_secret_certificate_whose_public_key_is_not_its_own_is_refused_naming_the_file",)),
    Mutation(
        "secret_certificate_accepted_where_a_public_key_is_asked",
        "a certificate holding a secret key (whatever its name) is refused where a peer's public key is asked for "
        "(propose --server-key, a topology's allow / server_key): it was accepted, inviting secret files to be copied "
        "to other machines (keycheck)",
        "launcher/curve.py",
        "    public, secret, info = _read_certificate(path)\n    if secret is not None:\n",
        "    public, secret, info = _read_certificate(path)\n    if False:\n",
        ("tests/test_security.py::test_a_secret_certificate_given_where_a_public_key_is_asked_is_refused_naming_the_file",)),
    Mutation(
        "issuer_monitor_not_reattached_to_a_re_created_permits_socket",
        "the gate re-creating its permits socket (a permit_timeout_ms expiry) gives the new socket a monitor of its "
        "own: without it gate_permit_issuers_connected kept the old socket's 1 for ever while the issuer was stopped "
        "(issuerlink)",
        "actors/runtime.py",
        "        if role in self._watchers:  # before any connection exists, so that none goes uncounted\n",
        "        if role in self._watchers and not hasattr(self, '_mutant_once'):\n"
        "            self._mutant_once = True\n",
        (LINK + "test_the_count_stays_right_and_no_socket_leaks_across_re_created_permits_sockets",)),
    Mutation(
        "issuer_monitor_leaked_at_each_re_created_permits_socket",
        "a closed socket's monitor is stopped and its PAIR closed: each re-created permits socket leaked one (a "
        "descriptor each, and the gate could not terminate its context) (issuerlink)",
        "actors/runtime.py",
        "        self._detach_monitor(sock)\n        if sock in self._handlers:\n",
        "        if sock in self._handlers:\n",
        (LINK + "test_the_count_stays_right_and_no_socket_leaks_across_re_created_permits_sockets",)),
    Mutation(
        "issuer_count_never_decremented",
        "a permit issuer whose connection is lost (stopped, SIGSTOPped past the heartbeat timeout) is counted "
        "gone: gate_permit_issuers_connected falls to 0 (issuerlink)",
        "actors/runtime.py",
        "            elif self.live:\n                self.live -= 1\n",
        "            elif self.live:\n                pass\n",
        (LINK + "test_a_gate_whose_issuer_is_sigstopped_or_stopped_reports_none_connected_and_one_again_when_it_is_back",)),
    Mutation(
        "failed_handshake_counted_as_a_lost_issuer",
        "a connection whose ZMTP handshake failed (a port scan, a peer that never greets) changes no count: libzmq's "
        "DISCONNECTED after its HANDSHAKE_FAILED ends no counted connection (issuerlink)",
        "actors/runtime.py",
        "        elif event & _HANDSHAKE_FAILED:\n            self._failed += 1\n",
        "        elif False:\n            pass\n",
        (LINK + "test_a_peer_that_fails_its_handshake_is_never_counted",)),
    Mutation(
        "status_ignores_a_gate_without_a_permit_issuer",
        "status (one host and --all-hosts) exits 1 when a gate has had no permit issuer connected past the grace: a "
        "gate reading ready with no issuer connected left status green while the desk could not exit (issuerlink)",
        "launcher/overview.py",
        "    return all((row.get(\"permit_issuers\") or {}).get(\"ok\", True) for row in rows)\n",
        "    return True\n",
        (LINK + "test_status_names_the_gate_and_its_endpoint_with_no_issuer_connected_past_the_grace_and_exits_1",)),
    Mutation(
        "status_grace_never_ends",
        "a gate with no permit issuer is said to be within the grace only for ISSUER_GRACE_S after its last issuer "
        "was lost (issuerlink)",
        "launcher/overview.py",
        "        link[\"ok\"] = link[\"none_for_s\"] is not None and link[\"none_for_s\"] < ISSUER_GRACE_S\n",
        "        link[\"ok\"] = True\n",
        (LINK + "test_status_names_the_gate_and_its_endpoint_with_no_issuer_connected_past_the_grace_and_exits_1",)),
    Mutation(
        "issuer_dropped_after_its_handshake_stays_counted",
        "a live connection libzmq drops for a protocol error after its handshake (a CurveZMQ message the gate cannot "
        "open: HANDSHAKE_FAILED_PROTOCOL then DISCONNECTED) is counted gone: it stayed counted, the reconnection made "
        "2, and with no issuer reachable the gate said 1 (issuerlink review)",
        "actors/runtime.py",
        "            elif self.live:  # after its handshake: a live connection dropped for a protocol error\n"
        "                self.live -= 1\n",
        "            elif self.live:\n                pass\n",
        (LINK + "test_a_curve_connection_broken_after_its_handshake_is_counted_gone_and_not_twice_when_it_is_back",)),
    Mutation(
        "issuer_handshakes_under_way_not_tracked",
        "a failed handshake is told from a live connection's protocol error by the connections opened (CONNECTED, "
        "ACCEPTED) whose handshake has not ended: without them a port scan of a bound permits socket took the live "
        "issuer off the count (issuerlink review)",
        "actors/runtime.py",
        "CONNECTION_EVENTS = _OPENED | _HANDSHAKE_SUCCEEDED",
        "CONNECTION_EVENTS = _HANDSHAKE_SUCCEEDED",
        (LINK + "test_a_peer_that_fails_its_handshake_is_never_counted",)),
    Mutation(
        "issuer_monitor_events_bounded_by_the_pairs_hwm",
        "the monitor's events never block libzmq's I/O thread: with the PAIR's default hwm, a port scan of a bound "
        "permits socket while the gate waited on its issuer froze every socket of the gate, and the re-created "
        "permits socket's monitor stop hung the process for good (issuerlink review)",
        "actors/runtime.py",
        "        monitor.setsockopt(zmq.RCVHWM, 0)\n",
        "",
        (LINK + "test_a_connection_flood_while_the_gate_waits_on_its_issuer_neither_hangs_the_gate_nor_loses_the_count",)),
    Mutation(
        "status_times_the_issuer_grace_on_two_wall_clocks",
        "status times a gate's grace without an issuer on the gate's monotonic clock "
        "(gate_permit_issuers_none_for_seconds): from the none_since epoch, a gate host 10 minutes ahead of status's "
        "read \"not yet a fault\" for 10 minutes with no issuer at all (issuerlink review)",
        "launcher/overview.py",
        "        none_for = first(sample, ISSUERS_NONE_FOR)  # the gate's own monotonic clock\n",
        "        none_for = None\n",
        (LINK + "test_status_times_the_grace_on_the_gates_own_clock_not_on_two_hosts_wall_clocks",)),
    Mutation(
        "issuer_gone_logged_at_the_socket_re_creation",
        "the gate logs permit_issuer_disconnected only once none has been connected for ISSUER_GONE_LOG_S: a live "
        "issuer answering one request late made every re-created permits socket (~100 ms at 0) warn that every "
        "proposal gets a fault HOLD",
        "actors/gate.py",
        "        if self._issuers_connected or self._issuers_none_since_mono != since:\n            return\n",
        "",
        (LINK + "test_a_slow_issuer_whose_socket_the_gate_re_creates_is_not_logged_gone",)),
    Mutation(
        "loop_stamp_never_updated",
        "the main loop stamps its turn every turn: an idle actor (no message, no timer) stays ready for many stall "
        "limits (liveness)",
        "actors/runtime.py",
        "            self._loop_turned = now  # the one store a turn",
        "            pass  # the one store a turn",
        (f"{LIVENESS}test_an_idle_actor_with_no_timer_and_no_message_stays_ready_for_several_stall_limits",)),
    Mutation(
        "idle_loop_poll_unbounded",
        "an idle actor's poll wakes at least every TICK_S, so its loop turns (and stamps) however long nothing comes "
        "(liveness)",
        "actors/runtime.py",
        "            timeout_s = TICK_S\n",
        "            timeout_s = 3600.0\n",
        (f"{LIVENESS}test_an_idle_actor_with_no_timer_and_no_message_stays_ready_for_several_stall_limits",)),
    Mutation(
        "readiness_ignores_the_loop_age",
        "clustergate_actor_ready is the actor's verdict AND a loop that turned within the stall limit: a gate whose "
        "handler or timer never returns read ready from its metrics thread (liveness)",
        "actors/runtime.py",
        "    return ready and loop_age_s <= stall_limit_s\n",
        "    return ready\n",
        (f"{LIVENESS}test_readiness_as_exported_is_the_actors_verdict_and_a_loop_that_turned_within_the_limit",
         LIVENESS_HANG)),
    Mutation(
        "loop_stamp_updated_from_the_metrics_thread",
        "the loop's age is the main thread's own stamp, read (never written) by the scrape thread: a stamp taken at "
        "scrape time says any stuck loop is alive (liveness)",
        "actors/runtime.py",
        "        return max(0.0, time.monotonic() - self._loop_turned)\n",
        "        self._loop_turned = time.monotonic()\n        return max(0.0, time.monotonic() - self._loop_turned)\n",
        (LIVENESS_HANG,)),
    Mutation(
        "loop_stall_not_logged",
        "a loop back after a stall past its limit logs loop_stalled once, with the seconds (liveness)",
        "actors/runtime.py",
        "            self._loop_stalled(now - self._loop_turned, stopped=self._continued_at > self._loop_turned)\n",
        "            pass\n",
        (LIVENESS_HANG,)),
    Mutation(
        "status_does_not_say_the_loop_is_stuck",
        "status names a stuck main loop (`main loop stuck for N s`) and status --json carries it (liveness)",
        "launcher/overview.py",
        "    if age is not None and limit is not None and age > limit:\n",
        "    if False:\n",
        (LIVENESS_HANG,)),
    Mutation(
        "stall_limit_shorter_than_a_legitimate_turn_accepted",
        "validate refuses a loop_stall_limit_s below the longest turn the actor's settings allow (a gate waiting on "
        "its issuer would read as stuck) (liveness)",
        "launcher/topology.py",
        "                spec.loop_stall_limit_s < topo.longest_turn_s(name):  # a value refused",
        "                spec.loop_stall_limit_s < 0:  # a value refused",
        (f"{LIVENESS}test_validate_refuses_a_stall_limit_shorter_than_a_legitimate_turn_or_absurd",)),
    Mutation(
        "loop_age_counted_from_construction",
        "the main loop's age is 0 until the loop starts: an actor still in setup past its stall limit (a large replay "
        "file read) is not said `main loop stuck` (liveness)",
        "actors/runtime.py",
        "        self._loop_turned = math.inf\n",
        "        self._loop_turned = time.monotonic()\n",
        (LIVENESS_SLOW_START, LIVENESS_STOPPED)),
    Mutation(
        "loop_first_turn_not_timed",
        "the loop's first turn is timed from the loop's start: one that never returns reads not ready like any other "
        "(liveness)",
        "actors/runtime.py",
        "        parent_checked = self._loop_turned = monotonic()  # its first turn",
        "        parent_checked = monotonic()  # its first turn",
        (LIVENESS_SLOW_START,)),
    Mutation(
        "loop_stop_taken_for_a_stall",
        "a process stopped (SIGSTOP) past its stall limit and continued logs loop_stopped, not loop_stalled (`a "
        "handler or timer did not return`) (liveness)",
        "actors/runtime.py",
        "stopped=self._continued_at > self._loop_turned)",
        "stopped=False)",
        (LIVENESS_STOPPED,)),
    Mutation(
        "loop_stall_taken_for_a_stop",
        "a loop stalled by a handler or timer that did not return logs loop_stalled, not loop_stopped: only a SIGCONT "
        "during the stalled turn makes it a stop (liveness)",
        "actors/runtime.py",
        "stopped=self._continued_at > self._loop_turned)",
        "stopped=self._continued_at > -math.inf)",
        (LIVENESS_HANG, LIVENESS_SLOW_START)),
    Mutation(
        "stall_limit_refused_value_judged_again",
        "a loop_stall_limit_s refused for what it is (a string, true, nan, below 1) is not judged again as a 0 s limit "
        "`shorter than the longest turn` (liveness)",
        "launcher/topology.py",
        "                not any(p.path == limit_path for p in v.problems) and \\\n",
        "",
        (f"{LIVENESS}test_validate_says_one_thing_of_a_stall_limit_that_is_not_a_number_in_range",)),
    Mutation(
        "message_handled_not_stamped",
        "each message a SUB-like handler returns from stamps the loop: a state writer's turn through queued states in "
        "a slow Redis (65 s) read as a stuck loop while it wrote them all (liveness)",
        "actors/runtime.py",
        "                self._guard(lambda: handler(frames), self._errors_handler, role)\n                self._handled()\n",
        "                self._guard(lambda: handler(frames), self._errors_handler, role)\n",
        (f"{LIVENESS}test_a_turn_draining_many_slow_messages_is_not_a_stuck_loop",)),
    Mutation(
        "request_answered_not_stamped",
        "each request a REP handler answers stamps the loop: 30 queued requests of 0.3 s made one 9 s turn, read as a "
        "stuck loop (liveness)",
        "actors/runtime.py",
        "                send_one(s, frame)\n                self._handled()\n",
        "                send_one(s, frame)\n",
        (f"{LIVENESS}test_a_turn_serving_many_slow_requests_is_not_a_stuck_loop",)),
    Mutation(
        "stop_does_not_cut_the_issuer_wait",
        "a gate stopped while it waits a long permit_timeout_ms on a stalled issuer answers its proposals and exits "
        "within its shutdown bound (6.04 s before, past supervisord's stopwaitsecs of 5 s: SIGKILLed, nobody "
        "answered) (revexit; slowstop: the wait ends on its own once the gate is stopping too, so both go)",
        "actors/gate.py",
        "        if self._stop_cuts_wait:\n            self._stop_cuts_wait = False\n            raise StopWaiting\n",
        "",
        ("tests/test_exit_path_stop_review.py::"
         "test_a_gate_stopped_while_it_waits_a_long_permit_timeout_on_a_stalled_issuer_answers_and_exits_at_once",),
        also=(("actors/runtime.py", "        while not (until_stopping and self._stopping):\n", "        while True:\n"),)),
    Mutation(
        "stop_does_not_cut_a_stalled_state_read",
        "a gate stopped during a state read of a stalled Redis with a long redis.timeout_ms answers what waits and "
        "exits within its shutdown bound (10.3 s before at 5,000 ms: SIGKILLed by supervisord, nobody answered) "
        "(revexit)",
        "actors/gate.py",
        "            self._stop_cuts_wait = True  # (inside the try: StopWaiting can come as soon as it is set)\n"
        "            if self._stopping:  # (checked once",
        "            if self._stopping:  # (checked once",
        ("tests/test_exit_path_stop_review.py::"
         "test_a_gate_stopped_while_its_redis_is_stalled_with_a_long_redis_timeout_answers_and_exits_at_once",)),
    Mutation(
        "subscriber_on_another_roles_publisher_validates",
        "validate refuses a socket connected to another role's socket of a matching ZeroMQ type (a state writer one "
        "port off, on the correlator's matrix, validated ok and was never ready), naming the socket it needs (rev-ops)",
        "launcher/topology.py",
        "            elif peer[1] != PEER_ROLE.get(role, role):\n",
        "            elif False:\n",
        ("tests/test_topology_validation.py::"
         "test_a_subscriber_connected_to_another_roles_publisher_is_rejected_naming_the_socket_it_needs",
         "tests/test_topology_validation.py::test_validate_exits_2_on_a_state_writer_connected_to_the_correlators_matrix")),
    Mutation(
        "status_silent_on_ticks_the_buffer_refuses",
        "with no fresh price accepted, status names the ticks the buffer refuses and why (a feed's clock 30 s ahead: "
        "every tick refused future_ts, and status said only STALE, held symbols waiting 'until it ticks') (rev-ops)",
        "launcher/overview.py",
        "            lines.extend(refused_tick_lines(ov.get(\"ticks_refused\") or {}, topo.max_price_age_s))\n",
        "            pass\n",
        ("tests/test_ops_review.py::"
         "test_a_feed_whose_ticks_the_buffer_refuses_as_from_the_future_is_named_by_status_and_the_buffers_log",)),
    Mutation(
        "buffer_silent_on_ticks_refused_for_the_clock",
        "the buffer logs tick_refused (throttled) for a tick stamped past the allowed skew ahead or before its window: "
        "it logged nothing while refusing every tick of a feed 30 s ahead (rev-ops)",
        "actors/buffer.py",
        "        if reason in CLOCK_REASONS:",
        "        if False:",
        ("tests/test_ops_review.py::"
         "test_a_feed_whose_ticks_the_buffer_refuses_as_from_the_future_is_named_by_status_and_the_buffers_log",)),
    Mutation(
        "feed_slower_than_the_cadence_validates",
        "validate refuses a synthetic or redis_snapshots feed whose interval_s is longer than clusters.cadence_s (2.5 s "
        "at the demo's 1 s cadence validated, and no symbol ever had a return: the gate on the proxy for ever) (rev-ops)",
        "launcher/topology.py",
        "s.source != \"replay\" and s.interval_s > topo.clusters.cadence_s and buffered:",
        "s.source != \"replay\" and False:",
        ("tests/test_topology_validation.py::test_a_price_feed_that_ticks_less_often_than_once_a_cadence_is_refused",)),
    Mutation(
        "fallback_proof_stops_the_cluster_side_with_a_program_already_stopped",
        "the fallback proof requires every program RUNNING before it stops the cluster side: with the price feed "
        "stopped it stopped and started the cluster side, then failed its recovery naming nothing (rev-ops)",
        "proofs/fallback.py",
        "    if not p.topo.hosts:\n        # A program already stopped",
        "    if False:\n        # A program already stopped",
        ("tests/test_proofs.py::test_fallback_proof_with_the_price_feed_stopped_fails_at_once_naming_it_and_stops_nothing",)),
    Mutation(
        "status_silent_on_a_running_copy_edited_by_hand",
        "status says when run/topology.yaml is not the copy `up` last wrote (a hand edit a restarted program would "
        "run, unchecked) and exits 1 (rev-ops)",
        "launcher/supervise.py",
        "        return text_sha256(home.topology.read_text()) != found.group(1)\n",
        "        return False\n",
        ("tests/test_ops_review.py::test_status_names_a_running_copy_edited_by_hand_that_a_restarted_program_would_read",)),
    Mutation(
        "exponent_read_as_text_not_explained",
        "a number in exponent form that YAML 1.1 reads as text (3.6e2, 7E-1) is refused naming the form YAML reads "
        "as a number (rev-ops)",
        "launcher/schema.py",
        "    if not isinstance(value, str) or \"e\" not in value.lower():\n        return \"\"\n",
        "    return \"\"\n",
        ("tests/test_topology_validation.py::"
         "test_a_number_in_exponent_form_that_yaml_reads_as_text_is_named_with_the_form_it_reads",)),
    Mutation(
        "up_silent_on_a_cadence_change_that_discards_the_history",
        "`up` that changes clusters.cadence_s says the buffer's saved history is discarded and the warm-up it costs "
        "(rev-ops)",
        "launcher/supervise.py",
        "    if old_s is None or old_s == new_s or not topo.actors_of_kind(\"buffer\"):",
        "    if True:",
        ("tests/test_ops_review.py::"
         "test_an_up_that_changes_the_cadence_says_the_buffers_history_is_discarded_and_the_warm_up_it_costs",)),
    Mutation(
        "clustergate_proof_orphans_its_proof_on_sigterm",
        "a SIGTERM or SIGHUP to `clustergate proof` is passed to the proof process, and clustergate exits with it: it "
        "exited alone and left the proof stopping and starting programs on its own (rev-ops)",
        "launcher/cli.py",
        "            signal.signal(signum, forward)",
        "            pass",
        ("tests/test_proofs.py::"
         "test_clustergate_proof_killed_part_way_passes_the_signal_to_its_proof_and_leaves_no_proof_running",)),
    Mutation(
        "status_silent_on_ticks_stamped_behind_the_buffers_clock",
        "with no fresh price, status says when the ticks the buffer receives are stamped behind its clock by more than "
        "max_price_age_s (a feed 30 s behind: its ticks landed in past slots, and status said only STALE) (rev-ops)",
        "launcher/overview.py",
        "    if offset > -topo.max_price_age_s:\n",
        "    if True:\n",
        ("tests/test_ops_review.py::test_a_feed_whose_ticks_are_stamped_behind_the_buffers_clock_is_named_by_status",)),
    Mutation(
        "clients_follow_the_first_sentinel_not_the_majority",
        "a sentinel cut off with the old primary (store cut from both market hosts, not from the gate hosts) does "
        "not keep the gates, issuers and actors on it: they follow the primary a majority of the sentinels names "
        "(before: every decision HOLD replica_unacknowledged for as long as the cut lasted) (revha)",
        "launcher/sentinel.py",
        "    need = len(sentinels) // 2 + 1\n",
        "    need = 1\n",
        ("tests/test_sentinel_minority.py::"
         "test_the_gate_and_issuers_sentinel_watch_follows_the_majority_not_a_cut_off_first_sentinel",
         "tests/test_sentinel_minority.py::"
         "test_the_actors_redis_pool_follows_the_majority_not_a_cut_off_first_sentinel")),
    Mutation(
        "status_trusts_a_cut_off_sentinels_noquorum",
        "status asks the next sentinel after a NOQUORUM: one sentinel cut off with the old primary said NO FAILOVER "
        "POSSIBLE while the two others had failed over and could again (revha)",
        "launcher/sentinel.py",
        '                noquorum.append(f"{where}: {text}")\n                continue\n',
        '                return False, f"{where}: {text}"\n',
        ("tests/test_sentinel_minority.py::"
         "test_status_says_the_sentinels_disagree_on_the_primary_and_that_the_majority_can_fail_over",)),
    Mutation(
        "status_silent_when_the_sentinels_disagree",
        "status says (exit 1) when the answering sentinels name different primaries, which one the majority names: "
        "nothing said two servers were primaries during a cut of the primary's host from the other sentinels (revha)",
        "launcher/sentinel.py",
        "    if len(named) < 2:\n        return None\n",
        "    return None\n",
        ("tests/test_sentinel_minority.py::"
         "test_status_says_the_sentinels_disagree_on_the_primary_and_that_the_majority_can_fail_over",)),
    Mutation(
        "sentinel_reorder_keeps_a_sentinel_listed_twice",
        "a sentinel listed twice in the list discovery and a watch share (a reorder crossing a to_front) is asked and "
        "counted once, and listed once after the reorder: a majority over a doubled list grew out of reach (revha)",
        "launcher/sentinel.py",
        "            order[:] = sorted(dict.fromkeys(order), key=lambda address: rank.get(address, 1))  # (stable)\n",
        "            order[:] = sorted(order, key=lambda address: rank.get(address, 1))  # (stable)\n",
        ("tests/test_sentinel_minority.py::"
         "test_a_sentinel_listed_twice_is_asked_once_and_the_shared_list_keeps_it_once",)),
    Mutation(
        "planned_failover_silent_on_a_priority_left_at_0",
        "`ha_load failover --to` names a server it set to replica-priority 0 and could not set back (its host lost "
        "meanwhile), which rejoins as a replica Sentinel never promotes; it said nothing of it (revha)",
        "launcher/ha_load.py",
        "                if server in lowered:  # (one down from the start was never set to 0)\n",
        "                if False:\n",
        ("tests/test_planned_failover_priority.py::"
         "test_a_server_lost_during_a_planned_failover_is_named_with_its_priority_left_at_0",)),
    Mutation(
        "status_silent_on_a_managed_server_never_promoted",
        "status says (exit 1) which managed data server has replica-priority 0, one Sentinel never promotes (left by "
        "an `ha_load failover --to` whose host was lost), once that host is back (revha)",
        "launcher/supervise.py",
        "    stuck = never_promoted(topo.redis.server_addresses(), **ask) if topo.redis.managed else []\n",
        "    stuck: list[str] = []\n",
        ("tests/test_planned_failover_priority.py::test_status_names_a_managed_server_at_replica_priority_0",)),
    Mutation(
        "stop_while_no_issuer_connected_says_outcome_unknown",
        "a gate whose `permits` socket binds, stopped while it waits for an issuer to connect before sending, answers "
        "that nothing was recorded (it answered `outcome unknown`, though the request never left it) (rev2)",
        "actors/gate.py",
        "                if self._awaiting_issuer:  # cut while no issuer was connected",
        "                if False:  # cut while no issuer was connected",
        ("tests/test_exit_path_stop_review.py::"
         "test_a_gate_stopped_while_it_waits_for_an_issuer_to_connect_answers_that_nothing_was_recorded",)),
    Mutation(
        "sigint_to_clustergate_alone_swallowed",
        "a SIGINT sent to `clustergate backtest` or `proof` alone, with no terminal that could have sent the child the "
        "same, is passed on to the child: it was ignored, the backtest ran to its end and clustergate exited 0 (rev2)",
        "launcher/cli.py",
        "            if _interrupt_may_be_the_terminals():\n",
        "            if True:\n",
        ("tests/test_ops_review.py::test_a_sigint_to_clustergate_from_a_program_reaches_the_process_it_runs",)),
    Mutation(
        "proof_clean_up_cut_by_a_second_sigint",
        "a proof takes SIGINT as SIGTERM and SIGHUP: interrupted once, later ones ignored until it has started again "
        "what it stopped (a group SIGINT without a terminal, which clustergate also passes on, cut the fallback proof's "
        "restart of the cluster side with a second KeyboardInterrupt) (rev2)",
        "proofs/common.py",
        "INTERRUPTIONS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)\n",
        "INTERRUPTIONS = (signal.SIGTERM, signal.SIGHUP)\n",
        ("tests/test_proofs.py::"
         "test_clustergate_proof_interrupted_by_a_group_sigint_without_a_terminal_starts_what_it_stopped",)),
    Mutation(
        "slow_feed_refused_with_no_buffer",
        "a feed slower than clusters.cadence_s is refused only in a topology with a buffer: the P2.6 side alone (gate, "
        "issuer, feed and book) was refused for the cadence of a grid nothing samples (rev2)",
        "launcher/topology.py",
        "    buffered = bool(topo.actors_of_kind(\"buffer\"))",
        "    buffered = True or bool(topo.actors_of_kind(\"buffer\"))",
        ("tests/test_topology_validation.py::"
         "test_a_feed_slower_than_the_cadence_in_a_topology_with_no_buffer_is_not_refused",)),
    Mutation(
        "status_all_hosts_silent_on_a_hosts_running_copy_edited",
        "status --all-hosts names a host whose running copy was edited by hand since `up` wrote it and exits 1, as "
        "status --home does (it showed the host all ready, exit 0) (rev2)",
        "launcher/hosts_status.py",
        "            and not any(info.get(\"exits\", {}).get(\"running_copy_edited\") for info in hosts.values())\n",
        "",
        ("tests/test_multihost_side_by_side.py::test_status_all_hosts_names_a_hosts_running_copy_edited_by_hand",)),
    Mutation(
        "sigterm_while_clustergate_starts_its_child_dropped",
        "a SIGTERM or SIGHUP that reaches clustergate while it starts its child (fork and exec) is passed to the child "
        "once it exists: with the handlers set after Popen it ended clustergate alone, -15, and the backtest or proof "
        "ran on by itself (rev2)",
        "launcher/cli.py",
        "        for got in pending:  # came while the child was being started\n            child.send_signal(got)\n",
        "",
        ("tests/test_ops_review.py::test_a_sigterm_to_clustergate_as_it_starts_its_child_reaches_the_child",)),
    Mutation(
        "ctrl_c_in_clustergates_exit_prints_a_traceback",
        "a Ctrl-C pressed again while clustergate exits after its answer ends it as SIGINT does, with no "
        "KeyboardInterrupt traceback from Python's shutdown (CI: test_launcher's repeated Ctrl-C on up)",
        "launcher/cli.py",
        "            signal.signal(signal.SIGINT, signal.SIG_DFL)\n",
        "            pass\n",
        ("tests/test_ops_review.py::"
         "test_a_ctrl_c_while_clustergate_exits_after_its_answer_ends_it_as_sigint_with_no_traceback",)),
    Mutation(
        "clustergate_propose_exits_0_on_a_fault_hold",
        "`clustergate propose` exits 3 on a fault HOLD (`recorded` false), naming its reason and the --plan-id to "
        "retry with, so that `propose ... && act` tells it from a policy decision (it exited 0 on any decision)",
        "launcher/client.py",
        "    if is_fault_hold(reply):\n",
        "    if is_fault_hold(reply) and reply[\"status\"] != \"ok\":\n",
        ("tests/test_gate_service.py::"
         "test_clustergate_propose_exits_3_on_a_fault_hold_naming_its_reason_and_the_plan_id_to_retry_with",)),
    Mutation(
        "status_silent_on_a_gate_with_no_fresh_position_snapshot",
        "status names a gate whose position snapshots are all stale (every proposal HOLD fail_closed_portfolio_state) "
        "and exits 1: a desk whose execution layer stopped writing read all ready, exit 0 (rev-book)",
        "launcher/overview.py",
        "            \"ok\": math.isfinite(total) and not undated if fresh > 0 else not (ages or undated)}",
        "            \"ok\": True}",
        ("tests/test_book_review.py::"
         "test_status_names_a_gate_with_no_fresh_position_snapshot_whose_every_decision_is_a_hold",)),
    Mutation(
        "up_silent_on_a_held_symbol_taken_out_of_the_allowlist",
        "`up` that takes a symbol out of `symbols` while its position snapshot is fresh and held says the gates no "
        "longer count that position in the book's heat, concentration and stress (it said only `restarted [...]`) "
        "(rev-book)",
        "launcher/supervise.py",
        "            f\"holds it\" for s, v in signed.items() if v is not None and abs(v) > HELD_MIN_NOTIONAL]",
        "            f\"holds it\" for s, v in signed.items() if False]",
        ("tests/test_book_review.py::"
         "test_an_up_that_takes_a_held_symbol_out_of_the_allowlist_says_the_gates_no_longer_count_its_position",)),
    Mutation(
        "replay_finished_not_exported",
        "a replay feed with loop: false that published its file's last row exports when it finished, and status names "
        "it under the stale newest price (it said each held symbol had no newer price \"until it ticks\") (rev-book)",
        "actors/price_feed.py",
        "                self.metrics.replay_finished.set(time.time())\n",
        "",
        ("tests/test_book_review.py::test_status_says_a_replay_feed_that_finished_its_file_publishes_no_price_again",)),
    Mutation(
        "hand_set_position_writes_a_notional_that_outlives_the_next_update",
        "`positions set` replaces a snapshot's notional_usd rather than writing one (it wins over |position_amt x "
        "mark_price|, so one written by hand outlived the execution layer's next update of the other fields, and the "
        "gate counted 10 x 3000 as 6,000; one left by the execution layer outlived the hand set) (rev-book)",
        "launcher/positions.py",
        "        pipe.hdel(key, \"notional_usd\")\n",
        "",
        ("tests/test_book_review.py::"
         "test_a_hand_set_position_leaves_no_notional_that_outlives_the_execution_layers_next_update",)),
    Mutation(
        "snapshots_from_the_future_unalerted",
        "P26SnapshotsFromTheFuture fires on a position snapshot dated more than 5 s ahead, which the gate counts as "
        "stale and P26SnapshotsStale (max of the ages) never saw (rev-book)",
        "configs/alerts.yml",
        "        expr: min(p26_snapshot_age_seconds) < -5\n",
        "        expr: min(p26_snapshot_age_seconds) < -1e15\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "validate_judges_a_refused_start_prices_placeholder",
        "an infinite start price is refused once, not also as `must be > 0, got 0.0`, the placeholder of the first "
        "refusal (rev-book)",
        "launcher/topology.py",
        "                    if not value > 0 and not refused:",
        "                    if not value > 0:",
        ("tests/test_book_review.py::test_validate_names_an_infinite_start_price_once_not_as_a_zero_too",)),
    Mutation(
        "positions_list_hides_a_held_symbol_outside_the_allowlist",
        "`positions list` lists a snapshot of a symbol outside the topology's symbols, NOT IN SYMBOLS (the gates do not "
        "count it; it was left out, unseen by every command) (rev-book)",
        "launcher/positions.py",
        "        others = other_snapshot_symbols(client, pattern, topo.symbols)\n",
        "        others: list[str] = []\n",
        ("tests/test_book_review.py::test_positions_list_names_a_held_snapshot_of_a_symbol_outside_the_allowlist",)),
    Mutation(
        "positions_list_calls_a_snapshot_dated_ahead_stale",
        "`positions list` shows a snapshot dated more than 5 s ahead as AHEAD, saying why (a clock ahead or ts_epoch in "
        "milliseconds), not STALE beside a negative age (rev-book)",
        "launcher/positions.py",
        "            \"stale\": stale, \"ahead\": not_fresh == \"future\",\n",
        "            \"stale\": stale, \"ahead\": False,\n",
        ("tests/test_book_review.py::test_positions_list_says_a_snapshot_dated_ahead_is_ahead_not_just_stale",)),
    Mutation(
        "positions_list_takes_any_key_under_the_pattern_for_a_symbol",
        "`positions list` lists as NOT IN SYMBOLS only keys whose {symbol} part could be a symbol (upper-case letters "
        "and digits), not an execution layer's other keys beside its snapshots nor clustergate's own under a short "
        "key_pattern (rev2b)",
        "launcher/positions.py",
        "        if symbol_name_ok(symbol) and keys.position_snapshot(symbol, pattern) == key and symbol not in allowlist:\n",
        "        if symbol and keys.position_snapshot(symbol, pattern) == key and symbol not in allowlist:\n",
        ("tests/test_fix_review.py::test_positions_list_lists_no_key_that_cannot_name_a_symbol_as_not_in_symbols",)),
    Mutation(
        "validate_hides_a_bad_start_price_behind_not_in_symbols",
        "a start price or volatility <= 0 of a symbol outside symbols is named both ways (not in symbols, must be > 0): "
        "only the value's own refusal leaves out the placeholder's `must be > 0` (rev2b)",
        "launcher/topology.py",
        "                    if not value > 0 and not refused:\n",
        "                    if not value > 0 and not any(p.path == path for p in v.problems):\n",
        ("tests/test_fix_review.py::test_validate_names_a_bad_start_price_of_a_symbol_outside_symbols_both_ways",)),
    Mutation(
        "up_after_down_silent_on_a_held_symbol_taken_out_of_the_allowlist",
        "`up` of a stopped system (`down`, edit, `up`) that takes a held symbol out of `symbols` names it too, once "
        "its programs (a managed Redis) are up; only an `up` of a running system did (rev2b)",
        "launcher/supervise.py",
        "        if not was_running:\n            for note in removed_held_notes(old_symbols, topo):\n",
        "        if False:\n            for note in removed_held_notes(old_symbols, topo):\n",
        ("tests/test_fix_review.py::test_an_up_after_down_that_takes_a_held_symbol_out_of_symbols_says_so_too",)),
    Mutation(
        "positions_list_fails_whole_for_a_user_that_may_not_scan",
        "`positions list` under a Redis ACL user refused SCAN lists the allowlisted symbols and says on stderr that "
        "symbols outside them were not looked for, exit 0 (it failed whole, exit 1, since rev-book's SCAN) (rev2b)",
        "launcher/positions.py",
        "    except redis.exceptions.NoPermissionError as exc:",
        "    except ZeroDivisionError as exc:",
        ("tests/test_fix_review.py::test_positions_list_still_lists_the_symbols_for_a_redis_user_that_may_not_scan",)),
    Mutation(
        "status_json_prints_an_infinite_total_abs_notional",
        "status --json's gate `positions` carries total_abs_notional null past a float's range, not Infinity, which "
        "is not JSON (rev2b)",
        "launcher/overview.py",
        "            \"total_abs_notional\": total if math.isfinite(total) else None,\n",
        "            \"total_abs_notional\": total,\n",
        ("tests/test_fix_review.py::test_status_json_stays_json_when_the_gates_notionals_sum_past_a_floats_range",)),
    Mutation(
        "status_json_prints_a_nan_gate_stress",
        "status --json's overview gate_stress is null when the gate's p26_stress is NaN (notionals past a float's "
        "range), not NaN, which is not JSON (rev2b)",
        "launcher/overview.py",
        "            \"gate_stress\": stress if stress is not None and math.isfinite(stress) else None}",
        "            \"gate_stress\": stress}",
        ("tests/test_fix_review.py::test_status_json_stays_json_when_the_gates_notionals_sum_past_a_floats_range",)),
    Mutation(
        "status_gives_a_snapshot_dated_ahead_a_negative_age",
        "status's line for a gate with no fresh snapshot, every one dated ahead, says how far ahead and why (a clock "
        "ahead, ts_epoch in ms), not `the oldest -3595 s old` (rev2b)",
        "launcher/overview.py",
        "        when = (f\"the oldest {oldest:.0f} s old\" if oldest >= 0 else",
        "        when = (f\"the oldest {oldest:.0f} s old\" if True else",
        ("tests/test_fix_review.py::test_status_says_a_snapshot_dated_ahead_is_ahead_not_a_negative_age_old",)),
    Mutation(
        "status_judges_the_snapshots_of_a_gate_that_cannot_read_redis",
        "status says nothing of the position snapshots of a gate that is not ready (its Redis reads fail): a restarted "
        "gate's start values read as `no position snapshot under PATTERN`, blaming the key_pattern (rev2b)",
        "launcher/overview.py",
        "    if topo.actors[name].kind != \"gate\" or own_readiness(sample or {}, name) != 1.0:\n",
        "    if topo.actors[name].kind != \"gate\":\n",
        ("tests/test_fix_review.py::test_status_blames_no_key_pattern_for_a_gate_that_cannot_read_redis",)),
    Mutation(
        "clustergate_propose_says_an_outcome_unknown_hold_was_not_recorded",
        "`clustergate propose`'s fault HOLD line says no recorded decision came back, not that the gate could not "
        "record one, which an outcome-unknown detail contradicts (rev2b)",
        "launcher/client.py",
        "fault HOLD {unrecorded.get('gate_reason')}: no recorded decision came back \"",
        "fault HOLD {unrecorded.get('gate_reason')}: the gate could not record a decision \"",
        ("tests/test_gate_service.py::"
         "test_clustergate_propose_exits_3_on_a_fault_hold_naming_its_reason_and_the_plan_id_to_retry_with",)),
    Mutation(
        "restart_loop_alert_needs_thirty_restarts",
        "an actor restarted 3 times in 15 minutes (a crash loop that supervisord keeps restarting, up at most scrapes) "
        "raises ClustergateActorRestarting; one planned restart does not (revmon)",
        "configs/alerts.yml",
        "        expr: changes(clustergate_actor_started_timestamp_seconds{kind!~\"gate|permit_issuer\"}[15m]) >= 3\n",
        "        expr: changes(clustergate_actor_started_timestamp_seconds{kind!~\"gate|permit_issuer\"}[15m]) >= 30\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",
         "tests/test_monitor_live.py::"
         "test_an_actor_restarting_in_a_loop_raises_clustergate_actor_restarting_and_one_restart_does_not"),
        also=(("configs/alerts.yml",
               "        expr: changes(clustergate_actor_started_timestamp_seconds{kind=~\"gate|permit_issuer\"}[15m]) >= 3\n",
               "        expr: changes(clustergate_actor_started_timestamp_seconds{kind=~\"gate|permit_issuer\"}[15m]) >= 30\n"),)),
    Mutation(
        "cold_start_warm_up_pages_cluster_stress_not_used",
        "a fresh start warming up (the actor started within 15 minutes and no correlation matrix ready yet) raises "
        "neither P27UpdatesStalled nor P26ClusterStressNotUsed; a warm-up not over at 15 minutes still does (revmon)",
        "configs/alerts.yml",
        "          max_over_time(p26_cluster_stress_used[30m]) == 0\n          unless on(job, instance)\n          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900",
        "          max_over_time(p26_cluster_stress_used[30m]) == 0\n          unless on(job, instance)\n          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 0",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",
         "tests/test_monitor_live.py::"
         "test_a_fresh_start_warming_up_raises_neither_p27_updates_stalled_nor_p26_cluster_stress_not_used"),
        also=(("configs/alerts.yml",
               "          rate(p27_updates_total[10m]) == 0\n          unless on(job, instance)\n          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900",
               "          rate(p27_updates_total[10m]) == 0\n          unless on(job, instance)\n          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 0"),)),
    Mutation(
        "second_gate_down_is_only_a_warning",
        "a second gate or permit issuer (configs/ha.yaml's gate_b) whose metrics endpoint is down raises "
        "ClustergateActorDown as critical after 1m, by its target's clustergate_kind, not by job name alone (revmon)",
        "configs/alerts.yml",
        '        expr: up{job=~"gate|permit_issuer"} == 0 or up{clustergate_kind=~"gate|permit_issuer"} == 0\n',
        '        expr: up{job=~"gate|permit_issuer"} == 0\n',
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",
         "tests/test_monitor_live.py::test_a_second_gate_whose_metrics_endpoint_is_down_raises_clustergate_actor_down_as_critical"),
        also=(("configs/alerts.yml",
               '        expr: up{job!~"gate|permit_issuer",clustergate_kind!~"gate|permit_issuer"} == 0\n',
               '        expr: up{job!~"gate|permit_issuer"} == 0\n'),)),
    Mutation(
        "scrape_targets_carry_no_kind",
        "`clustergate prometheus-config` (and `monitor up`) label each target with its actor's kind, which "
        "ClustergateActorDown reads to tell a second gate for a gate (revmon)",
        "launcher/monitoring.py",
        '                                    "labels": {"clustergate_kind": spec.kind}}],\n',
        '                                    }],\n',
        ("tests/test_alerts.py::test_each_scrape_target_is_labelled_with_its_actors_kind_so_a_second_gate_is_alerted_as_a_gate",
         "tests/test_monitor_live.py::test_a_second_gate_whose_metrics_endpoint_is_down_raises_clustergate_actor_down_as_critical")),
    Mutation(
        "gate_not_ready_is_only_a_late_warning",
        "a gate or permit issuer not ready (Redis stopped, full or read-only) raises a critical ClustergateActorNotReady "
        "after 1m, before any proposal fails (revmon)",
        "configs/alerts.yml",
        '        expr: clustergate_actor_ready{kind=~"gate|permit_issuer"} == 0\n        for: 1m\n        labels:\n'
        '          severity: critical\n',
        '        expr: clustergate_actor_ready{kind=~"gate|permit_issuer"} == 0\n        for: 5m\n        labels:\n'
        '          severity: warning\n',
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",
         "tests/test_monitor_live.py::"
         "test_redis_stopped_with_no_proposal_coming_raises_a_critical_clustergate_actor_not_ready_for_the_gate")),
    Mutation(
        "standby_state_writer_raises_updates_stalled",
        "a standby state writer (lease not held, configs/ha.yaml's state_writer_b) writes nothing by design: "
        "P27UpdatesStalled stays quiet on it while another writer writes (rev3)",
        "configs/alerts.yml",
        "          unless on(job, instance)\n"
        "          (p27_state_writer_lease_held == 0 and on() max(p27_state_writer_lease_held) == 1)\n",
        "",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "no_writer_writing_exempts_every_standby",
        "with no state writer writing (none holds the lease), P27UpdatesStalled fires on each: the standby exemption "
        "holds only while another writer holds the lease (rev3)",
        "configs/alerts.yml",
        "          (p27_state_writer_lease_held == 0 and on() max(p27_state_writer_lease_held) == 1)\n",
        "          (p27_state_writer_lease_held == 0)\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "gate_crash_loop_counts_as_warm_up",
        "a gate restarted twice or more in 30 minutes is in a crash loop, not a warm-up: P26ClusterStressNotUsed fires "
        "on a gate crash-looping every 6 minutes on the proxy while no matrix is ready (rev3)",
        "configs/alerts.yml",
        "          max_over_time(p26_cluster_stress_used[30m]) == 0\n          unless on(job, instance)\n"
        "          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900\n"
        "           and changes(clustergate_actor_started_timestamp_seconds[30m]) < 2\n",
        "          max_over_time(p26_cluster_stress_used[30m]) == 0\n          unless on(job, instance)\n"
        "          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "writer_crash_loop_counts_as_warm_up",
        "a state writer restarted twice or more in 30 minutes is in a crash loop, not a warm-up: P27UpdatesStalled fires "
        "on a writer crash-looping every 6 minutes while no matrix is ready (rev3)",
        "configs/alerts.yml",
        "          rate(p27_updates_total[10m]) == 0\n          unless on(job, instance)\n"
        "          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900\n"
        "           and changes(clustergate_actor_started_timestamp_seconds[30m]) < 2\n",
        "          rate(p27_updates_total[10m]) == 0\n          unless on(job, instance)\n"
        "          (time() - max_over_time(clustergate_actor_started_timestamp_seconds[1m]) < 900\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "propose_exits_1_on_internal_error",
        "`clustergate propose` exits 3 on internal_error (the gate failed, maybe after its issuer recorded the "
        "decision: outcome unknown, retry with the same plan_id), as on a fault HOLD, not 1 as on a refusal (carry)",
        "launcher/client.py",
        "    if is_fault_hold(reply):\n        return EXIT_FAULT_HOLD\n",
        "    if _unrecorded_decision(reply) is not None:\n        return EXIT_FAULT_HOLD\n",
        ("tests/test_gate_service.py::"
         "test_clustergate_propose_exits_3_on_internal_error_naming_the_plan_id_to_retry_with",)),
    Mutation(
        "redis_memory_gauges_keep_the_last_reading",
        "while Redis does not answer the permit issuer's Redis memory gauges are NaN, not its last reading shown as "
        "current (carry)",
        "actors/permit_issuer.py",
        "            except (KeyError, ValueError):\n                gauge.set(math.nan)\n",
        "            except (KeyError, ValueError):\n                pass\n",
        ("tests/test_gate_service.py::"
         "test_redis_memory_gauges_say_not_current_while_redis_is_unreachable_and_come_back_with_it",)),
    Mutation(
        "batch_run_again_counts_plans_twice",
        "a batch the runtime runs again one request at a time after the gate's handler raised counts each plan once in "
        "p26_plans_seen_total (and each bad request once in gate_requests_total), not once per run (carry)",
        "actors/gate.py",
        "        if not self.handling_again:\n            self._plans_seen[proposal.action_proposed]()\n",
        "        self._plans_seen[proposal.action_proposed]()\n",
        ("tests/test_gate_service.py::"
         "test_a_batch_run_again_one_by_one_after_a_handler_exception_counts_each_plan_once",)),
    Mutation(
        "rollback_to_nothing_proves_the_new_topology",
        "after a rollback whose hosts all ran nothing before, deploy checks that each host stopped runs nothing (within "
        "--proof-timeout) and reports rolled back, not a readiness proof of the new topology that nothing runs (carry)",
        "launcher/deploy.py",
        "        if old is None:\n",
        "        if False:\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_rollback_that_leaves_nothing_running_is_checked_for_that_and_reported_rolled_back",)),
    Mutation(
        "proof_stops_unrecorded",
        "a proof records in the home what it stops before stopping it, so a proof SIGKILLed part-way leaves the "
        "programs named by status and started by the next proof (carry)",
        "proofs/common.py",
        "        proof_stops.record(self.home.run, self.name, names)\n",
        "",
        ("tests/test_proofs.py::"
         "test_a_fallback_proof_killed_with_sigkill_is_named_by_status_and_the_next_proof_starts_what_it_left_stopped",)),
    Mutation(
        "up_keeps_a_killed_proofs_record",
        "`up` starts what a killed proof left stopped and forgets its record: status does not later name a program "
        "stopped by hand as that proof's (carry)",
        "launcher/supervise.py",
        "            proof_stops.forget_ended_proof(home.run)  # what a killed proof left stopped was started with the rest\n",
        "",
        ("tests/test_proofs.py::"
         "test_up_starts_what_a_killed_fallback_proof_left_stopped_and_status_no_longer_names_it",)),
    Mutation(
        "redis_memory_alert_reset_by_one_nan_scrape",
        "ClustergateRedisMemoryHigh fires on a Redis at 88% of maxmemory whose INFO is missed (its gauges NaN) one "
        "scrape in three: a NaN scrape does not reset the rule's `for` (revcarry)",
        "configs/alerts.yml",
        "        expr: max(max_over_time(clustergate_redis_used_memory_bytes[2m])) / "
        "max(max_over_time(clustergate_redis_maxmemory_bytes[2m]) > 0) > 0.8\n",
        "        expr: max(clustergate_redis_used_memory_bytes) / max(clustergate_redis_maxmemory_bytes > 0) > 0.8\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "rollback_to_nothing_checks_only_hosts_whose_down_worked",
        "after a rollback to nothing, a host whose `down` failed is asked whether it runs nothing too: the check does "
        "not pass, and the record does not say proved_after_rollback, with none of the hosts asked (revcarry)",
        "launcher/deploy.py",
        '            stopped = [h for h in back_out if states[h] != "lock lost"]\n',
        '            stopped = [h for h in back_out if states[h] == "stopped"]\n',
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_host_whose_rollback_to_nothing_failed_is_checked_too_and_not_reported_passed",)),
    Mutation(
        "rollback_to_nothing_check_waits_a_hung_status_60_s",
        "the check after a rollback to nothing gives a host's status what is left of --proof-timeout (at least "
        "STATUS_ASK_MIN_S), not 60 s per ask (revcarry)",
        "launcher/deploy.py",
        "            args, topo, h, min(STATUS_ASK_S, max(STATUS_ASK_MIN_S, deadline - time.monotonic())))]\n",
        "            args, topo, h)]\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_the_check_after_a_rollback_to_nothing_gives_up_on_a_host_that_does_not_answer_within_proof_timeout",)),
    Mutation(
        "batch_written_then_raising_is_run_again",
        "a batch the issuer wrote whose settling raises for one proposal answers the others from the batch, so their "
        "writes, permits, fallbacks and downgrades are counted (run again, each was a replay, counted nowhere) "
        "(revcarry)",
        "actors/gate.py",
        "                except Exception as exc:  # the batch is written: run again, each other decision would be a replay\n"
        "                    result = results[i] = self.failed_once_written(proposals[i], exc)\n",
        "                except Exception as exc:  # the batch is written: run again, each other decision would be a replay\n"
        "                    raise\n",
        ("tests/test_gate_service.py::"
         "test_a_batch_that_raises_after_its_issuer_wrote_it_counts_every_write_and_decision_once",)),
    Mutation(
        "writes_counted_only_once_settled",
        "the gate counts the issuer's writes and permits as its reply comes, so a decision whose settling raises "
        "still counts its write (revcarry)",
        "actors/gate.py",
        "            self.count_writes(outcomes)\n",
        "",
        ("tests/test_gate_service.py::"
         "test_a_batch_that_raises_after_its_issuer_wrote_it_counts_every_write_and_decision_once",),
        also=(("actors/gate.py",
               "                return fault_decision(proposal, PERMIT_UNAVAILABLE, now, OUTCOME_UNKNOWN)\n",
               "                return fault_decision(proposal, PERMIT_UNAVAILABLE, now, OUTCOME_UNKNOWN)\n"
               "            self.count_writes([outcome])\n"),)),
    Mutation(
        "two_proofs_at_once_on_a_home",
        "a proof started while another runs on the home is refused (exit 1, naming it), so it neither stops programs "
        "under the other's checks nor replaces the other's record of what it stopped (revcarry)",
        "proofs/common.py",
        "        held = proof_stops.hold(home.run, name)  # one proof at a time on a home\n",
        "        held = os.open(os.devnull, os.O_RDONLY)\n",
        ("tests/test_proofs.py::"
         "test_a_proof_started_while_another_runs_on_the_home_is_refused_and_the_first_ones_record_is_kept",)),
    Mutation(
        "proof_record_names_programs_the_home_does_not_run",
        "status names, of a record of what a killed proof stopped, only the programs supervisord runs that are not "
        "RUNNING, not every name the file holds (revcarry)",
        "launcher/proof_stops.py",
        '    return [name for name in left.programs if name in by_name and by_name[name]["statename"] != "RUNNING"\n'
        '            and (since.get(name, left.at) is None or by_name[name].get("start", 0) <= since.get(name, left.at))]\n',
        '    return [name for name in left.programs if by_name.get(name, {}).get("statename") != "RUNNING"\n'
        '            and (since.get(name, left.at) is None\n'
        '                 or by_name.get(name, {}).get("start", 0) <= since.get(name, left.at))]\n',
        ("tests/test_proofs.py::test_a_proof_record_naming_programs_the_home_does_not_run_and_control_characters_is_"
         "shown_printable_and_short",)),
    Mutation(
        "proof_record_names_the_proof_raw",
        "the proof a record names is shown printable and short: no escape sequence from the file reaches a terminal "
        "(revcarry)",
        "launcher/proof_stops.py",
        "        return ProofStops(printable(str(data[\"proof\"]), PROOF_NAME_MAX_CHARS), int(data[\"pid\"]),",
        "        return ProofStops(str(data[\"proof\"]), int(data[\"pid\"]),",
        ("tests/test_proofs.py::test_a_proof_record_naming_programs_the_home_does_not_run_and_control_characters_is_"
         "shown_printable_and_short",)),
    Mutation(
        "proof_record_read_whatever_its_size",
        "a proof record past proof_stops.MAX_BYTES (no proof writes one) is not read by status or a proof (revcarry)",
        "launcher/proof_stops.py",
        "            text = f.read(MAX_BYTES + 1)\n        if len(text) > MAX_BYTES:\n            return None\n",
        "            text = f.read()\n",
        ("tests/test_proofs.py::test_a_proof_record_larger_than_any_proof_writes_is_not_read",)),
    Mutation(
        "program_started_by_hand_since_stays_the_proofs",
        "a program started since a killed proof recorded it (by hand) and stopped again is no longer that proof's: "
        "status does not name it and the next proof does not start it (revcarry)",
        "launcher/proof_stops.py",
        '            and (since.get(name, left.at) is None or by_name[name].get("start", 0) <= since.get(name, left.at))]\n',
        "            ]\n",
        ("tests/test_proofs.py::"
         "test_a_program_started_by_hand_since_a_killed_proof_stopped_it_is_no_longer_that_proofs_to_name_or_start",)),
    Mutation(
        "batch_written_then_failing_an_answer_is_run_again",
        "a decided batch whose answer to one proposal raises answers the others from the batch, so their downgrades "
        "and requests are counted once (run again, each was a replay) (revcarry)",
        "actors/gate.py",
        "                except Exception as exc:  # decided: run again, each decision of the batch would be a replay\n",
        "                except ZeroDivisionError as exc:\n",
        ("tests/test_gate_service.py::"
         "test_a_batch_that_raises_after_its_issuer_wrote_it_counts_every_write_and_decision_once",)),
    Mutation(
        "proof_lock_error_is_a_traceback",
        "a proof that cannot take its home's proof lock fails with a line naming it, not a traceback (revcarry)",
        "proofs/common.py",
        "    except OSError as exc:  # the proof writes its record and report there too\n",
        "    except ZeroDivisionError as exc:\n",
        ("tests/test_proofs.py::test_a_proof_that_cannot_take_its_homes_proof_lock_fails_naming_it_without_a_traceback",)),
    Mutation(
        "slow_crash_loop_window_cut_to_30_minutes",
        "an actor restarted 5 times in 2 hours (a start every 10 minutes, never 3 in 15 minutes) raises "
        "ClustergateActorRestartingSlowly; a deploy, a rollback and a redeploy do not",
        "configs/alerts.yml",
        "        expr: changes(clustergate_actor_started_timestamp_seconds[2h]) >= 5\n",
        "        expr: changes(clustergate_actor_started_timestamp_seconds[30m]) >= 5\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "redis_start_time_read_off_the_issuers_clock",
        "the permit issuer exports the Redis start time by Redis's own clock (server_time_usec less uptime_in_seconds), "
        "one value per life of the server, so ClustergateRedisRestarting counts restarts, not reads",
        "actors/permit_issuer.py",
        "        return int(fields[\"server_time_usec\"]) // 1_000_000 - int(fields[\"uptime_in_seconds\"])\n",
        "        return int(time.time()) - int(fields[\"uptime_in_seconds\"])\n",
        ("tests/test_redis_restarts.py::"
         "test_redis_start_time_is_its_own_clock_reading_less_its_uptime_and_none_without_them",)),
    Mutation(
        "status_exits_0_while_the_gate_takes_k_from_the_proxy",
        "`clustergate status` exits 3 (DEGRADED) while every program is ready and a gate takes K from the proxy past "
        "the cluster side's warm-up; 1 (a stopped clusterer) outranks it, and a warm-up exits 0",
        "launcher/supervise.py",
        "    return 1 if not status_ok(status) else 3 if status[\"degraded\"] else 0\n",
        "    return 1 if not status_ok(status) else 0\n",
        ("tests/test_status_degraded.py::test_status_exits_3_while_every_program_is_ready_and_the_gate_takes_k_from_"
         "the_proxy_and_1_with_the_clusterer_stopped",)),
    Mutation(
        "no_points_counts_as_warm_up_with_the_prices_stopped",
        "a buffer with too few points is a warm-up only while its prices are fresh: prices stopped longer than the "
        "window leave no points, and the gate on the proxy is degraded, not warming up",
        "launcher/overview.py",
        "    prices_fresh = recent(ov.get(\"newest_tick_age_s\"), topo.max_price_age_s)\n",
        "    prices_fresh = True\n",
        ("tests/test_status_degraded.py::test_a_gate_on_the_proxy_is_degraded_only_past_the_cluster_sides_warm_up",)),
    Mutation(
        "proof_option_of_another_proof_taken_silently",
        "an option of another proof (`proof readiness --all-programs`, `proof fallback --warm-up-timeout-s`) is refused, "
        "exit 2, not ignored (docs review)",
        "proofs/common.py",
        "        if owner != name and getattr(args, dest, None) not in (None, False):\n",
        "        if False:\n",
        ("tests/test_proof_options.py::test_an_option_of_another_proof_is_refused_naming_the_proof_it_belongs_to",)),
    Mutation(
        "proof_warm_up_timeout_takes_any_float",
        "--warm-up-timeout-s is a finite number of seconds, 0 or more: nan (a warm-up wait that never ends), inf and -5 "
        "are refused, exit 2 (docs review)",
        "proofs/common.py",
        '    parser.add_argument("--warm-up-timeout-s", type=timeout_seconds, default=None,\n',
        '    parser.add_argument("--warm-up-timeout-s", type=float, default=None,\n',
        ("tests/test_proof_options.py::test_a_warm_up_timeout_that_is_not_a_finite_number_of_seconds_is_refused",)),
    Mutation(
        "proof_warm_up_timeout_0_waits_the_default",
        "--warm-up-timeout-s 0 (deploy's --proof-timeout 0) waits 0 s, not the default 40 s (docs review)",
        "proofs/readiness.py",
        "    return WARM_UP_TIMEOUT_S if given is None else given\n",
        "    return given or WARM_UP_TIMEOUT_S\n",
        ("tests/test_proof_options.py::test_a_warm_up_timeout_of_0_waits_0_seconds_and_none_given_waits_the_default",)),
    Mutation(
        "alert_for_unlike_the_monitoring_page",
        "each alert rule's `for` is the one docs/monitoring.md's table of alert rules gives: P27CorrNotReady waits 15m, "
        "not 10m (docs review)",
        "configs/alerts.yml",
        "        expr: p27_corr_ready == 0\n        for: 15m\n",
        "        expr: p27_corr_ready == 0\n        for: 10m\n",
        ("tests/test_docs.py::test_the_monitoring_pages_alert_table_gives_each_rules_for_as_alerts_yml_has_it",)),
    Mutation(
        "min_returns_blamed_for_a_refused_lookback",
        "a lookback_returns validate already refused (text such as 3.6e2, below 10) is not blamed again as "
        "`clusters.min_returns: must not exceed lookback_returns` (docs review)",
        "launcher/topology.py",
        "        if not refused and kwargs.get(\"min_returns\", 10) > kwargs.get(\"lookback_returns\", 360):",
        "        if kwargs.get(\"min_returns\", 10) > kwargs.get(\"lookback_returns\", 360):",
        ("tests/test_topology_validation.py::test_a_lookback_returns_already_refused_is_not_blamed_again_on_min_returns",)),
    Mutation(
        "positions_list_help_says_allowlisted_only",
        "`positions --help` says list shows snapshots of symbols outside the topology's symbols too (NOT IN SYMBOLS), "
        "as it does (docs review)",
        "launcher/positions.py",
        "help=\"table of every allowlisted symbol's snapshot, and of any snapshot \"\n"
        "                       \"under positions.key_pattern of a symbol outside symbols (NOT IN SYMBOLS)\")",
        "help=\"table of every allowlisted symbol's snapshot\")",
        ("tests/test_positions_cli.py::test_the_help_of_positions_list_says_it_lists_snapshots_of_symbols_outside_the_topology_too",)),
    Mutation(
        "prometheus_config_output_error_is_a_traceback",
        "`prometheus-config --output PATH` that cannot be written says so in one line, exit 1, not a traceback "
        "(docs review)",
        "launcher/monitoring.py",
        "        except OSError as exc:  # a directory that does not exist, a path under a file, a directory: one line, no traceback\n",
        "        except NotImplementedError as exc:\n",
        ("tests/test_alerts.py::test_prometheus_config_command_that_cannot_write_its_output_says_so_in_one_line",)),
    Mutation(
        "backtest_full_disk_is_a_traceback",
        "a backtest whose results the disk does not take (ENOSPC, an --out that cannot be made) says so in one line, "
        "exit 1, not an OSError traceback (docs review)",
        "launcher/backtest.py",
        "    except OSError as exc:  # the inputs were read and checked in prepare(): this is a result the disk did not take\n",
        "    except NotImplementedError as exc:\n",
        ("tests/test_backtest_attack.py::test_a_full_disk_while_writing_the_results_is_one_line_not_a_traceback",)),
    Mutation(
        "backtest_empty_input_file_refused_as_got_none",
        "an empty --positions or --proposals file is refused naming it empty and the option, not `got None` (docs review)",
        "launcher/backtest.py",
        "        got = \"an empty file\" if first is None else repr(first)\n",
        "        got = repr(first)\n",
        ("tests/test_backtest_attack.py::test_an_empty_positions_or_proposals_file_is_named_empty_with_its_option",)),
    Mutation(
        "gate_client_connects_an_endpoint_that_reaches_no_gate",
        "GateClient (and `clustergate propose --endpoint`) refuses at once a tcp endpoint that can reach no gate (port "
        "99999, an IPv6 address without its bracket), which ZeroMQ connects without a word (docs review)",
        "launcher/client.py",
        "    return endpoint_problem(gate)\n",
        "    return None\n",
        ("tests/test_client.py::test_an_endpoint_that_can_reach_no_gate_is_refused_at_once_naming_why",)),
    Mutation(
        "host_view_hashes_a_writer_without_the_other_hosts",
        "`up --host` restarts a state writer when what it reads of another host changes (a standby writer added, the "
        "smallest gate freshness_s moved), as on one host: its hash reads the whole topology, not the host's view "
        "(docs review)",
        "launcher/supervise.py",
        "    whole = topo.whole or topo\n",
        "    whole = topo\n",
        ("tests/test_multihost_topology.py::test_a_change_on_another_host_that_a_state_writer_reads_restarts_it",)),
    Mutation(
        "proof_option_renamed_from_the_docs",
        "every `clustergate COMMAND --option` the docs write exists: `clustergate proof readiness --topology FILE` "
        "(docs review)",
        "proofs/common.py",
        '    parser.add_argument("--topology", help="topology of the running system (default: run/topology.yaml of the home)")\n',
        '    parser.add_argument("--topology-file", help="topology of the running system (default: run/topology.yaml of the home)")\n',
        ("tests/test_docs.py::test_every_clustergate_command_and_option_the_docs_write_exists",)),
    Mutation(
        "alert_summary_counts_extrapolated_fractions",
        "an alert's summary counts whole events (`Gate forced 1 exits to HOLD`), not increase()'s extrapolated "
        "1.071 (docs review: `monitor status` read 1.002 exits)",
        "configs/alerts.yml",
        "summary: \"Gate forced {{ $value | printf \\\"%.0f\\\" }} exits to HOLD in 5m",
        "summary: \"Gate forced {{ $value | humanize }} exits to HOLD in 5m",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "a_named_home_with_nothing_started_reads_as_an_unreadable_topology",
        "propose and positions with --home (or $CLUSTERGATE_HOME) of a home where nothing was started say so and what to "
        "run, not `cannot read topology: No such file or directory` (docs review)",
        "launcher/supervise.py",
        "    if getattr(args, \"topology\", None) or path.exists() or path != home_from(args).topology:\n",
        "    if True:\n",
        ("tests/test_positions_cli.py::test_a_named_home_where_nothing_was_started_is_said_so_with_what_to_run",)),
    Mutation(
        "render_of_a_multihost_topology_renders_every_host_as_one",
        "`render` of a multi-host topology needs --host and renders that host's programs, as `up --host` runs them; "
        "it rendered every host's actors as one supervisord (docs review)",
        "launcher/supervise.py",
        "    if problem := host_problem(topo, args.host):\n",
        "    if problem := None:\n",
        ("tests/test_multihost_topology.py::test_render_of_a_multihost_topology_renders_one_hosts_programs_and_needs_its_name",)),
    Mutation(
        "deploy_json_without_history_runs_the_deploy",
        "`deploy --json FILE` (--json is --history's) is refused, exit 2, before any host is touched; it ran the deploy "
        "(docs review)",
        "launcher/deploy.py",
        "    if args.json:  # ignored, it let the deploy run, host by host, where a script asked for machine-readable output\n",
        "    if False:\n",
        ("tests/test_multihost_topology.py::test_deploy_json_without_history_is_refused_before_any_host_is_touched",)),
    Mutation(
        "backtest_proposal_every_ignored_with_a_proposals_file",
        "backtest refuses --proposal-every beside --proposals (it spaces the grid made without a file), exit 2, not "
        "ignored (docs review)",
        "launcher/backtest.py",
        "    if args.proposal_every is not None and args.proposals:",
        "    if False:",
        ("tests/test_backtest_attack.py::test_proposal_every_with_a_proposals_file_is_refused_not_ignored",)),
    Mutation(
        "status_all_hosts_takes_one_homes_option_without_a_word",
        "`status FILE --all-hosts` refuses --home and --host (one home's), exit 2 naming --home-root; --home was taken "
        "and ignored, each host's exits read under the repo root (docs review)",
        "launcher/hosts_status.py",
        "        if getattr(args, option, None):\n",
        "        if False:\n",
        ("tests/test_multihost_topology.py::test_status_all_hosts_refuses_one_homes_options_and_names_home_root",)),
    Mutation(
        "a_blank_home_reads_as_no_home",
        "a blank --home (`--home \"$UNSET\"`) is refused, exit 2, by every command: it was read as no --home, and "
        "`down --home \"\"` stopped the repo root's system (docs review)",
        "launcher/supervise.py",
        "    if not text.strip():\n        raise argparse.ArgumentTypeError(f\"{text!r} is blank: give the home's",
        "    if False:\n        raise argparse.ArgumentTypeError(f\"{text!r} is blank: give the home's",
        ("tests/test_home_option.py::test_a_blank_home_is_refused_by_every_command_that_takes_one",)),
    Mutation(
        "a_blank_home_root_reads_as_none",
        "a blank --home-root (deploy, status --all-hosts) is refused, exit 2: it was read as none, and every host's home "
        "defaulted to hosts/NAME under the repo root (docs review)",
        "launcher/supervise.py",
        "    if not text.strip():\n        raise argparse.ArgumentTypeError(f\"{text!r} is blank: give the directory holding",
        "    if False:\n        raise argparse.ArgumentTypeError(f\"{text!r} is blank: give the directory holding",
        ("tests/test_home_option.py::test_a_blank_home_root_is_refused",)),
    Mutation(
        "status_warm_up_takes_ages_from_the_future",
        "an age from the future (the host's clock stepped back) is no warm-up: status exited 0 with the gate on the "
        "proxy for the hour after a clock stepped back an hour (revalerts)",
        "launcher/overview.py",
        "        return age_s is not None and -within_s < age_s <= within_s\n",
        "        return age_s is not None and age_s <= within_s\n",
        ("tests/test_status_degraded.py::test_a_clock_stepped_back_is_no_warm_up",)),
    Mutation(
        "status_warm_up_counts_a_gates_start",
        "a gate's start is no cluster-side warm-up: a gate restarted alone kept a stale state's DEGRADED at 0 for 3 "
        "cadences (revalerts)",
        "launcher/overview.py",
        "               if n not in gates and n not in no_warm_up]\n",
        "               if n not in no_warm_up]\n",
        ("tests/test_status_degraded.py::test_a_gate_restarted_alone_is_no_cluster_side_warm_up",)),
    Mutation(
        "redis_start_time_absence_unwatched",
        "a permit issuer that never exports the Redis start time (an ACL user without +info, a Redis before 6.2) raises "
        "ClustergateMetricAbsent after 15 minutes: ClustergateRedisRestarting is blind without it (revalerts)",
        "configs/alerts.yml",
        "        expr: absent(clustergate_redis_started_timestamp_seconds)\n",
        "        expr: absent(up)\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "slow_crash_loop_window_cut_to_1_hour",
        "ClustergateActorRestartingSlowly counts 2 hours of starts: a start every 20 minutes (3 in any hour, 6 in 2 hours) "
        "raises it, as docs/monitoring.md says; a 1-hour window passed every promtool test before (revalerts)",
        "configs/alerts.yml",
        "        expr: changes(clustergate_actor_started_timestamp_seconds[2h]) >= 5\n",
        "        expr: changes(clustergate_actor_started_timestamp_seconds[1h]) >= 5\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "status_degraded_names_a_gate_that_cannot_read_redis",
        "a gate not ready (it cannot read Redis) is no gate on the proxy: status exits 1 for it and says no DEGRADED "
        "line, which sent the operator to the cluster side while every decision was a fault HOLD (revalerts)",
        "launcher/overview.py",
        "               if g.get(\"answered\") and g.get(\"ready\") is not False and g.get(\"k_source\") == \"proxy\"]\n",
        "               if g.get(\"answered\") and g.get(\"k_source\") == \"proxy\"]\n",
        ("tests/test_status_degraded.py::test_a_gate_that_cannot_read_redis_is_no_gate_on_the_proxy",)),
    Mutation(
        "status_help_hides_that_all_hosts_never_exits_3",
        "`clustergate status --help` names its exit codes, 3 (DEGRADED) among them, that --all-hosts exits 3 only for "
        "a replica down and --exits never (its own help said nothing of them (revalerts), then that --all-hosts never "
        "exits 3, where a replica down made it (session 40))",
        "launcher/supervise.py",
        "                                   \"can still be promoted. --all-hosts exits 3 only for that replica; --exits never \"\n",
        "                                   \"can still be promoted. \"\n",
        ("tests/test_status_degraded.py::test_status_help_names_every_exit_code_and_when_all_hosts_and_exits_exit_3",)),
    Mutation(
        "status_warm_up_counts_a_crashed_programs_start",
        "the start of a program that exited unexpectedly within status's window is no warm-up: a clusterer in a crash "
        "loop kept status at 0 with the gate on the proxy (revalerts)",
        "launcher/overview.py",
        "               if n not in gates and n not in no_warm_up]\n",
        "               if n not in gates]\n",
        ("tests/test_status_degraded.py::test_a_cluster_side_actor_in_a_crash_loop_is_no_warm_up",)),
    Mutation(
        "status_warm_up_fills_with_one_symbol_priced",
        "the buffer fills its window only for symbols with fresh prices: one symbol priced alone (the others' prices "
        "stopped) is degraded, not a warm-up that never ends (revalerts)",
        "launcher/overview.py",
        "    return len(past) < 2 and (\"tick_ages_s\" not in ov or len(fresh) >= 2)\n",
        "    return len(past) < 2\n",
        ("tests/test_status_degraded.py::test_a_buffer_with_fresh_prices_for_one_symbol_alone_is_no_warm_up",)),
    Mutation(
        "gate_client_checks_a_source_address_endpoint_whole",
        "GateClient takes ZeroMQ's tcp://SOURCE:PORT;GATE:PORT form and checks the gate's part, not the whole as one host "
        "(refused as an IPv6 address without brackets) (revdocs)",
        "launcher/client.py",
        "    gate = \"tcp://\" + endpoint[len(\"tcp://\"):].rpartition(\";\")[2]\n",
        "    gate = endpoint\n",
        ("tests/test_client.py::test_a_gate_endpoint_with_zeromqs_source_address_form_is_reached",)),
    Mutation(
        "gate_client_refuses_every_interface_in_the_words_of_a_bind",
        "GateClient refuses tcp://*:PORT saying a client cannot connect to every interface, not the topology's words "
        "for a bind (revdocs)",
        "launcher/client.py",
        "    if gate.startswith(\"tcp://*:\"):\n",
        "    if False:\n",
        ("tests/test_client.py::test_a_gate_endpoint_on_every_interface_is_refused_as_a_client_cannot_connect_it",)),
    Mutation(
        "prometheus_config_output_written_in_place",
        "prometheus-config --output replaces the file by a rename of a synced .tmp: a disk full part-way leaves the "
        "config Prometheus reads whole (revdocs)",
        "launcher/monitoring.py",
        "        with open(tmp, \"w\") as fh:\n",
        "        with open(target, \"w\") as fh:\n",
        ("tests/test_alerts.py::test_prometheus_config_that_runs_out_of_space_leaves_the_config_it_replaces_whole",)),
    Mutation(
        "backtest_full_disk_leaves_a_mix_of_two_runs",
        "a backtest whose results the disk did not take removes the result files in --out, so this run's part and an "
        "older run's rest (its report.html) do not pass for one run (revdocs)",
        "launcher/backtest.py",
        "            remove_outputs(out, SINGLE_OUTPUTS + SWEEP_OUTPUTS)\n",
        "            pass\n",
        ("tests/test_backtest_attack.py::test_a_full_disk_part_way_leaves_no_mix_of_this_run_and_an_older_one_in_out",)),
    Mutation(
        "backtest_os_error_before_any_write_removes_older_results",
        "a backtest that failed with an OSError before writing anything (a sweep's pool that could not fork) leaves "
        "the older run's results in --out whole (revdocs)",
        "launcher/backtest.py",
        "        if result_files(out) != before:",
        "        if True:",
        ("tests/test_backtest_attack.py::test_an_os_error_before_anything_was_written_leaves_the_older_results_in_out",)),
    Mutation(
        "status_warm_up_counts_another_hosts_start",
        "status --host on one host of a multi-host topology takes no start on another host for a warm-up (it cannot "
        "read that host's unexpected exits: a clusterer in a crash loop on the market host kept `status --host exec` "
        "at 0 with the gate on the proxy) (revdeg)",
        "launcher/overview.py",
        "    no_warm_up = crashed | elsewhere\n",
        "    no_warm_up = crashed\n",
        ("tests/test_status_degraded.py::test_status_on_the_exec_host_takes_no_start_on_the_market_host_for_a_warm_up",)),
    Mutation(
        "status_warm_up_counts_a_correlator_gone_ready_in_a_crash_loop",
        "the correlator gone ready is no warm-up when it runs on another host or exited unexpectedly within status's "
        "window (each life of a crash loop goes ready anew: `status --host exec` stayed at 0 with the gate on the "
        "proxy) (revdeg)",
        "launcher/overview.py",
        "        known = out[\"cluster_chain\"][\"correlator\"] not in no_warm_up  # a crash loop's lives each go ready anew\n",
        "        known = True\n",
        ("tests/test_status_degraded.py::test_status_on_the_exec_host_takes_no_start_on_the_market_host_for_a_warm_up",
         "tests/test_status_degraded.py::test_a_correlator_in_a_crash_loop_going_ready_anew_is_no_warm_up")),
    Mutation(
        "proof_record_without_start_time_runs_for_ever",
        "a proof record naming a live pid but no start time is an ended proof's: status names what it left stopped and "
        "`up` removes it (a pid alone may be another process's) (small)",
        "launcher/proof_stops.py",
        "    return None if now is not None and now == held.started else held\n",
        "    return None if now is not None and (held.started is None or now == held.started) else held\n",
        ("tests/test_proofs.py::test_a_proof_record_naming_a_live_pid_but_no_start_time_is_an_ended_proofs_and_up_"
         "forgets_it",)),
    Mutation(
        "readiness_proof_waits_its_graces_past_its_timeout",
        "every wait of the readiness proof is cut to what is left of its timeout (deploy's --proof-timeout): with a gate "
        "down `--warm-up-timeout-s 2` waited graces of 10 s and 5 s; the failure says the proof's timeout ran out (small)",
        "proofs/readiness.py",
        "        ok, value, waited = self.p.poll(get, accept, min(own_s, left_s), interval_s)\n",
        "        ok, value, waited = self.p.poll(get, accept, own_s, interval_s)\n",
        ("tests/test_proofs.py::test_readiness_with_a_short_timeout_and_a_gate_down_ends_within_it_and_names_the_wait_"
         "that_ran_out",)),
    Mutation(
        "gate_queue_depth_limits_the_batch",
        "overload_queue_depth bounds the proposals waiting behind the batch being taken, not the batch: a depth of 8 "
        "shed 52 of 60 proposals read together that one batch (64) decides (small)",
        "actors/runtime.py",
        "            if len(backlog) >= shedding.max_depth + max_batch:  # the batch taken below waits for nothing\n",
        "            if len(backlog) >= shedding.max_depth:\n",
        ("tests/test_gate_deadlines.py::test_a_queue_depth_below_the_batch_does_not_shed_proposals_the_gate_decides_in_"
         "the_same_batch",)),
    Mutation(
        "positions_clear_refuses_a_snapshot_not_in_symbols",
        "positions clear removes a snapshot positions list shows NOT IN SYMBOLS, and still refuses a symbol outside the "
        "allowlist that has none (s31)",
        "launcher/positions.py",
        "        if key is None or not client.delete(key):\n",
        "        if True:\n",
        ("tests/test_positions_cli.py::"
         "test_positions_clear_removes_a_snapshot_listed_not_in_symbols_and_still_refuses_one_that_is_not_there",)),
    Mutation(
        "propose_forgets_an_internal_error_its_retries_got_no_answer_after",
        "a `clustergate propose` call that got internal_error (or a fault HOLD) and then only `expired` or no answer "
        "from the next gate until its budget ran out exits 3, outcome unknown, naming the --plan-id to retry with, not "
        "1 as when no gate answered (carry2)",
        "launcher/client.py",
        "            if fault:\n                faults_seen.append(reply)  # type: ignore[arg-type]\n",
        "",
        ("tests/test_gate_service.py::test_clustergate_propose_exits_3_when_a_retry_after_internal_error_gets_expired_or_"
         "no_answer[expired]",
         "tests/test_gate_service.py::test_clustergate_propose_exits_3_when_a_retry_after_internal_error_gets_expired_or_"
         "no_answer[silent]")),
    Mutation(
        "gate_book_gauges_read_0_with_no_fresh_snapshot",
        "with no fresh position snapshot the gate fails closed knowing no book: p26_stress, p26_heat, "
        "p26_concentration, p26_corr_proxy and p26_total_abs_notional read NaN, not 0 (a flat book, no stress) (carry2)",
        "actors/gate.py",
        "        if not state.positions:  # no fresh snapshot:",
        "        if False:  # no fresh snapshot:",
        ("tests/test_gate_service.py::test_the_p26_book_gauges_are_nan_not_0_while_the_gate_has_no_usable_book",)),
    Mutation(
        "gate_book_gauges_keep_the_last_read_while_redis_is_unreadable",
        "while the gate cannot read Redis its book gauges (p26_stress and the like) read NaN, not the last read's "
        "values shown as current (carry2)",
        "actors/gate.py",
        "        P26_CLUSTER_STRESS_USED.set(0)\n        set_no_book_gauges()\n",
        "        P26_CLUSTER_STRESS_USED.set(0)\n",
        ("tests/test_gate_service.py::test_the_p26_book_gauges_are_nan_not_0_while_the_gate_has_no_usable_book",)),
    Mutation(
        "status_takes_an_undated_snapshot_for_no_snapshot",
        "status exits 1 on a position snapshot whose ts_epoch the gate cannot read (missing, an ISO date), naming it, as "
        "on a stale one: it said `no position snapshot ... nothing to exit if the desk is flat`, exit 0 (carry2)",
        "launcher/overview.py",
        "            \"ok\": math.isfinite(total) and not undated if fresh > 0 else not (ages or undated)}",
        "            \"ok\": math.isfinite(total) and not undated if fresh > 0 else not ages}",
        ("tests/test_fix_review.py::test_status_exits_1_on_a_held_position_whose_snapshot_has_no_usable_ts_epoch_not_"
         "as_no_snapshot",)),
    Mutation(
        "gate_counts_no_undated_snapshot",
        "the gate counts the snapshots it cannot date (gate_position_snapshots_undated), which status tells from no "
        "snapshot at all (carry2)",
        "actors/gate.py",
        "            undated += 1\n",
        "            pass\n",
        ("tests/test_fix_review.py::test_status_exits_1_on_a_held_position_whose_snapshot_has_no_usable_ts_epoch_not_"
         "as_no_snapshot",)),
    Mutation(
        "buffer_rewrites_a_published_slot",
        "a tick stamped in a grid slot the buffer has already published (a feed's clock behind) is refused `late` and "
        "counted, never written into the window the correlator already has (carry2)",
        "actors/grid.py",
        "        if slot <= self.published_slot:\n            return \"late\"",
        "        if False:\n            return \"late\"",
        ("tests/test_reliability_bad_input.py::test_a_tick_stamped_in_a_slot_already_published_is_refused_late_not_"
         "written_into_the_window",)),
    Mutation(
        "capacity_sizes_for_ascii_plan_ids_only",
        "docs/operating.md sizes Redis with the largest decision, stream record and permit the gate accepts (a "
        "128-character plan_id, a 32-character symbol outside the BMP: 1,192, 891 and 680 bytes), not only ASCII ones "
        "(420, 170, 200: by those sizes a HOLD storm at the stream's limit holds 1.07 GB where the table said 0.38) (revexit)",
        "docs/operating.md",
        "decision is up to about 1,200 bytes, a stream record 890 bytes and a permit 680 bytes",
        "decision is up to about 420 bytes, a stream record 170 bytes and a permit 200 bytes",
        ("tests/test_exit_batch_review.py::test_the_capacity_section_gives_the_memory_of_the_largest_decisions_records_"
         "and_permits",)),
    Mutation(
        "gate_charges_a_batch_made_cooldown_conflict_an_attempt",
        "a proposal decided under the cooldown an earlier proposal of its batch was to set, which was not written, is "
        "decided again without being charged one of the 3 attempts: 8 exits of one symbol read together while the "
        "stream was full were told 5 times the cooldown \"kept changing\" instead of stream_full (revexit)",
        "actors/gate.py",
        "            attempt += charged or self._stopping or time.monotonic() >= free_until",
        "            attempt += 1",
        ("tests/test_exit_batch_review.py::test_exits_for_one_symbol_read_together_while_the_stream_is_full_are_each_"
         "told_the_stream_is_full",)),
    Mutation(
        "gate_stopping_keeps_deciding_a_batch_again_for_free",
        "once the gate is stopping, every round of a batch decided again is charged an attempt: with the free rounds "
        "(up to permit_timeout_ms) a SIGTERM during 64 exits of one symbol behind a full stream and a slowed Redis "
        "took past the 2 s an actor has to exit (revexit)",
        "actors/gate.py",
        "            attempt += charged or self._stopping or time.monotonic() >= free_until",
        "            attempt += charged or time.monotonic() >= free_until",
        ("tests/test_exit_batch_review.py::test_a_gate_stopped_while_it_decides_again_the_exits_of_one_symbol_exits_"
         "within_its_shutdown_bound",)),
    Mutation(
        "gate_batch_decides_again_for_free_past_permit_timeout",
        "the rounds over a batch's own cooldown conflict are free only for permit_timeout_ms from the batch's first "
        "decision: free for ever, a batch of 64 exits behind a full stream and a slow issuer took 64 issuer waits (s31)",
        "actors/gate.py",
        "            attempt += charged or self._stopping or time.monotonic() >= free_until",
        "            attempt += charged or self._stopping",
        ("tests/test_exit_batch_review.py::test_the_free_rounds_over_a_batch_made_cooldown_end_permit_timeout_ms_after_"
         "the_batchs_first_decision",)),
    Mutation(
        "buffer_restart_forgets_the_published_slot",
        "a restarted buffer refuses late a tick stamped in a slot its last run published: its saved history carries "
        "the published slot (it was written there until the new run's first publish, a cadence later) (rev2)",
        "actors/buffer.py",
        "        self.grid.published_slot = max(self.grid.published_slot, min(saved.published_slot, "
        "self.grid.head_slot - 1))\n",
        "        pass\n",
        ("tests/test_reliability_bad_input.py::test_a_restarted_buffer_refuses_late_a_tick_stamped_in_a_slot_its_last_"
         "run_published",)),
    Mutation(
        "buffer_refuses_late_a_feed_a_cadence_behind",
        "a tick stamped in a slot already handed out, at most TICK_FUTURE_SKEW_S behind the buffer's clock, is recorded "
        "in the first slot not handed out: refused `late`, a feed 1.1 s behind at a 1 s cadence priced no slot (rev2)",
        "actors/grid.py",
        "    if slot <= grid.published_slot and ts >= now_s - TICK_FUTURE_SKEW_S:",
        "    if False:",
        ("tests/test_reliability_bad_input.py::test_a_feed_whose_clock_is_a_cadence_behind_still_prices_the_grid_"
         "without_rewriting_a_published_slot",)),
    Mutation(
        "status_silent_on_an_undated_snapshot_beside_a_fresh_one",
        "status names a position snapshot without a usable ts_epoch and exits 1 also when another symbol's snapshot "
        "is fresh: it counted the positions ok, silent on a held position the gate leaves out of the book (rev2)",
        "launcher/overview.py",
        "            \"ok\": math.isfinite(total) and not undated if fresh > 0 else not (ages or undated)}",
        "            \"ok\": math.isfinite(total) if fresh > 0 else not (ages or undated)}",
        ("tests/test_fix_review.py::test_status_names_an_undated_snapshot_beside_a_fresh_one_and_exits_1",)),
    Mutation(
        "buffer_late_tick_stamped_as_the_slot_start",
        "a late tick recorded in the first slot not handed out keeps its own ts there: stamped as of the slot's start, "
        "an older late tick arriving after a newer one overwrote it instead of being refused superseded (rev3)",
        "actors/grid.py",
        "        return grid.add(symbol, price, ts, slot=int(grid.published_slot) + 1, received_ts=received)",
        "        return grid.add(symbol, price, (grid.published_slot + 1) * grid.cadence_s)",
        ("tests/test_reliability_bad_input.py::test_an_older_late_tick_does_not_overwrite_a_newer_one_in_the_first_"
         "slot_not_handed_out",)),
    Mutation(
        "buffer_refuses_late_a_feed_on_time_after_a_small_clock_step_back",
        "a tick ahead recorded as of the buffer's now goes to the first slot not handed out when now's slot is handed "
        "out: after a 3 s step back of the buffer's clock every tick of a feed on time was refused late (rev3)",
        "actors/grid.py",
        "    slot = min(grid.slot_of(ts), grid.slot_of(now_s))\n",
        "    if grid.slot_of(ts) > grid.slot_of(now_s):\n        return grid.add(symbol, price, ts, slot=grid.slot_of(now_s))\n"
        "    slot = grid.slot_of(ts)\n",
        ("tests/test_reliability_bad_input.py::test_a_buffer_whose_clock_stepped_back_less_than_a_rewind_still_takes_"
         "the_ticks_of_a_feed_on_time",)),
    Mutation(
        "cli_builds_every_command_module_for_one_command",
        "a command builds its parser from its own module alone: `clustergate down` loads no Redis or ZeroMQ client "
        "(every module cost about 0.2 s of CPU a call more) (fastcli)",
        "launcher/cli.py",
        "    for module_name in () if command in own else owner or COMMAND_MODULES:\n",
        "    for module_name in () if command in own else COMMAND_MODULES:\n",
        ("tests/test_cli_commands.py::test_down_and_propose_load_no_redis_client_and_down_no_zeromq",)),
    Mutation(
        "propose_parser_loads_the_positions_module",
        "building `clustergate propose`'s parser loads no Redis client: its numeric option types come from "
        "launcher/number_args.py, not from the positions command (fastcli)",
        "launcher/client.py",
        "    from launcher.number_args import finite_number, takes_negative_numbers\n",
        "    from launcher.positions import finite_number, takes_negative_numbers\n",
        ("tests/test_cli_commands.py::test_down_and_propose_load_no_redis_client_and_down_no_zeromq",)),
    Mutation(
        "issuer_records_decisions_on_a_redis_that_may_evict_them",
        "the permit issuer writes nothing while Redis has a memory limit and a maxmemory-policy other than noeviction: "
        "an external Redis under allkeys-lru evicted a plan_id's stored decision, the plan_id was decided twice (idem)",
        "actors/permit_issuer.py",
        "        if self._evicting is not None:\n            return self.refused_for_eviction(items)\n",
        "",
        ("tests/test_redis_eviction_policy.py::test_a_redis_that_may_evict_keys_records_no_decision_since_an_evicted_"
         "one_let_its_plan_id_be_decided_twice",)),
    Mutation(
        "validate_takes_permit_issuers_that_disagree_on_their_ttls",
        "validate refuses permit issuers of one topology whose permit, cooldown or decision TTLs differ: one with "
        "5 s trimmed the stream records of the other's live 60 s permits (idem)",
        "launcher/topology.py",
        "            if own != first:",
        "            if False:",
        ("tests/test_topology_validation.py::test_permit_issuers_that_disagree_on_a_ttl_of_the_keys_they_share_"
         "are_refused",)),
    Mutation(
        "mutants_run_keeps_the_pytest_temp_root_of_a_killed_mutation",
        "`make mutants` removes each run's pytest temp root (TMPDIR/cg-*): a killed mutation is a failed run, whose "
        "root conftest keeps, one left in the temp dir per mutation killed",
        "tests/mutants/run.py",
        "            shutil.rmtree(basetemp, ignore_errors=True)\n",
        "            pass\n",
        ("tests/test_mutations_apply.py::test_a_killed_mutation_leaves_no_pytest_temp_root_behind",)),
    Mutation(
        "stop_wait_deaf_to_a_sigterm_pending_before_its_poll",
        "a wait a stop must cut watches the signal wakeup pipe: a SIGTERM whose Python handler had not run when the "
        "gate began its wait for a stalled issuer (landed just before the poll's system call, or on another thread) "
        "held the stop for all of permit_timeout_ms (6.2 s at 6,000 ms; CI under load) (slowstop)",
        "actors/runtime.py",
        "        items = [(polled, event)] if wakeup is None else [(polled, event), (wakeup[0], _POLLIN)]\n",
        "        items = [(polled, event)]\n",
        ("tests/test_exit_path_stop_review.py::test_a_gate_stopped_while_it_waits_a_long_permit_timeout_on_a_stalled_"
         "issuer_answers_and_exits_at_once[on_another_thread]",)),
    Mutation(
        "gate_state_read_deaf_to_a_sigterm_pending_before_its_recv",
        "the gate's Redis connection waits for a reply through the runtime's wait that the signal wakeup pipe ends: a "
        "SIGTERM whose Python handler had not run when a state read of a stalled Redis began to wait held the stop for "
        "the read and its re-send (10 s at redis.timeout_ms 5,000) (slowstop)",
        "actors/gate.py",
        "        self.redis.wait_readable = self.wait_readable  # a stop cuts a state read whenever its SIGTERM lands "
        "(read_redis)\n",
        "",
        ("tests/test_exit_path_stop_review.py::test_a_gate_stopped_while_its_redis_is_stalled_with_a_long_redis_timeout_"
         "answers_and_exits_at_once[on_another_thread]",)),
    Mutation(
        "gate_takes_a_dropped_late_reply_for_a_timeout",
        "a permits socket readable with a late reply to a request the gate gave up on (which it drops as it reads it) "
        "goes on waiting for its own: taken for a timeout, the first proposal after one got a fault HOLD outcome "
        "unknown from a healthy issuer, 3 of 3 (slowstop)",
        "actors/gate.py",
        "            except zmq.Again:  # a late reply, dropped: the wait goes on for what is left of permit_timeout_ms\n",
        "            except zmq.Again:  # a late reply, dropped: the wait goes on for what is left of permit_timeout_ms\n"
        "                raise\n",
        ("tests/test_bound_requesters.py::"
         "test_a_gate_whose_bound_permits_socket_was_recreated_after_a_timeout_records_the_next_proposals",)),
    Mutation(
        "up_priority_from_the_actors_place_in_the_file",
        "a program's supervisord priority is its kind's: taken from the actor's place in the file, removing the demo's "
        "book moved every later program's priority and `up` restarted six actors, the gate among them (opday)",
        "launcher/supervise.py",
        "priority=ACTOR_PRIORITY[spec.kind], directory=REPO",
        "priority=100 + list(topo.actors).index(name), directory=REPO",
        ("tests/test_launcher.py::test_up_again_with_an_actor_removed_restarts_no_other_actor",)),
    Mutation(
        "validate_measures_a_refused_freshness_s_against_the_cadence",
        "a gate freshness_s refused as text (`4s`) is named once: its placeholder 0 was also measured against the "
        "cadence, a second line `shorter than one cadence` for a value the operator never wrote (opday)",
        "launcher/topology.py",
        "                and not any(p.path == base + (\"freshness_s\",) for p in v.problems)):",
        "                and True):",
        ("tests/test_topology_validation.py::test_a_freshness_s_written_as_text_is_the_one_problem_named_not_also_"
         "shorter_than_a_cadence",)),
    Mutation(
        "status_says_a_gate_not_ready_takes_k_from_the_proxy",
        "status's K line of a gate not ready (Redis down) says it takes K from nowhere: it read `proxy` from the gauge "
        "while every decision was a fault HOLD with k_source null (opday)",
        "launcher/overview.py",
        "    source = \"none (gate not ready)\" if gate.get(\"ready\") is False else gate.get(\"k_source\")",
        "    source = gate.get(\"k_source\")",
        ("tests/test_gate_says_why_not_ready.py::test_status_says_a_gate_that_cannot_read_redis_takes_k_from_nowhere_"
         "not_from_the_proxy",)),
    Mutation(
        "validate_takes_a_key_overriding_a_yaml_merge_for_a_duplicate",
        "a key written beside a YAML merge (`<<: *book`) overrides the merged one, as YAML's merge rule says: it was "
        "refused `duplicate key`, so settings shared through an anchor could not be overridden (opday)",
        "launcher/schema.py",
        "                    if key in out:\n",
        "                    if key in out or key in merged:\n",
        ("tests/test_topology_validation.py::test_a_key_given_beside_a_yaml_merge_overrides_the_merged_one_and_only_"
         "its_own_keys_can_be_duplicates",)),
    Mutation(
        "validate_checks_settings_symbols_against_symbols_it_could_not_read",
        "with `symbols` refused for its type (brackets forgotten) no setting's symbol is called `not in symbols`: "
        "the demo gave 17 lines, 16 of them false, under the one that says what is wrong (opday)",
        "launcher/topology.py",
        "    symbols_read = not _symbols_unreadable(v)\n",
        "    symbols_read = True\n",
        ("tests/test_topology_validation.py::test_symbols_written_without_brackets_is_the_one_problem_named",)),
    Mutation(
        "propose_silent_on_a_symbol_outside_the_allowlist",
        "clustergate propose says on stderr that a symbol decided HOLD not_allowed is outside the allowlist, matched "
        "exactly, and which was meant: `--symbol ethusdt` printed a recorded HOLD, exit 0, and nothing else (opday)",
        "launcher/client.py",
        "        elif (reply.get(\"decision\") or {}).get(\"gate_reason\") == \"not_allowed\":",
        "        elif False:",
        ("tests/test_gate_service.py::test_clustergate_propose_of_a_symbol_in_the_wrong_case_says_it_is_not_in_the_"
         "allowlist_and_which_was_meant",)),
    Mutation(
        "gate_says_a_missing_action_proposed_was_null",
        "a proposal without action_proposed is refused saying it is required: it said `got null`, a value the client "
        "never sent (opday)",
        "actors/policy.py",
        "one of {', '.join(ACTIONS)}\" if \"action_proposed\" not in obj",
        "one of {', '.join(ACTIONS)}\" if False",
        ("tests/test_gate_attack.py::test_a_proposal_without_action_proposed_is_refused_saying_it_is_required_not_"
         "that_it_was_null",)),
    Mutation(
        "readiness_proof_sets_the_cooldown_of_a_held_symbol",
        "the readiness proof's permit (and so its cooldown) goes to a symbol the desk does not hold when there is one: "
        "on the first held symbol it cut the desk's FULL_CLOSE_PROPOSED of BTCUSDT right after to PARTIAL_75 (opday)",
        "proofs/readiness.py",
        "    flat = [s for s in p.topo.symbols if not desk_holds(p, s)]\n",
        "    flat = [s for s in p.topo.symbols if desk_holds(p, s)]\n",
        ("tests/test_proofs.py::test_readiness_proof_decides_on_a_symbol_the_desk_does_not_hold_when_there_is_one",)),
    Mutation(
        "proof_hint_to_start_the_system_names_no_home",
        "a proof of a home with nothing running names that home in the `up` to run: `clustergate up FILE` alone "
        "starts the repository root's system (opday)",
        "proofs/common.py",
        "(start the system with \"\n              f\"`clustergate up FILE --home {shlex.quote(str(home.root))}`)\")",
        "(start the system with \"\n              f\"`clustergate up FILE`)\")",
        ("tests/test_proofs.py::test_a_proof_of_a_home_with_nothing_running_names_that_home_in_the_up_to_run",)),
    Mutation(
        "fallback_proof_drops_the_error_of_its_stale_state_read",
        "the fallback proof's `cluster_state goes stale` shows the error its read met (Redis stopped): it printed null, "
        "read as a state never written (opday)",
        "proofs/fallback.py",
        "ok, round(age, 2) if isinstance(age, float) else age,  # or the error",
        "ok, None if not isinstance(age, float) else round(age, 2),",
        ("tests/test_proofs.py::test_fallback_proof_says_redis_did_not_answer_when_it_cannot_read_the_cluster_state",)),
    Mutation(
        "status_says_only_not_ready_of_an_issuer_whose_redis_may_evict",
        "clustergate status names a Redis whose maxmemory-policy may evict keys as why the permit issuer is not ready, "
        "and what to set: it showed only `no` while every decision was HOLD redis_unavailable (idem2)",
        "launcher/supervise.py",
        "**loop_liveness(sample, name), **redis_may_evict(sample)}, sample",
        "**loop_liveness(sample, name)}, sample",
        ("tests/test_redis_eviction_policy.py::test_status_names_a_redis_that_may_evict_as_why_the_permit_issuer_is_"
         "not_ready_and_what_to_set",)),
    Mutation(
        "issuer_silent_when_info_refused_leaves_the_eviction_check_off",
        "a permit issuer whose Redis refuses INFO says, once, that whether Redis may evict decisions is not checked, "
        "and status notes it: it decided under allkeys-lru with status exit 0 and nothing said (idem2)",
        "actors/permit_issuer.py",
        "        if reading.refused is not None and self._evicting is None:\n            self.note_eviction_unchecked(reading.refused)\n",
        "",
        ("tests/test_redis_eviction_policy.py::test_status_says_when_the_issuer_cannot_check_whether_redis_may_evict_"
         "because_info_is_refused",)),
    Mutation(
        "issuer_writes_to_a_restarted_redis_before_reading_its_policy",
        "the permit issuer reads Redis's maxmemory-policy before its first write to a Redis that lost its script "
        "(restarted, a replica promoted): restarted with allkeys-lru, 62 to 88 decisions were recorded in the 5 s "
        "before the periodic reading (idem2)",
        "launcher/resp.py",
        "            if before_load is not None:\n                before_load()\n",
        "",
        ("tests/test_redis_eviction_policy.py::test_a_redis_restarted_with_an_evicting_policy_gets_no_decision_before_"
         "the_issuer_reads_its_policy",)),
    Mutation(
        "issuer_with_wait_loads_its_script_on_a_restarted_redis_before_reading_its_policy",
        "with wait_replicas the permit issuer too reads Redis's maxmemory-policy before loading its script on a Redis "
        "that lost it (restarted, promoted), and writes nothing when Redis may evict keys (idem2)",
        "actors/permit_issuer.py",
        "        if before_load is not None:\n            before_load()\n",
        "",
        ("tests/test_ha_durability_faults.py::test_with_wait_a_script_cache_found_empty_is_loaded_only_after_before_"
         "load_says_redis_may_not_evict",)),
    Mutation(
        "gate_and_issuer_ignore_a_redis_url_user_without_a_password",
        "a Redis URL's user with no password is the user of every client, the gate's and the issuer's RespClient too: "
        "they sent no AUTH and ran as default while the other actors ran as that user (idem2)",
        "launcher/resp.py",
        "        if self.username:  # (a `nopass` user",
        "        if self.username and self.password:  # (a `nopass` user",
        ("tests/test_redis_url_user_without_password.py::test_a_redis_url_user_without_a_password_is_the_user_of_the_"
         "gate_and_the_permit_issuer",)),
    Mutation(
        "continued_wait_times_out_before_the_io_thread_hands_over_its_reply",
        "a gate stopped (SIGSTOP) past permit_timeout_ms while it waited, its issuer answering meanwhile, polls its "
        "socket CONTINUED_GRACE_MS more once continued: without it the wait saw its deadline past before libzmq's I/O "
        "thread had handed the reply over, and answered HOLD permit_unavailable for a recorded decision, 3 of 8 (slow2)",
        "actors/runtime.py",
        "                    return bool(_zmq_poll(items[:1], CONTINUED_GRACE_MS))\n",
        "                    return False\n",
        ("tests/test_exit_path_stop_review.py::"
         "test_a_gate_stopped_past_its_permit_timeout_while_it_waits_reads_the_reply_that_came_meanwhile",)),
    Mutation(
        "yaml_merge_resolved_by_rewriting_the_node_in_place",
        "a mapping with a YAML merge and an override, used again through its anchor, is valid: PyYAML's flatten_mapping "
        "rewrote the anchored node in place, so built again its merged keys read as its own (`duplicate key`) (opday2)",
        "launcher/schema.py",
        "                merged: dict[Any, Any] = {}\n",
        "                merged: dict[Any, Any] = {}\n                loader.flatten_mapping(n)\n",
        ("tests/test_topology_validation.py::test_a_mapping_with_a_yaml_merge_and_an_override_can_be_used_again_"
         "through_its_anchor",)),
    Mutation(
        "yaml_list_of_merges_later_mapping_wins",
        "in a list of YAML merges (`<<: [*book, {refresh_s: 5}]`) the earlier mapping's key wins, as YAML's merge rule "
        "says: PyYAML gave the later one's (opday2)",
        "launcher/schema.py",
        "                                merged.setdefault(key, value)\n",
        "                                merged[key] = value\n",
        ("tests/test_topology_validation.py::test_in_a_list_of_merges_the_earlier_mapping_wins_for_validate_and_for_"
         "the_actors",)),
    Mutation(
        "running_copy_resolves_yaml_merges_with_pyyaml",
        "the running copy the actors read resolves YAML merges as validate did: made with PyYAML's loader, a key of a "
        "list of merges took the later mapping's value, 5 where validate said 1 (opday2)",
        "launcher/supervise.py",
        "    data = load_yaml_with_lines(topo.source_text)[0] if topo.source_text else {}\n",
        "    data = yaml.safe_load(topo.source_text) if topo.source_text else {}\n",
        ("tests/test_topology_validation.py::test_in_a_list_of_merges_the_earlier_mapping_wins_for_validate_and_for_"
         "the_actors",)),
    Mutation(
        "down_stops_redis_with_the_actors",
        "`down` stops the managed Redis once every actor has exited: stopped all at once, Redis first, the buffer's "
        "last history save at its SIGTERM met a Redis already gone (history_not_persisted, 2 downs of 3) (opday2)",
        "launcher/supervise.py",
        "        for name in actors:\n            self._stop_quietly(name, wait=False)\n",
        "        for name in []:\n            self._stop_quietly(name, wait=False)\n",
        ("tests/test_launcher.py::test_down_stops_redis_after_every_actor",)),
    Mutation(
        "readiness_proof_takes_a_snapshot_without_position_amt_for_flat",
        "the readiness proof counts a snapshot it cannot read as held, one without position_amt too: that one read as "
        "flat and could take the proof's cooldown (opday2)",
        "proofs/readiness.py",
        "            return bool(p.redis.exists(key))\n",
        "            return False\n",
        ("tests/test_proofs.py::test_the_readiness_proof_counts_a_snapshot_it_cannot_read_as_held",)),
    Mutation(
        "validate_judges_the_name_of_a_symbol_refused_for_its_type",
        "a symbol refused for its type (`symbols: [1, 2]`) is named once: the '' it was read as was also called not "
        "upper-case and a duplicate, names the operator never wrote (opday2)",
        "launcher/topology.py",
        "        if (\"symbols\", i) in refused:\n",
        "        if False:\n",
        ("tests/test_topology_validation.py::test_a_symbol_refused_for_its_type_is_named_once",)),
    Mutation(
        "state_write_keeps_each_record_it_sends",
        "a state write keeps nothing once written (the writer's RSS levels off after CPython's tuple free lists fill, "
        "docs/operating.md \"Actors' memory\"): a history kept per update grows about 1 KB an update for good",
        "actors/state_writer.py",
        "    if fence is not None:\n        record[\"fence_token\"] = fence\n",
        "    if fence is not None:\n        record[\"fence_token\"] = fence\n"
        "    queue_writes.__dict__.setdefault(\"sent\", []).append(dict(record))\n",
        ("tests/test_state_writer_memory.py::test_a_state_write_keeps_no_memory_once_written",)),
    Mutation(
        "correlator_decodes_windows_from_the_buffer_module",
        "the correlator takes the window's decoding from actors/window_message.py, not from the buffer's actor, whose "
        "Redis client (redis-py) cost every correlator start about 0.1 s of CPU (importcut)",
        "actors/correlator.py",
        "from actors.window_message import decode_window\n",
        "from actors.window_message import decode_window\nimport actors.buffer  # noqa: F401\n",
        ("tests/test_snapshot_rule.py::test_importing_the_correlator_imports_no_redis_client",)),
    Mutation(
        "cli_builds_every_command_module_for_its_own_commands",
        "`clustergate validate` and `schema`, the CLI's own commands, build no other module's parser: no module owned "
        "them, so they built every one (Redis's client, ZeroMQ, deploy, monitor) (importcut)",
        "launcher/cli.py",
        "    for module_name in () if command in own else owner or COMMAND_MODULES:\n",
        "    for module_name in owner or COMMAND_MODULES:\n",
        ("tests/test_cli_commands.py::test_the_clis_own_commands_load_no_command_module",)),
    Mutation(
        "propose_says_nothing_of_a_replayed_permit_that_has_expired",
        "`clustergate propose` says on stderr that a replayed decision's permit has expired (permit_ttl_ms null): it "
        "printed `\"permit\": true`, exit 0, and nothing else, read as a permit to act on (apirev)",
        "launcher/client.py",
        "        elif permit_expired(reply):\n",
        "        elif False:\n",
        ("tests/test_proposal_api_review.py::"
         "test_clustergate_propose_says_a_replayed_permit_that_has_expired_is_no_permit_to_act_on",)),
    Mutation(
        "propose_takes_only_the_outer_spaces_off_a_symbol_not_allowed",
        "`clustergate propose` names the allowlisted symbol meant when case or spaces alone differ, spaces inside it "
        "too (`ETH USDT`): only the outer ones were taken off, and no symbol was suggested (apirev)",
        "launcher/client.py",
        '    meant = "".join(symbol.split()).upper()\n',
        "    meant = symbol.strip().upper()\n",
        ("tests/test_proposal_api_review.py::"
         "test_clustergate_propose_names_the_symbol_meant_when_spaces_alone_differ_inside_it_too",)),
    Mutation(
        "propose_with_an_endpoint_names_no_allowlist_nor_the_symbol_meant",
        "`clustergate propose --endpoint` (no topology read) says the allowlist is the gate's topology's, not read, and "
        "suggests the upper-case form of a symbol that cannot be allowlisted: it named none and suggested nothing (apirev)",
        "launcher/client.py",
        '        listed = " (the gate\'s topology\'s symbols, not read with --endpoint)"\n',
        '        listed = ""\n',
        ("tests/test_proposal_api_review.py::"
         "test_clustergate_propose_given_an_endpoint_says_it_cannot_name_the_allowlist",)),
    Mutation(
        "fail_closed_alert_takes_every_permit_unavailable_for_an_issuer_not_answering",
        "P26DecisionsFailClosed's description names a full gate stream (stream_full, which the issuer answers) among "
        "the causes of permit_unavailable: it said only that the permit issuer does not answer (apirev)",
        "configs/alerts.yml",
        "permit_unavailable: the permit issuer does not answer, or refused the write (its log says why), among them a "
        "full gate stream, counted in permit_issuer_requests_total{result=\\\"stream_full\\\"} (stream_maxlen records all "
        "younger than the longest permit or cooldown TTL: raise stream_maxlen, or stop a storm of HOLDs);",
        "permit_unavailable: the permit issuer does not answer;",
        ("tests/test_proposal_api_review.py::"
         "test_exits_refused_for_a_full_gate_stream_page_as_permit_unavailable_and_the_alert_says_so",)),
    Mutation(
        "docs_plain_pyzmq_client_waits_for_ever_for_its_answer",
        "the proposal API page's plain pyzmq client waits with a timeout and resends the same plan_id on a new socket: "
        "waiting for ever, it was never answered once the gate that read its request crashed, even after the gate came "
        "back (apirev)",
        "docs/proposal-api.md",
        "            if sock.poll(timeout_ms):\n",
        "            if sock.poll(-1):\n",
        ("tests/test_proposal_api_review.py::"
         "test_the_docs_plain_pyzmq_client_gets_its_answer_after_the_gate_crashed_holding_its_request",)),
    Mutation(
        "validate_counts_the_sentinels_left_without_the_host",
        "validate refuses a multi-host Sentinel layout in which the loss of a host running a data server leaves fewer "
        "sentinels than a failover needs: the primary and 2 of 3 sentinels on one host, that host lost, the third "
        "sentinel never failed over (harev)",
        "launcher/hosts.py",
        "        left = len(sentinels) - on_it\n",
        "        left = len(sentinels)\n",
        ("tests/test_sentinel_config.py::test_a_host_whose_loss_with_the_primary_leaves_too_few_sentinels_to_fail_over_"
         "is_refused",)),
    Mutation(
        "status_takes_sentinels_for_a_failover_without_a_replica",
        "status says no failover is possible while no answering sentinel knows a replica it could promote: with the "
        "only replica stopped it said \"failover possible (OK 3 usable Sentinels)\", every "
        "decision HOLD replica_unacknowledged (harev)",
        "launcher/supervise.py",
        "    nobody = no_replica_to_promote(topo.redis.sentinel_addresses(), topo.redis.sentinel.master, **ask) if ok else None\n",
        "    nobody = None\n",
        ("tests/test_sentinel_failover.py::test_status_says_no_failover_is_possible_while_the_sentinels_know_no_replica_"
         "they_could_promote",)),
    Mutation(
        "validate_takes_permit_issuers_that_wait_for_different_replicas",
        "validate refuses permit issuers that wait for different numbers of replicas: issuer A waiting for 1, B for 0, "
        "the replica lost, a plan_id A answered HOLD replica_unacknowledged was replayed by B recorded: true with its "
        "permit on a primary with no replica (harev)",
        "launcher/topology.py",
        "        first, own = (topo.actors[n].settings.replicas_to_wait(topo.redis) for n in (issuers[0], name))\n",
        "        first = own = 0\n",
        ("tests/test_topology_validation.py::test_permit_issuers_that_wait_for_different_numbers_of_replicas_are_"
         "refused",)),
    Mutation(
        "state_writer_refuses_states_older_than_one_stamped_ahead_of_its_clock",
        "the writer's own last state stamped ahead of its clock (its clusterer's clock ran ahead and came back) is "
        "overwritten: refused as superseded, the gate stayed on the proxy up to the step longer (csrev)",
        "actors/state_writer.py",
        "    return cluster_state_time_s(updated, stored_ms) > now\n",
        "    return False\n",
        ("tests/test_cluster_side_review.py::"
         "test_a_state_from_a_clusterer_whose_clock_came_back_is_written_over_the_state_its_clock_stamped_ahead",)),
    Mutation(
        "status_never_names_a_gate_clock_that_is_off",
        "status names a gate whose own clock judges a state stale that is fresh by this host's clock: it showed the "
        "state fresh, the gate on the proxy, and a DEGRADED line pointing at lines that said nothing (csrev)",
        "launcher/overview.py",
        "    return by_its_clock > freshness_s or oldest < 0\n",
        "    return False\n",
        ("tests/test_cluster_side_review.py::"
         "test_status_names_a_gate_whose_clock_is_off_when_it_takes_k_from_the_proxy_beside_a_state_fresh_by_this_host",)),
    Mutation(
        "status_times_a_gate_clock_after_every_scrape",
        "status estimates a gate's clock offset against when the gate's metrics were read, not after every scrape: a "
        "hung scrape's 1 s deadline later, a state written meanwhile made a gate with a right clock look 1 s behind, "
        "named as the cause of its fallback (csrev2)",
        "launcher/overview.py",
        "            \"clock_offset_s\": (read_at - (time.time() if scraped_at is None else scraped_at)\n",
        "            \"clock_offset_s\": (read_at - time.time()\n",
        ("tests/test_cluster_side_review2.py::"
         "test_status_does_not_blame_the_clock_of_a_gate_that_read_before_a_state_written_while_status_waited",)),
    Mutation(
        "state_writer_knows_its_own_state_by_updated_ts_ms_alone",
        "the writer's own last state is its updated_ts_ms and the updated_ts of that second both: by the ms alone, a "
        "newer state HSET by a writer without updated_ts_ms over ours (which leaves our ms behind) was overwritten by "
        "an older state as if our own (csrev2)",
        "actors/state_writer.py",
        "    if math.floor(updated) != own_last_ms // 1000:  # another writer's updated_ts beside the updated_ts_ms we left\n",
        "    if False:  # another writer's updated_ts beside the updated_ts_ms we left\n",
        ("tests/test_cluster_side_review2.py::"
         "test_a_newer_state_from_a_writer_without_updated_ts_ms_stays_guarded_beside_the_ms_this_writer_left",)),
    Mutation(
        "status_json_leaves_out_the_clock_offset_of_a_gate_that_did_not_answer",
        "status --json gives every gate clock_offset_s, null for one that did not answer, as docs/operating.md says "
        "(csrev2)",
        "launcher/overview.py",
        "                \"k_source\": None, \"cluster_fallbacks\": None, \"gate_stress\": None, \"clock_offset_s\": None}\n",
        "                \"k_source\": None, \"cluster_fallbacks\": None, \"gate_stress\": None}\n",
        ("tests/test_cluster_side_review2.py::"
         "test_status_json_gives_every_gate_the_same_clock_fields_null_when_unknown",)),
    Mutation(
        "backtest_stopped_part_way_leaves_its_files_beside_an_older_runs",
        "a backtest stopped by SIGTERM, SIGHUP or Ctrl-C removes the results it had written: its cut clusters.csv and "
        "decisions.csv sat beside an older run's summary.json and report, passing for one run's results (btrev)",
        "launcher/backtest.py",
        "        if handler is not signal.SIG_IGN:  # nohup: stays ignored\n            signal.signal(signum, _stop)\n",
        "        if handler is not signal.SIG_IGN:  # nohup: stays ignored\n            pass\n",
        ("tests/test_backtest_interrupt.py::test_a_run_stopped_part_way_leaves_no_mix_of_its_files_and_an_older_runs",)),
    Mutation(
        "backtest_sweep_takes_no_result_from_a_killed_worker_for_a_row",
        "a sweep whose worker process was killed ends, exit 1, naming the combination and the signal (with "
        "multiprocessing.Pool it waited for the lost task's result for ever) (btrev)",
        "launcher/backtest.py",
        "                if kind == \"died\":\n",
        "                if kind == \"never\":\n",
        ("tests/test_backtest_interrupt.py::test_a_sweep_whose_worker_process_is_killed_ends_naming_it_not_hangs",)),
    Mutation(
        "backtest_sweep_of_a_setting_under_its_alias_too_runs",
        "a setting swept under its name and its alias (riskoff_stress, stress_riskoff) is refused: one replaced the "
        "other's values without a word, sweep.csv labelling rows with values never run (btrev)",
        "launcher/backtest.py",
        "        swept = [k for k, _ in out if ALIASES.get(k, k) == name]\n",
        "        swept = [k for k, _ in out if k == key]\n",
        ("tests/test_backtest_interrupt.py::test_a_setting_swept_under_two_names_or_also_set_is_refused_not_overridden[swept under its alias too]",)),
    Mutation(
        "backtest_sweep_of_a_set_setting_replaces_it",
        "a setting given in --set and swept is refused: the swept values replaced the --set one without a word (btrev)",
        "launcher/backtest.py",
        "        if set_as:\n",
        "        if False:\n",
        ("tests/test_backtest_interrupt.py::test_a_setting_swept_under_two_names_or_also_set_is_refused_not_overridden[set and swept]",)),
    Mutation(
        "backtest_set_under_two_names_keeps_the_first_names_value",
        "--set of one setting under its alias and its name takes the last value given (btrev)",
        "launcher/backtest.py",
        "        values[ALIASES.get(key, key)] = parse_value(key, value.strip())",
        "        values[key] = parse_value(key, value.strip())",
        ("tests/test_backtest_interrupt.py::test_a_setting_set_twice_under_two_names_takes_the_last_given",)),
    Mutation(
        "backtest_printed_line_to_a_gone_reader_removes_the_results",
        "a backtest whose stdout reader went away once the results were written leaves them whole and exits 141: "
        "the BrokenPipeError, an OSError, was read as a disk refusing the results and removed them all (btrev)",
        "launcher/backtest.py",
        "        if isinstance(exc, BrokenPipeError):\n            return 128 + signal.SIGPIPE\n",
        "        if False:\n            return 128 + signal.SIGPIPE\n",
        ("tests/test_backtest_interrupt.py::test_a_reader_of_the_printed_line_gone_leaves_the_results_whole",)),
    Mutation(
        "backtest_second_stop_signal_escapes_the_clean_up",
        "a second stop signal (SIGHUP, then SIGTERM) is the same stop: raised again in main()'s clean-up (the "
        "interpreter runs pending handlers in its first signal.signal call) it escaped, a traceback, exit 1, the run's "
        "files left beside an older run's (btrev2)",
        "launcher/backtest.py",
        "    if _stopping() or _within_a_stop(_frame):\n        return\n",
        "    if False:\n        return\n",
        ("tests/test_backtest_interrupt.py::test_a_second_stop_signal_during_the_clean_up_does_not_leave_the_mix",)),
    Mutation(
        "backtest_stdout_refusing_the_line_removes_the_results",
        "a stdout that cannot take the printed line (`> /dev/full`) leaves the results whole, exit 1 saying so: its "
        "ENOSPC was read as OUT's disk refusing the results, all removed (btrev2)",
        "launcher/backtest.py",
        "    except OSError as exc:\n        devnull = os.open(",
        "    except BrokenPipeError as exc:\n        devnull = os.open(",
        ("tests/test_backtest_interrupt.py::test_a_stdout_that_cannot_take_the_printed_line_leaves_the_results_whole",)),
    Mutation(
        "backtest_stop_signal_while_forking_a_sweep_worker_is_swallowed",
        "a stop signal that comes while a sweep forks a worker stops the sweep: its handler ran in the interpreter's "
        "at-fork hooks, which swallow the exception, and the sweep ran to the end, exit 0 (btrev2)",
        "launcher/backtest.py",
        "    if _FORKING:  # in the",
        "    if False:  # in the",
        ("tests/test_backtest_interrupt.py::test_a_stop_signal_while_a_sweep_forks_a_worker_stops_it",),
        also=(("launcher/backtest.py", "                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)\n", ""),)),
    Mutation(
        "backtest_copy_of_proposals_left_to_the_exit_finalizer",
        "main() removes the run's copy of --proposals before it restores the stop signals' handlers: a sweep held it "
        "to the interpreter's exit, and a second SIGTERM then killed the process with the copy in $TMPDIR (btrev2)",
        "launcher/backtest.py",
        "        while len(_COPIES) > copies:  # this run's",
        "        while False:  # this run's",
        ("tests/test_backtest_interrupt.py::test_no_signal_after_the_backtest_returned_leaves_the_copy_of_proposals",)),
    Mutation(
        "backtest_sweep_workers_outlive_a_killed_sweep",
        "a sweep's workers die with it (PR_SET_PDEATHSIG): a sweep SIGKILLed left them running their combinations to "
        "the end, a result no one would take (btrev2)",
        "launcher/backtest.py",
        "        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG\n",
        "        ctypes.CDLL(None, use_errno=True)\n",
        ("tests/test_backtest_interrupt.py::test_sweep_workers_do_not_outlive_a_killed_sweep",)),
    Mutation(
        "correlator_exports_shrinkage_0_with_no_matrix",
        "the correlator exports p27_shrinkage_intensity NaN while it has no matrix: a 0 was the floor of "
        "P27ShrinkageJump's 30-minute minimum, and a cold start's first matrices under ledoit_wolf (about 0.5) fired it "
        "(alrev)",
        "actors/correlator.py",
        "        self.m.shrinkage.set(result[\"shrinkage\"] if result[\"ready\"] else math.nan)\n",
        "        self.m.shrinkage.set(result[\"shrinkage\"])\n",
        ("tests/test_status_overview.py::test_status_json_stays_json_and_shows_no_shrinkage_intensity_while_the_"
         "correlator_has_no_matrix",
         f"{MONITOR_LIVE}::test_a_cold_start_with_ledoit_wolf_shrinkage_does_not_raise_p27_shrinkage_jump")),
    Mutation(
        "status_passes_a_nan_shrinkage_intensity_on",
        "status --json gives null for the correlator's shrinkage intensity while it has no matrix (NaN, not JSON) and "
        "status prints ? (alrev)",
        "launcher/overview.py",
        "        out[\"shrinkage_intensity\"] = _finite(first(sample, \"p27_shrinkage_intensity\"))",
        "        out[\"shrinkage_intensity\"] = first(sample, \"p27_shrinkage_intensity\")",
        ("tests/test_status_overview.py::test_status_json_stays_json_and_shows_no_shrinkage_intensity_while_the_"
         "correlator_has_no_matrix",)),
    Mutation(
        "gate_exports_spec_stale_line_not_its_own",
        "the gate exports its own positions.stale_after_s as p26_snapshot_stale_after_seconds, so P26SnapshotsStale "
        "fires when the gate stops counting the snapshots fresh, not at SPEC's 300 s only (alrev)",
        "actors/gate.py",
        "        P26_SNAPSHOT_STALE_AFTER.set(self.stale_after_s)\n",
        "        P26_SNAPSHOT_STALE_AFTER.set(300.0)\n",
        (f"{MONITOR_LIVE}::test_snapshots_past_a_stale_after_s_under_300_s_raise_p26_snapshots_stale_when_the_gate_"
         "drops_them",)),
    Mutation(
        "validate_blames_the_sentinels_for_the_loss_of_the_host_running_every_data_server",
        "validate's host-loss check skips a host that runs every data server: its loss leaves no server to promote "
        "however the sentinels are placed, so moving sentinels (its advice) would not help (harev2)",
        "launcher/hosts.py",
        "    for host in (h for h in dict.fromkeys(servers) if set(servers) - {h}):\n",
        "    for host in dict.fromkeys(servers):\n",
        ("tests/test_sentinel_config.py::test_sentinels_beside_every_data_server_on_one_host_are_not_blamed_for_its_"
         "loss",)),
    Mutation(
        "validate_counts_a_sentinel_listed_twice_in_the_host_loss_check",
        "validate's host-loss check leaves a sentinel listed twice and a quorum above the sentinels to SentinelConfig's "
        "refusal: it counted the duplicate (and advised 'at most -1 on a host' for the quorum) (harev2)",
        "launcher/hosts.py",
        "    if len(set(places)) < len(places) or (redis.sentinel.quorum or 0) > len(places):\n",
        "    if False:\n",
        ("tests/test_sentinel_config.py::test_a_sentinel_listed_twice_or_a_quorum_above_the_sentinels_is_refused_once",)),
    Mutation(
        "status_says_every_decision_holds_beside_a_replica_at_priority_0_that_acknowledges",
        "status's no-replica-to-promote alarm leaves out 'every decision HOLD replica_unacknowledged' while a replica "
        "kept out only by replica-priority 0 is up: it acknowledges WAIT 1, only a failover is out of reach (harev2)",
        "launcher/supervise.py",
        "    if ok is False and state.get(\"no_replica\") and state.get(\"replica_priority_0_up\"):\n",
        "    if False:\n",
        ("tests/test_sentinel_failover.py::test_no_failover_with_a_replica_at_priority_0_up_does_not_say_every_decision_"
         "holds",)),
    Mutation(
        "validate_host_loss_refusal_never_advises_a_lower_quorum",
        "validate's host-loss refusal advises a majority quorum when the quorum, not the placement, is what a host's "
        "loss cannot reach (quorum 3 of 3 sentinels on three hosts was told to put them on three hosts) (harev2)",
        "launcher/hosts.py",
        "                      + (f\", or set quorum to {majority} (a majority)\" if need > majority <= left else \"\"))\n",
        "                      + \"\")\n",
        ("tests/test_sentinel_config.py::test_a_quorum_that_no_host_loss_leaves_is_advised_down",)),
    Mutation(
        "status_takes_replicas_hidden_by_replica_announced_no_for_none",
        "status's no-replica check does not alarm when a sentinel counts more replicas (SENTINEL MASTER num-slaves) "
        "than SENTINEL REPLICAS lists: one set replica-announced no is left out, and Sentinel still promoted it (harev2)",
        "launcher/sentinel.py",
        "        if str(counted).isdigit() and int(counted) > len(answer):\n",
        "        if False:\n",
        ("tests/test_sentinel_failover.py::test_a_replica_hidden_by_replica_announced_no_is_not_taken_for_no_replica",)),
    Mutation(
        "replay_loop_rebased_by_a_last_print_the_feed_refused",
        "a looping replay rebases each pass by the last print the feed publishes over its first: a last line cut "
        "mid-write (43 for 43021.5), refused by the jump filter, made the price fall 1000x at every seam (feedrev)",
        "actors/price_feed.py",
        "        self.growth = loop_growth(self.symbol_index, self.price, self._published(jumps)) if loop else {}\n",
        "        self.growth = loop_growth(self.symbol_index, self.price) if loop else {}\n",
        ("tests/test_price_feed_replay.py::test_a_looping_replay_whose_last_line_was_cut_mid_write_keeps_its_price_"
         "level_pass_after_pass",)),
    Mutation(
        "buffer_history_naming_no_symbol_read_at_its_capacity",
        "a saved buffer history naming no symbol is discarded as corrupt: its capacity, bounded by no price bytes, "
        "allocated 8 PB of slot times at 1e15 (MemoryError at setup: the buffer never started) (feedrev)",
        "actors/grid.py",
        "        if not symbols:  # no price bytes then bound the capacity: a 1e15 one was 8 PB of slot times (MemoryError)\n",
        "        if False:\n",
        ("tests/test_reliability_bad_input.py::test_a_corrupt_persisted_buffer_is_discarded_counted_and_overwritten"
         "[huge_capacity_naming_no_symbol]",)),
    Mutation(
        "buffer_started_behind_its_saved_history_persists_over_it",
        "a buffer started on a clock behind its saved history's newest slot holds persistence as after a backward "
        "step: its empty grid was saved over the history at its first publish, and the clock's forward step then "
        "merged nothing back (20 points per symbol to 0) (feedrev)",
        "actors/buffer.py",
        "            if self.persist_held_until_mono is None:\n                self.hold_history_ahead_of_clock(saved, now)\n",
        "            if False:\n                self.hold_history_ahead_of_clock(saved, now)\n",
        ("tests/test_cluster_side_attack.py::test_a_buffer_started_with_its_clock_behind_the_saved_history_neither_"
         "wipes_it_nor_loses_the_points",)),
    Mutation(
        "replay_file_appended_to_taken_for_another_file",
        "a replay file whose first bytes are those its saved position names (a recorder appending rows) is resumed "
        "at that position: known by the SHA-256 of all its bytes alone, it began again (BTCUSDT 1200 -> 1000, every "
        "symbol back to its first price in one slot) (feedrev)",
        "actors/price_feed.py",
        "        elif saved.get(\"sha256\") != self.replay_identity[\"sha256\"] and not self._appended_since(saved):\n",
        "        elif saved.get(\"sha256\") != self.replay_identity[\"sha256\"]:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_appended_to_between_two_runs_continues_where_it_stopped",)),
    Mutation(
        "finished_replay_of_an_appended_file_starts_the_file_again",
        "a finished replay (no loop) restarted on its file with rows appended publishes the new rows, from the first "
        "recorded after the last row it published, not the file again from its first price (feedrev)",
        "actors/price_feed.py",
        "        if ts is None and appended and type(after_ts) in (int, float) and _finite(after_ts):\n",
        "        if False:\n",
        ("tests/test_price_feed_replay.py::test_a_finished_replay_whose_file_was_appended_to_publishes_the_new_rows_not_"
         "the_file_again",)),
    Mutation(
        "buffer_clock_return_after_a_backward_step_taken_for_a_forward_fault",
        "a clock that comes forward again after a backward step ends the history hold and the history is persisted "
        "again: the return was taken for a new forward fault and held persistence a window more (6 h at 60 s), "
        "so a restart then lost every point since (feedrev)",
        "actors/buffer.py",
        "        if stepped_ahead and (self.came_forward_again(now) or self.came_partly_forward(now)):\n",
        "        if False:\n",
        ("tests/test_cluster_side_attack.py::test_a_clock_that_comes_forward_again_after_a_backward_step_ends_the_"
         "history_hold",)),
    Mutation(
        "window_shape_of_floats_reaches_reshape",
        "a window whose shape is not two whole numbers ([3, 2.0], [3, true]) is a bad window, counted and named: it "
        "reached numpy's reshape, whose TypeError escaped the correlator's handler (feedrev)",
        "actors/window_message.py",
        "    if not all(type(n) is int and n >= 0 for n in shape):  # 2.0 or true reached numpy's reshape: a TypeError\n",
        "    if False:\n",
        ("tests/test_cluster_side_attack.py::test_a_window_whose_shape_is_not_two_whole_numbers_is_a_bad_window_not_"
         "a_handler_error",)),
    Mutation(
        "gate_client_sends_what_json_cannot_hold_into_its_attempt_loop",
        "GateClient.propose refuses an argument JSON cannot hold (a Decimal, bytes) with ValueError naming it, nothing "
        "sent, not json's TypeError from the attempt loop with the note that the proposal may have been decided "
        "(gaterev)",
        "launcher/client.py",
        "        size = len(json.dumps(body, separators=(\",\", \":\")))\n",
        "        size = len(json.dumps(body, separators=(\",\", \":\"), default=str))\n",
        ("tests/test_client.py::"
         "test_a_value_json_cannot_hold_is_refused_naming_its_field_before_anything_is_sent_never_said_maybe_decided",)),
    Mutation(
        "gate_client_sends_a_proposal_larger_than_any_valid_one",
        "GateClient.propose refuses a proposal larger than the largest valid one (a 9,000-character plan_id), naming "
        "its longest argument, nothing sent: a gate drops it unread past max_request_bytes, and every attempt timed "
        "out into GateUnavailable, 'retry with the same plan_id' (gaterev)",
        "launcher/client.py",
        "        if size <= LARGEST_VALID_PROPOSAL_BYTES:\n",
        "        if True:\n",
        ("tests/test_client.py::"
         "test_a_proposal_larger_than_any_valid_one_is_refused_naming_its_longest_argument_and_the_largest_is_sent",)),
    Mutation(
        "gate_client_jitters_its_backoff_from_the_callers_seeded_random",
        "GateClient's overload backoff is jittered whatever seed the caller gave the random module: two processes "
        "that called random.seed(0) paused in lockstep against an overloaded gate (gaterev)",
        "launcher/client.py",
        "_JITTER = random.SystemRandom()\n",
        "_JITTER = random\n",
        ("tests/test_gate_deadlines.py::test_the_overload_backoff_is_jittered_whatever_seed_the_caller_gave_the_random_module",)),
    Mutation(
        "up_takes_its_own_programs_ports_for_another_systems_when_the_running_copy_is_unreadable",
        "up frees the ports of the programs its change stops, read from /proc, whatever the running copy says: with the "
        "copy broken by hand it refused the corrected topology, naming its own home `another clustergate system` to "
        "stop (lnrev)",
        "launcher/supervise.py",
        "    if in_use and releasing:\n",
        "    if False:\n",
        (f"{OPERATOR_REVIEW}test_a_running_copy_removed_or_broken_by_hand_is_named_by_status_and_the_corrected_up_"
         "restarts_its_own_programs",)),
    Mutation(
        "status_says_nothing_of_a_running_copy_removed_by_hand",
        "status names a running copy removed by hand as EDITED (a program restarted then cannot start): it showed "
        "every program READY ? and exited 1 without a word of why (lnrev)",
        "launcher/supervise.py",
        "    except (FileNotFoundError, UnicodeDecodeError):  # removed, or bytes `up` never writes\n        return True\n",
        "    except (FileNotFoundError, UnicodeDecodeError):  # removed, or bytes `up` never writes\n        return False\n",
        (f"{OPERATOR_REVIEW}test_a_running_copy_removed_or_broken_by_hand_is_named_by_status_and_the_corrected_up_"
         "restarts_its_own_programs",)),
    Mutation(
        "up_makes_a_home_whose_path_supervisord_cannot_read",
        "up refuses, exit 2 and making nothing, a home path with ; or # after a space (a comment to supervisord's "
        "config) or a supervisor.sock path past 107 bytes: supervisord failed late and left the home behind (lnrev)",
        "launcher/supervise.py",
        "    problem = home_path_problem(home)\n",
        "    problem = None\n",
        (f"{OPERATOR_REVIEW}test_an_up_into_a_home_whose_path_supervisord_cannot_read_is_refused_before_anything_is_"
         "made",)),
    Mutation(
        "validate_claims_the_placeholder_of_a_port_refused_for_its_type",
        "validate claims no port refused for its type: two ports written as text were each read as 0 and reported "
        "`port 0 is already used by ...` (lnrev)",
        "launcher/topology.py",
        "        if port is None or path in refused:\n",
        "        if port is None:\n",
        (f"{OPERATOR_REVIEW}test_a_port_or_name_refused_for_its_type_adds_no_false_problem_about_its_placeholder",)),
    Mutation(
        "validate_judges_the_placeholder_of_a_name_refused_for_its_type",
        "validate judges no name refused for its type: `name: 12` was refused, then read as '' and told it must be 1 "
        "to 64 ASCII letters (lnrev)",
        "launcher/topology.py",
        "    if (\"name\",) not in refused and (\n",
        "    if (\n",
        (f"{OPERATOR_REVIEW}test_a_port_or_name_refused_for_its_type_adds_no_false_problem_about_its_placeholder",)),
    Mutation(
        "validate_names_no_line_for_a_scalar_yaml_cannot_build",
        "a scalar YAML makes a number or a date and cannot build (`2026-13-45`, an integer past 4300 digits) is "
        "refused with its line and value: it said `(top level): not valid YAML: month must be in 1..12` (lnrev)",
        "launcher/schema.py",
        "                raise yaml.constructor.ConstructorError(None, None, unreadable_scalar(n, exc), n.start_mark) from None\n",
        "                raise\n",
        (f"{OPERATOR_REVIEW}test_a_scalar_yaml_cannot_build_a_pasted_blob_and_a_refused_lookback_are_each_one_short_"
         "line",)),
    Mutation(
        "validate_prints_a_pasted_blob_whole",
        "a problem shows the value it refuses cut to 80 characters with its size: a 200,000 character blob pasted "
        "into a setting made a line of its size (lnrev)",
        "launcher/schema.py",
        "    if len(text) <= MAX_SHOWN_CHARS:\n        return text\n",
        "    return text\n",
        (f"{OPERATOR_REVIEW}test_a_scalar_yaml_cannot_build_a_pasted_blob_and_a_refused_lookback_are_each_one_short_"
         "line",)),
    Mutation(
        "validate_multiplies_out_a_lookback_its_bound_refused",
        "the grid-size check skips a lookback_returns its bound already refused: it multiplied a 30-digit value out "
        "again in a second line (lnrev)",
        "launcher/topology.py",
        "    if n and not lookback_refused and n * slots > MAX_GRID_PRICES:\n",
        "    if n and n * slots > MAX_GRID_PRICES:\n",
        (f"{OPERATOR_REVIEW}test_a_scalar_yaml_cannot_build_a_pasted_blob_and_a_refused_lookback_are_each_one_short_"
         "line",)),
    Mutation(
        "validate_reads_a_topology_path_without_bound",
        "a topology file is read to 8,000,000 characters and refused past them, exit 2: `validate /dev/zero` read "
        "until memory ran out and ended in a MemoryError traceback (lnrev)",
        "launcher/topology.py",
        "            text = f.read(MAX_TOPOLOGY_CHARS + 1)\n",
        "            text = f.read()\n",
        (f"{OPERATOR_REVIEW}test_a_topology_path_that_never_ends_or_is_megabytes_long_is_refused_unread_in_one_line",)),
    Mutation(
        "up_writes_the_topology_path_raw_into_supervisords_config",
        "the topology's path is written into run/programs.d's comment line with its line breaks shown as ?: a "
        "directory `x\\n[program:evil]\\ncommand=...` added a program supervisord ran (lnrev)",
        "launcher/supervise.py",
        "    source = printable(str(topo.source_path), limit=len(str(topo.source_path)))\n",
        "    source = str(topo.source_path)\n",
        (f"{OPERATOR_REVIEW}test_a_topology_path_holding_line_breaks_adds_no_program_to_supervisords_config",)),
    Mutation(
        "up_reads_a_program_section_in_the_middle_of_a_line",
        "up reads a [program:NAME] section only at the start of a line, as supervisord does: one inside the comment "
        "line (a topology path) was taken for a program, started by hand after supervisord removed it: BAD_NAME, and "
        "the change undone (lnrev)",
        "launcher/supervise.py",
        "    for chunk in re.split(r\"^\\[program:\", text, flags=re.MULTILINE)[1:]:\n",
        "    for chunk in text.split(\"[program:\")[1:]:\n",
        (f"{OPERATOR_REVIEW}test_a_topology_path_holding_line_breaks_adds_no_program_to_supervisords_config",)),
    Mutation(
        "proof_of_a_home_where_nothing_was_started_says_up_without_its_home",
        "a proof of a home with no running copy names that home, quoted, in the `clustergate up FILE --home DIR` it "
        "says to run: `clustergate up FILE` alone starts the repository root's system (docrev)",
        "proofs/common.py",
        "up? \"\n              f\"`clustergate up FILE --home {shlex.quote(str(home.root))}`)\")\n",
        "up? \"\n              f\"`clustergate up FILE`)\")\n",
        ("tests/test_proofs.py::test_a_proof_of_a_home_where_nothing_was_started_names_that_home_in_the_up_to_run",)),
    Mutation(
        "missing_running_copy_hint_leaves_a_home_with_a_space_unquoted",
        "propose and positions, given a home with no running copy, quote that home for the shell in the "
        "`clustergate up FILE --home DIR` they say to run (a home with a space was split in two) (docrev)",
        "launcher/supervise.py",
        "            f\"(`clustergate up FILE --home {shlex.quote(str(root))}`); or give --topology FILE\")\n",
        "            f\"(`clustergate up FILE --home {root}`); or give --topology FILE\")\n",
        ("tests/test_positions_cli.py::test_a_named_home_where_nothing_was_started_is_said_so_with_what_to_run",)),
    Mutation(
        "dashboard_k_source_shows_the_cluster_while_one_gate_takes_the_proxy",
        "the dashboard's K source reads proxy while any gate takes K from the proxy: the lowest over the gates, not the "
        "highest (with configs/ha.yaml's two gates, max showed cluster beside gate_b on the proxy) (docrev)",
        "configs/grafana-dashboard.json",
        "          \"expr\": \"min(p26_cluster_stress_used)\",\n          \"legendFormat\": \"K source\",\n",
        "          \"expr\": \"max(p26_cluster_stress_used)\",\n          \"legendFormat\": \"K source\",\n",
        ("tests/test_alerts.py::test_the_dashboards_k_source_reads_proxy_while_any_gate_takes_k_from_the_proxy",)),
    Mutation(
        "password_refusal_advises_down_without_the_home",
        "up refused for a running home's Redis password advises `clustergate down --home DIR` of that home, quoted: "
        "`clustergate down` alone stops the repository root's system (docrev)",
        "launcher/supervise.py",
        "                f\"`clustergate down --home {shlex.quote(str(home.root))}` first)\")\n",
        "                f\"`clustergate down` first)\")\n",
        ("tests/test_security.py::test_an_up_without_the_password_a_running_home_needs_names_that_home_in_the_down_it_"
         "advises",)),
    Mutation(
        "status_positions_hint_lists_the_repo_roots_positions",
        "status's no-fresh-position-snapshot line of a named home says to run `clustergate positions list --home "
        "HOME`, that home quoted: without --home the command lists the repository root's system (docrev)",
        "launcher/supervise.py",
        "        listing = f\"clustergate positions list --home {shlex.quote(str(home.root))}\"",
        "        listing = f\"clustergate positions list\"",
        ("tests/test_fix_review.py::test_status_of_a_named_home_says_to_list_that_homes_positions",)),
    Mutation(
        "status_missing_program_hint_says_up_without_the_home",
        "status's MISSING line of a named home says the `clustergate up FILE --home HOME` (quoted) that adds the "
        "program back: `clustergate up` alone acts on the repository root's system (docrev)",
        "launcher/supervise.py",
        "                  f\"`{up_here}` adds them\")\n",
        "                  f\"`clustergate up` with the topology adds them\")\n",
        ("tests/test_launcher.py::test_status_of_a_named_home_says_the_up_that_adds_a_missing_program_back_there",)),
    Mutation(
        "deploy_rollback_down_stops_a_host_its_killed_deploy_no_longer_holds",
        "a rollback's `down` changes nothing unless its deploy still holds the host's deploy lock: a killed deploy's "
        "`down` on its way to a host does not stop what the next deploy started there (mhrev)",
        "launcher/deploy.py",
        "clustergate(\"down\", \"--host\", h, \"--home\", h_home, \"--deploy-id\", work.name))",
        "clustergate(\"down\", \"--host\", h, \"--home\", h_home))",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_rollback_down_a_killed_deploy_left_on_its_way_to_a_host_stops_nothing_once_that_deploy_lost_the_host",)),
    Mutation(
        "down_stops_a_host_its_killed_deploy_no_longer_holds",
        "a `down` started with a deploy's id stops nothing unless that deploy still holds the host's deploy lock "
        "(mhrev)",
        "launcher/supervise.py",
        "        lost = deploy_lost_host(home, getattr(args, \"deploy_id\", None), \"down\")\n",
        "        lost = None\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_rollback_down_a_killed_deploy_left_on_its_way_to_a_host_stops_nothing_once_that_deploy_lost_the_host",)),
    Mutation(
        "status_all_hosts_takes_a_host_on_another_configuration_than_file_for_one_on_files",
        "`status FILE --all-hosts` names, and exits 1 for, a host whose programs its last `up` gave another "
        "configuration than FILE gives them (a host back with an older topology) (mhrev)",
        "launcher/hosts_status.py",
        "                    row[\"config_as_file\"] = written[row[\"name\"]] == as_file[row[\"name\"]]\n",
        "                    row[\"config_as_file\"] = True\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_a_host_that_runs_another_configuration_than_file_gives_it",)),
    Mutation(
        "deploy_judges_a_host_whose_lock_its_rollback_found_lost",
        "a rollback command refused because the deploy lost the host's lock on its way is recorded `lock lost` and "
        "that host is not judged in the check after the rollback (mhrev)",
        "launcher/deploy.py",
        "            if back.returncode == 2 and _ended(held[h], LOCK_END_WAIT_S):\n",
        "            if False:\n",
        ("tests/test_multihost_deploy_attack.py::"
         "test_a_rollback_that_loses_a_hosts_lock_on_its_way_says_lock_lost_and_does_not_judge_that_host",)),
    Mutation(
        "up_makes_a_home_whose_path_is_a_glob_pattern_to_supervisords_include",
        "up refuses, exit 2 and making nothing, a home path holding [, * or ?: supervisord globs its include under it, "
        "and `desk[1]` read no program (60 s of `missing`, supervisord left running the home empty; lnrev2)",
        "launcher/supervise.py",
        "    pattern = CONF_GLOB_RE.search(str(home.root))\n",
        "    pattern = None\n",
        (f"{OPERATOR_REVIEW}test_an_up_into_a_home_whose_path_supervisord_cannot_read_is_refused_before_anything_is_"
         "made",)),
    Mutation(
        "up_makes_a_home_whose_path_ends_in_a_space_supervisord_strips",
        "up refuses, exit 2 and making nothing, a home path ending in a space, which supervisord's config strips: "
        "`Error: .../desk is not an existing directory`, the home's supervisord.conf and run/ left behind (lnrev2)",
        "launcher/supervise.py",
        "    if str(home.root)[-1:].isspace():",
        "    if False:",
        (f"{OPERATOR_REVIEW}test_an_up_into_a_home_whose_path_supervisord_cannot_read_is_refused_before_anything_is_"
         "made",)),
    Mutation(
        "validate_names_no_line_for_a_mapping_key_yaml_cannot_build",
        "a mapping key YAML cannot build (`2026-13-45: 1`, a date to YAML; a key past 4300 digits) is refused with its "
        "line and value, as a value is: it said `(top level): not valid YAML: month must be in 1..12` (lnrev2)",
        "launcher/schema.py",
        "                    key = scalar(key_node)\n",
        "                    key = loader.construct_object(key_node, deep=True)\n",
        (f"{OPERATOR_REVIEW}test_a_mapping_key_or_explicit_tag_yaml_cannot_build_is_named_with_its_line",)),
    Mutation(
        "validate_names_no_line_for_an_explicit_tag_yaml_cannot_build",
        "a value an explicit tag makes unbuildable (`!!timestamp nope`, `!!bool maybe`) is refused with its line and "
        "value: it said `'NoneType' object has no attribute 'groupdict'` or `'maybe'` (lnrev2)",
        "launcher/schema.py",
        "            except (ValueError, KeyError, AttributeError) as exc:\n",
        "            except ValueError as exc:\n",
        (f"{OPERATOR_REVIEW}test_a_mapping_key_or_explicit_tag_yaml_cannot_build_is_named_with_its_line",)),
    Mutation(
        "up_frees_the_port_of_a_program_of_another_file_of_the_home_it_keeps",
        "up frees the ports of the programs its change stops, only those of its own programs file: monitor up's "
        "prometheus (monitor.conf, kept) was counted free, and an up moving the gate onto its port stopped the "
        "running gate for one crash-looping to FATAL on `Address already in use` (lnrev2)",
        "launcher/supervise.py",
        "                 and (p[\"name\"] in to_start or (p[\"name\"] in old_sections and p[\"name\"] not in new_sections))}\n",
        "                 and (p[\"name\"] in to_start or p[\"name\"] not in new_sections)}\n",
        (f"{OPERATOR_REVIEW}test_an_up_onto_the_port_of_a_program_of_the_home_it_keeps_is_refused_before_anything_is_"
         "stopped",)),
    Mutation(
        "up_names_a_program_of_its_own_home_it_keeps_another_clustergate_system",
        "a port held by a program of the home the change keeps running is refused naming that program: it said "
        "`another clustergate system, home HOME ...; stop it with clustergate down --home HOME`, HOME its own (lnrev2)",
        "launcher/supervise.py",
        "        own = next((kept[p] for p in _pid_and_parents(pid) if p in kept), None) if kept else None\n",
        "        own = None\n",
        (f"{OPERATOR_REVIEW}test_an_up_onto_the_port_of_a_program_of_the_home_it_keeps_is_refused_before_anything_is_"
         "stopped",)),
    Mutation(
        "up_makes_a_home_whose_path_holds_the_text_supervisord_replaces",
        "up refuses, exit 2 and making nothing, a home path holding `%(here)s`, which supervisord replaces as text "
        "before its % expansion: `Format string ... is badly formatted` (lnrev2)",
        "launcher/supervise.py",
        "    if \"%(here)s\" in str(home.root):",
        "    if False:",
        (f"{OPERATOR_REVIEW}test_an_up_into_a_home_whose_path_supervisord_cannot_read_is_refused_before_anything_is_"
         "made",)),
    Mutation(
        "up_keeps_the_old_password_of_an_external_redis_in_supervisords_environment",
        "`up` with a rotated external Redis password restarts supervisord, whose environment every actor inherits: "
        "it restarted nothing, and actors reconnecting kept the old password (secrev)",
        "launcher/supervise.py",
        "                                                or password_differs_from_running(topo, home))\n",
        "                                                )\n",
        ("tests/test_security.py::test_a_changed_password_of_an_external_redis_reaches_the_actors_at_the_next_up",)),
    Mutation(
        "up_without_the_password_of_an_external_redis_restarts_the_actors_without_it",
        "`up` without the password the actors of an external Redis run with is refused (exit 2), not a restart of "
        "every actor without it (secrev)",
        "launcher/supervise.py",
        "        if topo.redis.password is None and running and any(running_password(home, v) for v in\n",
        "        if False and any(running_password(home, v) for v in\n",
        ("tests/test_security.py::"
         "test_an_up_without_the_password_the_actors_of_an_external_redis_use_is_refused_and_they_keep_it",)),
    Mutation(
        "a_client_key_others_can_write_lets_their_key_in",
        "a public certificate a server allows (or a client trusts) that group or others can write is refused: any "
        "local user could put their own key in it and be let in (secrev)",
        "launcher/curve.py",
        ("    if mode & 0o022:\n"
         "        raise KeyFileError(f\"{path} is writable by group or others (mode {mode:04o}), so any local user could put \"\n"),
        ("    if False:\n"
         "        raise KeyFileError(f\"{path} is writable by group or others (mode {mode:04o}), so any local user could put \"\n"),
        ("tests/test_security.py::"
         "test_a_client_key_others_can_write_is_refused_so_no_stranger_can_swap_in_their_key",)),
    Mutation(
        "a_client_key_owned_by_another_user_lets_their_key_in",
        "a public certificate owned by another user (not root) is refused: its owner could write their own key in it "
        "(secrev)",
        "launcher/curve.py",
        "    if info.st_uid not in (os.geteuid(), 0):\n",
        "    if False:\n",
        ("tests/test_security.py::test_validate_refuses_a_client_key_owned_by_another_user",)),
    Mutation(
        "a_sentinel_password_with_a_space_or_a_quote_breaks_the_sentinels_next_start",
        "`up` refuses a managed Sentinel password holding a space or a quote: Sentinel rewrites its auth-pass "
        "unquoted, and the restarted sentinel died with FATAL CONFIG FILE ERROR, the password in its log (secrev)",
        "launcher/supervise.py",
        "    if password is not None and topo.redis.sentinel is not None and any(c in password for c in \" \\\"'\"):\n",
        "    if False:\n",
        ("tests/test_security.py::"
         "test_a_managed_sentinel_password_with_a_space_or_a_quote_is_refused_before_anything_starts",)),
    Mutation(
        "up_after_a_key_file_was_replaced_keeps_the_old_key_running",
        "an actor's config hash covers the CurveZMQ public keys it reads at start, so `up` after a client's key was "
        "replaced (revoked) restarts the gate: it said `restarted -` and went on letting the revoked key in (secrev)",
        "launcher/supervise.py",
        "    curve_keys = _curve_public_keys(topo, name)\n",
        "    curve_keys: dict = {}\n",
        ("tests/test_security.py::"
         "test_an_up_after_a_client_key_was_replaced_restarts_the_gate_so_the_old_key_is_let_in_no_more",)),
    Mutation(
        "buffer_history_saved_by_a_clock_ahead_held_a_whole_window",
        "a buffer restarted on the right clock over a history saved by a clock that ran ahead holds persistence only "
        "until its clock reaches that history's newest slot, not a whole window (6 h at 60 s x 361): a restart in "
        "between lost every point since (feedrev2)",
        "actors/buffer.py",
        "                and self.grid.slot_of(now) >= self.back_from_slot:\n",
        "                and False:\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_history_saved_by_a_clock_that_ran_ahead_is_held_only_until_the_right_clock_reaches_it",)),
    Mutation(
        "replay_line_still_being_written_refuses_the_file",
        "a replay file whose unterminated last line is cut in its timestamp (a recorder's write in progress) skips that "
        "line as a bad row; refused as out of time order, the feed exited 2 and was left down (feedrev2)",
        "launcher/feed_inputs.py",
        "        if data.out_of_order is not None and not text.endswith(\"\\n\") and \"\\n\" in text:\n",
        "        if False:\n",
        ("tests/test_price_feed_replay.py::"
         "test_a_replay_started_while_its_last_line_is_cut_in_its_timestamp_skips_that_line_not_the_file",)),
    Mutation(
        "a_client_key_in_a_directory_others_can_write_can_be_swapped",
        "a public certificate in a directory group or others can write (without the sticky bit) is refused: any local "
        "user could swap it for a symlink to their own root-owned certificate and be let in (secrev2)",
        "launcher/curve.py",
        "        if (writable := others_can_write(directory, sticky_ok=True)) is not None:\n",
        "        if False:\n",
        ("tests/test_security.py::"
         "test_a_client_key_in_a_directory_others_can_write_is_refused_so_no_stranger_can_swap_it",)),
    Mutation(
        "up_naming_a_new_unset_password_variable_restarts_the_actors_without_their_password",
        "`up` without the password looks for it under the variable the running actors read as well as the one this "
        "topology names: with password_env renamed and unset, every actor was restarted without it (secrev2)",
        "launcher/supervise.py",
        "                                                           dict.fromkeys((var, _running_password_env(home)))):\n",
        "                                                           (var,)):\n",
        ("tests/test_security.py::"
         "test_an_up_without_the_password_the_actors_of_an_external_redis_use_is_refused_and_they_keep_it"
         "[password_env_renamed]",)),
    Mutation(
        "validate_repeats_the_password_of_a_url_refused_for_its_type",
        "a value validate refuses is shown with any URL's password masked: a redis.url written as a list or a mapping "
        "was refused with the password repeated (secrev noticed it; session 34)",
        "launcher/schema.py",
        "    text = URL_PASSWORD_RE.sub(r\"\\1***@\", repr(value))\n",
        "    text = repr(value)\n",
        ("tests/test_topology_validation.py::test_a_redis_url_of_the_wrong_type_is_refused_without_echoing_its_password",)),
    Mutation(
        "correlator_snapshot_reply_it_cannot_read_escapes_as_a_handler_error",
        "a snapshot reply that is not JSON, or whose prices_b64 is not base64 or not text, is a bad window, counted: it "
        "raised in on_snapshot_reply, a handler error with a traceback (feedrev noticed; session 34)",
        "actors/correlator.py",
        "        except (ValueError, TypeError) as exc:  # not base64, or not text: a handler error before\n",
        "        except OSError as exc:  # not base64, or not text: a handler error before\n",
        ("tests/test_cluster_side_attack.py::test_a_snapshot_the_correlator_cannot_read_is_a_bad_window_not_a_handler_"
         "error",),
        also=(("actors/correlator.py", "        except ValueError as exc:  # not JSON: counted and named, not a handler error\n",
               "        except OSError as exc:  # not JSON: counted and named, not a handler error\n"),)),
    Mutation(
        "gate_client_measures_a_proposal_without_the_deadline_ms_it_sends",
        "GateClient measures a proposal as it sends it, each attempt's deadline_ms included: measured without it, "
        "one of 2,715 bytes went out as 2,743, past a gate at max_request_bytes 2,715, dropped unread, GateUnavailable "
        "'retry with the same plan_id' (gaterev2)",
        "launcher/client.py",
        "            size += len(f',\"deadline_ms\":{deadline_ms}')\n",
        "            size += 0\n",
        ("tests/test_request_size_limit.py::"
         "test_a_gate_at_the_largest_valid_proposals_size_never_goes_unanswered_for_what_the_client_sends",)),
    Mutation(
        "clustergate_propose_loses_the_plan_id_of_an_answer_it_cannot_write",
        "clustergate propose names the plan_id when the answer cannot be written (stdout on a full disk): OSError "
        "ENOSPC ended it in a traceback, the plan_id of a recorded decision never printed (gaterev2)",
        "launcher/client.py",
        "    except OSError as exc:  # the answer could not be written (a full disk): the plan_id goes on stderr\n",
        "    except ZeroDivisionError as exc:\n",
        ("tests/test_client.py::test_clustergate_propose_whose_answer_cannot_be_written_names_the_plan_id",)),
    Mutation(
        "status_all_hosts_takes_a_host_put_back_on_file_with_a_relative_ipc_path_for_one_on_another",
        "a running copy put back by a rollback hashes as the file it was made from, its ipc:// paths under the home's "
        "run/ipc/ read as the relative paths they were: else `status FILE --all-hosts` named the host's programs on "
        "such a socket NOT FILE'S on a healthy system (mhrev2)",
        "launcher/supervise.py",
        "                    sock[key] = out_of_home(sock[key], home)\n",
        "                    pass\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_takes_a_host_a_rollback_put_back_on_file_with_a_relative_ipc_path_for_one_on_files",)),
    Mutation(
        "status_all_hosts_exits_0_with_a_host_running_a_program_file_does_not_give_it",
        "`status FILE --all-hosts` names a program a host runs that FILE does not give it (a host back with an older "
        "topology, its other programs' configurations unchanged) and exits 1 (mhrev2)",
        "launcher/hosts_status.py",
        "                out[host][\"not_in_file\"] = sorted(n for n in written if n not in as_file and n in supervised)\n",
        "                out[host][\"not_in_file\"] = []\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_a_program_a_host_runs_that_file_does_not_give_it",)),
    Mutation(
        "own_connected_components_number_clusters_otherwise_than_scipy",
        "the clusterer's own connected components (scipy.sparse's import cost each start 0.1 s) number components "
        "0, 1, ... by their lowest node, as scipy's did: cluster_metrics orders clusters by those numbers",
        "actors/clustering.py",
        "            return np.unique(labels, return_inverse=True)[1].astype(np.int32)\n",
        "            return labels.astype(np.int32)\n",
        ("tests/test_cluster_maths.py::test_connected_components_number_components_as_scipy_does",)),
    Mutation(
        "own_connected_components_stop_before_labels_settle",
        "the clusterer's own connected components pass labels until none changes (a chain needs many rounds)",
        "actors/clustering.py",
        "        if np.array_equal(lowest, labels):\n",
        "        if True:\n",
        ("tests/test_cluster_maths.py::test_connected_components_number_components_as_scipy_does",)),
    Mutation(
        "status_all_hosts_takes_a_refused_password_for_a_redis_that_did_not_answer",
        "status --all-hosts, asking each managed Redis with launcher.resp (not redis-py: 0.1 s of CPU each status), "
        "names a refused password as an authentication error to fix, the server reached",
        "launcher/resp.py",
        '    return text.startswith(("NOAUTH", "WRONGPASS")) or (\n',
        '    return text.startswith("NOAUTH") or False and (\n',
        ("tests/test_status_overview.py::"
         "test_status_all_hosts_says_a_refused_password_is_one_and_the_server_was_reached",)),
    Mutation(
        "a_keys_directory_below_one_others_can_write_can_be_renamed_away",
        "a CurveZMQ keys directory is refused when a directory above it is writable by others without the sticky bit "
        "or owned by another user: they could rename it away and put one holding their key in its place",
        "launcher/curve.py",
        "    return _unsafe_on_the_way(directory, uid)\n",
        "    return None\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_below_one_another_user_can_write_or_owns_is_refused_so_no_stranger_can_swap_it",)),
    Mutation(
        "a_keys_directory_another_user_owns_is_taken",
        "a CurveZMQ keys directory owned by another user (not root) is refused: they could plant a key there",
        "launcher/curve.py",
        "    if info.st_uid not in (uid, 0):\n        return (f\"{directory} is owned by uid",
        "    if False:\n        return (f\"{directory} is owned by uid",
        ("tests/test_security.py::"
         "test_a_keys_directory_below_one_another_user_can_write_or_owns_is_refused_so_no_stranger_can_swap_it",)),
    Mutation(
        "gate_client_names_the_longest_argument_of_an_oversize_proposal",
        "GateClient refuses a proposal larger than any valid one naming each argument over its own limit: named by its "
        "longest argument, a valid 128-character plan_id took the blame for a 1,200-character symbol (gatefix)",
        "launcher/client.py",
        "                  for field, problem in _problems_of_each_field(body)]\n",
        "                  for field, problem in [(max(body, key=lambda name: len(json.dumps(body[name]))), '')]]\n",
        ("tests/test_proposal_path_review.py::"
         "test_an_oversize_proposal_is_refused_naming_the_argument_over_its_own_limit_not_a_longer_valid_plan_id",)),
    Mutation(
        "clustergate_propose_takes_an_error_after_sending_for_a_refusal_before_it",
        "clustergate propose exits 2, nothing sent, only for a refusal before sending: a ValueError after the gate "
        "decided (its answer printed to a closed stdout) exited 2 with no plan_id, a recorded decision lost (gatefix)",
        "launcher/client.py",
        "    except NothingSent as exc:  # refused before sending (a proposal larger than any valid one): no plan_id to retry\n",
        "    except ValueError as exc:\n",
        ("tests/test_proposal_path_review.py::"
         "test_propose_failing_after_the_gate_decided_names_the_plan_id_and_never_says_nothing_was_sent",)),
    Mutation(
        "curve_socket_counts_curves_33_bytes_against_its_message_limit",
        "a CurveZMQ socket's ZMQ_MAXMSGSIZE is its limit plus the 33 bytes CURVE adds to a frame: a gate at "
        "max_request_bytes 2,715 dropped valid proposals of 2,683 to 2,715 bytes unread (gatefix)",
        "actors/runtime.py",
        "                max_bytes += CURVE_OVERHEAD_BYTES\n",
        "                max_bytes += 0\n",
        ("tests/test_proposal_path_review.py::"
         "test_a_curve_gate_at_the_largest_valid_proposals_size_reads_every_valid_proposal",)),
    Mutation(
        "issuer_expired_detail_counts_from_the_scripts_deadline",
        "the issuer's \"Redis ran the script N ms after the gate's deadline\" counts from the deadline, not from the "
        "script's, which is 1 ms and half a TIME round trip earlier (gatefix)",
        "actors/permit_issuer.py",
        "                    reply = expired_by(reply, item_deadline_s(own, deadline), ahead_s, within_s)  # type: ignore[arg-type]\n",
        "                    pass\n",
        ("tests/test_proposal_path_review.py::"
         "test_the_issuers_expired_detail_says_how_late_redis_ran_the_script_without_the_scripts_margin",)),
    Mutation(
        "issuer_says_outcome_unknown_when_redis_refused_its_connection",
        "a permit issuer that could not connect to Redis sent nothing: the gate's fault HOLD says nothing was recorded, "
        "not outcome unknown (gatefix)",
        "actors/permit_issuer.py",
        "            return self.unavailable(items, NotSent(str(exc)))\n",
        "            return self.unavailable(items, exc)\n",
        ("tests/test_proposal_path_review.py::"
         "test_a_fault_hold_for_a_redis_that_refused_the_issuers_connection_says_nothing_was_recorded",),
        also=(("launcher/resp.py", "            raise NotSent(str(exc)) from None\n", "            raise\n"),)),
    Mutation(
        "gate_gives_its_issuer_permit_timeout_from_before_its_state_read",
        "the gate's deadline for its issuer, permit_timeout_ms / 2, runs from the end of its state read: from before "
        "it, a Redis answering in 200 ms left the issuer no time, every proposal HOLD while its client had 5 s (gatefix)",
        "actors/gate.py",
        "            read_s = time.monotonic() - now_mono\n",
        "            read_s = 0.0\n",
        ("tests/test_proposal_path_review.py::"
         "test_a_redis_answering_in_200_ms_leaves_the_issuer_its_time_after_the_gates_state_read",)),
    Mutation(
        "up_waits_its_whole_timeout_for_a_program_crash_looping_on_a_port_another_process_holds",
        "`up` names at once a program supervisord keeps restarting while another process holds a port it binds, and "
        "who holds it, exit 1: it waited its whole --timeout and named neither (lnfix)",
        "launcher/supervise.py",
        "            held = _held_by_others(sup, topo, home, info, holders) if info and state in RESTARTING_STATES else []\n",
        "            held = []\n",
        ("tests/test_launcher.py::test_up_names_at_once_a_crash_looping_program_whose_port_another_process_holds",)),
    Mutation(
        "an_up_killed_part_way_leaves_its_programs_stopped_as_if_stopped_by_hand",
        "the programs an `up` stopped to restart them and was killed before starting again are named by `status` "
        "(STOPPED BY AN INTERRUPTED UP) and by the next `up`, not as stopped by hand (lnfix)",
        "launcher/supervise.py",
        "                    keeping_record(lambda: proof_stops.record(home.run, \"up\", stopping, proof_stops.UP_FILE, taken))\n"
        "\n            def back",
        "                    pass\n\n            def back",
        ("tests/test_launcher.py::"
         "test_status_and_the_next_up_name_an_up_killed_part_way_as_what_left_its_programs_stopped",)),
    Mutation(
        "the_up_after_one_killed_part_way_says_it_started_programs_stopped_by_hand",
        "the `up` that starts the programs an `up` killed part-way left stopped names that `up` (its pid), not a stop "
        "by hand (lnfix)",
        "launcher/supervise.py",
        "                    by_up = [n for n in restart if interrupted_up and n in interrupted_up[\"programs\"]]\n",
        "                    by_up = []\n",
        ("tests/test_launcher.py::"
         "test_status_and_the_next_up_name_an_up_killed_part_way_as_what_left_its_programs_stopped",)),
    Mutation(
        "validate_of_a_named_pipe_nobody_writes_waits_for_ever",
        "a topology pipe nothing is written to within PIPE_WAIT_S is refused in one line, exit 2: a named pipe with "
        "no writer kept validate, up and render waiting for ever (lnfix)",
        "launcher/topology.py",
        "            if not select.select([self.fd], [], [], min(PIPE_WAIT_S, left))[0]:\n",
        "            if not select.select([self.fd], [], [], left)[0]:\n",
        (f"{OPERATOR_REVIEW}"
         "test_validate_of_a_named_pipe_nobody_writes_is_refused_in_bounded_time_and_a_pipe_that_is_written_is_read",)),
    Mutation(
        "a_topology_path_that_is_a_device_is_read_as_a_pipe",
        "a topology path neither a regular file nor a pipe (/dev/zero) is refused unread, in one line (lnfix)",
        "launcher/topology.py",
        "        if stat.S_ISFIFO(mode):\n",
        "        if not stat.S_ISDIR(mode):\n",
        (f"{OPERATOR_REVIEW}test_a_topology_path_that_never_ends_or_is_megabytes_long_is_refused_unread_in_one_line",)),
    Mutation(
        "status_exits_1_on_a_healthy_system_whose_external_sentinels_expect_no_replica",
        "with external sentinels told `replicas: 0`, no replica to promote is what the topology runs: `status` says "
        "there is no failover and exits 0; it exited 1, NO FAILOVER POSSIBLE (lnfix)",
        "launcher/supervise.py",
        "    excused = bool(nobody) and topo.redis.replicas_expected() == 0 and not any(\n",
        "    excused = False and not any(\n",
        ("tests/test_sentinel_failover.py::"
         "test_status_of_a_system_whose_external_sentinels_expect_no_replica_exits_0_saying_there_is_no_failover",)),
    Mutation(
        "status_all_hosts_says_not_files_for_a_host_that_hashes_configurations_another_way",
        "`status FILE --all-hosts` says `hashing version differs: upgrade HOST` for a host whose clustergate hashes "
        "configurations otherwise, not NOT FILE'S, which that host's own `up` could not clear (lnfix)",
        "launcher/hosts_status.py",
        "                    if not row[\"config_as_file\"] and hashed_as != CONFIG_HASH_VERSION:  # hashed otherwise: not known\n",
        "                    if False:\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_says_to_upgrade_a_host_that_hashes_configurations_another_way_not_that_it_is_not_files",)),
    # ------------------------------------------------------------------ mutaudit (6 Dec 2026): tests that could not fail
    Mutation(
        "backtest_proxy_of_a_net_flat_book_is_its_long_side",
        "the backtest's corr_proxy of a hedged book whose net is exactly 0 is 0, as the gate's (SPEC: 0 if net is 0)",
        "actors/policy.py",
        "    proxy = np.where(net > 0, pos / safe, np.where(net < 0, neg / safe, 0.0))\n",
        "    proxy = np.where(net >= 0, pos / safe, neg / safe)\n",
        ("tests/test_gate_policy.py::"
         "test_a_hedged_book_whose_net_is_exactly_0_has_proxy_0_in_the_backtest_as_in_the_gate",)),
    Mutation(
        "backtest_cluster_state_stale_at_exactly_its_freshness_window",
        "the backtest takes K from a cluster state exactly freshness_s old, as the gate does (SPEC: 0 <= age <= 120 s)",
        "actors/policy.py",
        "    fresh_k = have & (age >= 0) & (now - updated_ms <= freshness_s)\n",
        "    fresh_k = have & (age >= 0) & (now - updated_ms < freshness_s)\n",
        ("tests/test_gate_policy.py::"
         "test_the_backtests_gate_metrics_take_k_from_a_cluster_state_exactly_freshness_s_old_and_not_older",)),
    Mutation(
        "a_hold_in_a_batch_sets_its_symbols_cooldown",
        "in a batch only a non-HOLD decision sets its symbol's cooldown for the proposals after it",
        "actors/policy.py",
        '        if decision["final_action"] != HOLD:\n            cooldowns[symbol] = True\n',
        '        if True:\n            cooldowns[symbol] = True\n',
        ("tests/test_gate_policy.py::test_a_batch_decides_as_one_at_a_time_would_for_other_symbols_and_holds",)),
    Mutation(
        "a_batch_never_marks_a_cooldown_as_set_by_the_batch",
        "a cooldown set by an earlier decision of the batch is sent to the issuer as set by the batch",
        "actors/policy.py",
        "        from_batch = cooldown and not state.cooldowns.get(symbol, False) and proposal.action_proposed != HOLD\n",
        "        from_batch = False\n",
        ("tests/test_gate_policy.py::"
         "test_the_second_proposal_for_a_symbol_in_one_batch_sees_the_cooldown_the_first_sets",)),
    Mutation(
        "decision_drops_the_proposals_r_net",
        "a decision carries the proposal's r_net back (docs/proposal-api.md: a replay comes back with its own r_net)",
        "actors/policy.py",
        '    if proposal.r_net is not None:\n        record["r_net"] = proposal.r_net\n',
        "",
        ("tests/test_gate_hot_path.py::test_every_decision_reply_is_the_documented_compact_json_byte_for_byte",)),
    Mutation(
        "decision_drops_the_proposals_ts_epoch",
        "a decision carries the proposal's ts_epoch back as proposal_ts_epoch (docs/proposal-api.md)",
        "actors/policy.py",
        '    if proposal.ts_epoch is not None:\n        record["proposal_ts_epoch"] = proposal.ts_epoch\n',
        "",
        ("tests/test_gate_hot_path.py::test_every_decision_reply_is_the_documented_compact_json_byte_for_byte",)),
    Mutation(
        "decision_metrics_recorded_to_two_decimals",
        "a decision records its metrics to 6 decimals, the stress the policy compared",
        "actors/policy.py",
        "    return round(value, 6) if math.isfinite(value) else None\n",
        "    return round(value, 2) if math.isfinite(value) else None\n",
        ("tests/test_gate_service.py::"
         "test_the_gate_takes_k_from_fresh_cluster_state_falls_back_when_stale_and_returns",)),
    Mutation(
        "a_flat_position_with_a_notional_usd_is_held_long",
        "SPEC: the side is the sign of position_amt, so a flat position (0) is not held whatever notional_usd says",
        "actors/snapshots.py",
        "    side = 1.0 if amt > 0 else -1.0 if amt < 0 else 0.0\n",
        "    side = -1.0 if amt < 0 else 1.0\n",
        ("tests/test_snapshot_rule.py::test_gate_and_p27_read_every_snapshot_the_same_way",)),
    Mutation(
        "an_empty_notional_usd_makes_the_snapshot_unusable",
        "an empty notional_usd is absent (notional from position_amt x mark_price), not a bad number that drops the "
        "position",
        "actors/snapshots.py",
        '    if notional_usd not in (None, "", b""):\n',
        "    if notional_usd is not None:\n",
        ("tests/test_snapshot_rule.py::test_gate_and_p27_read_every_snapshot_the_same_way",)),
    Mutation(
        "a_pair_with_exactly_min_returns_common_returns_correlates_0",
        "a pair correlates over its common returns once they number min_returns (10), not only beyond",
        "actors/correlation.py",
        "    usable = count32 >= min_common\n",
        "    usable = count32 > min_common\n",
        ("tests/test_backtest.py::"
         "test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols",)),
    Mutation(
        "backtest_pair_with_exactly_min_returns_common_returns_correlates_0",
        "the backtest's pair correlates over its common returns once they number min_returns (10), as live",
        "actors/correlation.py",
        "            usable = ((nij >= max(min_returns, 2))",
        "            usable = ((nij > max(min_returns, 2))",
        ("tests/test_backtest.py::"
         "test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols",)),
    Mutation(
        "backtest_correlator_ready_with_one_symbol",
        "SPEC: the backtest's correlator, like the live one, is ready only with at least 2 symbols in the matrix",
        "actors/correlation.py",
        "    ok = inm.sum(axis=1) >= 2\n",
        "    ok = inm.sum(axis=1) >= 1\n",
        ("tests/test_cluster_maths.py::"
         "test_the_backtests_correlator_is_not_ready_with_one_symbol_in_the_matrix_as_the_live_one",)),
    Mutation(
        "correlator_prices_stale_at_exactly_max_price_age_s",
        "a matrix whose newest price is exactly max_price_age_s old is ready (stale only when older)",
        "actors/correlation.py",
        "(price_age_s is None or price_age_s > max_price_age_s):",
        "(price_age_s is None or price_age_s >= max_price_age_s):",
        ("tests/test_cluster_maths.py::"
         "test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest",)),
    Mutation(
        "backtest_prices_stale_at_exactly_max_price_age_s",
        "the backtest's window whose newest price is exactly max_price_age_s old is ready, as live",
        "actors/correlation.py",
        "    stale = ~(now_s - over <= max_price_age_s)\n",
        "    stale = ~(now_s - over < max_price_age_s)\n",
        ("tests/test_cluster_maths.py::"
         "test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest",)),
    Mutation(
        "a_symbol_whose_price_is_exactly_max_price_age_s_old_leaves_the_matrix",
        "a symbol whose own newest tick is exactly max_price_age_s old stays in the matrix (out only when older)",
        "actors/correlation.py",
        "(newest_tick_ts.get(s) or -math.inf) < now_s - max_price_age_s for s in symbols]",
        "(newest_tick_ts.get(s) or -math.inf) <= now_s - max_price_age_s for s in symbols]",
        ("tests/test_cluster_maths.py::"
         "test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest",)),
    Mutation(
        "backtest_symbol_whose_price_is_exactly_max_price_age_s_old_leaves_the_matrix",
        "the backtest keeps a symbol whose own newest tick is exactly max_price_age_s old in the matrix, as live",
        "actors/correlation.py",
        "    w[\"stale\"] = own_stale = newest_ts < now_s[:, None] - max_price_age_s",
        "    w[\"stale\"] = own_stale = newest_ts <= now_s[:, None] - max_price_age_s",
        ("tests/test_cluster_maths.py::"
         "test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest",)),
    Mutation(
        "backtest_cooldown_still_holds_at_its_ttl",
        "the backtest's cooldown ends cooldown_ttl_s after the permit, as the Redis key's TTL does",
        "launcher/backtest.py",
        "            cooldowns = {proposal.symbol: t < cooldown_until.get(proposal.symbol, -math.inf)}\n",
        "            cooldowns = {proposal.symbol: t <= cooldown_until.get(proposal.symbol, -math.inf)}\n",
        ("tests/test_backtest.py::test_a_cooldown_ends_exactly_cooldown_ttl_s_after_the_permit_that_set_it",)),
    Mutation(
        "backtest_marks_the_book_to_its_slots_own_closing_price",
        "the backtest marks the synthetic book to the last completed slot's price before a proposal (no look-ahead)",
        "launcher/backtest.py",
        "astype(np.int64) - 1 - first_slot, -1, marks.shape[1] - 1)",
        "astype(np.int64) - first_slot, -1, marks.shape[1] - 1)",
        ("tests/test_backtest.py::test_a_decision_never_sees_a_price_from_its_own_slot",)),
    Mutation(
        "backtest_takes_realized_vol_of_a_symbol_out_of_the_matrix",
        "the backtest's realized sigma is the matrix symbols' alone, as the state writer's realized vol hash holds",
        "actors/policy.py",
        "            realized = in_matrix[at] & np.isfinite(v) & (v > 0) & fresh_k[lo:hi, None]\n",
        "            realized = np.isfinite(v) & (v > 0) & fresh_k[lo:hi, None]\n",
        ("tests/test_gate_policy.py::test_the_backtest_takes_the_constant_sigma_for_a_symbol_out_of_the_matrix",)),
    Mutation(
        "backtest_decides_with_realized_vol_of_a_symbol_out_of_the_matrix",
        "the backtest decides with realized sigma of the matrix symbols alone, as the gate reads them",
        "launcher/backtest.py",
        "                                  if in_matrix[r, i] and math.isfinite(vol[r, i]) and vol[r, i] > 0}\n",
        "                                  if math.isfinite(vol[r, i]) and vol[r, i] > 0}\n",
        ("tests/test_backtest.py::test_the_backtest_decides_with_the_realized_sigma_of_the_matrix_symbols_alone",)),
    Mutation(
        "state_stream_record_lists_clusters_without_their_stress",
        "each stream record of the cluster state lists its clusters with id, symbols and stress",
        "actors/state_writer.py",
        '{k: c[k] for k in ("id", "symbols", "stress")} for c in clusters]',
        '{k: c[k] for k in ("id", "symbols")} for c in clusters]',
        ("tests/test_clusters_end_to_end.py::test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_"
         "its_stream",)),
    Mutation(
        "clusterer_takes_a_matrix_exactly_max_price_age_s_old_as_stale",
        "a queued matrix whose newest price is exactly max_price_age_s old is used (matrix_stale only when older)",
        "actors/clusterer.py",
        "and now_s - newest > max_price_age_s\n",
        "and now_s - newest >= max_price_age_s\n",
        ("tests/test_cluster_maths.py::"
         "test_a_price_exactly_max_price_age_s_old_is_fresh_live_in_the_clusterer_and_in_the_backtest",)),
    Mutation(
        "backtest_edge_pattern_drops_a_pair_at_exactly_070",
        "SPEC: the backtest joins a pair at corr exactly 0.70 (corr >= threshold), as live",
        "actors/clustering.py",
        "        edges = (pairs >= threshold) & in_matrix[:, iu] & in_matrix[:, ju]\n",
        "        edges = (pairs > threshold) & in_matrix[:, iu] & in_matrix[:, ju]\n",
        ("tests/test_cluster_maths.py::"
         "test_a_slot_whose_pair_is_exactly_070_is_not_given_the_partition_of_a_slot_without_the_edge",)),
    Mutation(
        "backtest_partition_drops_a_pair_at_exactly_070",
        "SPEC: the backtest's clusters of an edge pattern join a pair at corr exactly 0.70, as live",
        "actors/clustering.py",
        "            sub = np.where(corr >= threshold, 2.0, -2.0)[np.ix_(idx, idx)]  # the same edges\n",
        "            sub = np.where(corr > threshold, 2.0, -2.0)[np.ix_(idx, idx)]  # the same edges\n",
        ("tests/test_cluster_maths.py::test_returns_that_correlate_exactly_070_are_an_edge_live_and_in_the_backtest",)),
    Mutation(
        "backtest_counts_a_dust_position_as_a_held_member",
        "SPEC: the backtest's clusters count members held above 1e-9 of notional alone, as live",
        "actors/clustering.py",
        "    held = np.abs(signed) > HELD_MIN_NOTIONAL\n",
        "    held = np.abs(signed) > 0.0\n",
        ("tests/test_cluster_maths.py::test_a_member_is_held_above_1e_9_of_notional_however_small",)),
    Mutation(
        "backtest_positions_row_exactly_stale_after_s_old_is_stale",
        "SPEC: a positions row (a snapshot) is stale only when older than 300 s in the backtest too",
        "launcher/backtest.py",
        "            have[have] = times[have] - positions.ts[rows[at[have]]] <= stale_after_s\n",
        "            have[have] = times[have] - positions.ts[rows[at[have]]] < stale_after_s\n",
        ("tests/test_backtest_review.py::"
         "test_a_positions_row_older_than_stale_after_s_is_not_held_as_the_gate_judges_a_snapshot",)),
    Mutation(
        "backtest_decision_never_says_permit",
        "a non-HOLD decision the backtest records says permit: true, as the issuer's reply",
        "launcher/backtest.py",
        '                decision["permit"] = True\n',
        "                pass\n",
        ("tests/test_backtest_live_decisions.py::test_the_backtest_decides_each_proposal_as_the_live_gate_and_issuer_did",)),
    Mutation(
        "correlator_newest_price_is_the_oldest_symbols",
        "the age of a state's newest input price is that of the newest tick over the matrix's symbols",
        "actors/correlation.py",
        "    return max(times) if times else None\n",
        "    return min(times) if times else None\n",
        ("tests/test_cluster_maths.py::test_a_states_price_age_is_that_of_the_newest_price_over_the_matrix_symbols",)),
    Mutation(
        "backtest_symbol_enters_the_matrix_with_eleven_returns",
        "SPEC: in the backtest too a symbol with at least 10 valid returns enters the matrix",
        "actors/correlation.py",
        "    in_matrix = n >= min_returns\n",
        "    in_matrix = n > min_returns\n",
        ("tests/test_backtest.py::"
         "test_rolling_windows_equal_the_live_correlator_window_by_window_with_gaps_flat_rows_and_late_symbols",)),
    Mutation(
        "correlator_names_too_few_symbols_prices_stale",
        "a correlator not ready says why: prices_stale when 2 symbols have the returns but a stale price, else "
        "too_few_symbols",
        "actors/correlation.py",
        '("prices_stale" if np.sum(counts >= min_returns) >= 2 else "too_few_symbols")',
        '("prices_stale" if np.sum(counts >= min_returns) >= 1 else "too_few_symbols")',
        ("tests/test_cluster_maths.py::test_symbol_enters_matrix_with_ten_returns_and_ready_needs_two",)),
    Mutation(
        "a_hold_decision_sets_its_symbols_cooldown",
        "SPEC: only a non-HOLD decision sets the symbol's cooldown",
        "actors/permit_issuer.py",
        "  redis.call('SET', KEYS[4], '1', 'EX', ARGV[5])\n  redis.call('SET', KEYS[5], time[1], 'EX', ARGV[11])\nend\n",
        "  redis.call('SET', KEYS[5], time[1], 'EX', ARGV[11])\nend\nredis.call('SET', KEYS[4], '1', 'EX', ARGV[5])\n",
        ("tests/test_gate_service.py::"
         "test_a_decision_made_under_a_cooldown_its_batch_did_not_set_is_refused_for_a_new_read",)),
    Mutation(
        "a_permit_under_a_cooldown_leaves_the_cooldown_to_run_out",
        "SPEC: every non-HOLD decision sets the cooldown with TTL 60 s, one stepped down under a cooldown too",
        "actors/permit_issuer.py",
        "  redis.call('SET', KEYS[4], '1', 'EX', ARGV[5])\n",
        "  redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[5])\n",
        ("tests/test_gate_service.py::test_a_permit_decided_under_a_cooldown_sets_the_cooldown_again_for_its_full_ttl",)),
    Mutation(
        "finished_replay_skips_a_row_appended_for_another_symbol_at_its_last_time",
        "a finished replay restarted on its appended file publishes a row recorded at the time of the last row it "
        "published for a symbol it had not published then (a recorder writes one print per symbol per time): it went "
        "on after every row of that time, and ETHUSDT's appended row was never published (pricefix)",
        "actors/price_feed.py",
        "        index, out = int(np.searchsorted(self.ts, after_ts, side=\"left\")), set(after_symbols)\n",
        "        index, out = end, set()\n",
        ("tests/test_price_feed_replay.py::test_a_finished_replay_publishes_a_row_appended_for_another_symbol_at_the_"
         "time_of_its_last_row",)),
    Mutation(
        "replay_loop_rebased_from_a_stray_first_print",
        "a looping replay rebases each pass from the first print the next one published agrees with: a stray first "
        "line (43 among 43,000s), published once by a fresh feed, rebased every later pass 1000x up (pricefix)",
        "actors/price_feed.py",
        "                published[kept[0]] = False\n",
        "                pass\n",
        ("tests/test_price_feed_replay.py::test_a_looping_replay_whose_first_print_is_bad_keeps_its_price_level_pass_"
         "after_pass",)),
    Mutation(
        "buffer_partial_clock_return_taken_for_a_forward_fault",
        "a forward step that leaves a clock held back still behind the slot it stepped back from (-3600 s, +1800 s) "
        "keeps the back hold until the clock reaches that slot: taken for a forward fault, persistence was held a "
        "whole window from it (6 h at 60 s), not the 30 minutes to that slot (pricefix)",
        "actors/buffer.py",
        "        if stepped_ahead and (self.came_forward_again(now) or self.came_partly_forward(now)):\n",
        "        if stepped_ahead and self.came_forward_again(now):\n",
        ("tests/test_cluster_side_attack.py::test_a_clock_that_comes_partly_forward_after_a_backward_step_holds_the_"
         "history_only_until_it_reaches_it",)),
    Mutation(
        "buffer_history_ahead_held_a_window_at_every_restart",
        "a saved history ahead of the clock is held one window from the first hold on it, in whichever run: more than "
        "a window ahead, it was held a whole window from every start, so a buffer restarted more often never saved "
        "(pricefix)",
        "actors/buffer.py",
        "        held_s = hold_age_s(saved.held_since_ts, now, self.grid.capacity * self.cadence_s) or 0.0\n",
        "        held_s = 0.0\n",
        ("tests/test_cluster_side_attack.py::test_a_history_more_than_a_window_ahead_is_held_one_window_in_all_not_a_"
         "window_at_every_restart",)),
    Mutation(
        "buffer_history_hold_not_shown",
        "p27_buffer_history_save_held reads 1 while a clock fault holds the buffer from saving its history (pricefix)",
        "actors/buffer.py",
        "        self.m.save_held.set(1 if until_mono is not None and self.settings.persist else 0)\n",
        "        self.m.save_held.set(0)\n",
        ("tests/test_cluster_side_attack.py::test_a_clock_that_comes_partly_forward_after_a_backward_step_holds_the_"
         "history_only_until_it_reaches_it",)),
    Mutation(
        "buffer_clock_fault_never_alerts",
        "a clock fault the buffer counted raises P27BufferClockFault for 10 minutes (pricefix)",
        "configs/alerts.yml",
        "          or sum by (job, instance) (increase(p27_buffer_clock_faults_total[10m])) > 0\n",
        "          or sum by (job, instance) (increase(p27_buffer_clock_faults_total[10m])) > 1\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "buffer_history_hold_never_alerts",
        "a buffer holding its saved history raises P27BufferClockFault as long as the hold lasts (pricefix)",
        "configs/alerts.yml",
        "          max by (job, instance) (p27_buffer_history_save_held) == 1\n",
        "          max by (job, instance) (p27_buffer_history_save_held) == 2\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "correlator_takes_a_bad_live_window_for_a_window",
        "a live window the correlator cannot read leaves the snapshot reply used: it marked the correlator as having a "
        "window, and the first matrix waited a cadence for the next (pricefix)",
        "actors/correlator.py",
        "        if self.handle_window(header, frames[2]):\n            self.have_window = True\n",
        "        self.have_window = True\n        self.handle_window(header, frames[2])\n",
        ("tests/test_cluster_side_attack.py::test_a_bad_live_window_before_the_snapshot_reply_leaves_the_snapshot_"
         "used",)),
    Mutation(
        "replay_resumed_inside_a_timestamp_publishes_its_rows_out_again",
        "a replay stopped after a turn that ended inside a timestamp resumes after the rows of that time already out: "
        "it went on with the first row recorded then, and published BTCUSDT's row of that time twice (feedrev3)",
        "actors/price_feed.py",
        "                index = self._first_not_out(float(ts), named, unnamed=index)\n",
        "                pass\n",
        ("tests/test_price_feed_replay.py::test_a_replay_stopped_in_the_middle_of_a_timestamp_does_not_publish_that_"
         "timestamps_rows_out_again",)),
    Mutation(
        "buffer_history_held_since_ahead_of_the_clock_kept",
        "a saved history whose hold began at a time ahead of the buffer's clock (a run whose clock was ahead wrote it) "
        "is marked held again from this clock: kept, it counted nothing held, and every restart held a whole window "
        "again (feedrev3)",
        "actors/grid.py",
        "    return age_s if 0.0 <= age_s <= window_s else None\n",
        "    return age_s if age_s <= window_s else None\n",
        ("tests/test_cluster_side_attack.py::test_a_history_held_since_a_time_ahead_of_the_clock_is_held_one_window_in_"
         "all_not_a_window_at_every_restart",)),
    Mutation(
        "finished_replay_names_a_row_cut_mid_write_out",
        "a finished replay's position does not name out the row read from the file's unterminated last line (a "
        "recorder's write cut in its price: 49 of 4981, refused): named, the completed line appended since was skipped "
        "at the restart and that print never published (feedrev3)",
        "actors/price_feed.py",
        "        if last == self.n - 1 and self.last_row_unterminated:\n",
        "        if False:\n",
        ("tests/test_price_feed_replay.py::test_a_finished_replay_whose_last_line_was_cut_mid_write_publishes_that_"
         "line_once_the_recorder_completes_it",)),
    Mutation(
        "not_sent_after_a_send_when_the_reconnect_is_refused",
        "a call Redis may have run (its connection failed after the send) is never NotSent, though the new "
        "connection's handshake was refused: the gate said nothing was recorded for a written permit (gaterev3)",
        "launcher/resp.py",
        "            try:\n                self._connect()\n            except NotSent as refused:",
        "            try:\n                self._connect()\n            except NotImplementedError as refused:",
        ("tests/test_proposal_path_review3.py::test_a_write_redis_ran_before_the_connection_was_cut_is_never_not_sent_"
         "when_the_reconnect_is_refused",)),
    Mutation(
        "client_returns_nothing_recorded_after_a_maybe_decided_attempt",
        "a fault HOLD saying nothing was recorded, after an attempt of the call that may have been decided, is no "
        "answer of the call (GateUnavailable, outcome unknown): it was returned while Redis held the permit (gaterev3)",
        "launcher/client.py",
        "            unsettled = fault and maybe_decided and _says_nothing_recorded(reply)",
        "            unsettled = False and maybe_decided and _says_nothing_recorded(reply)",
        ("tests/test_proposal_path_review3.py::test_a_nothing_recorded_fault_after_an_attempt_that_timed_out_is_no_"
         "answer_of_the_call",)),
    Mutation(
        "script_refused_before_any_write_says_outcome_unknown",
        "a script Redis refused before it ran or at its first write (READONLY, NOREPLICAS, MISCONF, LOADING, BUSY, "
        "MASTERDOWN) gets a fault HOLD saying nothing was recorded, not outcome unknown (gaterev3)",
        "actors/permit_issuer.py",
        "        if redis_error_code(reply) in REFUSED_BEFORE_ANY_WRITE:\n",
        "        if False:\n",
        ("tests/test_proposal_path_review3.py::test_a_script_redis_refused_before_any_write_gets_a_fault_hold_saying_"
         "nothing_was_recorded",)),
    Mutation(
        "status_calls_a_missing_redis_password_a_reply_error",
        "status's cluster state line, where Redis wants a password it was not given (NOAUTH) or refuses one, says so "
        "and names the variable to set, not \"Redis unavailable (ReplyError)\" (resprev)",
        "launcher/overview.py",
        "    if not isinstance(exc, (RedisUnavailable, ReplyError)):\n",
        "    if not isinstance(exc, RedisUnavailable):\n",
        ("tests/test_status_overview.py::"
         "test_status_says_redis_wants_a_password_it_was_not_given_and_names_the_variable_to_set",)),
    Mutation(
        "cluster_side_resp_call_sent_again_after_a_timeout",
        "a call of the buffer's, clusterer's, book's or feed's RESP client to a stalled Redis waits one redis.timeout_ms, "
        "not two (sent again on a new connection after the timeout) (resprev)",
        "launcher/resp.py",
        "        self.resend_after_timeout = False\n",
        "        self.resend_after_timeout = True\n",
        ("tests/test_cluster_side_resp_client.py",)),
    Mutation(
        "resp_client_timeout_names_no_server",
        "the RESP client's timeout error names the Redis it waited for (redis-py's did; the actors' OutageLog, "
        "history_not_persisted and status lines read \"TimeoutError: timed out\" alone) (resprev)",
        "launcher/resp.py",
        "                raise RedisTimedOut(f\"TimeoutError: timed out waiting for {self.server_name}\") from None\n",
        "                raise RedisTimedOut(\"TimeoutError: timed out\") from None\n",
        ("tests/test_cluster_side_resp_client.py",)),
    Mutation(
        "replay_feed_keeps_its_position_read_client_open_beside_the_savers",
        "a replaying feed holds one Redis client once its saved position is read (the saver takes it over), not a "
        "second one left open and unused, with a second Sentinel watch thread (resprev)",
        "actors/price_feed.py",
        "        self.position_saver = PositionSaver(self.redis, key, self.replay_identity, self._redis_outage)\n"
        "        self.redis = None\n",
        "        self.position_saver = PositionSaver(RespClient.from_config(self.topology.redis), key, "
        "self.replay_identity, self._redis_outage)\n",
        ("tests/test_cluster_side_resp_client.py::"
         "test_a_replaying_feed_keeps_one_redis_client_once_its_saved_position_is_read",)),
    Mutation(
        "a_port_held_at_another_address_fails_a_starting_program",
        "a process on the same port at another address ([::1], 127.0.0.2) is not the holder of a 127.0.0.1 endpoint: "
        "`up` said a healthy gate it restarted could not bind its port, exit 1 (lnrev3); the crash-loop check's probe "
        "that confirms a holder goes too, or it covers for the address check (revupfix)",
        "launcher/endpoints.py",
        "    return wanted.is_unspecified or held.is_unspecified or held == wanted\n",
        "    return True\n",
        ("tests/test_launcher.py::"
         "test_up_does_not_fail_a_starting_program_over_a_process_on_the_same_port_at_another_address",),
        also=(("launcher/supervise.py", "        if endpoint_problem_now(endpoint) is None:\n            continue\n"
               "        holder = found[0]\n", "        holder = found[0]\n"),)),
    Mutation(
        "a_second_killed_up_drops_what_the_first_left_stopped",
        "an `up` carries into its own record what a killed `up` left stopped: killed part-way too, it replaced that "
        "record with its own, and what the first left STOPPED was named by nothing (lnrev3)",
        "launcher/supervise.py",
        "            stopping = [n for n in (interrupted_up or {}).get(\"programs\", [])]\n",
        "            stopping = []\n",
        ("tests/test_launcher.py::"
         "test_an_up_killed_part_way_after_another_killed_part_way_names_what_both_left_stopped",)),
    Mutation(
        "external_sentinels_expecting_no_replica_hide_an_issuer_waiting_for_one",
        "`replicas: 0` excuses the missing failover only where no permit issuer WAITs for a replica: with "
        "wait_replicas: 1 every decision is HOLD replica_unacknowledged, and status exited 0 (lnrev3)",
        "launcher/supervise.py",
        "    excused = bool(nobody) and topo.redis.replicas_expected() == 0 and not any(\n",
        "    excused = bool(nobody) and topo.redis.replicas_expected() == 0 or 0 * any(\n",
        ("tests/test_sentinel_failover.py::"
         "test_status_with_external_sentinels_expecting_no_replica_still_fails_an_issuer_that_waits_for_one",)),
    Mutation(
        "status_all_hosts_says_nothing_of_what_an_interrupted_up_left_stopped_on_a_host",
        "`status FILE --all-hosts` names what an `up` killed part-way left stopped on a host, as `status --home` "
        "does: it showed the program STOPPED with no word of why (lnrev3)",
        "launcher/supervise.py",
        "            \"left_stopped_by_up\": None if infos is None else left_stopped_by_up(home, infos),\n",
        "",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_names_what_an_up_killed_part_way_left_stopped_on_a_host",)),
    Mutation(
        "a_down_killed_part_way_leaves_its_programs_stopped_as_if_stopped_by_hand",
        "the programs a `down` killed part-way stopped under a supervisord it did not shut are named by `status` "
        "(STOPPED BY AN INTERRUPTED DOWN) and by the next `up`, not as stopped by hand (lnrev3)",
        "launcher/supervise.py",
        "                    proof_stops.record(home.run, \"down\", stopping, proof_stops.UP_FILE, taken_over(earlier))\n",
        "                    pass\n",
        ("tests/test_launcher.py::"
         "test_status_and_the_next_up_name_a_down_killed_part_way_as_what_left_its_programs_stopped",)),
    Mutation(
        "a_config_hash_version_line_of_endless_digits_crashes_status_exits",
        "a `; config hash version` line past any version reads as none written: int() of its 5,000 digits raised out "
        "of `status --exits`, which `status FILE --all-hosts` runs on each host (lnrev3)",
        "launcher/supervise.py",
        "        found = re.search(r\"^; config hash version (\\d{1,9})$\", home.programs.read_text(), re.M)\n",
        "        found = re.search(r\"^; config hash version (\\d+)$\", home.programs.read_text(), re.M)\n",
        ("tests/test_launcher.py::"
         "test_a_config_hash_version_line_past_any_version_reads_as_none_written_not_a_traceback",)),
    Mutation(
        "a_pipe_dripped_into_for_ever_is_read_for_ever",
        "a topology pipe still written to PIPE_TOTAL_S after it was opened is refused: a writer dripping a line every "
        "few seconds and never closing kept validate, up and render reading, silent, for ever (lnrev3)",
        "launcher/topology.py",
        "        self.deadline = time.monotonic() + PIPE_TOTAL_S\n",
        "        self.deadline = float(\"inf\")\n",
        ("tests/test_launcher_operator_review.py::"
         "test_validate_of_a_pipe_its_writer_never_closes_but_drips_into_is_refused_in_bounded_time",)),
    Mutation(
        "a_crash_looping_programs_port_held_by_its_own_home_says_down_that_home",
        "a port a crash-looping program binds, held by a program of another file of the same home, is named as this "
        "home's program: `up` said `another clustergate system, home HOME; stop it with down --home HOME` of its "
        "own home (lnrev3)",
        "launcher/supervise.py",
        "        own = _own_program_of(sup, holder)  # one of another file (monitor up's prometheus): not `down` this home\n",
        "        own = None\n",
        ("tests/test_launcher.py::"
         "test_up_names_this_homes_own_program_holding_a_crash_looping_programs_port_not_another_system",)),
    Mutation(
        "a_keys_directory_walk_skips_a_symlinks_own_directory",
        "the walk to a CurveZMQ keys directory follows each symlink as the kernel does: the directory a second "
        "symlink lies in, writable by others, is refused (only the path as written and as resolved were checked)",
        "launcher/curve.py",
        "            target = Path(os.readlink(entry))\n",
        "            target = entry.resolve()\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_reached_through_a_symlink_another_user_can_repoint_is_refused",)),
    Mutation(
        "a_symlink_another_user_owns_in_a_sticky_directory_leads_to_the_keys",
        "a symlink on the way to a CurveZMQ keys directory that another user owns in a sticky directory is refused: "
        "the sticky bit keeps it theirs, so they could point it at a directory holding their key",
        "launcher/curve.py",
        "            if below.stat().st_mode & stat.S_ISVTX and link.st_uid not in (uid, 0):\n",
        "            if False:\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_reached_through_a_symlink_another_user_can_repoint_is_refused",)),
    Mutation(
        "a_relative_keys_dir_is_checked_only_as_resolved",
        "a relative keys_dir or allow_dir is checked as written, through its symlinks, not only where it resolves "
        "to: a symlink in a directory others can write on the way is refused",
        "launcher/curve.py",
        "    return topology_base(topo) / written\n",
        "    return topo.resolve_path(written)\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_reached_through_a_symlink_another_user_can_repoint_is_refused",)),
    Mutation(
        "a_key_file_that_is_another_users_symlink_in_a_sticky_directory_is_taken",
        "a public key file named through a symlink another user owns in a sticky directory (allow: [/tmp/desk.key], a "
        "*.key in an allow_dir made 1777 after validate) is refused: they could point it at a stranger's key",
        "launcher/curve.py",
        "    if (unsafe := _unsafe_on_the_way(path, os.geteuid())) is not None:\n",
        "    if (unsafe := None) is not None:\n",
        ("tests/test_security.py::"
         "test_a_key_file_that_is_a_symlink_another_user_owns_in_a_sticky_directory_is_refused",)),
    Mutation(
        "buffer_last_save_sent_again_after_a_timeout",
        "the buffer's last save of its history at SIGTERM, on a stalled Redis, times out once on its connection and "
        "is not sent again on a new one (which the stalled server's kernel accepts: a second timeout, past the 2 s an "
        "actor has to exit) (stall)",
        "actors/buffer.py",
        "        self.redis = RespClient.from_config(self.topology.redis, decode=False)\n",
        "        self.redis = RespClient.from_config(self.topology.redis, decode=False)\n"
        "        self.redis.resend_after_timeout = True\n",
        ("tests/test_cluster_side_resp_client.py::"
         "test_a_buffer_stopped_while_its_redis_is_stalled_exits_after_one_timeout",)),
    Mutation(
        "warm_restart_proof_restarts_a_buffer_holding_its_history",
        "proof warm-restart stops nothing while the buffer holds its saved history after a clock fault "
        "(p27_buffer_history_save_held 1: a restart is a cold warm-up), and fails naming the hold (wrp)",
        "proofs/warm_restart.py",
        '    p.require("before: the buffer saves its history", not holding, held, detail)\n',
        '    p.require("before: the buffer saves its history", True, held, detail)\n',
        ("tests/test_proofs.py::"
         "test_warm_restart_proof_refuses_to_restart_a_buffer_holding_its_history_after_a_clock_step",)),
    Mutation(
        "issuer_housekeeping_on_the_decisions_connection",
        "no housekeeping round trip of the permit issuer (Redis's clock, start, memory, whether it takes writes) is made "
        "on the connection its decisions are written on: they run in a thread on a connection of their own (on a Redis "
        "100 ms away each way, the six made together every 5 s on the decisions' connection held a decision 1.2 s)",
        "actors/permit_issuer.py",
        "        self._housekeeper = Housekeeper(self.redis.sibling(self.topology.redis.timeout_ms / 1000.0), writable)\n",
        "        self._housekeeper = Housekeeper(self.redis, writable)\n",
        ("tests/test_issuer_housekeeping.py::test_no_housekeeping_round_trip_of_the_issuer_is_made_on_its_decisions_connection_over_a_slow_redis_link",)),
    Mutation(
        "issuer_takes_up_an_older_housekeeping_reading_of_redis_memory",
        "a reading of INFO memory that began before the last one taken up (the housekeeping thread's, from before a "
        "Redis restart with allkeys-lru that a decision's check before its script load found) is dropped: taken up, it "
        "let decisions be written to a Redis that may evict them",
        "actors/permit_issuer.py",
        "        if reading.began <= self._memory_began:\n            return\n",
        "",
        ("tests/test_issuer_housekeeping.py::test_a_reading_of_redis_that_began_before_the_last_one_taken_up_is_dropped",)),
    Mutation(
        "issuer_takes_up_an_older_housekeeping_reading_of_redis_clock",
        "a reading of Redis's clock that began before the one in use (the housekeeping thread's, of the old primary, "
        "taken up after a decision read the new one's after a failover) is dropped",
        "actors/permit_issuer.py",
        "        if reading is None or reading.began <= self._clock_began:\n",
        "        if reading is None:\n",
        ("tests/test_issuer_housekeeping.py::test_a_reading_of_redis_that_began_before_the_last_one_taken_up_is_dropped",)),
    Mutation(
        "issuer_housekeeping_connection_gives_up_after_one_late_answer",
        "the housekeeping connection sends a call again after a timeout, as the decisions' connection does: one late "
        "answer to the write probe (350 ms at timeout_ms 250) no longer makes the issuer not ready with a false "
        "redis_not_writable error while decisions are written (hkrev)",
        "launcher/resp.py",
        "        other.resend_after_timeout = self.resend_after_timeout  # one late answer is retried on both, or on neither\n",
        "",
        ("tests/test_issuer_housekeeping_review.py::"
         "test_one_late_answer_to_the_write_probe_does_not_make_the_issuer_not_ready",)),
    Mutation(
        "issuer_clock_reread_cancelled_by_an_older_housekeeping_reading",
        "a clock reading of the housekeeping thread begun before a script found Redis's clock gone back is not taken "
        "up: it would cancel the re-read clock_went_back asks for (hkrev)",
        "actors/permit_issuer.py",
        "        self._clock_began = time.monotonic()  # a reading begun before this finding (the thread's) is not taken up\n",
        "",
        ("tests/test_issuer_housekeeping_review.py::"
         "test_a_clock_reading_that_began_before_a_script_found_redis_clock_gone_back_does_not_cancel_the_reread",)),
    Mutation(
        "resp_client_sends_on_a_connection_redis_closed_while_idle",
        "a connection Redis closed while it was idle is replaced before a call is sent on it: with Redis stopped, the "
        "issuer's refused reconnect says nothing was recorded, not outcome unknown (the housekeeping that used to find "
        "the closed connection first runs on its own connection since hk)",
        "launcher/resp.py",
        "IDLE_CHECK_S = 0.5\n",
        "IDLE_CHECK_S = 1e9\n",
        ("tests/test_proposal_path_review.py::"
         "test_a_fault_hold_for_a_redis_that_refused_the_issuers_connection_says_nothing_was_recorded",)),
    Mutation(
        "tick_ahead_recorded_as_of_the_buffers_now",
        "a tick ahead of the buffer's clock, recorded in an earlier slot, keeps its own ts there: a feed on time is not "
        "refused superseded after the buffer's clock stepped back 3 s, nor a feed 0.5 s ahead at slot edges",
        "actors/grid.py",
        "    slot = min(grid.slot_of(ts), grid.slot_of(now_s))\n",
        "    slot = min(grid.slot_of(ts), grid.slot_of(now_s))\n    if slot < grid.slot_of(ts):\n        ts = now_s\n",
        ("tests/test_cluster_hardening.py::"
         "test_a_tick_of_a_feed_ahead_recorded_in_an_earlier_slot_is_ordered_by_its_own_ts_not_superseded",
         "tests/test_reliability_bad_input.py::"
         "test_a_buffer_whose_clock_stepped_back_less_than_a_rewind_still_takes_the_ticks_of_a_feed_on_time")),
    Mutation(
        "client_takes_a_nothing_recorded_hold_for_maybe_decided",
        "a fault HOLD saying nothing was recorded leaves the call as undecided as it was: two gates cut off from Redis "
        "end the call with that HOLD, not outcome unknown, and an expired after it is not late",
        "launcher/client.py",
        "            maybe_decided = maybe_decided or (fault and not _says_nothing_recorded(reply)) or garbage is not None",
        "            maybe_decided = maybe_decided or fault or garbage is not None",
        ("tests/test_client.py::test_fault_holds_that_say_nothing_was_recorded_from_every_gate_end_the_call_with_that_"
         "hold_not_outcome_unknown",)),
    Mutation(
        "tick_ahead_counts_its_own_ts_as_the_newest_price",
        "a tick ahead recorded in an earlier slot than its own counts as received at the buffer's now as the symbol's "
        "newest price: its own ts there made a feed 4.5 s ahead that stopped read fresh past max_price_age_s (rev1)",
        "actors/grid.py",
        "    received = now_s if grid.slot_of(ts) > slot else None\n",
        "    received = None\n",
        ("tests/test_reliability_bad_input.py::test_the_ticks_of_a_feed_ahead_by_less_than_the_skew_do_not_make_its_"
         "price_look_fresher_than_received",)),
    Mutation(
        "rewind_takes_a_kept_tick_ahead_for_the_newest_price",
        "after a rewind a symbol's newest tick time is at most the end of the slot a kept price is in: a tick ahead keeps "
        "its own ts in an earlier slot, and read as the newest price it was 4.5 s ahead of the buffer's clock (rev1)",
        "actors/grid.py",
        "        self.newest_ts[future] = np.minimum(self.price_ts[future], slot_ends[None, :]).max(axis=1)",
        "        self.newest_ts[future] = self.price_ts[future].max(axis=1)",
        ("tests/test_reliability_bad_input.py::test_a_rewind_of_the_buffers_clock_does_not_put_the_newest_tick_time_of_"
         "a_feed_ahead_past_its_clock",)),
    Mutation(
        "client_reads_nothing_recorded_anywhere_in_a_detail",
        "the client reads a fault HOLD as recording nothing only when its detail ends with the gate's NOTHING_RECORDED, "
        "not when the phrase is anywhere in it (a detail may echo the caller's plan_id) (review of 613147f)",
        "launcher/client.py",
        "    return decision is not None and str(decision.get(\"detail\")).endswith(NOTHING_RECORDED)\n",
        "    return decision is not None and \"nothing was recorded\" in str(decision.get(\"detail\"))\n",
        ("tests/test_client.py::test_fault_holds_that_say_nothing_was_recorded_from_every_gate_end_the_call_with_that_"
         "hold_not_outcome_unknown",)),
    Mutation(
        "issuer_keeps_a_dead_housekeeping_thread",
        "a permit issuer whose housekeeping thread ended unasked starts another (logged, counted): before, it kept its "
        "last readings of Redis for good, ready on them",
        "actors/permit_issuer.py",
        "        ended = not keeper.thread.is_alive() and not keeper.stopped\n",
        "        ended = False\n",
        ("tests/test_issuer_housekeeping_review.py::test_a_housekeeping_thread_that_ended_is_started_again_and_said",)),
    Mutation(
        "issuer_restarts_housekeeping_at_every_turn",
        "a housekeeping thread that ended is started again no sooner than MEMORY_READ_S after the one that ended started: "
        "one that ends at once each time was started again at every 0.1 s turn, a new Redis connection and a traceback "
        "line each (review rev2)",
        "actors/permit_issuer.py",
        "        if ended and time.monotonic() - keeper.started >= MEMORY_READ_S:\n",
        "        if ended:\n",
        ("tests/test_issuer_housekeeping_review.py::test_a_housekeeping_thread_that_ends_at_once_each_time_is_not_"
         "started_again_ten_times_a_second",)),
    Mutation(
        "issuer_asks_whether_housekeeping_ended_after_taking_its_readings",
        "the loop asks whether the housekeeping thread ended before taking up its readings: asked after, a thread that "
        "ended between the two had what ended it never logged (review rev2)",
        "actors/permit_issuer.py",
        "        ended = not keeper.thread.is_alive() and not keeper.stopped\n"
        "        now = (keeper.clock, keeper.start, keeper.memory, keeper.writable, keeper.failed)\n",
        "        now = (keeper.clock, keeper.start, keeper.memory, keeper.writable, keeper.failed)\n"
        "        ended = not keeper.thread.is_alive() and not keeper.stopped\n",
        ("tests/test_issuer_housekeeping_review.py::test_what_ended_the_housekeeping_thread_is_logged_though_it_ended_"
         "while_the_loop_took_up_its_readings",)),
    Mutation(
        "redis_refusal_of_a_password_names_no_variable",
        "a password Redis refuses is said with the environment variable it was read from (never the password): an "
        "actor's line said only WRONGPASS",
        "launcher/resp.py",
        "    if password_env is None:\n        return \"\"\n    if not password:\n",
        "    if True:\n        return \"\"\n    if not password:\n",
        ("tests/test_cluster_side_resp_client.py::test_a_password_redis_refuses_is_said_with_the_variable_it_was_read_"
         "from",)),
    Mutation(
        "handshake_refusal_echoes_the_auth_arguments",
        "a Redis that does not know AUTH (renamed) echoes its arguments: the refusal, logged, held the password",
        "launcher/resp.py",
        '                    said = str(reply).split(", with args beginning with:", 1)[0]\n',
        "                    said = str(reply)\n",
        ("tests/test_cluster_side_resp_client.py::test_a_redis_that_echoes_the_auth_arguments_never_gets_the_password_"
         "into_the_refusal",)),
    Mutation(
        "refusal_of_no_password_says_the_password_given",
        "with no password given (its variable unset), a NOAUTH refusal said `the password given is $VAR's`",
        "launcher/resp.py",
        "    if not password:\n        return f\" (no password given",
        "    if False:\n        return f\" (no password given",
        ("tests/test_cluster_side_resp_client.py::test_a_refusal_of_no_password_says_none_was_given",)),
    Mutation(
        "refusal_by_a_redis_without_a_password_says_set_its_password",
        "an AUTH a Redis without any password refuses said `set it to this Redis's password`: it has none",
        "launcher/resp.py",
        '    if has_no_password(refusal):\n',
        "    if False:\n",
        ("tests/test_cluster_side_resp_client.py::test_a_refusal_of_no_password_says_none_was_given",)),
    Mutation(
        "sentinels_refusing_the_password_name_no_variable",
        "sentinels that refuse the password (NOAUTH) ended discovery naming no variable, in an actor's line or status",
        "launcher/resp.py",
        '                                           f"{self._password_hint(exc.words)}") from None\n',
        '                                           "") from None\n',
        ("tests/test_cluster_side_resp_client.py::test_a_password_the_sentinels_refuse_is_said_with_its_variable",)),
    Mutation(
        "status_cuts_a_named_refusal_that_is_not_an_auth_reply",
        "status cut a refusal naming the variable that does not start NOAUTH (the sentinels') at 120 characters",
        "launcher/overview.py",
        '    if f"${password_env}" in text:  # A refused password named already (RespClient\'s hint, about 80 characters more)\n',
        "    if False:\n",
        ("tests/test_cluster_side_resp_client.py::test_a_password_the_sentinels_refuse_is_said_with_its_variable",)),
    Mutation(
        "a_secret_key_below_a_directory_others_can_write_is_taken",
        "a .key_secret whose directory, or one above, group or others can write (without the sticky bit) is refused: "
        "any local user could swap it for another keypair root or this user owns (keysdir)",
        "launcher/curve.py",
        "    _refuse_a_way_others_can_change(path)\n    return Keypair(public=public, secret=secret)\n",
        "    return Keypair(public=public, secret=secret)\n",
        ("tests/test_security.py::"
         "test_a_secret_key_in_a_directory_others_can_write_is_refused_so_no_stranger_can_swap_it",),
        also=(("launcher/curve.py",  # the way is checked before the file is opened too (revpub)
               "        # way is one no other user can change.\n        _refuse_a_way_others_can_change(path)\n",
               "        # way is one no other user can change.\n"),)),
    Mutation(
        "a_key_directory_deleted_under_its_descriptor_crashes_validate",
        "a keys_dir on whose way something cannot be looked at (/proc/self/fd/N of a deleted directory) is a "
        "problem naming it; FileNotFoundError escaped validate (keysdir)",
        "launcher/curve.py",
        "    except OSError as exc:\n        return _not_checked(directory, exc)\n",
        "    except ValueError as exc:\n        return _not_checked(directory, exc)\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_given_as_the_descriptor_of_a_deleted_directory_is_refused_naming_it",)),
    Mutation(
        "a_key_directory_deleted_before_its_check_crashes_it",
        "others_can_write on a directory deleted since the caller looked says so, naming it; it raised "
        "FileNotFoundError (keysdir)",
        "launcher/curve.py",
        "    except OSError as exc:  # deleted (or moved) since the caller looked\n",
        "    except ValueError as exc:  # deleted (or moved) since the caller looked\n",
        ("tests/test_security.py::"
         "test_a_keys_directory_given_as_the_descriptor_of_a_deleted_directory_is_refused_naming_it",)),
    Mutation(
        "a_hard_linked_secret_key_is_taken",
        "a .key_secret with a second name (st_nlink > 1: another user's, in a sticky directory with "
        "fs.protected_hardlinks at 0, or one that outlives a revocation) is refused (keysdir)",
        "launcher/curve.py",
        "    if info.st_nlink > 1 and _others_could_name_it(path):",
        "    if False:",
        ("tests/test_security.py::"
         "test_a_secret_key_with_a_second_name_in_a_directory_others_can_write_is_refused",)),
    Mutation(
        "a_key_path_stat_cannot_follow_crashes_validate",
        "a keypair, keys_dir or allow_dir whose stat() fails otherwise than ENOENT (a name too long, a symlink loop; "
        "EACCES below a directory this user cannot search) is a problem naming it; OSError escaped (keysdir re-review)",
        "launcher/curve.py",
        "    except OSError as exc:\n        hint = (",
        "    except ValueError as exc:\n        hint = (",
        ("tests/test_security.py::"
         "test_a_key_path_the_kernel_cannot_look_at_is_a_problem_naming_it_not_a_crash",)),
    Mutation(
        "an_allow_dir_that_is_a_symlink_loop_crashes_validate",
        "an allow_dir that is a symlink loop is a problem naming it; Path.resolve raised RuntimeError (keysdir "
        "re-review)",
        "launcher/topology.py",
        "                if reachable and allow_dir.resolve() == keys_dir.resolve():\n",
        "                if allow_dir.resolve() == keys_dir.resolve():\n",
        ("tests/test_security.py::"
         "test_a_key_path_the_kernel_cannot_look_at_is_a_problem_naming_it_not_a_crash",)),
    Mutation(
        "a_keys_dir_stat_cannot_follow_crashes_validate",
        "a keys_dir whose stat() fails otherwise than ENOENT is a problem naming why; is_dir raised (ENAMETOOLONG) or "
        "a symlink loop was 'not a directory (make it with keys generate)' (keysdir re-review)",
        "launcher/topology.py",
        "    if (why := keys.unreachable(keys_dir)) is not None:\n",
        "    if False:\n",
        ("tests/test_security.py::"
         "test_a_key_path_the_kernel_cannot_look_at_is_a_problem_naming_it_not_a_crash",)),
    Mutation(
        "a_key_below_a_directory_this_user_cannot_search_says_not_why",
        "a key path below a directory this user cannot search says so (uid named); it said Permission denied alone "
        "(keysdir re-review)",
        "launcher/curve.py",
        "                if exc.errno == errno.EACCES else \"\")\n",
        "                if False else \"\")\n",
        ("tests/test_security.py::"
         "test_a_key_path_below_a_directory_this_user_cannot_search_is_a_key_file_error_naming_it",)),
    Mutation(
        "a_hard_linked_secret_key_names_a_find_from_the_root",
        "the refusal of a hard-linked .key_secret names `find MOUNTPOINT -xdev -samefile FILE` for the filesystem "
        "holding it; `find / -xdev` found nothing on /srv or a tmpfs (keysdir re-review)",
        "launcher/curve.py",
        "f\"find {_filesystem_of(path)} -xdev -samefile {path.resolve()}",
        "f\"find / -xdev -samefile {path.resolve()}",
        ("tests/test_security.py::"
         "test_a_hard_linked_secret_key_on_another_filesystem_names_the_find_that_finds_its_other_name",)),
    Mutation(
        "a_secret_key_hard_linked_between_this_users_releases_is_refused",
        "a .key_secret with a second name in a directory only this user or root can write (rsync --link-dest, cp -al "
        "releases) is taken: no other user made it; refused, it stopped such a release (keysdir re-review)",
        "launcher/curve.py",
        "    if info.st_nlink > 1 and _others_could_name_it(path):",
        "    if info.st_nlink > 1:",
        ("tests/test_security.py::"
         "test_a_secret_key_hard_linked_between_release_directories_no_other_user_can_write_is_taken",)),
    Mutation(
        "a_hard_link_in_a_sticky_directory_is_taken_for_this_users",
        "whether others could have made a secret key's second name is decided by the directory holding it, writable "
        "by others (sticky /tmp); said never, a hard link there was taken (keysdir re-review)",
        "launcher/curve.py",
        "        return bool(path.resolve().parent.stat().st_mode & 0o022)\n",
        "        return bool(path.resolve().parent.stat().st_mode & 0o000)\n",
        ("tests/test_security.py::"
         "test_a_secret_key_with_a_second_name_in_a_directory_others_can_write_is_refused",)),
    Mutation(
        "a_multihost_secret_key_path_stat_cannot_follow_crashes_validate",
        "on a multi-host topology, a secret key path stat() cannot follow (a name too long; EACCES) is a problem "
        "naming it; the look for its public half raised OSError out of validate (keysdir re-review)",
        "launcher/topology.py",
        "        if secret and topo.hosts and keys.unreachable(file) is None and not file.exists():\n",
        "        if secret and topo.hosts and not file.exists():\n",
        ("tests/test_multihost_topology.py::"
         "test_a_secret_key_path_stat_cannot_follow_on_a_multihost_topology_is_a_problem_not_a_crash",)),
    Mutation(
        "a_killed_up_names_programs_it_never_reached",
        "an `up` killed part-way is named (status, the next `up`) for the programs it stopped, not for one it never "
        "reached that was stopped by hand later: its record named every program it meant to stop (upstop)",
        "launcher/supervise.py",
        "                    keeping_record(lambda: proof_stops.record(home.run, \"up\", stopping, proof_stops.UP_FILE, taken))\n"
        "\n            def back",
        "                    keeping_record(lambda: proof_stops.record(home.run, \"up\", sorted(stoppable), "
        "proof_stops.UP_FILE, taken))\n\n            def back",
        ("tests/test_launcher.py::"
         "test_an_up_killed_part_way_names_only_what_it_stopped_not_a_program_it_never_reached",)),
    Mutation(
        "a_failed_up_is_named_as_killed_part_way",
        "an `up` that failed and put its files back marks its record failed: status said STOPPED BY AN INTERRUPTED "
        "UP (killed part-way) of what it stopped, and the next `up` 'killed part-way' (upstop)",
        "launcher/supervise.py",
        "                proof_stops.fail(home.run, proof_stops.UP_FILE)  # what it stopped is named as a failed `up`'s\n",
        "",
        ("tests/test_launcher.py::"
         "test_status_and_the_next_up_name_an_up_that_failed_part_way_as_failed_not_killed",)),
    Mutation(
        "an_up_records_no_crash_looping_program_it_stops",
        "a crash-looping (BACKOFF) program an `up` stops is recorded as a running one is: killed just after its stop, "
        "status showed it STOPPED with no word of why (upstop)",
        "launcher/supervise.py",
        "            stoppable = {p[\"name\"] for p in infos if p[\"statename\"] in STOPPABLE_STATES}\n",
        "            stoppable = {p[\"name\"] for p in infos if p[\"statename\"] in LIVE_STATES}\n",
        ("tests/test_launcher.py::"
         "test_an_up_killed_just_after_it_stopped_a_crash_looping_program_names_it",)),
    Mutation(
        "an_up_that_stopped_nothing_takes_over_a_killed_ups_record",
        "an `up` writes its record (taking over what a killed `up` left stopped) only once it stops a program: one that "
        "failed before any stop named itself, failed, as what stopped the killed `up`'s programs (revup)",
        "launcher/supervise.py",
        "                stopping += [p[\"name\"] for p in infos if p[\"name\"] in stoppable and p[\"name\"] not in "
        "stopping]\n                if stopping:  # unwritten, said: the files were switched in, supervisord must run them\n",
        "                stopping += [p[\"name\"] for p in infos if p[\"name\"] in stoppable and p[\"name\"] not in "
        "stopping]\n            if stopping:\n",
        ("tests/test_launcher.py::"
         "test_an_up_that_fails_before_it_stops_anything_leaves_a_killed_ups_record_naming_the_killed_up",)),
    Mutation(
        "a_failed_up_that_cannot_mark_its_record_raises",
        "a failing `up` that cannot write its record as failed (disk full) leaves it as it was: it raised OSError in "
        "its error path, a traceback in place of its FAILED line (revup)",
        "launcher/proof_stops.py",
        "        try:\n            _write(run, replace(held, failed=True), file)\n        except OSError:\n            pass\n",
        "        _write(run, replace(held, failed=True), file)\n",
        ("tests/test_proofs.py::test_an_up_that_cannot_mark_its_record_failed_leaves_it_as_it_was_without_raising",)),
    Mutation(
        "a_release_from_a_failed_ups_record_drops_its_mark",
        "a program released from a failed `up`'s record (by the `up` after it) leaves the record failed: it was "
        "written again unmarked, and the failed `up` named as killed part-way for the rest (revup)",
        "launcher/proof_stops.py",
        "        _write(run, replace(held, programs=tuple(name for name in held.programs if name not in programs)), file)\n",
        "        _write(run, ProofStops(held.proof, held.pid, held.started,\n"
        "                               tuple(name for name in held.programs if name not in programs), held.at), file)\n",
        ("tests/test_proofs.py::test_a_failed_ups_record_stays_failed_when_another_releases_a_program_from_it",)),
    Mutation(
        "a_record_compares_each_program_with_its_last_write",
        "a program an `up` recorded, started by hand and stopped again before the up's next stop, is the operator's "
        "stop: each write of the record moved the time it was compared with, and the `up` was named for it (revup)",
        "launcher/proof_stops.py",
        "    by_name, since = {info[\"name\"]: info for info in infos}, dict(left.since)\n",
        "    by_name, since = {info[\"name\"]: info for info in infos}, {}\n",
        ("tests/test_proofs.py::"
         "test_a_program_started_and_stopped_by_hand_after_an_up_recorded_it_is_not_named_for_a_later_record",)),
    Mutation(
        "an_up_that_cannot_write_its_record_fails_half_way",
        "an `up` that cannot write its record of a stop (disk full) applies its change whole and says so: it failed "
        "half-way, its previous files put back under a program already restarted with the new ones (revup)",
        "launcher/supervise.py",
        "                except OSError as exc:\n                    tell(record_unwritten(home, exc, \"up\"), sys.stderr)",
        "                except ValueError as exc:\n                    tell(record_unwritten(home, exc, \"up\"), sys.stderr)",
        ("tests/test_launcher.py::"
         "test_an_up_that_cannot_write_its_record_of_a_stop_applies_its_change_whole_and_says_so",)),
    Mutation(
        "external_sentinels_expecting_no_replica_excuse_a_replica_they_see_down",
        "`replicas: 0` excuses no replica to promote, not a replica Sentinel knows and reports down (s_down, o_down, "
        "disconnected): status names it and exits 1; it exited 0 saying `no failover` (statusfix)",
        "launcher/supervise.py",
        "    down = seen.down if excused or ok else []\n",
        "    down = seen.down if ok else []\n",
        ("tests/test_sentinel_failover.py::"
         "test_with_external_sentinels_expecting_no_replica_a_replica_sentinel_sees_down_still_fails_status",)),
    Mutation(
        "an_ipv4_wildcard_holds_an_ipv6_loopback_endpoint",
        "across address families only [::] clashes (as Linux binds): a process on 0.0.0.0:PORT is not the holder of "
        "[::1]:PORT, nor one on [::1]:PORT of 0.0.0.0:PORT; it was, and a refusal named it (statusfix)",
        "launcher/endpoints.py",
        "        return v6.is_unspecified\n",
        "        return True\n",
        ("tests/test_up_refusals.py::"
         "test_a_wildcard_of_one_address_family_is_not_taken_for_the_holder_of_a_loopback_of_the_other",
         "tests/test_up_refusals.py::"
         "test_the_holder_named_for_an_ipv6_loopback_endpoint_is_its_own_not_an_ipv4_wildcards")),
    Mutation(
        "no_ipv6_wildcard_holds_an_ipv4_endpoint",
        "a process on [::]:PORT (dual-stack) is a holder of every IPv4 endpoint of the port, and one on 0.0.0.0:PORT of "
        "[::]:PORT: the cross-family rule must keep them (statusfix)",
        "launcher/endpoints.py",
        "        return v6.is_unspecified\n",
        "        return False\n",
        ("tests/test_up_refusals.py::"
         "test_a_wildcard_of_one_address_family_is_not_taken_for_the_holder_of_a_loopback_of_the_other",)),
    Mutation(
        "the_longest_turn_counts_one_timeout_for_a_call_sent_again",
        "a gate's or permit issuer's Redis call that timed out is sent once more and waited for again: the longest "
        "turn (the stall limit validate accepts, the gate's proposals heartbeat) counts two timeouts a call; it "
        "counted one (statusfix)",
        "launcher/topology.py",
        "        redis_call_s *= redis_call_waits(resends_after_timeout=spec.kind in REDIS_RESENDING_KINDS,\n",
        "        redis_call_s *= redis_call_waits(resends_after_timeout=False,\n",
        (f"{LIVENESS}test_the_longest_turn_of_an_actor_whose_redis_calls_are_resent_counts_two_timeouts_a_call",)),
    Mutation(
        "the_longest_turn_leaves_out_a_gates_wait_for_an_issuer_to_connect",
        "a gate's batch may wait up to half its permit_timeout_ms for an issuer to connect, then permit_timeout_ms "
        "for the reply: the longest turn counts both; it counted the reply's alone (statusfix)",
        "launcher/topology.py",
        "            issuer_wait_s = (1 + GATE_ISSUER_CONNECT_WAIT_SHARE) * s.permit_timeout_ms / 1000.0\n",
        "            issuer_wait_s = s.permit_timeout_ms / 1000.0\n",
        (f"{LIVENESS}test_the_longest_turn_of_an_actor_whose_redis_calls_are_resent_counts_two_timeouts_a_call",)),
    Mutation(
        "the_longest_turn_counts_wait_for_an_issuer_that_waits_for_no_replica",
        "a permit issuer's socket timeout takes WAIT's only when it WAITs for a replica: so does its longest turn "
        "(counted always, doubled it refused the stall limits its probes run with) (statusfix)",
        "launcher/topology.py",
        "        if isinstance(s, PermitIssuerSettings) and s.replicas_to_wait(self.redis):  # its socket's timeout with WAIT\n",
        "        if isinstance(s, PermitIssuerSettings):\n",
        (f"{LIVENESS}test_the_longest_turn_of_an_actor_whose_redis_calls_are_resent_counts_two_timeouts_a_call",)),
    Mutation(
        "a_localhost_endpoint_is_held_by_an_ipv6_loopback",
        "`localhost` in an endpoint binds 127.0.0.1 (ZeroMQ without ZMQ_IPV6, port_problem): a process on [::1]:PORT is "
        "not its holder; a name counted any holder, and a refusal or up's releasing check could name it (revstatus)",
        "launcher/endpoints.py",
        "        wanted = ipaddress.ip_address(localhost_as_ipv4(host))\n",
        "        wanted = ipaddress.ip_address(host)\n",
        ("tests/test_up_refusals.py::"
         "test_a_localhost_endpoint_is_held_by_what_holds_127_0_0_1_not_by_an_ipv6_loopback",)),
    Mutation(
        "the_bind_check_of_an_ipv6_address_takes_v6only_from_the_sysctl",
        "ZeroMQ binds tcp://[::]:PORT dual-stack: the pre-flight check binds so too, and says a port held on 0.0.0.0 is "
        "in use whatever net.ipv6.bindv6only says; with it 1, the check said it free and the actor could not bind "
        "(revstatus)",
        "launcher/endpoints.py",
        "            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n",
        "            pass\n",
        ("tests/test_up_refusals.py::"
         "test_the_bind_check_of_an_ipv6_wildcard_is_zeromqs_dual_stack_bind_whatever_bindv6only_says",)),
    Mutation(
        "an_actors_metrics_on_localhost_bind_getaddrinfos_first_answer",
        "an actor's metrics on `localhost` bind 127.0.0.1, where ZeroMQ, the pre-flight check and the holder search "
        "look; they bound getaddrinfo's first answer, [::1] with the usual /etc/hosts, a port held there said free "
        "(revstatus)",
        "actors/runtime.py",
        "    host = localhost_as_ipv4(host)\n",
        "    pass\n",
        ("tests/test_up_refusals.py::"
         "test_an_actors_metrics_on_localhost_bind_where_the_bind_check_and_the_holder_search_look",)),
    Mutation(
        "buffer_history_held_since_far_behind_the_clock_ends_the_hold",
        "a saved history whose hold began more than a window behind the buffer's clock (a run on a clock far behind, or "
        "garbage) is marked held again from this clock: taken as the time held, the hold ended at once and the grid "
        "was saved over the history at the first publish (prices)",
        "actors/grid.py",
        "    return age_s if 0.0 <= age_s <= window_s else None\n",
        "    return age_s if 0.0 <= age_s else None\n",
        ("tests/test_cluster_side_attack.py::test_a_history_held_since_a_time_far_behind_the_clock_is_held_one_window_in_"
         "all_not_saved_over_at_once",)),
    Mutation(
        "buffer_second_backward_step_restarts_the_whole_hold",
        "a second backward clock step during the history hold keeps the first step's end of the hold: it held the "
        "saved history a whole window from the second step, 1.75 windows in all, though it had aged out one window "
        "after the first (prices)",
        "actors/buffer.py",
        "        elif not held:\n            self.back_from_slot = head_before\n",
        "        else:\n            if not held:\n                self.back_from_slot = head_before\n",
        ("tests/test_cluster_side_attack.py::test_a_second_backward_clock_step_during_the_hold_does_not_hold_the_"
         "history_a_window_from_it[running-more_than_held]",)),
    Mutation(
        "buffer_second_backward_step_marks_the_hold_as_begun_at_it",
        "a second backward clock step marks the saved history held since this clock's now less the time held: marked "
        "as of the step, a buffer restarted after it held the history a whole window from the second step (prices)",
        "actors/buffer.py",
        "            saved.held_since_ts = began_ts\n",
        "            saved.held_since_ts = now\n",
        ("tests/test_cluster_side_attack.py::test_a_second_backward_clock_step_during_the_hold_does_not_hold_the_"
         "history_a_window_from_it[restarted_after_the_second_step-more_than_held]",)),
    Mutation(
        "buffer_second_backward_step_under_the_time_held_keeps_the_mark",
        "a second backward clock step during the hold, by less than the time held, marks the saved history again: its "
        "held_since_ts kept (still within a window of the clock), a buffer restarted after it held the history that "
        "much longer, 1.5 windows in all for half a window three quarters in (revprices)",
        "actors/grid.py",
        "    return hold_age_s(held_since_ts, now_s, window_s) is not None and abs(held_since_ts - began_ts) <= tolerance_s\n",
        "    return hold_age_s(held_since_ts, now_s, window_s) is not None\n",
        ("tests/test_cluster_side_attack.py::test_a_hold_mark_off_the_time_held_by_more_than_a_cadence_is_marked_again",
         "tests/test_cluster_side_attack.py::test_a_second_backward_clock_step_during_the_hold_does_not_hold_the_"
         "history_a_window_from_it[restarted_after_the_second_step-less_than_held]")),
    Mutation(
        "buffer_clock_creeping_back_under_a_slot_leaves_the_hold_mark",
        "a clock stepped back in steps each under a slot during the hold (no clock fault) marks the saved history "
        "again: its held_since_ts marked once aged at the clock's rate, and a restarted buffer held the history 1.6 "
        "windows for a clock at a fifth of real time (revprices)",
        "actors/buffer.py",
        "                and not hold_mark_right(self.held_mark_ts, self.hold_began_ts(now), now, window_s, self.cadence_s):\n",
        "                and False:\n",
        ("tests/test_cluster_side_attack.py::test_a_clock_stepped_back_in_steps_each_under_a_slot_holds_a_restarted_"
         "buffer_one_window_from_the_first_step",)),
    Mutation(
        "an_up_skips_checking_any_endpoint_on_a_port_its_running_system_binds",
        "up's pre-flight skips an endpoint only when the running system binds its port on a clashing address (a program "
        "restarted frees it): one on another address of the port, which another process holds, is checked; skipped "
        "by port alone, up restarted a working gate into EADDRINUSE (revall)",
        "launcher/supervise.py",
        '    return any(other.startswith("tcp://") and tcp_binds_clash(endpoint, other) for other in held)\n',
        '    return any(other.startswith("tcp://") and split_tcp(other)[1] == split_tcp(endpoint)[1] for other in held)\n',
        ("tests/test_up_refusals.py::"
         "test_an_up_moving_an_endpoint_to_another_address_of_its_port_checks_the_holder_there",)),
    Mutation(
        "replica_down_line_names_no_master_to_reset",
        "status's REPLICA DOWN line told the operator to send `SENTINEL RESET <master>`, a placeholder, though the "
        "topology names the master (revall review)",
        "launcher/supervise.py",
        "                f\"stays known to them until `SENTINEL RESET {state.get('master', '<master>')}` is sent to each \"\n",
        "                f\"stays known to them until `SENTINEL RESET <master>` is sent to each \"\n",
        ("tests/test_sentinel_failover.py::"
         "test_with_external_sentinels_expecting_no_replica_a_replica_sentinel_sees_down_still_fails_status",)),
    Mutation(
        "an_up_that_took_over_a_killed_ups_record_is_named_for_its_programs",
        "an `up` that takes over a killed `up`'s record keeps each program's owner: failed after its own first stop, "
        "it was named by status (STOPPED BY A FAILED UP, its pid) for the programs the killed one stopped (upowner)",
        "launcher/supervise.py",
        "            taken = taken_over(interrupted_up)  # each keeps its owner: this one, failed, is not named for them\n",
        "            taken = {}\n",
        ("tests/test_launcher.py::"
         "test_an_up_that_took_over_a_killed_ups_record_and_failed_is_named_only_for_what_it_stopped",)),
    Mutation(
        "a_taken_over_record_drops_its_owners",
        "a record an `up` takes over keeps the owner (pid, killed or failed) of each program the ended process stopped: "
        "written as the `up`'s own, its failure was the owner's (upowner)",
        "launcher/proof_stops.py",
        "                           owners + tuple((name, *(taken or {})[name]) for name in added if name in (taken or {}))),\n",
        "                           owners),\n",
        ("tests/test_proofs.py::test_a_record_an_up_takes_over_names_each_program_by_the_process_that_stopped_it",)),
    Mutation(
        "a_records_temp_file_of_an_ended_process_stays",
        "a record's temp file (.FILE.PID) left by a process killed, or out of disk space, between its write and its "
        "rename is removed by the next read or write of the record: nothing removed it (upowner)",
        "launcher/proof_stops.py",
        "        if not (pid.isascii() and pid.isdigit() and _ended(int(pid))):  # not \"²\": a digit int() refuses\n",
        "        if True:\n",
        ("tests/test_proofs.py::test_a_records_temp_file_left_by_an_ended_process_is_removed_and_a_live_ones_kept",)),
    Mutation(
        "a_records_temp_file_of_a_live_process_is_removed",
        "only the temp files of pids that no longer run are removed: a live one's may be mid-write (upowner)",
        "launcher/proof_stops.py",
        "        if not (pid.isascii() and pid.isdigit() and _ended(int(pid))):  # not \"²\": a digit int() refuses\n",
        "        if not (pid.isascii() and pid.isdigit()):\n",
        ("tests/test_proofs.py::test_a_records_temp_file_left_by_an_ended_process_is_removed_and_a_live_ones_kept",)),
    Mutation(
        "a_malformed_owner_loses_the_whole_up_stopping_record",
        "one owner of the up-stopping record that is no owner (a string, a pid \"7\") made the whole record unreadable: "
        "status no longer named the programs a killed `up` left stopped, the next `up` started them as stopped by "
        "hand (revowner)",
        "launcher/proof_stops.py",
        "                 for name, o in owners.items() if isinstance(o, dict) and \"proof\" in o and type(o.get(\"pid\")) is int)\n",
        "                 for name, o in owners.items())\n",
        ("tests/test_proofs.py::test_a_record_with_malformed_owners_is_read_with_its_own_process_for_those_programs",)),
    Mutation(
        "a_record_pid_of_1e400_is_a_traceback",
        "a record whose pid is 1e400 (infinity) raised OverflowError out of proof_stops.read: status and up ended in a "
        "traceback (revowner)",
        "launcher/proof_stops.py",
        "    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError):  # Overflow: a pid of 1e400\n",
        "    except (OSError, ValueError, KeyError, TypeError, AttributeError):\n",
        ("tests/test_proofs.py::test_a_record_or_temp_file_past_what_a_pid_can_be_is_no_record_not_a_traceback",)),
    Mutation(
        "a_temp_file_named_with_a_superscript_digit_is_a_traceback",
        "a file run/.up-stopping.json.² (a digit to str.isdigit, not to int) raised ValueError out of every read of the "
        "record: status and up ended in a traceback (revowner)",
        "launcher/proof_stops.py",
        "        if not (pid.isascii() and pid.isdigit() and _ended(int(pid))):  # not \"²\": a digit int() refuses\n",
        "        if not (pid.isdigit() and _ended(int(pid))):\n",
        ("tests/test_proofs.py::test_a_record_or_temp_file_past_what_a_pid_can_be_is_no_record_not_a_traceback",)),
    Mutation(
        "a_record_naming_a_program_twice_is_read_with_both",
        "a record naming a program twice names it once: read with both, status said \"gate, gate\" and the next `up` "
        "kept the second in its record after starting the first (revowner)",
        "launcher/proof_stops.py",
        "                          tuple(dict.fromkeys(str(name) for name in data[\"programs\"])),  # named twice: once\n",
        "                          tuple(str(name) for name in data[\"programs\"]),\n",
        ("tests/test_proofs.py::test_a_record_naming_a_program_twice_names_it_once",)),
    Mutation(
        "a_replica_down_beside_a_promotable_one_is_unsaid",
        "a replica the sentinels see down while another can be promoted went unsaid: status said `failover possible` "
        "and exited 0, one more loss leaving none to promote (replicadown)",
        "launcher/supervise.py",
        "    down = seen.down if excused or ok else []\n",
        "    down = seen.down if excused else []\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_replica_sentinel_sees_down_while_another_can_be_promoted_makes_status_exit_3_naming_it",)),
    Mutation(
        "one_sentinels_view_makes_a_replica_down",
        "a replica was down when any one sentinel flagged it (the union of their views): one sentinel cut off from a "
        "replica the others see up made status say REPLICA DOWN (replicadown)",
        "launcher/sentinel.py",
        "    down = [replica for replica, by in flagged.items() if 2 * len(by) > len(replies)]\n",
        "    down = [replica for replica, by in flagged.items() if len(by) >= 1]\n",
        ("tests/test_sentinel_failover.py::test_a_replica_is_down_when_a_majority_of_the_answering_sentinels_flag_it",
         "tests/test_sentinel_failover.py::"
         "test_a_replica_only_one_sentinel_sees_down_is_not_reported_down_but_named_as_that_sentinels_view")),
    Mutation(
        "a_replica_sentinel_lists_only_disconnected_is_down",
        "a replica every sentinel listed `disconnected` (no link yet: just learned of, or the second after its "
        "restart) was down: status exited 3, REPLICA DOWN, 8-9 s after `up` of two replicas and after a replica "
        "restart (revrep)",
        "launcher/sentinel.py",
        "            if any(flag in str(fields.get(\"flags\", \"\")).split(\",\") for flag in _DOWN_FLAGS):\n",
        "            if any(flag in str(fields.get(\"flags\", \"\")).split(\",\") for flag in _UNPROMOTABLE_FLAGS):\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_replica_every_sentinel_lists_only_disconnected_is_not_down_until_they_see_it_s_down",
         "tests/test_sentinel_failover.py::test_a_replica_is_down_when_a_majority_of_the_answering_sentinels_flag_it")),
    Mutation(
        "status_all_hosts_exits_0_for_a_replica_down_beside_a_promotable_one",
        "`status FILE --all-hosts` printed REPLICA DOWN for a replica down beside a promotable one and exited 0, where "
        "`status` exits 3: a monitor of the whole system missed the lost redundancy (revrep)",
        "launcher/hosts_status.py",
        "    return 1 if not hosts_ok(hosts, sentinel) else 3 if degraded else 0\n",
        "    return 1 if not hosts_ok(hosts, sentinel) else 0\n",
        ("tests/test_sentinel_failover.py::"
         "test_status_all_hosts_exits_3_for_a_replica_down_beside_a_promotable_one_as_status_does",)),
    Mutation(
        "a_replica_down_beside_two_promotable_ones_leaves_none_after_one_more_loss",
        "a replica down beside two promotable ones: status said `through A, B only, and one more loss leaves no "
        "replica to promote`, false with two left (revrep)",
        "launcher/supervise.py",
        "        left = (f\"through {through} ({len(promotable)} replicas left)\" if len(promotable) > 1 else\n",
        "        left = (f\"through {through} ({len(promotable)} replicas left)\" if len(promotable) > 99 else\n",
        ("tests/test_sentinel_failover.py::"
         "test_a_replica_down_beside_two_promotable_ones_is_not_said_to_leave_none_after_one_more_loss",)),
    Mutation(
        "sentinels_reset_of_a_replica_are_said_to_see_it_up",
        "half-way through the SENTINEL RESET of a replica removed for good, the note said the reset sentinels saw it "
        "up and that the last one's link to it was cut; the reset left to do unsaid (revrep)",
        "launcher/sentinel.py",
        "                             if (unlisted := sorted(set(replies) - listed[replica]))})\n",
        "                             if (unlisted := [])})\n",
        ("tests/test_sentinel_failover.py::test_a_replica_the_other_sentinels_were_reset_of_is_not_said_to_be_seen_up_by_them",)),
    Mutation(
        "replica_down_line_hides_the_sentinels_that_do_not_answer",
        "REPLICA DOWN said `the sentinels see it down` when one of three answered status (the others unreachable from "
        "its host): how few answered went unsaid (revrep)",
        "launcher/supervise.py",
        "    if isinstance(answering, int) and isinstance(asked, int) and answering < asked:\n",
        "    if isinstance(answering, int) and isinstance(asked, int) and answering < 0:\n",
        ("tests/test_sentinel_failover.py::test_a_replica_down_seen_by_the_only_sentinel_that_answers_says_how_few_answer",)),
    Mutation(
        "a_malformed_since_loses_the_whole_up_stopping_record",
        "one program's time in the up-stopping record's since that is no time (a string, NaN, negative, 1e400) is left "
        "out, its program compared with the record's at: a string lost the whole record (status no longer named what a "
        "killed `up` left stopped), NaN or negative the program (recordfix)",
        "launcher/proof_stops.py",
        "                          _since(since),\n",
        "                          tuple((str(name), float(t)) for name, t in since.items()) if isinstance(since, dict) else (),\n",
        ("tests/test_proofs.py::test_a_record_with_a_malformed_since_is_read_with_the_records_time_for_those_programs",
         "tests/test_launcher.py::"
         "test_an_up_killed_part_way_stays_named_with_a_malformed_since_or_its_pid_now_another_processes")),
    Mutation(
        "a_record_left_at_this_pid_by_an_ended_process_is_taken_as_this_ones",
        "a record is this process's own (record extends it, fail marks it failed) only at its pid and start time: one a "
        "killed `up` left, whose pid this one has now, was extended and marked failed as this one's (recordfix)",
        "launcher/proof_stops.py",
        "    return held is not None and held.pid == os.getpid() and held.started == _start_ticks(os.getpid())\n",
        "    return held is not None and held.pid == os.getpid()\n",
        ("tests/test_proofs.py::test_a_record_left_by_an_ended_process_that_had_this_ones_pid_is_not_taken_as_its_own",)),
    Mutation(
        "a_temp_file_of_a_pid_proc_hides_is_taken_for_an_ended_ones",
        "the record's temp-file cleanup removes a .FILE.PID only when the kernel says PID runs no process: one whose "
        "/proc entry it may not read (hidepid) was taken as ended, a live writer's file removed (recordfix)",
        "launcher/proof_stops.py",
        "        if not (pid.isascii() and pid.isdigit() and _ended(int(pid))):  # not \"²\": a digit int() refuses\n",
        "        if not (pid.isascii() and pid.isdigit() and _start_ticks(int(pid)) is None):\n",
        ("tests/test_proofs.py::test_a_records_temp_file_of_a_live_pid_whose_proc_entry_cannot_be_read_is_kept",)),
    Mutation(
        "a_temp_file_its_writer_locks_is_removed",
        "the record's temp-file cleanup leaves a .FILE.PID its writer locks (until its rename): a writer of another pid "
        "namespace, whose pid names no process here, had its file removed as it wrote (recordfix)",
        "launcher/proof_stops.py",
        "            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a writer until its rename\n",
        "            pass\n",
        ("tests/test_proofs.py::test_a_records_temp_file_written_by_a_process_of_another_pid_namespace_is_kept",)),
    Mutation(
        "a_hosts_malformed_left_stopped_record_is_a_traceback_of_status_all_hosts",
        "`status FILE --all-hosts` reads a host's left_stopped_by_up of another shape (a hostile host, another release) "
        "as unreadable, said for that host, the rest shown: it ended the whole table in a traceback (recordfix)",
        "launcher/hosts_status.py",
        "                left, unread = readable_left_stopped(exits[host][\"left_stopped_by_up\"])\n",
        "                left, unread = exits[host][\"left_stopped_by_up\"], None\n",
        ("tests/test_multihost_side_by_side.py::"
         "test_status_all_hosts_reads_a_hosts_malformed_left_stopped_record_as_unreadable_not_a_traceback",)),
    Mutation(
        "an_up_restarting_supervisord_fails_on_its_records_write_in_a_traceback",
        "an `up` that restarts supervisord (the Redis password changed) and cannot write its record (its temp file's "
        "lock held past the bounded wait, disk full) says so and applies its change: it ended in a traceback after "
        "switching its files in, supervisord left on the old ones (revrec)",
        "launcher/supervise.py",
        "                    keeping_record(lambda: proof_stops.record(home.run, \"up\", stopping, proof_stops.UP_FILE, taken))\n"
        "\n            def recording",
        "                    proof_stops.record(home.run, \"up\", stopping, proof_stops.UP_FILE, taken)\n"
        "\n            def recording",
        (LAUNCHER_RECORD_LOCKED_UP,)),
    Mutation(
        "an_up_releasing_a_killed_ups_record_fails_in_a_traceback",
        "an `up` whose change applied and that cannot write the record it releases (a killed `up`'s; its temp file's "
        "lock held past the bounded wait) says so: it ended in a traceback, exit 1 (revrec)",
        "launcher/supervise.py",
        "            keeping_record(lambda: proof_stops.release(home.run, stopping, proof_stops.UP_FILE))  # applied: said\n",
        "            proof_stops.release(home.run, stopping, proof_stops.UP_FILE)\n",
        (LAUNCHER_RECORD_LOCKED_UP,)),
    Mutation(
        "a_records_bounded_wait_expiring_is_said_as_none",
        "the record's writer that waited its bounded time for its temp file's lock says why (its temp file held or "
        "removed by another process): `up` said `could not write .../up-stopping.json (None)` (revrec)",
        "launcher/proof_stops.py",
        "    raise OSError(errno.EBUSY, f\"its temp file {temp} held (flock) or removed by another process each time it was \"\n",
        "    raise OSError(f\"its temp file {temp} held (flock) or removed by another process each time it was \"\n",
        (LAUNCHER_RECORD_LOCKED_UP,),
        also=(("launcher/supervise.py", "({exc.strerror or exc}): killed now", "({exc.strerror}): killed now"),)),
    Mutation(
        "a_down_that_cannot_write_its_record_takes_supervisord_for_dead",
        "a `down` that cannot write its record (its temp file's lock held past the bounded wait, disk full) says so and "
        "shuts supervisord: it said `supervisord stopped answering`, waited 30 s for a supervisord that answered, and "
        "stopped every program as a leftover (revrec)",
        "launcher/supervise.py",
        "                try:  # unwritten (its temp file held by another process, disk full): said, and supervisord shut\n"
        "                    proof_stops.record(home.run, \"down\", stopping, proof_stops.UP_FILE, taken_over(earlier))\n"
        "                except OSError as exc:\n"
        "                    print(record_unwritten(home, exc, \"down\"), file=sys.stderr)\n",
        "                proof_stops.record(home.run, \"down\", stopping, proof_stops.UP_FILE, taken_over(earlier))\n",
        ("tests/test_launcher.py::test_a_down_whose_record_temp_file_another_process_locks_shuts_supervisord_and_says_so",)),
    Mutation(
        "a_records_temp_file_cleanup_locks_a_read_only_file",
        "the record's temp-file cleanup locks a .FILE.PID opened for writing: opened read-only, an NFS client's flock "
        "(an exclusive lock needs a file open for writing: EBADF) never let it remove one (revrec)",
        "launcher/proof_stops.py",
        "            fd = os.open(temp, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)  # a FIFO there does not block the open\n",
        "            fd = os.open(temp, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)\n",
        ("tests/test_proofs.py::"
         "test_a_records_temp_file_left_by_an_ended_process_is_removed_where_flock_is_an_nfs_clients",)),
    Mutation(
        "up_and_down_on_a_filesystem_refusing_flock_end_in_a_traceback",
        "`up` and `down` on a home whose filesystem refuses flock (ENOLCK: an NFS client whose lock manager is not "
        "reached) say which lock they could not take and that nothing was done: both ended in a traceback (revrec)",
        "launcher/supervise.py",
        "            except OSError as exc:  # no flock on the home's filesystem (an NFS client whose lock manager is not reached)\n",
        "            except ValueError as exc:\n",
        ("tests/test_launcher.py::test_up_and_down_on_a_home_whose_filesystem_refuses_flock_say_so_not_a_traceback",)),
    Mutation(
        "a_hosts_malformed_unexpected_exit_is_a_traceback_of_status_all_hosts",
        "`status FILE --all-hosts` reads a host's unexpected exit of another shape (not a mapping, no count, a last_at "
        "that is no time) as that host's exits unreadable, the rest shown: it ended the whole table in a traceback "
        "(revrec)",
        "launcher/hosts_status.py",
        "        unread = unreadable_exits(said[\"unexpected_exits\"])\n",
        "        unread = None\n",
        (HOSTS_SAY_HOSTILE,)),
    Mutation(
        "what_a_host_says_reaches_the_terminal_as_it_came",
        "every string a host's `status --exits --json` gives `status FILE --all-hosts` is shown printable: a host's "
        "error, log path, exit words, running copy or programs file with escape sequences reached the terminal (revrec)",
        "launcher/hosts_status.py",
        "        said = printable_said(said)\n",
        "",
        (HOSTS_SAY_HOSTILE,)),
    Mutation(
        "a_hard_linked_public_key_in_a_sticky_directory_is_trusted",
        "a .key with a second name where another user could have made it (a sticky directory others can write, "
        "fs.protected_hardlinks at 0: a revoked client's root-owned key linked in) is refused like a .key_secret; "
        "it was trusted and the gate served that client (pubkeys)",
        "launcher/curve.py",
        "    _refuse_a_name_others_could_have_made(path, info, \"public\")\n",
        "    pass\n",
        ("tests/test_security.py::"
         "test_a_public_key_with_a_second_name_in_a_sticky_directory_others_can_write_is_refused_so_no_stranger_gets_in",)),
    Mutation(
        "a_key_file_is_read_by_name_after_its_check",
        "a certificate's keys are read from the descriptor its fstat judged; read by name again, a file replaced "
        "meanwhile had a 0666 file's key taken on a 0644 file's mode, and one removed meanwhile was 'not a "
        "certificate' (pubkeys)",
        "launcher/curve.py",
        "        content = os.read(fd, MAX_CERTIFICATE_BYTES + 1)\n",
        "        content = path.read_bytes()\n",
        ("tests/test_security.py::"
         "test_a_key_file_removed_or_replaced_while_it_is_checked_is_a_key_file_error_naming_it_and_never_mixes_two_files",)),
    Mutation(
        "a_key_line_without_an_equals_sign_is_a_traceback",
        "a public-key or secret-key line with no '=' holds no key and the certificate is refused naming it; read as "
        "pyzmq's load_certificate reads it, IndexError escaped (pubkeys)",
        "launcher/curve.py",
        "            if line.startswith(name) and b\"=\" not in line:\n"
        "                raise ValueError(f\"a {name.decode()} line without '=' (cut short, or edited by hand?)\")\n"
        "            if line.startswith(name):\n                value = line.partition(b\"=\")[2]",
        "            if line.startswith(name):\n                value = line.split(b\"=\", 1)[1]",
        ("tests/test_security.py::"
         "test_a_certificate_with_a_key_line_without_an_equals_sign_is_a_key_file_error_naming_it_not_a_traceback",)),
    Mutation(
        "a_key_file_is_opened_before_it_is_known_to_be_a_file",
        "what a key name leads to is looked at (O_PATH, which opens nothing) and opened only when a regular file: "
        "opened first and judged by fstat after, another user's FIFO or symlink to a device in a sticky directory "
        "named as a trusted key had root open it (revpub)",
        "launcher/curve.py",
        "        where = os.open(path, os.O_PATH | os.O_CLOEXEC)\n",
        "        where = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)\n",
        ("tests/test_security.py::test_a_trusted_key_name_leading_to_a_fifo_or_a_device_is_refused_without_being_opened",)),
    Mutation(
        "without_proc_no_key_file_can_be_read",
        "where /proc is not mounted a key file is opened by name and judged by its descriptor's fstat; without that "
        "fallback no key could be read there (revpub)",
        "launcher/curve.py",
        "        except FileNotFoundError:  # no /proc: by name, judged again below by the open descriptor\n"
        "            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)\n",
        "        except FileNotFoundError:  # no /proc: by name, judged again below by the open descriptor\n"
        "            raise\n",
        ("tests/test_security.py::test_without_proc_mounted_a_key_file_is_still_read_and_a_fifo_still_refused_unopened",)),
    Mutation(
        "a_certificate_line_also_ends_at_a_lone_carriage_return",
        "a certificate's lines end at '\\n' only, as pyzmq's load_certificate reads them; split at a lone '\\r' too, a "
        "comment's trailer became a key line and the gate trusted another key than pyzmq reads (revpub)",
        "launcher/curve.py",
        "    for line in content.split(b\"\\n\"):\n",
        "    for line in content.splitlines():\n",
        ("tests/test_security.py::test_a_certificate_is_read_line_by_line_as_pyzmq_reads_it_so_a_carriage_return_starts_no_line_and_the_gate_"
         "trusts_that_key",
         "tests/test_security.py::test_a_public_certificate_is_taken_or_refused_as_pyzmq_load_certificate_takes_or_refuses_it")),
    Mutation(
        "a_key_line_without_an_equals_sign_is_skipped",
        "a key line without '=' is refused naming the file, as pyzmq refused it; skipped, a certificate with one "
        "(after a good key line, or a secret-key line cut short in a .key) was taken (revpub)",
        "launcher/curve.py",
        "                raise ValueError(f\"a {name.decode()} line without '=' (cut short, or edited by hand?)\")\n",
        "                continue\n",
        ("tests/test_security.py::test_a_public_certificate_is_taken_or_refused_as_pyzmq_load_certificate_takes_or_refuses_it",
         "tests/test_security.py::test_a_certificate_with_a_key_line_without_an_equals_sign_is_a_key_file_error_naming_it_not_a_traceback")),
    Mutation(
        "a_hard_link_refusal_names_a_find_of_the_symlink",
        "the find a hard-linked key's refusal names is given the file a symlink leads to; given the symlink, "
        "find -samefile finds only the symlink, none of the key's other names (revpub)",
        "launcher/curve.py",
        "-samefile {path.resolve()}, remove every other",
        "-samefile {path}, remove every other",
        ("tests/test_security.py::test_the_refusal_of_a_hard_linked_key_named_through_a_symlink_names_a_find_that_finds_its_other_names",)),
    Mutation(
        "a_key_is_judged_by_its_length_only",
        "a key of 40 characters libzmq cannot decode is refused naming its file; judged by its length only, a "
        "keypair's ZMQError escaped validate as a traceback and a server key's made propose say 'Invalid argument' "
        "(revpub)",
        "launcher/curve.py",
        "    if not _is_z85_key(public) or (secret is not None and not _is_z85_key(secret)):\n",
        "    if len(public) != 40 or (secret is not None and len(secret) != 40):\n",
        ("tests/test_security.py::test_a_key_of_40_characters_that_are_not_z85_is_a_key_file_error_naming_it_not_a_traceback",)),
    Mutation(
        "a_z85_group_over_2_to_the_32_is_taken",
        "a key whose group of five Z85 characters is 2**32 or more is refused (libzmq's zmq_z85_decode refuses it); "
        "taken, an allowed key matched no client and a server key failed at the socket (revpub)",
        "launcher/curve.py",
        "        if value >= 2 ** 32:\n",
        "        if False:\n",
        ("tests/test_security.py::test_a_key_of_40_characters_that_are_not_z85_is_a_key_file_error_naming_it_not_a_traceback",)),
    Mutation(
        "another_users_symlink_is_followed_and_read_before_it_is_refused",
        "the way to a key name (another user's symlink in a sticky directory, a directory others can write) is "
        "checked before what it leads to is opened, and again after; checked after only, root followed uid 65534's "
        "symlink in /tmp and read the file it led to (/proc/kmsg, say) before refusing it (revpub)",
        "launcher/curve.py",
        "        # way is one no other user can change.\n        _refuse_a_way_others_can_change(path)\n",
        "        # way is one no other user can change.\n",
        ("tests/test_security.py::test_a_trusted_key_name_that_is_another_users_symlink_in_a_sticky_directory_is_refused_before_what_it_"
         "leads_to_is_read",
         "tests/test_security.py::test_a_key_name_another_user_makes_a_symlink_while_it_is_looked_at_is_refused_unfollowed_and_"
         "never_a_traceback")),
    Mutation(
        "another_users_key_file_in_a_sticky_directory_is_opened_before_it_is_refused",
        "a key name another user owns in a sticky directory is refused before it is opened (theirs to replace between "
        "the look and the open); opened by name where /proc is not mounted, uid 65534 renaming a FIFO of theirs over "
        "their own certificate had root open the FIFO (revpub2)",
        "launcher/curve.py",
        "                if not pending and link.st_uid not in (uid, 0) and below.stat().st_mode & stat.S_ISVTX:\n",
        "                if False:\n",
        ("tests/test_security.py::test_without_proc_mounted_a_key_file_another_user_owns_is_refused_without_being_"
         "opened_by_name",)),
    Mutation(
        "a_failed_up_leaves_supervisord_on_the_new_configuration",
        "an `up` that failed once supervisord had read its new files put the previous files back and said so, but "
        "supervisord went on running the new configuration: the changed gate on its new settings, an added program "
        "running, and a later restart used it too (upfail)",
        "launcher/supervise.py",
        "                if reread:  # supervisord may run the new files' programs: it is put back on the previous ones too\n",
        "                if False:\n",
        ("tests/test_launcher.py::test_an_up_that_fails_after_supervisord_applied_part_of_it_puts_supervisord_back_on_the_previous_files",)),
    Mutation(
        "a_failed_ups_rollback_leaves_what_it_stopped_stopped",
        "putting supervisord back on the previous files after a failed `up` started nothing that `up` had stopped and "
        "not started again (the gate, its stop past the call's deadline): it stayed STOPPED on a supervisord said to "
        "be back on the previous files (upfail)",
        "launcher/supervise.py",
        "                    sup.api.startProcess(name, False)\n                except xmlrpc.client.Fault as exc:\n"
        "                    still.append(f\"{name} ({exc.faultString})\")\n",
        "                    pass\n                except xmlrpc.client.Fault as exc:\n"
        "                    still.append(f\"{name} ({exc.faultString})\")\n",
        ("tests/test_launcher.py::test_an_up_that_fails_in_a_stop_supervisord_answers_too_late_starts_what_it_stopped_on_the_previous_files",)),
    Mutation(
        "status_says_nothing_of_a_program_in_no_file_of_the_home",
        "an `up` that added a price feed, failed and was killed while it put supervisord back on the previous files "
        "left the price feed running in no file of the home: status named the restarted gate NOT APPLIED and nothing "
        "of the price feed (revfail)",
        "launcher/supervise.py",
        "        elif in_files is not None and name not in in_files:\n",
        "        elif False:\n",
        ("tests/test_launcher.py::test_status_names_a_program_a_failed_up_added_that_still_runs_after_its_rollback_was_killed",)),
    Mutation(
        "a_failed_up_that_shut_supervisord_down_says_only_that_its_files_are_back",
        "an `up` of a new Redis password that shut supervisord down (every program with it) and failed to start it "
        "again said only that the previous files were back, as if the previous system ran on: nothing ran (revfail)",
        "launcher/supervise.py",
        "                elif password_changed:  # it shut supervisord down, every program with it: say what runs now\n",
        "                elif False:\n",
        ("tests/test_launcher.py::test_an_up_that_shut_supervisord_down_for_a_new_password_and_failed_to_start_it_says_nothing_runs",)),
    Mutation(
        "a_program_a_failed_ups_rollback_cannot_start_is_named_by_nothing",
        "the gate a failed `up`'s rollback could not start again (SPAWN_ERROR) was said to be named STOPPED BY A FAILED "
        "UP by status, which named nothing: supervisord's retries of the start read as a start by someone else (revfail)",
        "launcher/supervise.py",
        "                    sup._stop_quietly(name)\n                    back(name)\n                    recording(name)\n",
        "                    pass\n",
        ("tests/test_launcher.py::test_a_program_a_failed_ups_rollback_cannot_start_again_stays_named_as_left_stopped_by_it",)),
    Mutation(
        "the_longest_turn_leaves_out_a_new_connections_handshake",
        "a Redis call sent on a new connection first waits for its AUTH/SELECT when a password, a user or a db is set "
        "(2.94 timeouts measured for a gate call with a password, where 2 were counted): redis_call_waits counts the "
        "handshake's wait (turncount)",
        "launcher/topology.py",
        "    handshake_waits = 2 if redis_py else (1 if handshake else 0)\n",
        "    handshake_waits = 2 if redis_py else 0\n",
        (f"{LIVENESS}test_a_redis_call_waits_as_many_timeouts_as_its_connect_handshake_and_sentinels_take",
         f"{LIVENESS}test_the_longest_turn_counts_a_handshake_for_a_password_a_user_or_a_db",
         f"{LIVENESS}test_a_gate_call_through_a_password_redis_answering_auth_late_ends_within_the_counted_waits")),
    Mutation(
        "the_longest_turn_counts_no_handshake_for_a_password",
        "a password (from redis.password_env) makes every new Redis connection send AUTH first: the longest turn "
        "counts its wait; counted for a db or a user alone, a password Redis's gate turn was counted 2 s short at the "
        "defaults (turncount)",
        "launcher/topology.py",
        "        return bool(self.redis.password_env or target.username or target.db)\n",
        "        return bool(target.username or target.db)\n",
        (f"{LIVENESS}test_the_longest_turn_counts_a_handshake_for_a_password_a_user_or_a_db",)),
    Mutation(
        "the_longest_turn_counts_a_password_only_where_its_variable_is_set",
        "the handshake is counted for the password_env the topology names, not for whether the variable is set where "
        "the count runs: `validate` in a shell without it took a gate stall limit 1 s shorter than the actors' "
        "longest turn (revcount)",
        "launcher/topology.py",
        "        return bool(self.redis.password_env or target.username or target.db)\n",
        "        return bool(self.redis.password or target.username or target.db)\n",
        (f"{LIVENESS}test_validate_refuses_a_stall_limit_below_the_handshake_whether_or_not_its_environment_has_the_password",
         f"{LIVENESS}test_the_longest_turn_counts_a_handshake_for_a_password_a_user_or_a_db")),
    Mutation(
        "the_longest_turn_counts_redis_pys_handshake_as_resp_clients",
        "the state writer's redis-py connection waits for HELLO and then for its pipelined CLIENT SETINFO/SELECT "
        "before a call, with or without a password: counted as RespClient's one pipelined AUTH/SELECT, its turn was "
        "counted 1 or 2 timeouts a call short (revcount)",
        "launcher/topology.py",
        "    handshake_waits = 2 if redis_py else (1 if handshake else 0)\n",
        "    handshake_waits = 1 if handshake else 0\n",
        (f"{LIVENESS}test_the_state_writers_redis_py_connection_waits_for_its_hello_and_its_handshakes_tail",)),
    Mutation(
        "an_empty_password_env_asks_for_a_password",
        "a topology's `password_env: \"\"` (no password, no handshake counted in the loop bound) was refused by `up` "
        "with `$ is not set, but the topology asks for a Redis password` (CI on 296729b, session 39)",
        "launcher/supervise.py",
        "    return isinstance(redis_section, dict) and bool(redis_section.get(\"password_env\"))\n",
        "    return isinstance(redis_section, dict) and \"password_env\" in redis_section\n",
        ("tests/test_loop_liveness.py::test_a_feed_reading_a_large_replay_file_is_not_said_stuck_and_a_stopped_actor_is_"
         "not_said_to_have_hung",)),
    Mutation(
        "status_reads_a_home_it_may_not_read",
        "status of a home this user may not read (run/ 0700 from `up`, or the home itself) says which path, in one line, "
        "and exits 2: it ended in a PermissionError traceback (statusfix)",
        "launcher/supervise.py",
        "    unreadable = home_unreadable(home)\n",
        "    unreadable = None\n",
        ("tests/test_status_statusfix.py::test_status_of_a_home_this_user_may_not_read_names_the_path_in_one_line_and_"
         "exits_2",)),
    Mutation(
        "status_takes_a_socket_it_may_not_connect_to_for_no_supervisord",
        "with run/ opened and supervisord's socket still 0700, another user's status said `supervisord: not running` of "
        "a running one; it names the socket, exit 2 (statusfix)",
        "launcher/supervise.py",
        "    for path, mode, what in ((home.topology, os.R_OK, \"read\"), (home.socket, os.W_OK, \"connect to\")):\n",
        "    for path, mode, what in ((home.topology, os.R_OK, \"read\"),):\n",
        ("tests/test_status_statusfix.py::test_status_of_a_home_this_user_may_not_read_names_the_path_in_one_line_and_"
         "exits_2",)),
    Mutation(
        "ipv6_replica_address_unbracketed",
        "a replica at an IPv6 address reads [::1]:6390 in REPLICA DOWN, no replica to promote and DEGRADED, as the "
        "topology writes it: ::1:6390 left which colon ends the address to guess (statusfix)",
        "launcher/sentinel.py",
        "    return place_text((fields.get(\"ip\"), fields.get(\"port\")))\n",
        "    return f\"{fields.get('ip')}:{fields.get('port')}\"\n",
        ("tests/test_status_statusfix.py::test_ipv6_replica_addresses_are_bracketed_in_what_the_sentinels_say",)),
    Mutation(
        "ipv6_sentinel_address_unbracketed",
        "a sentinel at an IPv6 address reads [::1]:26390 in what status says of its CKQUORUM answer (statusfix)",
        "launcher/sentinel.py",
        "    where = place_text(asked)\n",
        "    where = f\"{asked[0]}:{asked[1]}\"\n",
        ("tests/test_status_statusfix.py::test_status_of_ipv6_sentinels_brackets_their_addresses_and_its_json_degraded_"
         "text_stands_alone",)),
    Mutation(
        "json_degraded_points_at_the_sentinel_line_above",
        "status --json's degraded text stands alone (names the replicas left): it said `(the sentinel line above says "
        "what to do)`, which no JSON reader has above it (statusfix)",
        "launcher/supervise.py",
        "    sentinels = sentinel_degraded(status.get(\"sentinel\"), standalone=args.json)\n",
        "    sentinels = sentinel_degraded(status.get(\"sentinel\"))\n",
        ("tests/test_status_statusfix.py::test_status_of_ipv6_sentinels_brackets_their_addresses_and_its_json_degraded_"
         "text_stands_alone",)),
    Mutation(
        "all_hosts_json_degraded_points_at_the_sentinel_line_above",
        "status FILE --all-hosts --json's degraded text stands alone, as status --json's (statusfix)",
        "launcher/hosts_status.py",
        "    degraded = sentinel_degraded(sentinel, standalone=args.json)\n",
        "    degraded = sentinel_degraded(sentinel)\n",
        ("tests/test_sentinel_failover.py::test_status_all_hosts_exits_3_for_a_replica_down_beside_a_promotable_one_as_"
         "status_does",)),
    Mutation(
        "json_degraded_points_at_the_cluster_state_line_above",
        "status --json's degraded text for a gate on the proxy names the overview's fields that say why: it said `the "
        "cluster state line above and the P2.7 lines say why` (statusfix)",
        "launcher/supervise.py",
        "        status[\"degraded\"] = proxy_fallback(topo, status[\"overview\"], standalone=args.json)\n",
        "        status[\"degraded\"] = proxy_fallback(topo, status[\"overview\"])\n",
        ("tests/test_status_degraded.py::test_status_exits_3_while_every_program_is_ready_and_the_gate_takes_k_from_the_"
         "proxy_and_1_with_the_clusterer_stopped",)),
    Mutation(
        "json_degraded_text_is_the_lines",
        "proxy_fallback's standalone text names no line above (statusfix)",
        "launcher/overview.py",
        "    if standalone:\n        why = (\"its host's clock",
        "    if False:\n        why = (\"its host's clock",
        ("tests/test_status_statusfix.py::test_the_json_degraded_text_stands_alone_and_the_text_output_keeps_its_line",)),
    Mutation(
        "the_shedding_alert_sends_the_reader_to_a_section_operating_md_never_had",
        "ClustergateGateShedding's rule said to read docs/operating.md: Overload, a section that page never had; "
        "overload and deadlines are docs/proposal-api.md's (revdead)",
        "configs/alerts.yml",
        "must resend (docs/proposal-api.md: Overload).\n",
        "must resend (docs/operating.md: Overload).\n",
        ("tests/test_docs.py::test_every_section_the_alert_rules_send_a_reader_to_exists_on_that_page",)),
    Mutation(
        "the_monitoring_page_counts_every_issuer_answer_to_a_gate_that_gave_up_expired",
        "docs/monitoring.md said the issuer's answer to a gate that gave up is counted expired; a write that landed in "
        "time and whose answer alone came late (Redis's reply held back 1 s, permit_timeout_ms 500) is counted written, "
        "its decision and permit in Redis, the gate's answer outcome unknown (revdead)",
        "docs/monitoring.md",
        "  late (Redis or the issuer stalled after the write) is counted `permit_issuer_requests_total{result=\"written\"}`,\n",
        "  late (Redis or the issuer stalled after the write) is counted `permit_issuer_requests_total{result=\"expired\"}`,\n",
        ("tests/test_deadline_overload_review.py::test_an_issuer_answer_that_came_after_the_gate_gave_up_is_counted_as_the_"
         "issuer_did_and_the_monitoring_page_says_so",)),
    Mutation(
        "a_planted_permit_key_is_left_as_found",
        "a permit key another writer left before its plan_id was decided is set to SPEC's \"1\" with TTL 60 s, not "
        "left as found (\"0\", no TTL: a permit that never expired under a decision saying permit) (revexit)",
        "actors/permit_issuer.py",
        "      redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])\n",
        "",
        ("tests/test_exit_hostile_review.py::"
         "test_a_permit_key_another_writer_left_before_its_plan_id_was_decided_gets_specs_value_and_ttl",)),
    Mutation(
        "key_types_checked_before_the_replay",
        "a decided plan_id resubmitted while its symbol's cooldown or the gate stream holds another type gets its "
        "recorded decision back, not the fault HOLD bad_key_type (revexit)",
        "actors/permit_issuer.py",
        'RECORD_DECISION = Script(_key_type_check(1) + """\n',
        'RECORD_DECISION = Script("".join(_key_type_check(i) for i in range(1, len(KEY_TYPES) + 1)) + """\n',
        ("tests/test_exit_hostile_review.py::"
         "test_a_decided_plan_id_resubmitted_while_another_key_of_its_write_is_of_another_type_gets_its_decision_back",),
        also=(("actors/permit_issuer.py",
               'end""" + "".join(_key_type_check(i) for i in range(2, len(KEY_TYPES))) + """\n',
               'end""" + """\n'),)),
    Mutation(
        "propose_sends_a_proposal_no_gate_can_decide",
        "`clustergate propose` refuses, exit 2, nothing sent, a --plan-id or --symbol the gate refuses on "
        "its own (with no gate answering it ended \"it may have been decided: retry with --plan-id\", a plan_id no gate "
        "can decide) (revexit)",
        "launcher/client.py",
        "    if refused := _refused_by_every_gate(plan_id, args):\n",
        "    if refused := None:\n",
        ("tests/test_exit_hostile_review.py::"
         "test_clustergate_propose_refuses_a_proposal_no_gate_can_decide_naming_the_option_and_sends_nothing",)),
    Mutation(
        "a_replay_reads_the_ttl_of_a_permit_key_of_another_type",
        "a replay whose permit key holds another type says no permit exists (permit_ttl_ms null), not that key's TTL "
        "(revexit: the replay now comes before the key type checks)",
        "actors/permit_issuer.py",
        "  if redis.call('TYPE', KEYS[3])['ok'] == 'string' then permit_ttl = redis.call('PTTL', KEYS[3]) end\n",
        "  permit_ttl = redis.call('PTTL', KEYS[3])\n",
        ("tests/test_exit_hostile_review.py::"
         "test_a_decided_plan_id_whose_permit_key_now_holds_another_type_is_replayed_saying_no_permit_exists",)),
    Mutation(
        "a_state_write_that_redis_does_not_answer_is_another_writers_race",
        "a connection that times out or drops while the state write WATCHes its keys (redis-py raises it as a "
        "WatchError) is Redis unavailable at once, not a race with another writer retried WRITE_ATTEMPTS times and "
        "counted write_conflict (revclus: CLIENT PAUSE WRITE on a running demo)",
        "actors/state_writer.py",
        "                timed_out = isinstance(lost, redis.TimeoutError)\n",
        "                timed_out = False\n",
        ("tests/test_cluster_side_review3.py::"
         "test_a_redis_that_stops_answering_a_state_write_is_redis_unavailable_not_another_writer",)),
    Mutation(
        "the_clusterer_takes_a_correlation_past_one_as_it_comes",
        "a ready matrix holding a correlation that is not a finite number in [-1, 1] is bad_matrix: a real "
        "clusterer took 5.0 and wrote ClusterStress 1.0 with a cluster correlation of 5.0, and read NaN as no edge "
        "(revclus)",
        "actors/correlator.py",
        "    if k and not (np.all(np.isfinite(corr)) and np.abs(corr).max() <= 1.0):  # the correlator's matrix_invalid\n",
        "    if False:\n",
        (f"{REVCLUS}test_a_matrix_the_correlator_never_sends_is_refused_bad_matrix_naming_what_is_wrong",
         f"{REVCLUS}test_a_real_clusterer_refuses_a_matrix_with_a_correlation_past_one_and_publishes_no_state_from_it",)),
    Mutation(
        "the_clusterer_reads_a_matrix_header_of_any_shape",
        "a matrix header naming a symbol twice (a cluster of two BTC), stale_symbols as text (read letter by "
        "letter: a held symbol with a stale price went unnoticed), or a newest_price_ts, realized_vol or "
        "points_per_symbol of another shape (handler errors) is bad_matrix (revclus)",
        "actors/correlator.py",
        "    check_matrix_header(header)\n",
        "",
        (f"{REVCLUS}test_a_matrix_the_correlator_never_sends_is_refused_bad_matrix_naming_what_is_wrong",)),
    Mutation(
        "the_state_writer_writes_a_cluster_stress_past_one",
        "a ready state whose cluster_stress is not a number in [0, 1] is bad_state, never written: a real state "
        "writer wrote 5 and the gate took K 1.0 from the cluster (revclus)",
        "actors/state_message.py",
        "    if stress is None or not 0.0 <= stress <= 1.0:\n",
        "    if stress is None:\n",
        (f"{REVCLUS}test_a_state_the_clusterer_never_sends_is_refused_bad_state_naming_what_is_wrong",
         f"{REVCLUS}test_a_real_state_writer_writes_no_state_whose_cluster_stress_is_past_one",)),
    Mutation(
        "the_state_writer_writes_a_ready_state_of_any_shape",
        "a ready state whose clusters, realized_vol, newest_price_ts or price_age_s have another shape than the "
        "clusterer sends is bad_state: before, handler errors, and an object as newest_price_ts a redis-py "
        "DataError counted redis_unavailable (revclus)",
        "actors/state_message.py",
        "        check_ready_state(message, symbols)\n",
        "        pass\n",
        (f"{REVCLUS}test_a_state_the_clusterer_never_sends_is_refused_bad_state_naming_what_is_wrong",
         f"{REVCLUS}test_a_real_state_writer_writes_no_state_whose_cluster_stress_is_past_one",)),
    Mutation(
        "the_state_writer_mirrors_gauges_of_any_shape",
        "a state whose gauges are not an object of numbers is bad_state: before, a handler error with the mirror "
        "half set (revclus)",
        "actors/state_message.py",
        "    check_gauges(message[\"gauges\"])\n",
        "",
        (f"{REVCLUS}test_a_state_the_clusterer_never_sends_is_refused_bad_state_naming_what_is_wrong",)),
    Mutation(
        "the_state_writer_writes_clusters_naming_a_symbol_twice_or_more_clusters_than_symbols",
        "a ready state whose clusters name a symbol twice, or outnumber the topology's symbols, is bad_state: "
        "20,000 clusters of BTCUSDT were written in one MULTI/EXEC (revclus)",
        "actors/state_message.py",
        "    if len(set(members)) != len(members):\n",
        "    if False:\n",
        (f"{REVCLUS}test_a_state_whose_clusters_name_a_symbol_twice_or_outnumber_the_topologys_symbols_is_refused",)),
    Mutation(
        "the_state_writer_lets_more_clusters_than_symbols_through",
        "a ready state with more clusters than the topology's symbols is bad_state (revclus)",
        "actors/state_message.py",
        "    if symbols is not None and len(clusters) > len(symbols):\n",
        "    if False:\n",
        (f"{REVCLUS}test_a_state_whose_clusters_name_a_symbol_twice_or_outnumber_the_topologys_symbols_is_refused",)),
    Mutation(
        "the_correlator_reads_a_window_naming_a_symbol_twice",
        "a window whose symbols are not text, each once, is bad_window: one naming a symbol twice was correlated "
        "into a matrix (revclus)",
        "actors/window_message.py",
        "    check_text_list(symbols, \"window symbols\", unique=True)\n",
        "",
        (f"{REVCLUS}test_a_window_the_buffer_never_sends_is_refused_bad_window_naming_what_is_wrong",)),
    Mutation(
        "the_correlator_reads_a_window_newest_tick_ts_of_any_shape",
        "a window whose newest_tick_ts is not an object of numbers or null is bad_window: a list or text there was "
        "a handler error in correlate_window (no matrix, no bad_window), and true was taken as a tick time "
        "(revclus)",
        "actors/window_message.py",
        "    check_number_map(header.get(\"newest_tick_ts\") or {}, \"window newest_tick_ts\", optional_values=True)\n",
        "",
        (f"{REVCLUS}test_a_window_the_buffer_never_sends_is_refused_bad_window_naming_what_is_wrong",)),
    Mutation(
        "status_socket_refused_for_want_of_read",
        "connect(2) asks write permission of a socket, not read: a socket 0722 (run/ opened) reached supervisord, and "
        "status refused it to the user nobody, exit 2 (revstatus)",
        "launcher/supervise.py",
        "    for path, mode, what in ((home.topology, os.R_OK, \"read\"), (home.socket, os.W_OK, \"connect to\")):\n",
        "    for path, mode, what in ((home.topology, os.R_OK, \"read\"), (home.socket, os.R_OK | os.W_OK, \"connect to\")):\n",
        ("tests/test_status_statusfix.py::test_status_is_refused_only_for_permission_not_for_a_socket_it_may_connect_to_"
         "nor_a_running_copy_looping",)),
    Mutation(
        "status_refuses_a_running_copy_loop",
        "a running copy that is a symlink loop is the home's fault: status shows supervisord's programs and exits 1; it "
        "exited 2 as for a home this user may not read, the programs hidden (revstatus)",
        "launcher/supervise.py",
        "        if why is not None and \"Permission denied\" in why:\n            return why + advice\n",
        "        if why is not None:\n            return why + advice\n",
        ("tests/test_status_statusfix.py::test_status_is_refused_only_for_permission_not_for_a_socket_it_may_connect_to_"
         "nor_a_running_copy_looping",)),
    Mutation(
        "running_copy_loop_taken_for_no_copy",
        "a running copy stat() cannot look at (a symlink loop) is named in status's notes; it was taken for no copy, "
        "`topology: -` and nothing said (revstatus)",
        "launcher/supervise.py",
        "    if (why := unreachable(home.topology)) is not None:\n        return None, [why]\n",
        "",
        ("tests/test_status_statusfix.py::test_status_is_refused_only_for_permission_not_for_a_socket_it_may_connect_to_"
         "nor_a_running_copy_looping",)),
    Mutation(
        "home_loop_resolve_traceback",
        "`status --home LOOP` is refused in one line, exit 2: home_from's resolve raised RuntimeError (revstatus)",
        "launcher/supervise.py",
        "    except RuntimeError:\n        return path.absolute()\n",
        "    except ValueError:\n        return path.absolute()\n",
        ("tests/test_status_statusfix.py::test_status_of_a_home_that_is_a_symlink_loop_or_a_name_too_long_is_refused_in_"
         "one_line",)),
    Mutation(
        "home_name_too_long_not_refused",
        "a home whose name is too long is refused, exit 2 (statusfix), though a running copy that stat() cannot look at "
        "is no refusal (revstatus)",
        "launcher/supervise.py",
        "    if (why := unreachable(home.root)) is not None:\n",
        "    if False:\n",
        ("tests/test_status_statusfix.py::test_status_of_a_home_that_is_a_symlink_loop_or_a_name_too_long_is_refused_in_"
         "one_line",)),
    Mutation(
        "metrics_url_ipv6_unbracketed",
        "status's metrics_url of an actor on ::1 reads http://[::1]:PORT/metrics; it read http://::1:PORT/metrics, which "
        "curl refuses and a URL parser cannot split (revstatus)",
        "launcher/supervise.py",
        "    return f\"http://{place_text((host, port))}/metrics\"\n",
        "    return f\"http://{host}:{port}/metrics\"\n",
        ("tests/test_status_statusfix.py::test_status_of_actors_on_ipv6_loopback_gives_metrics_urls_a_client_can_fetch",)),
    Mutation(
        "all_hosts_metrics_url_ipv6_unbracketed",
        "status FILE --all-hosts's metrics_url of an actor on ::1 is bracketed, as status's (revstatus)",
        "launcher/hosts_status.py",
        "    url = metrics_url(spec.host, spec.metrics_port)\n",
        "    url = f\"http://{spec.host}:{spec.metrics_port}/metrics\"\n",
        ("tests/test_status_statusfix.py::test_status_of_actors_on_ipv6_loopback_gives_metrics_urls_a_client_can_fetch",)),
    Mutation(
        "gate_overview_metrics_ipv6_unbracketed",
        "a gate on ::1 that does not answer: `its metrics at [::1]:PORT did not answer`; it read ::1:PORT (revstatus)",
        "launcher/overview.py",
        "\"metrics\": place_text((spec.host, spec.metrics_port)),",
        "\"metrics\": f\"{spec.host}:{spec.metrics_port}\",",
        ("tests/test_status_statusfix.py::test_status_of_actors_on_ipv6_loopback_gives_metrics_urls_a_client_can_fetch",)),
    Mutation(
        "home_root_loop_resolve_traceback",
        "`status FILE --all-hosts --home-root LOOP` names the loop in each host's `unexpected exits not read`: "
        "host_home's resolve raised RuntimeError (revstatus)",
        "launcher/deploy.py",
        "        return resolved_path(Path(args.home_root)) / host",
        "        return Path(args.home_root).resolve() / host",
        ("tests/test_status_statusfix.py::test_status_all_hosts_with_a_home_root_that_is_a_symlink_loop_names_the_loop_"
         "per_host",)),
    Mutation(
        "a_replay_reads_a_permit_key_without_ttl_as_a_live_permit",
        "a replay whose permit key is a string with no TTL (another writer's \"0\" after the permit expired) says no "
        "permit exists (permit_ttl_ms null), not -1, which the docs' rule (act on a replay whose permit_ttl_ms is not "
        "null) read as a live permit (revscript)",
        "actors/permit_issuer.py",
        '    first["permit_ttl_ms"] = pttl if first["permit"] and isinstance(pttl, int) and pttl >= 0 else None\n',
        '    first["permit_ttl_ms"] = pttl if first["permit"] and isinstance(pttl, int) and pttl != -2 else None\n',
        ("tests/test_script_hostile_review.py::"
         "test_a_replay_gives_a_permit_ttl_only_for_a_permit_its_decision_issued_that_expires",)),
    Mutation(
        "a_hold_replay_gives_the_ttl_of_a_key_at_its_permit_key",
        "a HOLD's replay (no permit) says permit_ttl_ms null, not the TTL of a key another writer left at its permit "
        "key (revscript)",
        "actors/permit_issuer.py",
        '    first["permit_ttl_ms"] = pttl if first["permit"] and isinstance(pttl, int) and pttl >= 0 else None\n',
        '    first["permit_ttl_ms"] = pttl if isinstance(pttl, int) and pttl >= 0 else None\n',
        ("tests/test_script_hostile_review.py::"
         "test_a_replay_gives_a_permit_ttl_only_for_a_permit_its_decision_issued_that_expires",)),
    Mutation(
        "propose_refuses_a_code_point_a_later_python_assigns",
        "`clustergate propose` sends a --plan-id or --symbol whose only characters not printable are ones its own "
        "Python's Unicode has not assigned (a gate on a later Python may take them and decide it), not refused \"no "
        "gate can decide this proposal\" (revscript)",
        "launcher/client.py",
        "    problems = _problems_of_each_field({field: _assigned_by_a_later_unicode(value) for field, value in body.items()})\n",
        "    problems = _problems_of_each_field(body)\n",
        ("tests/test_script_hostile_review.py::"
         "test_clustergate_propose_sends_a_value_with_a_code_point_its_python_has_not_assigned",
         "tests/test_script_hostile_review.py::"
         "test_clustergate_propose_refuses_exactly_what_a_real_gate_refuses_over_generated_plan_ids_and_symbols")),
    Mutation(
        "the_decision_keys_type_is_not_checked_before_its_replay",
        "a plan_id whose decision key holds another type is the fault HOLD bad_key_type naming that key, nothing "
        "written, with the replay moved before the other keys' type checks (revscript's review of revexit)",
        "actors/permit_issuer.py",
        'RECORD_DECISION = Script(_key_type_check(1) + """\n',
        'RECORD_DECISION = Script("""\n',
        ("tests/test_script_hostile_review.py::"
         "test_a_plan_id_whose_decision_key_is_of_another_type_is_held_naming_that_key_and_nothing_is_written",)),
    Mutation(
        "a_live_permit_is_renewed_for_a_plan_id_whose_decision_key_was_removed",
        "a plan_id whose decision key was removed (by hand, or evicted before the issuer noticed an evicting policy) and "
        "that is resubmitted while its permit lives does not get the permit renewed: SET NX, and a live permit of "
        "SPEC's form left to expire (revexit's SET without NX renewed it, 999 ms left became 1998 ms; revscript; "
        "session 40)",
        "actors/permit_issuer.py",
        "  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then\n",
        "  if not redis.call('SET', KEYS[3], '1', 'EX', ARGV[4]) then\n",
        ("tests/test_script_hostile_review.py::test_a_plan_id_whose_decision_key_was_removed_never_renews_its_live_"
         "permit",)),
    Mutation(
        "a_state_write_whose_connection_dropped_once_is_not_tried_again",
        "a connection dropped while the state write WATCHes (CLIENT KILL with Redis up) is tried again on a new "
        "connection and the state written; since revclus it raised ConnectionError after one attempt and the "
        "cadence's state was lost (revchecks)",
        "actors/state_writer.py",
        "                if timed_out or (dropped and attempt == WRITE_ATTEMPTS):\n",
        "                if timed_out or dropped:\n",
        ("tests/test_cluster_side_review3.py::"
         "test_a_state_write_whose_connection_drops_once_is_written_on_a_new_connection",)),
    Mutation(
        "a_state_write_whose_connection_drops_at_every_attempt_is_another_writers_race",
        "a connection dropped at every attempt of a state write is raised as the connection error after the last "
        "one (redis_unavailable), never redis-py's WatchError counted write_conflict, another writer's race "
        "(revchecks)",
        "actors/state_writer.py",
        "                dropped = isinstance(lost, redis.ConnectionError)\n",
        "                dropped = False\n",
        ("tests/test_cluster_side_review3.py::"
         "test_a_state_write_whose_connection_drops_once_is_written_on_a_new_connection",)),
    Mutation(
        "a_permit_key_of_another_value_with_a_ttl_is_left_as_found",
        "a permit key another writer left with another value than \"1\" and a TTL within the permit's is set to SPEC's "
        "\"1\" with its TTL when its plan_id is decided with a permit, not left as found (a decision saying permit over a "
        "\"0\"): the NX path's value check (revnx's review of aaa3bc7)",
        "actors/permit_issuer.py",
        "    if redis.call('GET', KEYS[3]) ~= '1' or left < 0 or left > tonumber(ARGV[4]) * 1000 then\n",
        "    if left < 0 or left > tonumber(ARGV[4]) * 1000 then\n",
        (f"{NX_REVIEW}test_a_permit_key_another_writer_left_is_set_to_specs_value_and_ttl",)),
    Mutation(
        "a_permit_key_1_without_ttl_is_left_as_found",
        "a permit key another writer left as \"1\" with no TTL is set to \"1\" with the permit's TTL when its plan_id is "
        "decided with a permit, not left as found (a permit that never expires): the NX path's PTTL -1 check (revnx's "
        "review of aaa3bc7)",
        "actors/permit_issuer.py",
        "    if redis.call('GET', KEYS[3]) ~= '1' or left < 0 or left > tonumber(ARGV[4]) * 1000 then\n",
        "    if redis.call('GET', KEYS[3]) ~= '1' or left > tonumber(ARGV[4]) * 1000 then\n",
        (f"{NX_REVIEW}test_a_permit_key_another_writer_left_is_set_to_specs_value_and_ttl",)),
    Mutation(
        "a_new_decisions_permit_key_type_is_not_checked",
        "a plan_id decided with a permit whose permit key holds another type is the fault HOLD bad_key_type naming that "
        "key, nothing written: since aaa3bc7 the permit is SET NX and the key found read with GET, so without the check "
        "the script failed WRONGTYPE after its XADD (a stream record with no decision) (revnx)",
        "actors/permit_issuer.py",
        'end""" + "".join(_key_type_check(i) for i in range(2, len(KEY_TYPES))) + """\n',
        'end""" + "".join(_key_type_check(i) for i in (2, 4)) + """\n',
        (f"{NX_REVIEW}test_a_new_decision_whose_permit_key_is_of_another_type_is_held_naming_it_and_nothing_is_"
         "written",)),
    Mutation(
        "a_live_permit_left_to_expire_is_counted_as_a_permit_issued",
        "a plan_id decided again (its decision key removed) whose live permit is left to expire counts no second permit "
        "issued: the script says the permit was kept, and permit_issuer_permits_issued_total and p26_permit_issued_total "
        "stay at the plan_id's one permit (they counted 2; revnx's review of aaa3bc7)",
        "actors/permit_issuer.py",
        "      kept = '\"\"\" + PERMIT_KEPT + \"\"\"'\n",
        "",
        (f"{NX_REVIEW}test_a_live_permit_left_to_expire_is_not_counted_as_a_permit_issued",)),
    Mutation(
        "a_second_backtest_writes_into_an_out_another_is_writing",
        "a backtest into an --out another backtest is writing is refused, exit 2, writing nothing there; two at once "
        "each truncated and wrote the other's files, both exit 0, one run's report.png beside the other's "
        "summary.json (revbt)",
        "launcher/backtest.py",
        "        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n",
        "        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)\n",
        ("tests/test_backtest_interrupt.py::"
         "test_a_second_backtest_into_the_same_out_is_refused_while_the_first_writes",)),
    Mutation(
        "an_out_that_is_a_dangling_symlink_is_written_after_the_run",
        "an --out that is a symbolic link to nothing is refused before the run, exit 2, naming the link and its "
        "target; it ran the whole backtest and then exited 1, 'File exists' (revbt)",
        "launcher/backtest.py",
        "    if out.is_symlink() and not out.exists():  # mkdir: \"File exists\", once the run was done (exit 1)\n",
        "    if False:\n",
        ("tests/test_backtest_attack.py::test_an_out_that_is_a_dangling_symlink_is_refused_before_the_run",)),
    Mutation(
        "the_grid_of_proposals_is_held_whole_before_the_first_decision",
        "without --proposals the grid of proposals is made as it is decided, not held whole: a list of it took about "
        "330 bytes a proposal for the whole run (1.2 M proposals: peak RSS 688 MB against 282 MB; revbt)",
        "launcher/backtest.py",
        "            symbols, prices.first_ts, last_priced_publish, proposal_every * cadence, settings.gate.kill_score_hard),\n",
        "            symbols, prices.first_ts, last_priced_publish, proposal_every * cadence, settings.gate.kill_score_hard) "
        "and [*grid_proposals(symbols, prices.first_ts, last_priced_publish, proposal_every * cadence, "
        "settings.gate.kill_score_hard)],\n",
        ("tests/test_backtest_counts.py::test_the_grid_of_proposals_is_made_as_it_is_decided_not_held_whole",)),
    Mutation(
        "a_snapshot_hash_without_its_fields_is_no_snapshot",
        "a redis_snapshots feed skips a snapshot hash holding neither mark_price nor ts_epoch as no_ts, counted and "
        "logged; it read as no key at all (HMGET's two nils), dropped every poll without a count or a line (revfeed)",
        "actors/price_feed.py",
        "            if mark is None and ts_epoch is None and not present:\n",
        "            if mark is None and ts_epoch is None:\n",
        ("tests/test_price_feed_process.py::"
         "test_a_snapshot_hash_without_mark_price_and_ts_epoch_is_counted_not_dropped_silently",)),
    Mutation(
        "a_stray_quote_reads_the_lines_to_the_next_one_as_one_row",
        "a replay file whose quoted field runs over more than one line (a stray double quote) is refused naming both "
        "lines; the lines up to the next quote were read as one bad row: 1002 lines, 1 counted, 1001 good rows lost (revfeed)",
        "launcher/feed_inputs.py",
        "        if (spanned := sum(cell.count(\"\\n\") for cell in row)) > 0:\n",
        "        if (spanned := sum(cell.count(\"\\n\") for cell in row)) > 0 and False:\n",
        ("tests/test_price_feed_replay.py::test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_"
         "file_and_what_is_wrong",)),
    Mutation(
        "a_panel_groups_by_a_label_its_metric_does_not_have",
        "every label a Grafana panel groups by is on the metric it queries, on a live actor: grouped by a misspelt "
        "label the snapshot-age panel still has data (one series, which test_monitor_live counts as data) but draws one "
        "line, not one a symbol (revalert)",
        "configs/grafana-dashboard.json",
        "max by (symbol) (p26_snapshot_age_seconds)",
        "max by (symbols) (p26_snapshot_age_seconds)",
        ("tests/test_alerts.py::test_every_metric_label_and_label_value_the_rules_and_panels_use_is_on_a_live_actor",)),
    Mutation(
        "cluster_fallbacks_compares_the_increase_of_two_counters_across_a_restart",
        "P26ClusterFallbacks stays quiet on a gate restarted into a warm-up whose earlier life fell back: comparing "
        "increase(total) with increase(warm-up) fired for 30 minutes (extrapolation: 4.29 > 4; a reset seen on the "
        "total alone: 10 > 8) (revalert)",
        "configs/alerts.yml",
        "          increase((p26_cluster_fallback_total - p26_cluster_fallback_warm_up_total)[30m:]) == 0\n",
        "          increase(p26_cluster_fallback_total[30m]) <= increase(p26_cluster_fallback_warm_up_total[30m])\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "backtest_cooldown_not_renewed_by_a_permit_under_a_cooldown",
        "in the backtest a permit decided under a cooldown sets the cooldown again for its full TTL, as the issuer's "
        "SET EX does live, so a proposal after the first TTL but inside the second is stepped down (revbtlive)",
        "launcher/backtest.py",
        "                cooldown_until[proposal.symbol] = t + pi.cooldown_ttl_s\n",
        "                if not items[0].cooldown_seen:  # mutant: a permit under a cooldown keeps its expiry\n"
        "                    cooldown_until[proposal.symbol] = t + pi.cooldown_ttl_s\n",
        (f"{BT_LIVE}test_a_cooldown_is_carried_across_slots_inside_and_just_outside_its_ttl_as_live",)),
    Mutation(
        "backtest_replay_sets_its_cooldown_again",
        "in the backtest a replayed plan_id sets no cooldown, as the issuer writes nothing for one live, so the next "
        "plan of its symbol (in the same batch live) is decided without a cooldown (revbtlive)",
        "launcher/backtest.py",
        '                    yield {**prior[1], "ts": t, "replayed": True, "permit": False}\n',
        '                    if prior[1]["final_action"] != HOLD:  # mutant: a replay renews the cooldown\n'
        "                        cooldown_until[proposal.symbol] = t + pi.cooldown_ttl_s\n"
        '                    yield {**prior[1], "ts": t, "replayed": True, "permit": False}\n',
        (f"{BT_LIVE}test_risk_off_at_its_line_a_symbol_without_a_snapshot_and_batches_after_a_replay_or_a_conflict_as_"
         "live",)),
    Mutation(
        "backtest_takes_a_flat_positions_row_for_no_snapshot",
        "in the backtest a flat positions row (position_amt 0) is a fresh snapshot, as the gate reads one: a book "
        "gone flat is cold (every metric 0), not fail closed (revbtlive)",
        "launcher/backtest.py",
        "            pos = [Position(symbols[i], float(held[n, i])) for i in range(k) if math.isfinite(held[n, i])]\n",
        "            pos = [Position(symbols[i], float(held[n, i])) for i in range(k)\n"
        "                   if math.isfinite(held[n, i]) and held[n, i] != 0]  # mutant: flat is no snapshot\n",
        (f"{BT_LIVE}test_positions_that_change_sign_go_flat_and_come_back_between_slots_are_decided_as_live",)),
    Mutation(
        "backtest_reads_a_short_positions_row_as_long",
        "the backtest reads a positions row's side from the sign of position_amt, as the gate reads a snapshot: "
        "a short's proxy and concentration are the gate's (revbtlive)",
        "launcher/backtest.py",
        "        val_l.append(value)\n",
        "        val_l.append(abs(value))  # mutant: no side\n",
        (f"{BT_LIVE}test_positions_that_change_sign_go_flat_and_come_back_between_slots_are_decided_as_live",)),
    Mutation(
        "backtest_judges_a_states_freshness_at_its_publish_time",
        "the backtest judges the cluster state's freshness at the proposal's time, as the gate does at its decision: "
        "judged at the publish time of the proposal's slot, a state never went stale, K never on the proxy (revbtlive)",
        "launcher/backtest.py",
        "                k_value = cluster_k(updated, stress[r], t, settings.freshness_s, updated_ms)\n",
        "                k_value = cluster_k(updated, stress[r], publish[s], settings.freshness_s, updated_ms)\n",
        (f"{BT_LIVE}test_a_stale_cluster_state_falls_back_to_the_proxy_and_back_over_several_slots_as_live",)),
    Mutation(
        "backtest_says_realized_sigma_for_a_state_without_realized_vol",
        "the backtest records sigma_source constant_fallback for a fresh state with no realized vol at all (every "
        "matrix series flat), as the gate, which finds no realized vol hash (the state writer writes none); it said "
        "realized, every held symbol on the constant (revbtlive)",
        "launcher/backtest.py",
        "                        if sigmas:\n"
        '                            sigma_source = "realized"\n'
        "                        else:\n"
        "                            sigmas = None\n",
        '                        sigma_source = "realized"  # mutant: realized, with no realized vol\n',
        (f"{BT_LIVE}test_realized_sigma_from_a_fresh_state_the_cold_line_and_the_constant_when_missing_or_stale_as_"
         "live",)),
    Mutation(
        "a_holder_writing_stale_states_keeps_the_lease_beside_a_fresh_standby",
        "a lease holder whose host clock runs behind (or ahead) writes states every gate refuses as stale, and renews "
        "its lease with each; a standby whose chain is fresh takes the lease from it (before: the holder kept it for "
        "good, the stored state 30 s old or 30 s ahead, every gate on the proxy) (revha3)",
        "actors/state_writer.py",
        "  taken_over = 1\n",
        "  return {0, pttl, 0}\n",
        ("tests/test_ha_standby_clock_review.py::test_a_lease_holder_whose_states_are_stale_by_its_clock_gives_way_to_a_"
         "standby_with_fresh_states",)),
    Mutation(
        "status_says_ok_while_a_rejoined_old_primary_still_answers_role_master",
        "status (and status --all-hosts) names a managed data server that answers ROLE master beside the sentinels' "
        "primary, exit 1; a primary whose host rejoined after a failover did so for 10 s, taking writes lost at its "
        "demotion, while status said OK and exited 0 (revha3)",
        "launcher/supervise.py",
        "    masters = second_primary(topo, ask) if topo.redis.managed else None\n",
        "    masters = None\n",
        ("tests/test_status_two_masters_review.py::test_status_names_a_second_server_answering_role_master_until_it_is_a_"
         "replica_again",)),
    Mutation(
        "buffer_sums_a_return_from_a_step_back_as_a_forward_step",
        "a buffer clock stepped back within the skew, forward again, then forward 2 s is no forward clock fault: the "
        "forward steps summed alone (4 + 2 s) held the history unsaved a window (6 h at production) for a head 2 s "
        "ahead (revclock)",
        "actors/buffer.py",
        "        advance = head_advance_s(self.offset_high_s, now, mono)\n",
        "        advance = max(0.0, step)\n",
        ("tests/test_cluster_side_attack.py::test_a_clock_stepped_back_within_the_skew_and_forward_again_is_no_forward_"
         "fault_when_it_then_steps_a_little",)),
    Mutation(
        "issuer_takes_a_step_of_redis_clock_without_a_word",
        "a step of Redis's clock (every cooldown and permit expires by it: 61 s forward expired a live cooldown at once) "
        "is logged by the permit issuer, redis_clock_stepped; it took the new offset without a word (revclock)",
        "actors/permit_issuer.py",
        "        if step_s is not None:\n",
        "        if step_s is not None and False:\n",
        ("tests/test_exit_path_review.py::test_a_step_of_redis_clock_that_expires_every_cooldown_at_once_is_logged_by_"
         "the_issuer",)),
    Mutation(
        "buffer_counts_an_unknown_symbols_tick_stamped_ahead_as_future_ts",
        "a tick of a symbol outside the allowlist is unknown_symbol whatever its time; stamped 30 s ahead it was counted "
        "future_ts, a clock refusal status reads as the feeds' clock ahead (revclock)",
        "actors/grid.py",
        "    if symbol not in grid.index:\n        return \"unknown_symbol\"\n",
        "    if symbol not in grid.index and ts <= now_s + TICK_FUTURE_SKEW_S:\n        return \"unknown_symbol\"\n",
        ("tests/test_cluster_side_attack.py::test_a_tick_of_a_symbol_outside_the_allowlist_stamped_ahead_is_unknown_"
         "symbol_not_a_clock_refusal",)),
    Mutation(
        "two_writers_each_stale_at_some_ticks_trade_the_lease_back_and_forth",
        "a standby takes the lease from a holder whose states are stale only with its own state fresh with a cadence "
        "to spare and not ahead of Redis's clock; before, two writers off in opposite directions by less than the "
        "margin (2.8 s behind, 0.7 s ahead) took the lease from each other twice a second (revlease)",
        "actors/state_writer.py",
        "  local mine_fresh = now_ms - mine <= margin - spare and mine <= now_ms\n",
        "  local mine_fresh = now_ms - mine <= margin and math.floor(mine / 1000) <= now_s\n",
        ("tests/test_ha_standby_clock_review.py::test_two_writers_off_in_opposite_directions_by_less_than_the_margin_do_"
         "not_trade_the_lease",)),
    Mutation(
        "status_names_no_sentinels_primary_when_the_topology_spells_its_ipv6_address_otherwise",
        "status's SECOND PRIMARY line names the sentinels' primary beside the stray one when the topology spells its "
        "IPv6 address otherwise ([0:0:0:0:0:0:0:1], the sentinels ::1); before, named null and the line said none of "
        "them was the sentinels' primary (revlease)",
        "launcher/supervise.py",
        "    named = next((m for m in masters if said is not None and same_address(m, said[0])), None)\n",
        "    named = said[0] if said is not None and said[0] in masters else None\n",
        ("tests/test_status_two_masters_review.py::test_a_second_primary_beside_one_named_in_another_spelling_of_its_ipv6_"
         "address_is_said_beside_it",)),
    Mutation(
        "issuer_logs_a_reading_behind_slow_scripts_as_a_step_of_redis_clock",
        "a step of Redis's clock counts only beyond the threshold plus both readings' uncertainties (rev2clk): compared "
        "whole, a reading behind 2.5 s scripts logged redis_clock_stepped 2.35 s forward, and the next 2.35 s back, "
        "Redis's clock unmoved",
        "actors/permit_issuer.py",
        "    if abs(step_s) > REDIS_CLOCK_STEP_S + last[2] + now[2]:\n",
        "    if abs(step_s) > REDIS_CLOCK_STEP_S:\n",
        ("tests/test_exit_path_review.py::test_readings_of_redis_clock_behind_slow_scripts_are_no_step_and_a_step_across_"
         "them_is_logged_once",)),
    Mutation(
        "issuer_compares_the_next_reading_against_one_too_uncertain_to_show_a_step",
        "a reading of Redis's clock too uncertain to show a step is not the one the next is compared against (rev2clk): "
        "compared against it, a 3 s step across slow scripts went unlogged",
        "actors/permit_issuer.py",
        "    return None, (last if now[2] > REDIS_CLOCK_STEP_S / 2 else now)\n",
        "    return None, now\n",
        ("tests/test_exit_path_review.py::test_readings_of_redis_clock_behind_slow_scripts_are_no_step_and_a_step_across_"
         "them_is_logged_once",)),
    Mutation(
        "buffer_restarted_mid_step_back_starts_its_mark_from_its_clock",
        "a buffer restarted between a step back within the skew and the clock's return starts head_advance_s's mark "
        "from its saved head when that lies ahead of its clock: from its clock, -4 s, a restart, +4 s, +2 s summed 6 s, "
        "an ahead fault holding the history unsaved a window (rev2clk, session 41)",
        "actors/buffer.py",
        "            self.offset_high_s = max(self.offset_high_s, self.saved_offset_high_s(saved, now))\n",
        "            pass\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_buffer_restarted_between_a_step_back_within_the_skew_and_its_return_is_no_forward_fault",)),
    Mutation(
        "status_says_two_masters_are_beside_a_primary_the_sentinels_name_when_none_answers",
        "status's SECOND PRIMARY line with no sentinel answering names no primary the sentinels name (revdocs41: it "
        "said `none of them the primary the sentinels name` of sentinels that named nothing)",
        "launcher/supervise.py",
        '              "beside each other, none of them named by an answering sentinel")\n',
        '              "beside each other, none of them the primary the sentinels name")\n',
        ("tests/test_status_two_masters_review.py::"
         "test_two_masters_with_no_sentinel_answering_are_not_said_to_be_beside_a_primary_the_sentinels_name",)),
    Mutation(
        "start_shim_restarts_a_primary_named_in_another_ipv6_spelling_without_waiting_for_the_failover",
        "the start shim of a killed primary the sentinels still name waits for their failover when they name it ::1 and "
        "the topology [0:0:0:0:0:0:0:1]; before, it did not wait and started it as a replica of itself (ipv6addr)",
        "launcher/redis_node.py",
        "    if said and said[1] and same_address(said[0], me):\n",
        "    if said and said == (me, True):\n",
        ("tests/test_ipv6_spelling_review.py::test_a_killed_primary_the_sentinels_name_in_another_spelling_waits_for_"
         "their_failover_not_replicating_itself",)),
    Mutation(
        "start_shim_starts_a_primary_named_in_another_ipv6_spelling_as_a_replica_of_itself",
        "the start shim takes a primary the sentinels (or their files) name ::1 for itself when the topology spells it "
        "[0:0:0:0:0:0:0:1]; before, --replicaof ::1 PORT, a replica of itself (ipv6addr)",
        "launcher/redis_node.py",
        "    if same_address(primary, me):\n",
        "    if primary == me:\n",
        ("tests/test_ipv6_spelling_review.py::test_the_start_shim_takes_a_primary_named_in_another_spelling_of_its_"
         "address_for_itself",)),
    Mutation(
        "reseeded_sentinel_goes_back_to_the_first_server_when_its_file_spells_the_primary_otherwise",
        "a reseeded sentinel file keeps the primary Sentinel wrote as ::1 where the topology spells "
        "[0:0:0:0:0:0:0:1]; before, it was seeded back to the first server, whose data may be older (ipv6addr)",
        "launcher/supervise.py",
        "                if known is not None and any(same_address(known, server) for server in redis.server_addresses()):\n",
        "                if known in redis.server_addresses():\n",
        ("tests/test_ipv6_spelling_review.py::test_a_reseeded_sentinel_keeps_the_primary_its_file_names_in_another_"
         "spelling",)),
    Mutation(
        "ha_load_compares_the_topologys_ipv6_spelling_with_the_sentinels_as_text",
        "ha_load redis says settled and ha_load failover --to a replica the topology spells [0:0:0:0:0:0:0:1] waits "
        "for the priorities and answers OK; before, the sentinels' ::1 never matched: never settled, the move did not "
        "wait for the priorities and answered that another server became the primary (ipv6addr)",
        "launcher/ha_load.py",
        "    host, port = canonical_address(address)\n",
        "    host, port = address[0], int(address[1])\n",
        ("tests/test_ipv6_spelling_review.py::test_ha_load_failover_to_a_replica_in_another_spelling_moves_the_primary_"
         "there_and_says_ok",)),
    Mutation(
        "a_sentinel_listed_in_two_ipv6_spellings_is_counted_twice",
        "validation refuses one sentinel listed twice as [::1]:P and [0:0:0:0:0:0:0:1]:P; before, it was accepted and "
        "its word counted twice towards the majority (ipv6addr)",
        "launcher/topology.py",
        "                where = canonical_address((place.where, place.port))",
        "                where = (place.where, place.port)",
        ("tests/test_ipv6_spelling_review.py::test_a_sentinel_listed_twice_in_two_spellings_of_its_address_is_"
         "refused",)),
    Mutation(
        "a_sentinel_listed_as_its_ipv4_address_and_the_ipv4_mapped_one_is_counted_twice",
        "validation refuses one sentinel listed twice as 127.0.0.1:P and [::ffff:127.0.0.1]:P (the IPv4-mapped spelling "
        "reaches the same IPv4 listener); before, it was accepted and its word counted twice towards the majority "
        "(revipv6)",
        "launcher/sentinel.py",
        "    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None\n",
        "    mapped = None\n",
        ("tests/test_ipv6_spelling_review.py::test_a_sentinel_listed_twice_as_its_ipv4_address_and_the_ipv4_mapped_one_"
         "is_refused",)),
    Mutation(
        "lease_takeover_from_a_live_holder_is_only_logged",
        "a standby that takes the write lease from a live holder writing stale states counts it in "
        "p27_state_writer_lease_takeovers_total, exported as 0 from the start; before, the takeover was a log line only "
        "and no series showed it (leasemetric)",
        "actors/state_writer.py",
        "                self.m.lease_takeovers.inc()\n",
        "",
        ("tests/test_ha_standby_clock_review.py::test_a_takeover_from_a_live_holder_is_counted_by_the_writer_that_"
         "took_it",)),
    Mutation(
        "state_clock_skew_episode_ends_at_the_first_fresh_state",
        "the state writer's state_clock_skew episode ends only once states came fresh for a whole gate window: ended at "
        "the first fresh state, a chain 0.7 s ahead logged state_clock_skew and state_clock_skew_ended in turn, twice "
        "a second (leasemetric)",
        "actors/state_writer.py",
        "            if now_mono - self.fresh_since_mono >= self.gate_freshness_s:\n",
        "            if True:\n",
        (f"{SKEW}::test_a_chain_under_a_second_ahead_is_named_once_not_at_each_state_it_sends_in_a_second_not_yet_"
         "begun",)),
    Mutation(
        "lease_takeover_alert_waits_for_a_second_takeover",
        "P27StateWriterLeaseTakenOver fires at the first takeover of the write lease from a live holder in an hour, on "
        "the taker (leasemetric)",
        "configs/alerts.yml",
        "          sum by (job, instance) (increase(p27_state_writer_lease_takeovers_total[1h])) > 0\n",
        "          sum by (job, instance) (increase(p27_state_writer_lease_takeovers_total[1h])) > 1\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "lease_reply_lost_is_taken_again_from_itself",
        "a state writer that finds the lease held by itself with the newest token (its own lease script ran, the reply "
        "lost to a timeout) holds it with that token, counted as an acquisition, not as a takeover from a live holder "
        "writing stale states (revlease2)",
        "actors/state_writer.py",
        "      and redis.call('GET', KEYS[1]) == ARGV[1] .. '/' .. redis.call('GET', KEYS[2]) then\n",
        "      and false then\n",
        ("tests/test_state_writer_lease_reply_lost.py::"
         "test_a_free_lease_taken_by_a_call_whose_reply_was_lost_is_no_takeover_from_a_live_holder",)),
    Mutation(
        "lease_takeover_before_the_first_scrape_fires_nothing",
        "P27StateWriterLeaseTakenOver fires for a takeover counted before the writer's first scrape (a new series at 1, "
        "or back at its value before a restart), by the counter above 0 on a writer started within the hour (revlease2)",
        "configs/alerts.yml",
        "          or sum by (job, instance) (p27_state_writer_lease_takeovers_total > 0\n",
        "          or sum by (job, instance) (p27_state_writer_lease_takeovers_total > 1e9\n",
        ("tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect",)),
    Mutation(
        "skewed_states_are_not_counted",
        "the state writer counts each state a gate would refuse for its timestamp in "
        "p27_state_writer_clock_skewed_states_total, live while a skew episode goes on after its one state_clock_skew "
        "line (revlease2)",
        "actors/state_writer.py",
        "            self.m.skewed_states.inc()  # live while the episode goes on: its one line is at its start (revlease2)\n",
        "",
        (f"{SKEW}::test_a_chain_under_a_second_ahead_is_named_once_not_at_each_state_it_sends_in_a_second_not_yet_"
         "begun",)),
    Mutation(
        "actor_loop_start_time_never_set",
        "clustergate_actor_loop_started_timestamp_seconds is when the actor's main loop began, its setup done (the "
        "warm-restart proof's origin: on a loaded machine setup took more than a cadence) - loadflaky",
        "actors/runtime.py",
        "        LOOP_STARTED.labels(actor=self.name, kind=self.kind).set(time.time())\n",
        "",
        ("tests/test_book.py::test_the_book_writes_fresh_snapshots_of_every_position_and_rewrites_a_deleted_one",)),
    Mutation(
        "fence_check_ignores_the_lease_holder",
        "a state write with a fencing token is refused unless the lease key holds this writer's own value (or lapsed): "
        "a failover to a replica that missed the fence counter's last INCR hands that token to another writer, and "
        "the counter alone let the old holder write after the new one (revfence)",
        "actors/state_writer.py",
        "                    if held is not None and held != lease_value:\n",
        "                    if False:\n",
        ("tests/test_state_writer_fence_failover.py::"
         "test_a_token_handed_out_again_after_a_failover_does_not_let_the_old_holder_write_over_the_new_one",
         "tests/test_state_writer_fence_failover.py::"
         "test_a_running_holder_whose_token_a_failover_gave_another_writer_is_fenced_at_its_next_write")),
    Mutation(
        "state_writer_writes_without_its_lease_value",
        "the state writer's writes carry its lease value, so a holder whose token a failover handed to another "
        "writer is fenced at its next write (revfence)",
        "actors/state_writer.py",
        "                                     lease_value=self.lease_value if self.lease_ms else None)\n",
        "                                     lease_value=None)\n",
        ("tests/test_state_writer_fence_failover.py::"
         "test_a_running_holder_whose_token_a_failover_gave_another_writer_is_fenced_at_its_next_write",)),
    Mutation(
        "a_plan_id_resubmitted_after_a_client_pause_of_redis_is_decided_again",
        "a plan_id proposed while Redis was under CLIENT PAUSE WRITE or ALL and resubmitted once the pause ended gets "
        "its first decision back, one record (mutated: the script never finds the stored decision) (revpause)",
        "actors/permit_issuer.py",
        "local previous = redis.call('GET', KEYS[1])\nif previous then\n",
        "local previous = redis.call('GET', KEYS[1])\nif false then\n",
        ("tests/test_redis_pause_review.py::test_a_client_pause_of_redis_answers_each_proposal_once_writes_nothing_"
         "after_its_deadline_and_logs_no_clock_step",)),
    Mutation(
        "a_script_run_within_its_deadlines_margin_is_logged_as_a_step_of_redis_clock",
        "redis_clock_ahead within the margin the script's deadline is kept early by (the reading's uncertainty and "
        "2 ms) is said at info as that margin, not as a warning that Redis's clock stepped forward (revpause, lead)",
        "actors/permit_issuer.py",
        "        within = float(late_ms) <= margin_ms\n",
        "        within = False\n",
        ("tests/test_issuer_housekeeping_review.py::"
         "test_a_script_run_within_its_deadlines_margin_is_not_logged_as_a_step_of_redis_clock",)),
    Mutation(
        "actor_loop_start_taken_at_process_start",
        "clustergate_actor_loop_started_timestamp_seconds reads 0 while the actor's setup runs and is taken once its "
        "main loop begins: taken at the process start instead, it passed test_book's check (after the process start) "
        "- revloadflaky",
        "actors/runtime.py",
        "        LOOP_STARTED.labels(actor=self.name, kind=self.kind).set(0)\n",
        "        LOOP_STARTED.labels(actor=self.name, kind=self.kind).set(time.time())\n",
        ("tests/test_loop_started.py::test_the_loop_start_is_0_while_setup_waits_and_is_taken_after_setup_ends",)),
    Mutation(
        "an_ipv6_zone_id_is_taken_for_a_sentinel_address",
        "validate refuses a Sentinel server or sentinel address with an IPv6 zone id ([fe80::1%lo]:P): Sentinel drops "
        "the zone from every address it writes and takes that server for down (session 42's review, left; session 43)",
        "launcher/sentinel.py",
        '    if "%" in host:  # fe80::1%lo: Sentinel writes the address without its zone, then cannot reach it (session 42)\n',
        "    if False:\n",
        ("tests/test_ipv6_spelling_review.py::test_an_ipv6_address_with_a_zone_id_is_refused_naming_the_zone",)),
    Mutation(
        "warm_restart_takes_a_negative_readiness_time_as_in_time",
        "the warm-restart proof's readiness time, read off the host's wall clock by two processes, is in time only "
        "from 0: a clock stepped back between the readings made it negative, which passed (session 43)",
        "proofs/warm_restart.py",
        "    return took_s is not None and 0.0 <= took_s <= within_s\n",
        "    return took_s is not None and took_s <= within_s\n",
        ("tests/test_proofs.py::test_warm_restart_times_a_negative_readiness_as_not_in_time_and_says_the_clock_stepped",)),
    Mutation(
        "external_sentinels_accept_the_managed_timings_in_silence",
        "validate refuses down_after_ms, failover_timeout_ms and parallel_syncs beside external sentinels, which have "
        "their own (mutated: only servers and quorum are refused, and down_after_ms 1000 validates though README says "
        "below 1,500 is refused) - docstruth",
        "launcher/topology.py",
        '            for key in ("servers", "quorum", "down_after_ms", "failover_timeout_ms", "parallel_syncs"):\n',
        '            for key in ("servers", "quorum"):\n',
        ("tests/test_sentinel_config.py::"
         "test_external_sentinels_refuse_the_timings_only_a_managed_setup_gives_its_sentinels",)),
    Mutation(
        "an_external_redis_accepts_the_managed_servers_port_and_maxmemory_in_silence",
        "validate refuses redis.port and redis.maxmemory_mb beside a url or external sentinels, which they would not "
        "configure (mutated: both validate, read by an operator as the server or limit in use) - docstruth",
        "launcher/topology.py",
        '        for key in () if managed else ("port", "maxmemory_mb"):\n',
        '        for key in ():\n',
        ("tests/test_topology_validation.py::"
         "test_an_external_redis_refuses_the_settings_of_the_server_the_launcher_runs",)),
    Mutation(
        "a_book_slower_than_the_snapshots_staleness_validates",
        "validate refuses a book whose refresh_s is not below positions.stale_after_s: its snapshots would go stale "
        "between its writes (mutated: the check compares with twice the staleness, and refresh_s 300 or 600 beside "
        "300 s validates) - docstruth",
        "launcher/topology.py",
        "        if (isinstance(s, BookSettings) and s.refresh_s + SNAPSHOT_TS_RESOLUTION_S >= topo.positions.stale_after_s\n",
        "        if (isinstance(s, BookSettings) and s.refresh_s >= 2 * topo.positions.stale_after_s + 1\n",
        ("tests/test_topology_validation.py::"
         "test_a_book_that_rewrites_its_snapshots_no_sooner_than_they_go_stale_is_refused",)),
    Mutation(
        "buffer_restart_drops_the_saved_offset_high_mark",
        "the buffer saves head_advance_s's mark with its history and a restart on the same boot goes on from it: from "
        "its saved head alone, a restart slower than about 3 s (0.5 s cadence; a minute at 60 s) between a step back "
        "of 4 s and the clock's return counted the time since for a step: +4 s, +2 s, an ahead fault - buffermark",
        "actors/buffer.py",
        "        self.grid.offset_high_s, self.grid.boot_id = self.offset_high_s, self.boot_id\n",
        "        pass\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_buffer_restarted_slowly_between_a_step_back_within_the_skew_and_its_return_is_no_forward_fault",)),
    Mutation(
        "buffer_takes_a_saved_mark_from_another_boot",
        "a saved head_advance_s mark is taken back only on the boot it was saved on (a monotonic clock restarts at "
        "boot): another boot's, 1000 s past this clock's offset (the skew, capped), hid a 6 s forward step - buffermark",
        "actors/grid.py",
        "    if boot_id is None or saved_boot_id != boot_id or saved_offset_high_s is None \\\n",
        "    if saved_offset_high_s is None \\\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_restarted_buffer_takes_back_the_saved_mark_only_from_this_boot_and_at_most_the_skew_past_its_clock",
         "tests/test_cluster_side_attack.py::test_a_bad_saved_mark_hides_no_more_of_a_forward_step_than_the_skew")),
    Mutation(
        "buffer_takes_a_saved_mark_uncapped",
        "a saved head_advance_s mark is taken at most the skew past this clock's offset, as far as a saved head within "
        "the skew seeded it before: an absurd one on this boot, uncapped, hid every forward step - buffermark",
        "actors/grid.py",
        "    return min(saved_offset_high_s, offset_now_s + TICK_FUTURE_SKEW_S)\n",
        "    return saved_offset_high_s\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_restarted_buffer_takes_back_the_saved_mark_only_from_this_boot_and_at_most_the_skew_past_its_clock",
         "tests/test_cluster_side_attack.py::test_a_bad_saved_mark_hides_no_more_of_a_forward_step_than_the_skew")),
    Mutation(
        "buffer_history_with_a_head_slot_past_any_time_crashes_the_load",
        "a saved history whose head_slot is past any float (2**53 slots or more) is corrupt: discarded, counted, saved "
        "over; taken, its slot times raised OverflowError, not ValueError, and the buffer died at every start - "
        "buffermark",
        "actors/grid.py",
        "        if not -SLOT_LIMIT < head_slot < SLOT_LIMIT:\n",
        "        if False:\n",
        ("tests/test_cluster_maths.py::test_corrupt_history_is_refused_with_a_reason",
         "tests/test_reliability_bad_input.py::test_a_corrupt_persisted_buffer_is_discarded_counted_and_overwritten")),
    Mutation(
        "buffer_history_keeps_a_published_slot_past_any_time",
        "a saved published_slot past any float is unknown, as when absent; kept, a held history's marking (to_blob) "
        "raised OverflowError and the buffer died at every start - buffermark",
        "actors/grid.py",
        "        if isinstance(published, int) and not isinstance(published, bool) and -SLOT_LIMIT < published < SLOT_LIMIT:\n",
        "        if isinstance(published, int) and not isinstance(published, bool):\n",
        ("tests/test_cluster_maths.py::test_a_published_slot_past_any_time_is_unknown_and_the_history_still_saves",
         "tests/test_reliability_bad_input.py::"
         "test_a_history_ahead_of_the_clock_whose_published_slot_is_past_any_time_is_held_not_a_crash")),
    Mutation(
        "a_book_refreshing_within_a_second_of_the_staleness_validates",
        "validate refuses a book whose refresh_s plus the 1 s of a whole-second ts_epoch is not below "
        "positions.stale_after_s (mutated: refresh_s 1.6 beside 2 s validates, and 6 of 40 decisions of such a demo "
        "were HOLD fail_closed_portfolio_state) - revdocs43",
        "launcher/topology.py",
        "        if (isinstance(s, BookSettings) and s.refresh_s + SNAPSHOT_TS_RESOLUTION_S >= topo.positions.stale_after_s\n",
        "        if (isinstance(s, BookSettings) and s.refresh_s >= topo.positions.stale_after_s\n",
        ("tests/test_topology_validation.py::"
         "test_a_book_that_rewrites_its_snapshots_no_sooner_than_they_go_stale_is_refused",)),
    Mutation(
        "a_feed_accepts_the_replay_block_of_a_source_it_does_not_use",
        "validate refuses a replay: block beside a synthetic or redis_snapshots feed, which never reads it "
        "(mutated: only a synthetic: block beside another source is refused) - revdocs43",
        "launcher/topology.py",
        '        for block in ("synthetic", "replay"):  # each read by its own source alone; null is no block\n',
        '        for block in ("synthetic",):  # each read by its own source alone; null is no block\n',
        ("tests/test_price_feed_clock_aligned.py::test_a_feed_refuses_the_block_of_a_source_it_does_not_use",)),
    Mutation(
        "an_actor_stops_over_a_setting_it_never_reads",
        "an actor starts from a topology whose only problems name settings nothing that runs reads, saying so in its "
        "log (mutated: it exits 2, and a running copy written before such a rule stops every actor at its next "
        "restart, the gate's spawn error leaving every proposal unanswered) - revdocs43",
        "launcher/topology.py",
        "    if topo is None or any(not p.unread for p in problems):\n",
        "    if topo is None or problems:\n",
        ("tests/test_topology_rule_added_since_up.py",)),
    Mutation(
        "an_external_redis_port_stops_what_runs",
        "redis.port and redis.maxmemory_mb beside an external Redis are refused as settings nothing reads, which what "
        "runs goes on without (mutated: refused like any problem; an actor, propose and proof stop over them) "
        "- revdocs43",
        "launcher/topology.py",
        '                v.unread_key(path + (key,), "is for the redis-server',
        '                v.problem(path + (key,), "is for the redis-server',
        ("tests/test_topology_rule_added_since_up.py",)),
    Mutation(
        "every_problem_taken_for_a_setting_nothing_reads",
        "a problem that changes what runs (a book slower than the snapshots' staleness) still stops the actor "
        "(mutated: every problem is taken for a setting nothing reads, and the book starts) - revdocs43",
        "launcher/topology.py",
        "    if topo is None or any(not p.unread for p in problems):\n",
        "    if topo is None:\n",
        ("tests/test_topology_rule_added_since_up.py::"
         "test_an_actor_still_refuses_a_topology_whose_problem_changes_what_it_runs",)),
    Mutation(
        "positions_refuses_a_home_over_a_setting_nothing_reads",
        "`positions list/set/clear --home` reads a running copy whose only problems name settings nothing that runs "
        "reads (mutated: it refuses the home as validate does, exit 2, in an incident) - revdocs43",
        "launcher/supervise.py",
        "        topo = load_to_run(path)[0]  # the running copy: what runs, whatever validate says of a key none reads\n",
        "        topo, unread = load_to_run(path)\n        if unread:\n            raise SchemaError(unread)\n",
        ("tests/test_topology_rule_added_since_up.py::"
         "test_positions_lists_the_snapshots_of_a_home_whose_copy_holds_a_setting_nothing_reads",)),
    Mutation(
        "propose_refuses_a_home_over_a_setting_nothing_reads",
        "a client finds the gates of a running copy whose only problems name settings nothing that runs reads "
        "(mutated: gate_endpoints refuses it, and `propose --home` exits 2 with the gates running) - revdocs43",
        "launcher/client.py",
        "    topo = load_to_run(str(topology_path))[0]  # the gates that run, whatever validate now says of a key none reads\n",
        "    topo = __import__('launcher.topology').topology.load_topology(str(topology_path))\n",
        ("tests/test_topology_rule_added_since_up.py::"
         "test_a_client_finds_the_gates_of_a_topology_holding_a_setting_nothing_reads",)),
    Mutation(
        "proof_refuses_a_home_over_a_setting_nothing_reads",
        "a proof reads a running copy whose only problems name settings nothing that runs reads (mutated: it refuses "
        "the home, exit 2, and checks nothing of the running system) - revdocs43",
        "proofs/common.py",
        "        self.topo: Topology = load_to_run(self.topology_path)[0]  # what runs, whatever validate says of a key none reads\n",
        "        self.topo: Topology = __import__('launcher.topology').topology.load_topology(self.topology_path)\n",
        ("tests/test_topology_rule_added_since_up.py::"
         "test_a_proof_reads_a_running_copy_holding_a_setting_nothing_reads",)),
    Mutation(
        "external_sentinels_timings_stop_what_runs",
        "the managed sentinel timings beside external sentinels are refused as settings nothing reads, which what runs "
        "goes on without (mutated: refused like any problem, and every actor of a running copy written before the "
        "rule stops at its next restart) - revdocs43",
        "launcher/topology.py",
        '                    v.unread_key(spath + (key,), "is for a managed setup',
        '                    v.problem(spath + (key,), "is for a managed setup',
        ("tests/test_topology_rule_added_since_up.py::"
         "test_each_setting_nothing_reads_is_refused_by_validate_and_returned_to_what_runs",)),
    Mutation(
        "a_closed_stdout_is_left_closed",
        "a standard stream the shell closed (`>&-`) is /dev/null to the command: left closed, an `up` that started "
        "everything ended in a traceback, exit 1, and a decided proposal exited 1 - opcli",
        "launcher/std_streams.py",
        "            os.fstat(fd)\n            continue\n",
        "            continue\n",
        ("tests/test_cli_output_review.py::test_an_up_with_stdout_closed_starts_the_system_and_exits_0_without_a_traceback",
         "tests/test_cli_output_review.py::test_status_and_propose_with_stdout_closed_exit_with_their_own_codes")),
    Mutation(
        "the_devnull_on_a_closed_stdout_is_closed_on_exec",
        "the /dev/null opened on a closed stdout is inherited by what the command starts: closed on exec (os.open's "
        "default), `clustergate backtest --help >&-` printed its help on stderr - opcli",
        "launcher/std_streams.py",
        "        os.set_inheritable(fd, True)",
        "        pass",
        ("tests/test_cli_output_review.py::test_status_and_propose_with_stdout_closed_exit_with_their_own_codes",)),
    Mutation(
        "a_refused_stdout_is_a_traceback",
        "a write stdout refuses (`> /dev/full`) is said in one line, exit 1: raised as it came, it was an OSError "
        "traceback of status, validate, render, schema, positions, prometheus-config, deploy --history - opcli",
        "launcher/std_streams.py",
        "                raise OutputRefused(exc.errno, exc.strerror) from exc\n",
        "                raise\n",
        ("tests/test_cli_output_review.py::test_commands_whose_stdout_refuses_their_lines_say_so_in_one_line_and_exit_1",)),
    Mutation(
        "a_proof_stops_at_its_first_refused_line",
        "a proof whose stdout refuses its lines or whose reader went away runs to its end and writes its report, "
        "exit 1 with the verdict on stderr or 141: stopped at the refused line, it left a traceback and no report - opcli",
        "proofs/common.py",
        "    std_streams.prepare(keep_going=True)\n",
        "    std_streams.prepare(keep_going=False)\n",
        ("tests/test_cli_output_review.py::test_a_proof_whose_reader_goes_away_runs_to_the_end_writes_its_report_and_exits_as_on_sigpipe",
         "tests/test_cli_output_review.py::test_a_proof_whose_stdout_refuses_its_lines_says_where_its_report_is_and_exits_1")),
    Mutation(
        "an_up_into_a_home_that_is_a_file_fails_as_an_operation",
        "`up --home` naming a file, or a path under one, is refused as bad input (exit 2) naming that file: "
        "unchecked, it was `FAILED: [Errno 20] Not a directory: 'FILE/run'`, exit 1 - opcli",
        "launcher/supervise.py",
        "    if found is not None and not found.is_dir():\n",
        "    if False:\n",
        ("tests/test_opcli_review.py::"
         "test_an_up_whose_home_is_a_file_or_under_one_is_refused_as_bad_input_naming_that_file",)),
    Mutation(
        "a_change_lock_holder_not_yet_named_is_clustergate_another_command",
        "a change lock taken by a command that has not yet written its name is `another `clustergate` command`, not "
        "`clustergate another command`, a command that does not exist - opcli",
        "launcher/supervise.py",
        "else \"another `clustergate` command\"\n",
        "else \"`clustergate another command`\"\n",
        ("tests/test_opcli_review.py::"
         "test_a_command_waiting_for_a_change_lock_whose_holder_has_not_named_itself_yet_says_another_command",)),
    Mutation(
        "ha_load_acts_on_a_topology_it_cannot_act_on",
        "`python -m launcher.ha_load failover|redis|answers` refuses, exit 2 in one line, a topology that does not "
        "validate, a store without Sentinel or a gate it does not have: unchecked, each was a traceback, exit 1 - opcli",
        "launcher/ha_load.py",
        "    problem = topology_problem(args)\n    if problem:\n",
        "    problem = topology_problem(args)\n    if False:\n",
        ("tests/test_opcli_review.py::"
         "test_ha_load_refuses_a_topology_it_cannot_act_on_and_arguments_out_of_range_in_one_line",)),
    Mutation(
        "ctrl_c_while_monitor_up_waits_says_nothing",
        "Ctrl-C while `monitor up` waits for the Prometheus it started says it runs, its URL and how to stop it, exit "
        "130: silent, the operator's cancelled monitor ran on unnamed - opcli",
        "launcher/monitor.py",
        '        print(f"interrupted (SIGINT): {started}", file=sys.stderr)\n        return 130\n',
        "        raise\n",
        ("tests/test_opcli_review.py::test_ctrl_c_while_monitor_up_waits_says_prometheus_runs_and_how_to_stop_it",)),
    Mutation(
        "status_sends_a_redis_password_that_is_not_utf8",
        "the Redis client (launcher.resp) names a password from the environment that is not UTF-8 and sends nothing: "
        "sent, `status` ended in a UnicodeEncodeError traceback - opcli",
        "launcher/resp.py",
        "        if not_text:\n            self.close()\n",
        "        if False:\n            self.close()\n",
        ("tests/test_opcli_review.py::test_status_and_positions_with_a_redis_password_that_is_not_utf8_name_it_without_a_traceback",)),
    Mutation(
        "positions_sends_a_redis_password_that_is_not_utf8",
        "`positions` refuses, exit 2 naming the variable, a Redis password from the environment that is not UTF-8: "
        "sent, it ended in a UnicodeEncodeError traceback - opcli",
        "launcher/supervise.py",
        "    if not_text := password_not_text(topo.redis.password, topo.redis.password_env):\n",
        "    if not_text := None:\n",
        ("tests/test_opcli_review.py::test_status_and_positions_with_a_redis_password_that_is_not_utf8_name_it_without_a_traceback",)),
    Mutation(
        "a_server_key_alone_is_ignored_and_the_proposal_sent_in_plain_text",
        "`propose --server-key` without --client-key is refused, exit 2, nothing sent: ignored, the proposal went in "
        "plain text, the gate's key unchecked - opcli",
        "launcher/client.py",
        "        if overrides:  # was sent in plain text",
        "        if False:  # was sent in plain text",
        ("tests/test_opcli_review.py::test_propose_with_a_server_key_and_no_client_key_is_refused_not_sent_in_plain_text",)),
    Mutation(
        "a_proof_mixes_its_homes_supervisord_with_another_systems_topology",
        "a proof given --topology of another system than its --home runs (other gate endpoints or metrics ports) is "
        "refused, exit 2, before it proposes: unchecked, it read one system's supervisord and the other's gate - opcli",
        "proofs/common.py",
        "    other = other_system(topology_path, home) if getattr(args, \"topology\", None) else None\n",
        "    other = None\n",
        ("tests/test_opcli_review.py::"
         "test_a_proof_given_the_topology_of_another_system_than_its_home_runs_is_refused_before_it_proposes",)),
    Mutation(
        "deploy_history_lists_a_line_no_deploy_wrote",
        "`deploy --history` skips and counts, on stderr, the lines of deploys.jsonl that are no deploy record: taken "
        "as records, a hand-edited or damaged line ended the listing in a traceback - opcli",
        "launcher/deploy.py",
        "        if not (isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in RECORD_FIELDS.items())\n"
        "                and _listable(record)):\n",
        "        if record is None:\n",
        ("tests/test_opcli_review.py::"
         "test_deploy_history_skips_and_counts_records_no_deploy_wrote_instead_of_a_traceback",)),
    Mutation(
        "a_supervisord_of_no_clustergate_home_on_the_homes_socket_is_taken_for_the_homes",
        "a supervisord answering on the home's socket whose identifier is not clustergate (the machine's own, `--home "
        "/` on Debian) is left alone by down, up and status: taken for the home's, `down` shut it down with its "
        "programs - opcli",
        "launcher/supervise.py",
        "            if identifier != SUPERVISORD_IDENTIFIER:\n",
        "            if False:\n",
        ("tests/test_opcli_review.py::"
         "test_a_supervisord_of_no_clustergate_home_answering_on_the_homes_socket_is_left_alone",)),
    Mutation(
        "a_permitted_plan_id_leaves_no_marker",
        "SPEC: a plan_id never gets two permits: a decision with a permit also writes the plan_id's marker, kept "
        "permitted_plan_ttl_s (mutated: no marker, and a plan_id resubmitted after decision_ttl_s got a second permit) "
        "- permitonce",
        "actors/permit_issuer.py",
        "  redis.call('SET', KEYS[5], time[1], 'EX', ARGV[11])\n",
        "",
        ("tests/test_gate_service.py::"
         "test_a_permitted_plan_id_resubmitted_after_its_decision_expired_is_refused_not_given_a_second_permit",)),
    Mutation(
        "a_permitted_plan_ids_marker_is_not_looked_at",
        "SPEC: a plan_id never gets two permits: a plan_id with no stored decision whose marker lives is refused "
        "plan_id_expired, nothing written (mutated: the marker is written but not looked at, and the plan_id is decided "
        "again with a second permit once its decision expired) - permitonce",
        "actors/permit_issuer.py",
        "if permitted == 'string' then\n",
        "if false then\n",
        ("tests/test_gate_service.py::"
         "test_a_permitted_plan_id_resubmitted_after_its_decision_expired_is_refused_not_given_a_second_permit",)),
    Mutation(
        "the_gate_takes_plan_id_expired_for_an_unknown_outcome",
        "the gate answers the issuer's plan_id_expired as the error plan_id_expired, counted in "
        "gate_requests_total{result=\"plan_id_expired\"} (mutated: a fault HOLD permit_unavailable, outcome unknown, "
        "which tells the client to resend the very plan_id that can never be decided) - permitonce",
        "actors/gate.py",
        "        if reason in (PLAN_ID_CONFLICT, PLAN_ID_EXPIRED):\n",
        "        if reason == PLAN_ID_CONFLICT:\n",
        ("tests/test_gate_service.py::"
         "test_a_permitted_plan_id_resubmitted_after_its_decision_expired_is_refused_not_given_a_second_permit",)),
    Mutation(
        "propose_says_nothing_of_plan_id_expired",
        "`clustergate propose` says on stderr that a plan_id_expired plan_id has no permit to hold and needs a new "
        "--plan-id (mutated: the error printed alone) - permitonce",
        "launcher/client.py",
        '    return reply.get("status") != "ok" and reply.get("reason") == "plan_id_expired"\n',
        "    return False\n",
        ("tests/test_gate_service.py::"
         "test_a_permitted_plan_id_resubmitted_after_its_decision_expired_is_refused_not_given_a_second_permit",)),
    Mutation(
        "a_permitted_plan_marker_shorter_than_its_decision_validates",
        "validate refuses permitted_plan_ttl_s below decision_ttl_s: the marker would expire before the decision it "
        "outlives (mutated: accepted) - permitonce",
        "launcher/topology.py",
        "    if s.permitted_plan_ttl_s < s.decision_ttl_s:\n",
        "    if False:\n",
        ("tests/test_topology_validation.py::"
         "test_a_permitted_plan_marker_shorter_than_the_decision_it_outlives_is_refused",)),
    Mutation(
        "the_backtest_decides_a_permitted_plan_id_again_after_its_decision_ttl",
        "the backtest refuses a permitted plan_id resubmitted after decision_ttl_s and within permitted_plan_ttl_s "
        "(plan_id_expired), as the issuer (mutated: decided again, with a second permit) - permitonce",
        "launcher/backtest.py",
        "            if proposal.plan_id in permitted:",
        "            if False:",
        ("tests/test_backtest.py::"
         "test_a_permitted_plan_id_after_its_decision_ttl_is_refused_plan_id_expired_as_the_issuer_refuses_it",)),
    Mutation(
        "buffer_held_history_keeps_the_mark_from_before_the_backward_fault",
        "a history held by a backward fault is marked with this run's head_advance_s mark, which the fault started "
        "again: the mark saved before the step, kept, was taken back when the hold ended (the clock reached the saved "
        "head) or by a restart once the clock passed it, capped 5 s past the clock: -7 s then +9 s counted 4 s, no "
        "ahead fault, where main before the saved mark saw one - revbuffermark",
        "actors/buffer.py",
        "        saved.offset_high_s, saved.boot_id = mark\n",
        "        pass\n",
        ("tests/test_cluster_side_attack.py::"
         "test_a_backward_fault_whose_hold_ends_in_time_does_not_take_back_the_mark_from_before_it",
         "tests/test_cluster_side_attack.py::"
         "test_a_buffer_restarted_after_a_backward_fault_does_not_take_back_the_mark_from_before_it")),
    Mutation(
        "the_redis_memory_alert_says_nothing_of_the_permitted_plan_markers",
        "ClustergateRedisMemoryHigh's description names permitted_plan_ttl_s (the markers are most of Redis's memory at "
        "the defaults) and says a lower TTL shortens only the keys written after it: the on-call's text before "
        "exits are refused - revpermit",
        "configs/alerts.yml",
        "Raise redis.maxmemory_mb (the one change that makes room at once), or lower permitted_plan_ttl_s (the markers "
        "of permitted plan_ids, kept 30 days, are most of it at the defaults) / decision_ttl_s / hold_decision_ttl_s / "
        "stream_maxlen: a lower TTL shortens only the keys written after it (docs/operating.md: Redis memory and "
        "capacity).",
        "Raise redis.maxmemory_mb, or lower decision_ttl_s / hold_decision_ttl_s / stream_maxlen (docs/operating.md: "
        "Redis memory and capacity).",
        ("tests/test_permitonce_review.py::"
         "test_the_redis_memory_alert_names_the_permitted_plan_markers_and_that_a_lower_ttl_frees_none_at_once",)),
    Mutation(
        "deploy_history_lists_fields_no_deploy_writes",
        "`deploy --history` skips a JSON line whose fields it lists hold what no deploy writes (`\"proofs\": 5`, a "
        "`started` past any time): listed, the whole history ended in a TypeError or OverflowError traceback - revopcli",
        "launcher/deploy.py",
        "                and _listable(record)):\n",
        "                and True):\n",
        ("tests/test_opcli_review.py::test_deploy_history_skips_json_records_whose_fields_hold_what_no_deploy_writes",)),
    Mutation(
        "proof_calls_the_file_its_home_runs_another_system_for_a_relative_ipc_gate",
        "a proof given the file its home was started from, whose gate binds a relative ipc:// path (`up` moves it under "
        "run/ipc/), is refused naming that move: said to be another system, or run against an endpoint nothing binds "
        "- revopcli",
        "proofs/common.py",
        "    if moved:  # the file the home was started from",
        "    if False:  # the file the home was started from",
        ("tests/test_opcli_review.py::"
         "test_a_proof_given_the_file_its_home_was_started_from_with_a_relative_ipc_gate_is_not_called_another_system",)),
    Mutation(
        "up_whose_reader_goes_away_stops_waiting_for_readiness",
        "`up FILE | head -1` waits for every program to be ready and exits with its own code, its lines sent to "
        "/dev/null once the reader is gone: the next [n/m ready] line raised, exit 141, readiness never checked "
        "- revopcli",
        "launcher/supervise.py",
        "            tell(line, out)\n            last_line = line\n",
        "            print(line, file=out, flush=True)\n            last_line = line\n",
        ("tests/test_opcli_review.py::"
         "test_an_up_whose_reader_goes_away_waits_for_readiness_to_its_end_and_exits_with_its_own_code",)),
    Mutation(
        "a_grid_backtest_keeps_its_permitted_plan_ids",
        "a backtest of the grid's proposals (grid-N-SYMBOL, none twice) keeps no permitted plan_id for "
        "permitted_plan_ttl_s: kept, a month of them was most of the run's memory (17.4 against 6.7 MB; session 43)",
        "launcher/backtest.py",
        "            plan_ids_unique=proposals is None):\n",
        "            plan_ids_unique=False):\n",
        ("tests/test_backtest_counts.py::test_the_grid_of_proposals_is_made_as_it_is_decided_not_held_whole",)),
    Mutation(
        "a_home_that_is_not_utf8_is_taken",
        "--home whose path is not UTF-8 is refused as bad input, exit 2, naming it (was: `up` failed writing "
        "supervisord.conf, exit 1) - minorcli",
        "launcher/supervise.py",
        "    if not is_utf8(text):  # supervisord's config",
        "    if False:  # supervisord's config",
        ("tests/test_minorcli_review.py::"
         "test_a_home_that_is_not_utf8_is_refused_as_bad_input_by_every_command_that_takes_one",)),
    Mutation(
        "an_expected_sha256_that_is_not_one_is_compared",
        "`up --expect-sha256 VALUE` refuses a VALUE that is not 64 hexadecimal digits as such, exit 2 (was: compared, "
        "and called a file edited during the deploy; a blank one turned the check off) - minorcli",
        "launcher/supervise.py",
        "    if len(text) != 64 or not all(",
        "    if False and not all(",
        ("tests/test_minorcli_review.py::"
         "test_an_expected_sha256_that_is_not_one_is_refused_naming_the_value_not_called_an_edited_file",)),
    Mutation(
        "a_blank_rule_file_goes_into_the_prometheus_config",
        "`prometheus-config --rule-file \"\"` (or `--output \"\"`) is refused, exit 2, naming the option (was: "
        "`rule_files: ['']` written, which Prometheus refuses; the config printed instead of written) - minorcli",
        "launcher/monitoring.py",
        "        if not text.strip():\n            raise argparse.ArgumentTypeError(f\"{text!r} is blank: give {what}\")\n",
        "        pass\n",
        ("tests/test_minorcli_review.py::test_prometheus_config_refuses_a_blank_rule_file_or_output_naming_the_option",)),
    Mutation(
        "a_key_nothing_reads_is_refused_twice",
        "`validate` refuses a key nothing reads in its setup (redis.port beside a url) in one line whatever its value "
        "(was: `port: null` also \"expected an integer, got nothing\") - minorcli",
        "launcher/schema.py",
        "        self.problems = [p for p in self.problems if p.path[:len(path)] != path]\n",
        "",
        ("tests/test_minorcli_review.py::"
         "test_validate_says_in_one_line_that_an_external_redis_takes_no_port_whatever_the_port_holds",)),
    Mutation(
        "help_that_stdout_refuses_exits_0",
        "`clustergate [COMMAND] --help > /dev/full` exits 1 in one line, as every refused output does (was: argparse "
        "dropped the OSError, exit 0 with nothing written) - minorcli",
        "launcher/std_streams.py",
        "            if file is not sys.stdout or isinstance(exc, BrokenPipeError):\n                return\n",
        "            return\n",
        ("tests/test_minorcli_review.py::test_help_that_standard_output_refuses_fails_in_one_line_as_other_output_does",)),
    Mutation(
        "ha_load_load_opens_its_out_only_when_the_load_starts",
        "`ha_load load --out DIR` (or a path under a missing directory) exits 2 in one line naming --out (was: an "
        "IsADirectoryError traceback, exit 1) - minorcli",
        "launcher/ha_load.py",
        "            open(args.out, \"a\").close()  # what Recorder opens",
        "            pass  # what Recorder opens",
        ("tests/test_minorcli_review.py::"
         "test_ha_load_refuses_an_out_it_cannot_write_and_calls_it_cannot_read_in_one_line",)),
    Mutation(
        "ha_load_audit_reads_calls_it_cannot_read",
        "`ha_load audit --calls MISSING` (or a file of other lines) exits 2 in one line naming --calls (was: a "
        "FileNotFoundError traceback, exit 1) - minorcli",
        "launcher/ha_load.py",
        "        if unreadable := calls_problem(Path(args.calls)):",
        "        if unreadable := None:",
        ("tests/test_minorcli_review.py::"
         "test_ha_load_refuses_an_out_it_cannot_write_and_calls_it_cannot_read_in_one_line",)),
    Mutation(
        "propose_with_a_client_key_to_a_plain_gate_speaks_of_the_server_key",
        "`propose --client-key X` to a topology whose gate takes plain ZeroMQ names --client-key as the option to "
        "leave out (was: it spoke of --server-key, which the operator had not given) - minorcli",
        "launcher/client.py",
        "        raise ValueError(\"--client-key is given, but the topology's gate takes plain ZeroMQ",
        "        raise ValueError(\"the gate's proposals socket does not use CurveZMQ; --server-key names the gate's "
        "public key\" or \"",
        ("tests/test_minorcli_review.py::test_propose_with_a_client_key_to_a_plain_gate_names_the_client_key",)),
    Mutation(
        "redis_py_clients_let_a_password_into_a_redis_without_one",
        "the launcher's redis-py clients (positions, the state writer, proofs) send a password given without a user "
        "as AUTH PASSWORD, as the actors' own client does: a Redis without a password refuses it, as `status` "
        "says (was: HELLO's AUTH default PASSWORD let in by a nopass default user, `positions` listed and wrote) "
        "- minorcli",
        "launcher/redis_conn.py",
        "            if connection.password and not connection.username:\n",
        "            if False:\n",
        ("tests/test_minorcli_review.py::"
         "test_positions_with_a_password_a_redis_without_one_refuses_is_refused_as_status_and_the_gate_see_it",)),
    Mutation(
        "the_backfill_writes_no_marker_for_a_permitted_decision",
        "`clustergate backfill-permits` writes the marker of a stored decision with a permit that has none (an issuer "
        "before the marker wrote it): without, the plan_id resubmitted after its decision expired got a second permit "
        "- backfill",
        "launcher/backfill.py",
        "                    writes.append((marker, due))\n",
        "                    pass\n",
        ("tests/test_permit_backfill.py::test_a_plan_id_permitted_before_the_marker_is_refused_plan_id_expired_after_"
         "the_backfill_not_given_a_second_permit",)),
    Mutation(
        "the_backfill_overwrites_a_marker_already_there",
        "the backfill never overwrites a marker (EXISTS first, then SET NX): an issuer's marker, or an earlier run's, "
        "keeps its value and TTL - backfill",
        "launcher/backfill.py",
        "for key, marker, n in zip(batch, markers, present) if not n]",
        "for key, marker, n in zip(batch, markers, present) if True]",
        ("tests/test_permit_backfill.py::test_a_hold_gets_no_marker_an_existing_marker_is_untouched_and_corrupt_"
         "decisions_are_skipped_and_counted",),
        also=(("launcher/backfill.py", 'str(due.value), "NX", "EX", due.ttl_s)', 'str(due.value), "EX", due.ttl_s)'),)),
    Mutation(
        "the_backfill_marks_a_hold",
        "the backfill writes a marker only for a stored decision saying \"permit\": true; a HOLD (and a decision whose "
        "permit is neither true nor false) gets none - backfill",
        "launcher/backfill.py",
        '    permit = decision.get("permit")\n',
        "    permit = True\n",
        ("tests/test_permit_backfill.py::test_a_hold_gets_no_marker_an_existing_marker_is_untouched_and_corrupt_"
         "decisions_are_skipped_and_counted",)),
    Mutation(
        "the_backfill_stops_at_a_corrupt_decision",
        "a stored decision that is not JSON is skipped and counted, the run goes on to the end (exit 0); it ended the "
        "run in a traceback - backfill",
        "launcher/backfill.py",
        "        decision = json.loads(stored)\n    except (ValueError, RecursionError):\n",
        "        decision = json.loads(stored)\n    except RecursionError:\n",
        ("tests/test_permit_backfill.py::test_a_hold_gets_no_marker_an_existing_marker_is_untouched_and_corrupt_"
         "decisions_are_skipped_and_counted",)),
    Mutation(
        "the_backfilled_marker_lives_only_as_long_as_its_decision",
        "a backfilled marker is kept permitted_plan_ttl_s from the backfill, never less than its decision's remaining "
        "TTL (at least as long as the issuer's rule, permit time + permitted_plan_ttl_s): kept only the decision's TTL, "
        "the plan_id is decided anew once both expire - backfill",
        "launcher/backfill.py",
        "ttl_s=max(permitted_plan_ttl_s, remaining_s, 1))",
        "ttl_s=max(remaining_s, 1))",
        ("tests/test_permit_backfill.py::test_a_plan_id_permitted_before_the_marker_is_refused_plan_id_expired_after_"
         "the_backfill_not_given_a_second_permit", "tests/test_permit_backfill.py::test_the_marker_a_stored_decision_is_due")),
    Mutation(
        "the_backfilled_marker_can_expire_before_its_decision",
        "a backfilled marker never expires before its decision (one kept longer than permitted_plan_ttl_s) - backfill",
        "launcher/backfill.py",
        "ttl_s=max(permitted_plan_ttl_s, remaining_s, 1))",
        "ttl_s=max(permitted_plan_ttl_s, 1))",
        ("tests/test_permit_backfill.py::test_the_marker_a_stored_decision_is_due",)),
    Mutation(
        "the_backfill_reads_one_scan_step_only",
        "the backfill follows SCAN's cursor to its end (0), one COUNT step at a time: it stopped after the first step, "
        "thousands of decisions left without their marker - backfill",
        "launcher/backfill.py",
        '        if cursor == b"0":\n',
        "        if True:\n",
        ("tests/test_permit_backfill.py::test_every_batch_of_a_scan_is_backfilled_beside_a_live_issuer_and_the_counts_"
         "add_up",)),
    Mutation(
        "the_backfill_exits_0_when_redis_failed",
        "`clustergate backfill-permits` exits 1 when Redis is unreachable or refuses its password (nothing was read): "
        "an operator or a deploy took exit 0 for the hole closed - backfill",
        "launcher/backfill.py",
        "              file=sys.stderr)\n        return 1\n    return 0\n",
        "              file=sys.stderr)\n        return 0\n    return 0\n",
        ("tests/test_permit_backfill.py::test_the_backfill_exits_1_naming_redis_when_it_is_unreachable_or_refuses_the_"
         "password",)),
    Mutation(
        "the_permit_issuer_does_not_backfill_at_its_start",
        "a permit issuer backfills the markers at its start (a single-host `up` onto the new code closes the hole with "
        "no command to remember): without, plan_ids an issuer before the marker permitted stayed exposed - backfill",
        "actors/permit_issuer.py",
        "        self._backfill: MarkerBackfill | None = self.start_backfill()\n",
        "        self._backfill: MarkerBackfill | None = None\n",
        ("tests/test_permit_backfill.py::test_a_new_permit_issuer_writes_at_its_start_the_markers_an_issuer_before_"
         "them_left_out",)),
    Mutation(
        "the_issuers_backfill_takes_an_acl_refusal_for_an_outage",
        "a permit issuer whose Redis user is refused a command of the start-up backfill (NOPERM) logs "
        "permitted_markers_backfill_refused (error) once, naming what to allow, and does not try again; taken for an "
        "outage, it was a warning made again every minute for good - backfill",
        "actors/permit_issuer.py",
        '            self.refused = isinstance(exc, ReplyError) and str(exc).startswith("NOPERM")\n',
        "            self.refused = False\n",
        ("tests/test_permit_backfill.py::test_an_issuer_whose_redis_user_is_refused_scan_says_so_once_and_decides_as_"
         "before",)),
    Mutation(
        "the_backfill_has_no_time_bound",
        "a backfill stops at its --timeout (the issuer's at an hour), exit 1 saying INCOMPLETE: unbounded, a run over a "
        "huge keyspace could go on past any window an operator or a deploy gave it - backfill",
        "launcher/backfill.py",
        "        if time.monotonic() > deadline:\n",
        "        if False:\n",
        ("tests/test_permit_backfill.py::test_a_backfill_past_its_timeout_exits_1_saying_incomplete_and_a_run_again_"
         "finishes",)),
    Mutation(
        "deploy_does_not_backfill_the_markers",
        "`clustergate deploy` ends, once every host proved ready, with `clustergate backfill-permits` on the first "
        "permit issuer's host: without, plan_ids the issuers before the marker permitted during the rolling deploy "
        "stayed exposed - backfill",
        "launcher/deploy.py",
        "    return finish(*_backfill_markers(args, topo, targets, record))\n",
        '    return finish("ok", 0)\n',
        ("tests/test_multihost.py::test_a_good_change_restarts_only_the_changed_actors",)),
    Mutation(
        "up_reads_the_socket_tables_once_a_starting_program",
        "up's crash-loop check reads /proc's socket tables and fds once a poll for all the programs being (re)started, "
        "not once a program: about 10 ms of CPU a read, 60% of a demo up's CPU - testspeed",
        "launcher/supervise.py",
        "_held_by_others(sup, topo, home, info, holders) if info",
        "_held_by_others(sup, topo, home, info, _holders_of(topo, home, [info])) if info",
        ("tests/test_launcher.py::"
         "test_up_reads_the_socket_tables_once_a_poll_for_every_starting_program_not_once_a_program",)),
    Mutation(
        "make_keeps_no_rewritten_test_modules",
        "make test keeps pytest's rewritten test modules for its six workers under PYTHONDONTWRITEBYTECODE: without "
        "them each worker rewrote the asserts of every test file, about 5 s of CPU a worker - testspeed",
        "Makefile",
        "\t-env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q --collect-only",
        "\t-$(BIN)/python -m pytest -q --collect-only",
        ("tests/test_install_venv.py::"
         "test_make_keeps_the_test_modules_rewritten_asserts_for_the_workers_under_pythondontwritebytecode",)),
    Mutation(
        "make_test_runs_without_keeping_the_rewritten_test_modules",
        "make test keeps the rewritten test modules before its run (make rewritten-tests), not only on request - "
        "testspeed",
        "Makefile",
        "\t@$(MAKE) --no-print-directory rewritten-tests\n",
        "",
        ("tests/test_install_venv.py::"
         "test_make_keeps_the_test_modules_rewritten_asserts_for_the_workers_under_pythondontwritebytecode",)),
    Mutation(
        "the_state_writers_password_refusal_names_no_variable",
        "a redis-py client's (the state writer's) refused AUTH names the variable the password was read from and what "
        "to do, as the gate's line does; was Redis's words alone (`AUTH <password> called without any password "
        "configured ...`) from minorcli - revminorcli",
        "launcher/redis_conn.py",
        "                said + password_hint(said, connection.password, password_env))\n",
        "                said)\n",
        ("tests/test_revminorcli_review.py::"
         "test_the_state_writers_redis_client_names_the_password_variable_when_redis_refuses_the_password",)),
    Mutation(
        "the_longest_turn_leaves_out_redis_pys_auth_after_its_handshake",
        "the state writer's redis-py connection sends AUTH PASSWORD after its handshake when a password is given "
        "without a user (minorcli), a wait of its own: 4 late answers measured after the connect, 3 counted, the "
        "longest turn one redis.timeout_ms a call short - revminorcli",
        "launcher/topology.py",
        "    if redis_py and redis_py_auth:\n        handshake_waits += 1\n",
        "    if False:\n        handshake_waits += 1\n",
        ("tests/test_revminorcli_review.py::"
         "test_the_state_writers_longest_turn_counts_the_auth_its_redis_client_sends_after_the_handshake",)),
    Mutation(
        "a_clustergate_home_that_is_not_utf8_is_taken",
        "$CLUSTERGATE_HOME whose path is not UTF-8 is refused as bad input (exit 2) as --home's is; `up` failed "
        "writing supervisord.conf, exit 1, and status said supervisord was not running - revminorcli",
        "launcher/supervise.py",
        "    return None if not root or is_utf8(root) else f\"$CLUSTERGATE_HOME: {not_utf8(root)}\"\n",
        "    return None\n",
        ("tests/test_revminorcli_review.py::"
         "test_a_clustergate_home_variable_that_is_not_utf8_is_refused_as_bad_input_as_a_home_option_is",)),
    Mutation(
        "a_home_root_that_is_not_utf8_is_taken",
        "deploy --home-root whose path is not UTF-8 is refused as --home's is (each host's home is under it) - "
        "revminorcli",
        "launcher/supervise.py",
        "                                         f\"--home-root out for hosts/NAME under $CLUSTERGATE_HOME, else the repo "
        "root\")\n    if not is_utf8(text):\n",
        "                                         f\"--home-root out for hosts/NAME under $CLUSTERGATE_HOME, else the repo "
        "root\")\n    if False:\n",
        ("tests/test_revminorcli_review.py::"
         "test_a_clustergate_home_variable_that_is_not_utf8_is_refused_as_bad_input_as_a_home_option_is",)),
    Mutation(
        "ha_loads_help_that_stdout_refuses_exits_0",
        "`python -m launcher.ha_load --help > /dev/full` exits 1 in one line as clustergate's help does: argparse's "
        "parser dropped the OSError, exit 0 with nothing written - revminorcli",
        "launcher/ha_load.py",
        "    parser = ArgumentParser(prog=\"python -m launcher.ha_load\")\n",
        "    parser = argparse.ArgumentParser(prog=\"python -m launcher.ha_load\")\n",
        ("tests/test_revminorcli_review.py::"
         "test_help_that_standard_output_refuses_fails_in_one_line_for_the_proof_scripts_and_ha_load",)),
    Mutation(
        "a_proof_scripts_help_that_stdout_refuses_exits_0",
        "`python proofs/readiness.py --help > /dev/full` exits 1 in one line as `clustergate proof --help` does: parsed "
        "after the proof's keep-going guard, the refusal was remembered and the help exited 0 - revminorcli",
        "proofs/common.py",
        "        except std_streams.OutputRefused as exc:  # `--help > /dev/full`: exit 0 with nothing written before\n"
        "            return std_streams.say_output_refused(parser.prog, exc)\n",
        "        except ZeroDivisionError:\n            raise\n",
        ("tests/test_revminorcli_review.py::"
         "test_help_that_standard_output_refuses_fails_in_one_line_for_the_proof_scripts_and_ha_load",)),
    Mutation(
        "a_redis_py_clients_error_echoes_the_password_a_redis_without_auth_repeats",
        "a Redis whose AUTH is renamed answers redis_conn's AUTH PASSWORD with `unknown command 'AUTH', with args "
        "beginning with: 'PASSWORD'`: the echoed arguments are left out (positions printed the password, the state "
        "writer logged it) - revminorcli",
        "launcher/redis_conn.py",
        "            refused = type(exc)(str(exc).split(\", with args beginning with:\", 1)[0])\n",
        "            refused = type(exc)(str(exc))\n",
        ("tests/test_revminorcli_review.py::"
         "test_a_redis_that_echoes_the_auth_arguments_never_gets_the_password_into_a_redis_py_clients_error",)),
    Mutation(
        "the_backfill_drops_the_markers_a_refused_step_wrote",
        "a backfill step whose marker writes Redis refused in part (OOM once memory ran out mid-step, an ACL on some "
        "keys) counts the markers it did write before raising: they were dropped (691 counted, 695 in Redis) - "
        "revbackfill",
        "launcher/backfill.py",
        "            counts.written += done  # counted before a refusal of another write of the step is raised: they stay\n",
        "            counts.written += 0 if refused else done\n",
        ("tests/test_permit_backfill.py::test_markers_written_before_redis_refused_one_of_a_step_are_counted",)),
    Mutation(
        "the_backfill_sends_redis_a_scan_count_it_refuses",
        "`backfill-permits --count` above 2**63-1 is bad input, exit 2, nothing sent: it was sent, refused by Redis and "
        "said as Redis failing, exit 1 - revbackfill",
        "launcher/backfill.py",
        "    if value > SCAN_COUNT_MAX:\n",
        "    if False:\n",
        ("tests/test_permit_backfill.py::test_a_scan_count_beyond_what_redis_takes_is_bad_input_exit_2_not_a_redis_"
         "failure",)),
    Mutation(
        "deploy_whose_backfill_failed_exits_as_a_failed_deploy",
        "a deploy that deployed and proved every host, whose backfill of permitted-plan markers then failed, exits 3 "
        "(nothing rolled back): it exited 1, a failed and rolled-back deploy's code, so a wrapper rolling back on 1 "
        "rolled back a good deploy - revbackfill",
        "launcher/deploy.py",
        "EXIT_DEPLOYED_BACKFILL_FAILED = 3\n",
        "EXIT_DEPLOYED_BACKFILL_FAILED = 1\n",
        ("tests/test_multihost_side_by_side.py::test_a_deploy_whose_backfill_fails_after_every_host_proved_ready_exits_3_"
         "not_1_as_a_rolled_back_deploy",)),    Mutation(
        "the_backfill_scans_on_with_a_cursor_another_server_gave",
        "a backfill whose SCAN steps are answered by another Redis server process than the first's (restarted, a "
        "failover) stops as failed: the old cursor sent there ended the run `done` with thousands of permitted "
        "decisions never read, left without a marker - revbackfill",
        "launcher/backfill.py",
        "        elif run_id != first_run_id:\n",
        "        elif False:\n",
        ("tests/test_permit_backfill.py::test_a_scan_whose_redis_restarted_between_two_steps_stops_rather_than_saying_"
         "done_with_decisions_missed",)),    Mutation(
        "the_issuers_backfill_fails_at_a_stall_of_redis",
        "the issuer's start-up backfill waits up to 5 s a call (nothing waits on it): at redis.timeout_ms (250 ms) a "
        "stall of Redis mid-run failed the whole run, made again from its start a minute later - revbackfill",
        "actors/permit_issuer.py",
        "max(self.topology.redis.timeout_ms / 1000.0, BACKFILL_CALL_TIMEOUT_S)",
        "self.topology.redis.timeout_ms / 1000.0",
        ("tests/test_permit_backfill.py::test_the_issuers_start_up_backfill_waits_through_a_stall_of_redis_shorter_than_"
         "its_call_timeout",)),
    Mutation(
        "the_backfill_does_not_wait_for_replicas",
        "with wait_replicas, a backfill's markers' pipeline ends with WAIT as a decision's does, and fewer "
        "acknowledgements end the run not done: without, it said `done` with no marker on the replica, all lost at a "
        "failover to it - revbackfill",
        "launcher/backfill.py",
        'waits = [("WAIT", wait_replicas, wait_timeout_ms)] if writes and wait_replicas > 0 else []',
        'waits = [("WAIT", wait_replicas, wait_timeout_ms)] if False else []',
        ("tests/test_permit_backfill.py::test_with_wait_replicas_a_backfill_whose_markers_no_replica_acknowledged_is_"
         "not_done",)),
    Mutation(
        "a_second_stop_signal_in_a_clean_ups_own_except_raises_a_stop_of_its_own",
        "the backtest's stop handler takes a Stopped in the context of the exception being handled for the stop it "
        "is in: read from sys.exc_info() alone, the second of two signals sent at once, run in a clean-up's own "
        "except, replaced the first's Stopped (exit 143 for SIGHUP then SIGTERM) - session 44's CI run",
        "launcher/backtest.py",
        "        exc = exc.__context__\n",
        "        exc = None\n",
        ("tests/test_backtest_interrupt.py::test_a_second_stop_signal_in_a_clean_ups_own_except_is_the_same_stop",)),
    Mutation(
        "a_second_stop_signal_nested_in_the_first_ones_handler_raises_a_stop_of_its_own",
        "the backtest's stop handler that interrupted another call of it (two signals sent at once, the second while "
        "the first's handler ran) returns: without, its Stopped replaced the first's (SIGUSR1 then SIGUSR2 said "
        "SIGUSR2) - session 44's CI run",
        "launcher/backtest.py",
        "    if _stopping() or _within_a_stop(_frame):\n",
        "    if _stopping():\n",
        ("tests/test_backtest_interrupt.py::"
         "test_a_second_stop_signal_that_interrupts_the_first_ones_handler_is_the_same_stop",)),
    Mutation(
        "up_refuses_a_restarted_program_from_the_polls_stale_socket_tables",
        "up's crash-loop check confirms a refusal with a read of /proc now: the poll's one read may predate a restart "
        "(a program seen in BACKOFF, started again and bound meanwhile, probed as held by another process) - "
        "revtestspeed",
        "launcher/supervise.py",
        "held = held and _held_by_others(sup, topo, home, info, _holders_of(topo, home, [info]))",
        "held = held",
        ("tests/test_launcher.py::test_up_does_not_blame_a_program_it_saw_in_backoff_for_the_port_it_bound_since_the_"
         "poll_read_the_tables",)),
    Mutation(
        "make_rewritten_tests_leaves_its_temp_root_when_collection_fails",
        "tests/conftest.py removes its short temp root after a collection alone too: `make rewritten-tests` left an "
        "empty /tmp/cg-* at each make test whose collection failed - revtestspeed",
        "tests/conftest.py",
        "if root and (exitstatus == 0 or session.config.option.collectonly):",
        "if root and exitstatus == 0:",
        ("tests/test_install_venv.py::test_make_rewritten_tests_leaves_no_temp_root_when_a_test_module_fails_to_import",)),
    Mutation(
        "propose_stop_handler_leaves_a_second_stop_signal_to_raise",
        "clustergate propose's stop handler no longer holds the other stop signals before it raises: a second one sent "
        "at once (SIGHUP, Ctrl-C) raised out of the except clause that names the plan_id, the line lost - revsignals",
        "launcher/client.py",
        "    _hold_further_signals({}, True)\n    raise Terminated(signum)",
        "    raise Terminated(signum)",
        ("tests/test_client.py::test_a_second_stop_signal_at_the_worst_moment_still_names_the_plan_id_and_the_first_"
         "ones_exit",)),
    Mutation(
        "propose_stop_handler_raises_within_a_stop",
        "clustergate propose's stop handler that interrupted the first's (nested) or the except clause holding the "
        "signals returns: without, the second's exit code replaced the first's, or its Terminated escaped a gate's "
        "timeout unnamed - revsignals",
        "launcher/client.py",
        "    if _within_a_stop(frame):\n        return\n",
        "",
        ("tests/test_client.py::test_a_second_stop_signal_at_the_worst_moment_still_names_the_plan_id_and_the_first_"
         "ones_exit",)),
    Mutation(
        "clustergate_leaves_sigint_to_raise_while_its_child_runs",
        "clustergate running a command as a process no longer handles SIGINT itself: a second SIGINT while it handled "
        "the first raised out of it, clustergate exited 130 and left its child unwaited - revsignals",
        "launcher/cli.py",
        "for signum in (*FORWARDED_SIGNALS, signal.SIGINT)}",
        "for signum in FORWARDED_SIGNALS}",
        ("tests/test_ops_review.py::test_a_second_sigint_while_clustergate_passes_the_first_on_still_waits_for_its_child",)),
    Mutation(
        "proof_stop_handler_nested_in_the_first_raises_its_own",
        "a proof's stop handler that interrupted the first's before it ignored the others returns: without, the "
        "second's Interrupted replaced the first's (SIGTERM then SIGHUP said SIGHUP, exit 129) - revsignals",
        "proofs/common.py",
        "    if interrupted_a_call_of(frame, _raise_interrupted):",
        "    if False:",
        ("tests/test_proofs.py::test_a_second_signal_nested_in_the_first_ones_proof_handler_is_the_first_ones_stop",)),
    Mutation(
        "interrupted_proof_puts_its_handlers_back_before_its_report",
        "an interrupted proof keeps the other stop signals ignored until its report is written and named: put back "
        "before, a second SIGTERM as it wrote the report killed it, no report, exit -15 - revsignals",
        "proofs/common.py",
        "        if not interrupted:  # interrupted: the others stay ignored",
        "        if True:  # interrupted: the others stay ignored",
        ("tests/test_proofs.py::test_a_second_stop_signal_as_an_interrupted_proof_writes_its_report_is_ignored",)),
    Mutation(
        "propose_holds_further_stop_signals_with_sig_ign",
        "clustergate propose holds the other stop signals with a handler that drops them, not SIG_IGN: set while one is "
        "pending (two sent at once) the interpreter wrote 'Signal 15 ignored due to race condition', a traceback - "
        "revsignals",
        "launcher/client.py",
        "            handler = signal.signal(signum, _held)",
        "            handler = signal.signal(signum, signal.SIG_IGN)",
        ("tests/test_client.py::test_clustergate_propose_terminated_while_waiting_prints_the_plan_id_it_sent",)),
    Mutation(
        "proof_holds_further_stop_signals_with_sig_ign",
        "a proof's stop handler holds the other stop signals with a handler that drops them, not SIG_IGN: set while one "
        "is pending (two sent at once) the interpreter wrote 'Signal 15 ignored due to race condition', a traceback - "
        "revsignals",
        "proofs/common.py",
        "        signal.signal(each, _held)",
        "        signal.signal(each, signal.SIG_IGN)",
        ("tests/test_proofs.py::test_a_proof_sent_two_stop_signals_at_once_stops_once_without_a_traceback",)),
    Mutation(
        "deferred_interrupt_takes_a_nested_second_signal_for_the_first",
        "up's DeferredInterrupt handler nested in the first's (two signals sent at once) returns: without, the second "
        "was remembered as the first (SIGHUP then SIGTERM said SIGTERM, exit 143) - revsignals",
        "launcher/supervise.py",
        "        if interrupted_a_call_of(frame, self._remember):",
        "        if False:",
        ("tests/test_launcher.py::test_a_second_stop_signal_nested_in_the_first_ones_deferred_handler_leaves_the_first_"
         "one_remembered",)),
    Mutation(
        "up_blames_a_program_for_the_port_it_bound_between_the_read_and_the_probe",
        "up's crash-loop check no longer asks supervisord, after a probe found a port in use, whether the program it "
        "read with no process runs one now: a gate restarted and bound between the read of /proc and the probe was "
        "refused as held by another process (CI under load, 1 run in 3 beside two busy loops)",
        "launcher/supervise.py",
        "            if problem is not None and not _pid_now(sup, info[\"name\"]):",
        "            if problem is not None:",
        ("tests/test_launcher.py::test_up_does_not_blame_a_program_seen_in_backoff_for_a_port_it_bound_after_the_read_"
         "and_before_the_probe",)),
    Mutation(
        "actor_metrics_thread_takes_the_signals_sent_to_the_actor",
        "an actor's metrics thread (and each thread it starts for a scrape) leaves the signals sent to the actor to its "
        "main thread: one it took reached the loop late, and a buffer stopped past its limit and continued logged "
        "loop_stalled, not loop_stopped (CI under load) - stopflake",
        "actors/runtime.py",
        "    with signals_left_to_the_main_thread():  # and so the threads it starts, one a scrape\n        thread.start()\n",
        "    thread.start()\n",
        (f"{LIVENESS}test_only_an_actors_main_thread_takes_the_signals_sent_to_it_so_that_a_continued_actor_says_it_"
         "was_stopped",)),
    Mutation(
        "up_blames_a_starting_program_for_the_ipv6_only_listener_beside_its_own_socket",
        "up's crash-loop check counts every process /proc shows on a program's endpoint: one of them its own is the "
        "program bound, not held (the lowest pid alone, a [::] IPv6-only listener started before the gate, refused a "
        "gate starting fine) - revupfix",
        "launcher/supervise.py",
        "        if any(pid in _pid_and_parents(h) for h in found) or _now_holds(sup, info[\"name\"], found):",
        "        if pid in _pid_and_parents(found[0]) or _now_holds(sup, info[\"name\"], found[:1]):",
        ("tests/test_launcher.py::test_up_does_not_fail_a_starting_program_over_an_ipv6_only_listener_on_its_port",),
        # the holders in pid order again: the gate's own socket, surely its port's, was named first and covered for it
        also=(("launcher/endpoints.py", "sorted(found, key=lambda pid: (not found[pid], pid))", "sorted(found)"),)),
    Mutation(
        "up_blames_a_starting_program_for_an_ipv6_only_listener_that_does_not_hold_its_port",
        "up's crash-loop check refuses a holder /proc shows only while a bind of the endpoint fails now: /proc does not "
        "show IPV6_V6ONLY, and a [::] IPv6-only listener on a 127.0.0.1 gate's port was refused before the gate bound "
        "it - revupfix",
        "launcher/supervise.py",
        "        if endpoint_problem_now(endpoint) is None:\n            continue\n        holder = found[0]\n",
        "        holder = found[0]\n",
        ("tests/test_launcher.py::test_up_does_not_fail_a_starting_program_over_an_ipv6_only_listener_on_its_port",)),
    Mutation(
        "up_blames_a_program_for_the_port_its_next_process_bound",
        "up's crash-loop check asks supervisord again about a holder that was not the program's process at the read "
        "whatever that read said, not only when it had no process: the gate read STARTING (pid P1), started again (P2) "
        "and bound while the poll scraped hung programs before it, was refused as 'in use by this home's program gate "
        "(pid P2)' - revupfix",
        "launcher/supervise.py",
        "        if any(pid in _pid_and_parents(h) for h in found) or _now_holds(sup, info[\"name\"], found):",
        "        if any(pid in _pid_and_parents(h) for h in found) or (not pid and _now_holds(sup, info[\"name\"], found)):",
        ("tests/test_launcher.py::test_up_does_not_blame_a_program_seen_starting_for_the_port_its_next_process_bound",)),
    Mutation(
        "an_ipv6_only_listener_named_as_the_holder_of_a_port_another_process_holds",
        "the process whose socket surely keeps an endpoint from binding is named before one on a [::] of the other "
        "address family (IPv6-only or not, /proc does not show): the lowest pid alone named an IPv6-only listener "
        "started first as the holder of the port a gate crash-looped on - revupfix",
        "launcher/endpoints.py",
        "    return {endpoint: sorted(found, key=lambda pid: (not found[pid], pid)) for endpoint, found in held.items()}\n",
        "    return {endpoint: sorted(found) for endpoint, found in held.items()}\n",
        ("tests/test_up_refusals.py::test_the_process_that_holds_an_endpoint_is_named_before_an_ipv6_only_one_on_its_port",)),
    Mutation(
        "make_test_hands_out_the_shortest_files_first",
        "make test hands out the test files the longest first by tests/file_seconds.txt, those it does not name before "
        "them (testtime: a stale order handed the two longest files out 18th and 16th)",
        "tests/conftest.py",
        "    items.sort(key=lambda item: -seconds.get(item.path.name, float(\"inf\")))",
        "    items.sort(key=lambda item: seconds.get(item.path.name, float(\"inf\")))",
        ("tests/test_install_venv.py::test_make_test_hands_out_the_files_longest_first_by_file_seconds_and_a_file_it_"
         "does_not_name_first",)),
    Mutation(
        "proof_waits_out_a_refused_password",
        "a proof's poll takes Redis refusing its password (WRONGPASS, NOAUTH, a password to a Redis without one) for an "
        "error to retry: it waited out its warm-up timeout (40 s) before FAIL cluster_state is fresh, where no retry "
        "fixes a refusal - opsfix",
        "proofs/common.py",
        "            except REFUSALS:  # the proof fails at once (_run_proof_held)",
        "            except ():  # the proof fails at once (_run_proof_held)",
        ("tests/test_proofs.py::test_a_proof_whose_password_redis_refuses_fails_at_once_naming_the_variable_not_the_"
         "password",)),
    Mutation(
        "tools_say_an_acls_nopermission_as_a_refused_password",
        "a tool's refusal of an ACL's NOPERM (its user refused a command) is said as a refused password, not naming the "
        "user and the command to allow - opsfix",
        "launcher/redis_conn.py",
        "    if isinstance(exc, redis.exceptions.NoPermissionError):",
        "    if False:",
        ("tests/test_redis_password_refused.py::test_a_tools_refusal_by_an_acl_names_its_user_and_what_to_allow_never_"
         "the_password",)),
    Mutation(
        "state_writer_logs_every_state_a_refused_password_kept_from_redis",
        "the state writer logs state_not_written for every state while Redis refuses its password (one line a "
        "cadence, every second on the demo) beside redis_password_refused - opsfix",
        "actors/state_writer.py",
        "            if not self.password_refusal.refused(exc, counted=True):",
        "            if not self.password_refusal.refused(exc, counted=True) or True:",
        ("tests/test_redis_password_refused.py::test_a_password_rotated_on_the_server_is_logged_once_not_every_cadence_"
         "and_every_failure_still_counted",)),
    Mutation(
        "state_writer_logs_every_check_a_refused_password_failed",
        "the state writer logs redis_unavailable at every cadence's check while Redis refuses its password - opsfix",
        "actors/state_writer.py",
        "            if not self.password_refusal.refused(exc):",
        "            if not self.password_refusal.refused(exc) or True:",
        ("tests/test_redis_password_refused.py::test_a_password_rotated_on_the_server_is_logged_once_not_every_cadence_"
         "and_every_failure_still_counted",)),
    Mutation(
        "buffer_logs_every_history_save_a_refused_password_failed",
        "the buffer logs history_not_persisted at every cadence while Redis refuses its password - opsfix",
        "actors/buffer.py",
        "            if not self.password_refusal.refused(exc, counted=True):",
        "            if not self.password_refusal.refused(exc, counted=True) or True:",
        ("tests/test_redis_password_refused.py::test_a_password_rotated_on_the_server_is_logged_once_not_every_cadence_"
         "and_every_failure_still_counted",)),
    Mutation(
        "clusterer_logs_every_positions_read_a_refused_password_failed",
        "the clusterer logs positions_unavailable at every cadence while Redis refuses its password - opsfix",
        "actors/clusterer.py",
        "            if not self.password_refusal.refused(exc, counted=True):",
        "            if not self.password_refusal.refused(exc, counted=True) or True:",
        ("tests/test_redis_password_refused.py::test_a_password_rotated_on_the_server_is_logged_once_not_every_cadence_"
         "and_every_failure_still_counted",)),
    Mutation(
        "password_refusal_reminded_at_every_refusal",
        "PasswordRefusalLog says a refusal again at every refused call, not at most once a minute - opsfix",
        "actors/runtime.py",
        "        elif now - self.said_at >= PASSWORD_REFUSAL_REMINDER_S:",
        "        elif True:",
        ("tests/test_redis_password_refused.py::test_a_refused_password_is_said_when_it_starts_then_at_most_once_a_"
         "minute_and_once_when_it_ends",)),
    Mutation(
        "plan_id_expired_blames_decision_ttl_alone",
        "plan_id_expired says the decision is no longer kept (decision_ttl_s), an expiry the issuer cannot know "
        "happened: a decision key removed by hand, its permit alive, got it too - opsfix",
        "actors/permit_issuer.py",
        '            f"decision is no longer stored (it expired after decision_ttl_s, or was removed), so it cannot be given "',
        '            f"decision is no longer kept (decision_ttl_s), so it cannot be given "',
        ("tests/test_gate_service.py::test_plan_id_expired_names_both_ways_its_decision_can_be_gone_not_a_ttl_expiry_"
         "alone",)),
    Mutation(
        "gate_sentinel_watch_thread_takes_the_signals_sent_to_the_actor",
        "a gate's or issuer's SentinelWatch thread leaves the signals sent to the actor to its main thread, as the "
        "metrics thread does: one it took reached the loop late (a SIGCONT: loop_stalled for a stop) - revstopflake",
        "launcher/sentinel.py",
        "        with signals_left_to_the_main_thread():  # a gate's or issuer's: its main thread takes their signals\n"
        "            self._thread.start()\n",
        "        self._thread.start()\n",
        ("tests/test_signals_left_to_the_main_thread.py::test_the_gates_and_issuers_sentinel_watch_thread_leaves_the_"
         "signals_sent_to_them_to_the_main_thread",)),
    Mutation(
        "signals_left_blocked_when_a_stop_handler_raises_in_the_block",
        "the mask is read before every signal is blocked inside the try: a handler that raised in the blocking call "
        "(a SIGTERM just before it) lost the mask it returned, and the thread kept every signal blocked - revstopflake",
        "launcher/stop_signals.py",
        "    previous = _signal.pthread_sigmask(signal.SIG_BLOCK, ())\n    try:\n"
        "        _signal.pthread_sigmask(signal.SIG_BLOCK, LEFT_TO_THE_MAIN_THREAD)\n        yield\n",
        "    previous = _signal.pthread_sigmask(signal.SIG_BLOCK, LEFT_TO_THE_MAIN_THREAD)\n    try:\n"
        "        yield\n",
        ("tests/test_signals_left_to_the_main_thread.py::test_a_stop_handler_that_raises_as_the_signals_are_blocked_does_"
         "not_leave_the_main_thread_blocking_them",)),
    Mutation(
        "password_refusal_keeps_its_first_words_when_redis_calls_for_another_fix",
        "PasswordRefusalLog says nothing when Redis's refusal calls for another fix while it lasts (its password "
        "removed: unset the variable), and reminds with the first words and fix - revopsfix",
        "actors/runtime.py",
        "        if self.since is None or has_no_password(error) != has_no_password(before):  # begun, or another fix:",
        "        if self.since is None:",
        ("tests/test_redis_password_refused.py::test_a_refusal_whose_words_change_is_said_again_with_the_new_fix_not_"
         "reminded_with_the_first",
         "tests/test_redis_password_refused.py::test_a_refusal_reminded_says_redis_s_latest_words_and_a_change_of_them_"
         "at_once")),
    Mutation(
        "password_refusal_reminds_with_its_first_words",
        "PasswordRefusalLog's reminder carries the refusal's first words, not Redis's latest - revopsfix",
        "actors/runtime.py",
        "        before, self.error = self.error, error  # (a reminder carries Redis's latest words)",
        "        before, self.error = self.error, self.error or error",
        ("tests/test_redis_password_refused.py::test_a_refusal_reminded_says_redis_s_latest_words_and_a_change_of_them_"
         "at_once",)),
    Mutation(
        "fallback_proof_stops_the_cluster_side_before_it_reads_redis",
        "the fallback proof given a password Redis refuses stops and starts the live cluster side before its first "
        "Redis read fails on the refusal - revopsfix",
        "proofs/fallback.py",
        "    p.poll(p.cluster_state_age_s, lambda _: True, 0)",
        "    pass",
        ("tests/test_proofs.py::test_a_fallback_proof_whose_password_redis_refuses_fails_before_it_stops_the_cluster_"
         "side",)),
    Mutation(
        "tools_tell_an_acl_user_refused_a_key_to_allow_the_command",
        "a tool's refusal of an ACL's NOPERM for a key (its key patterns leave it out) tells to allow the user the "
        "command, which it has - revopsfix",
        "launcher/redis_conn.py",
        '        if "keys" in str(exc) or "a key" in str(exc):  # (its key patterns leave the key out: it has the command)',
        "        if False:",
        ("tests/test_redis_password_refused.py::test_a_tools_refusal_of_a_key_by_an_acl_says_to_allow_the_key_not_the_"
         "command",)),
    Mutation(
        "signals_left_blocked_when_a_stop_handler_raises_entering_the_restore",
        "signals_left_to_the_main_thread restores the mask with _signal's pthread_sigmask, a C function: with "
        "signal.pthread_sigmask, a Python function, a stop handler raising as it was entered (the stop signals are not "
        "blocked in the window) skipped the restore, SIGCONT kept blocked (22 in 2,622 raises)",
        "launcher/stop_signals.py",
        "        _signal.pthread_sigmask(signal.SIG_SETMASK, previous)\n",
        "        signal.pthread_sigmask(signal.SIG_SETMASK, previous)\n",
        ("tests/test_signals_left_to_the_main_thread.py::test_a_stop_handler_that_raises_as_the_signals_are_blocked_does_"
         "not_leave_the_main_thread_blocking_them",)),
    Mutation(
        "propose_leaves_sigint_held_after_a_stop",
        "clustergate propose puts back every stop-signal handler it found once a stop ended it (a Ctrl-C held, ignored, "
        "after the command would be lost to an embedding caller); the test's check of it ran after the test's own "
        "restore and could not fail",
        "launcher/client.py",
        "        for signum, handler in previous.items():\n"
        "            signal.signal(signum, handler)\n"
        "    if is_fault_hold(reply):\n",
        "        for signum, handler in previous.items():\n"
        "            if signum != signal.SIGINT:\n"
        "                signal.signal(signum, handler)\n"
        "    if is_fault_hold(reply):\n",
        ("tests/test_client.py::test_a_second_stop_signal_at_the_worst_moment_still_names_the_plan_id_and_the_first_"
         "ones_exit",)),
    Mutation(
        "client_does_not_back_off_from_an_overloaded_gate",
        "GateClient backs off (jittered, doubling) between rounds of `overloaded` answers instead of asking again at once "
        "for the whole call's budget (issue 14: the client backs off)",
        "launcher/client.py",
        "            pause_s = _JITTER.uniform(0.5, 1.0) * backoff_ms / 1000.0\n",
        "            pause_s = 0.0\n",
        ("tests/test_gate_deadlines.py::test_a_gate_that_stays_overloaded_gets_the_overloaded_reply_back_within_the_call_"
         "budget",)),
    Mutation(
        "sentinel_discovery_takes_a_refused_password_for_no_primary",
        "under Sentinel, a password the primary the sentinels name refuses (or the sentinels themselves) ends discovery "
        "as `no primary`, a connection error: the buffer logs it every cadence, not redis_password_refused once, and "
        "a proof polls it until its warm-up timeout - opsauth",
        "launcher/sentinel.py",
        "    if password_refused is not None and not failing_over:",
        "    if False:",
        ("tests/test_sentinel_password_refused.py::test_a_password_the_primary_refuses_under_sentinel_is_a_refusal_"
         "not_no_primary",
         "tests/test_sentinel_password_refused.py::test_a_proof_under_sentinel_whose_password_the_primary_refuses_stops_"
         "polling_at_once",
         "tests/test_sentinel_password_refused.py::test_the_buffer_under_sentinel_says_a_password_the_primary_refuses_"
         "once_not_every_cadence")),
    Mutation(
        "password_hint_knows_only_redis_6_words_for_a_redis_without_a_password",
        "Redis 5's refusal of AUTH to a server with no password (`Client sent AUTH, but no password is set`) is told "
        "to set the password, not to unset it, in every client's hint and the actors' refusal log - opsauth",
        "launcher/resp.py",
        'NO_PASSWORD_SET = ("without any password configured", "no password is set")',
        'NO_PASSWORD_SET = ("without any password configured",)',
        ("tests/test_redis_password_refused.py::test_a_password_given_to_a_redis_without_one_is_told_to_unset_it_in_"
         "redis_5_s_words_too",)),
    Mutation(
        "readiness_proof_takes_a_refused_snapshot_read_as_held",
        "the readiness proof takes an ACL's NOPERM on a position snapshot read for a held symbol, silently, and "
        "decides on a read it was refused - opsauth",
        "proofs/readiness.py",
        "    except redis.exceptions.NoPermissionError as exc:  # (a ResponseError, but no word on the snapshot)\n"
        "        raise type(exc)(f\"{exc}: {key}\") from None\n",
        "",
        ("tests/test_proofs.py::test_the_readiness_proof_fails_on_a_snapshot_read_an_acl_refuses_naming_the_key",)),    Mutation(
        "sentinel_discovery_takes_a_failover_in_progress_for_a_refused_password",
        "under Sentinel, a password one sentinel refuses (its requirepass, not the others') ends discovery as a "
        "refused password while the other sentinels name a primary that is down (a failover in progress): the "
        "actors say `handshake refused by the sentinel`, a proof fails at once `Redis's sentinels refuse` - revopsauth",
        "launcher/sentinel.py",
        "    if password_refused is not None and not failing_over:",
        "    if password_refused is not None:",
        ("tests/test_sentinel_password_refused.py::test_a_failover_in_progress_with_one_sentinel_refusing_is_no_"
         "primary_not_a_refusal",)),    Mutation(
        "sentinel_discovery_takes_a_sentinel_naming_a_replica_for_no_evidence_of_a_failover",
        "under Sentinel, one sentinel naming a server that answers ROLE slave (a failover it has not heard of) beside "
        "one that refuses the password ends discovery as the sentinels' refusal, not a failover in progress - "
        "revopsauth",
        "launcher/sentinel.py",
        "            failing_over = failing_over or words is None\n",
        "",
        ("tests/test_sentinel_password_refused.py::test_a_sentinel_naming_a_replica_beside_one_refusing_is_no_"
         "primary_not_a_refusal",)),    Mutation(
        "sentinels_refusal_names_every_configured_sentinel",
        "a password one sentinel refuses while the others are down is said by the proofs, `positions` and `backfill` "
        "as refused by every configured sentinel, the down ones among them - revopsauth",
        "launcher/redis_conn.py",
        '        who = ", ".join(exc.sentinels or cfg.sentinel.sentinels)\n',
        '        who = ", ".join(cfg.sentinel.sentinels)\n',
        ("tests/test_sentinel_password_refused.py::test_the_proofs_sentence_names_the_sentinels_that_refused_not_"
         "those_that_are_down",)),
    Mutation(
        "redis_5_wrong_password_is_not_a_refused_password",
        "Redis 5's answer to a wrong password (ERR invalid password) is a refused password: said once with the "
        "variable to fix, not logged every cadence as another handshake failure",
        "launcher/resp.py",
        ' or REDIS_5_WRONG_PASSWORD in text))\n',
        '))\n',
        ("tests/test_redis_password_refused.py::test_a_wrong_password_in_redis_5_s_words_is_a_refused_password",)),
    Mutation(
        "a_tools_refusal_under_sentinel_names_the_placeholder_url",
        "under Sentinel a tool's refusal sentence names the primary its sentinels name, not the topology's placeholder "
        "URL redis://sentinel/0 (no host)",
        "launcher/redis_conn.py",
        "    if cfg.sentinel is not None:\n"
        "        return f\"Redis's primary",
        "    if False:\n"
        "        return f\"Redis's primary",
        ("tests/test_sentinel_password_refused.py::test_a_password_the_primary_refuses_under_sentinel_is_a_refusal_not_"
         "no_primary",)),
    Mutation(
        "client_gateunavailable_without_the_plan_id",
        "GateUnavailable from a call that ran out of its budget (a timed-out attempt: it may have been decided) carries "
        "the plan_id propose() sent, so the caller's retry is the same plan and gets the same permit (defect 6)",
        "launcher/client.py",
        "                                  plan_id, faults_seen[-1] if faults_seen else None) from None\n"
        "        except ValueError as exc:",
        "                                  None, faults_seen[-1] if faults_seen else None) from None\n"
        "        except ValueError as exc:",
        ("tests/test_gate_service.py::test_a_timed_out_proposal_retried_with_the_plan_id_from_gateunavailable_gets_one_"
         "permit",
         "tests/test_client.py::test_gateunavailable_carries_the_plan_id_propose_generated_so_the_caller_can_retry_with_it")),
    Mutation(
        "issuer_counts_a_late_answered_write_expired",
        "the permit issuer counts a write that landed as `written` even when Redis's answer came late (after the gate "
        "gave up on it), as Redis holds it; docs/monitoring.md says so",
        "actors/permit_issuer.py",
        "            self._requests[result](count)\n",
        "            self._requests[\"expired\" if result == \"written\" and time.perf_counter() - started > 0.5 else "
        "result](count)\n",
        ("tests/test_deadline_overload_review.py::test_an_issuer_answer_that_came_after_the_gate_gave_up_is_counted_as_the_"
         "issuer_did_and_the_monitoring_page_says_so",)),
]

# --------------------------------------------------------------------------- SPEC clause audit
# One mutation per promise of /work/shared/SPEC.md (its thresholds, policy order, Redis keys, TTLs, metric names
# and labels, reply fields): the smallest plausible bug that breaks exactly that clause. docs/spec-mutations.md
# maps every clause to its mutation. Appended to MUTATIONS below.
POLICY = "tests/test_gate_policy.py"
MATHS = "tests/test_cluster_maths.py"
CONTRACT = "tests/test_spec_contract.py"
GATE_SERVICE = "tests/test_gate_service.py"
CLUSTERS_E2E = "tests/test_clusters_end_to_end.py"
ALERTS = "tests/test_alerts.py::test_every_alert_fires_and_stays_quiet_as_the_promtool_unit_tests_expect"


def spec(name: str, promise: str, file: str, anchor: str, replacement: str, *tests: str) -> Mutation:
    return Mutation(name, "SPEC: " + promise, file, anchor, replacement, tests)


SPEC_MUTATIONS: list[Mutation] = [
    # Inputs owned by the execution layer
    spec("spec_snapshot_key_pattern_default_renamed", "position snapshots default to quantum:position:snapshot:{symbol}",
         "launcher/topology.py", 'key_pattern: str = setting("quantum:position:snapshot:{symbol}"',
         'key_pattern: str = setting("quantum:state:positions:{symbol}"',
         f"{CONTRACT}::test_position_snapshot_key_follows_the_pattern_with_specs_default"),
    spec("spec_snapshot_key_pattern_ignored", "the snapshot key pattern is configurable (quantum:state:positions:{symbol})",
         "launcher/keys.py", '    return pattern.replace("{symbol}", symbol)\n',
         '    return f"quantum:position:snapshot:{symbol}"\n',
         f"{CONTRACT}::test_position_snapshot_key_follows_the_pattern_with_specs_default"),
    spec("spec_notional_usd_keeps_its_sign", "notional = |notional_usd| when present, the side from position_amt",
         "actors/snapshots.py", "        magnitude = abs(explicit)\n",
         "        magnitude = explicit\n",
         f"{POLICY}::test_notional_usd_wins_over_amount_times_price_and_the_side_comes_from_the_amount"),
    spec("spec_notional_without_abs", "notional = |position_amt x mark_price| without notional_usd",
         "actors/snapshots.py", "        magnitude = abs(amt * mark)\n",
         "        magnitude = amt * mark\n",
         f"{POLICY}::test_notional_usd_wins_over_amount_times_price_and_the_side_comes_from_the_amount"),
    spec("spec_snapshot_stale_at_300_s", "a snapshot older than 300 s is stale (one 300 s old is fresh)",
         "actors/snapshots.py", "    if now_s - ts > stale_after_s:\n", "    if now_s - ts >= stale_after_s:\n",
         f"{POLICY}::test_a_snapshot_older_than_300_s_is_stale_and_one_at_300_s_is_fresh"),
    spec("spec_snapshot_stale_default_301_s", "snapshots go stale after 300 s by default",
         "launcher/topology.py", "stale_after_s: float = setting(300.0,", "stale_after_s: float = setting(301.0,",
         f"{CONTRACT}::test_snapshots_go_stale_after_300_s_by_default"),
    # P2.7 maths
    spec("spec_grid_keeps_the_first_price_of_a_slot", "the buffer keeps the latest price of each slot",
         "actors/grid.py", "        if ts < self.price_ts[row, col]:\n", "        if self.price_ts[row, col] > -np.inf:\n",
         f"{MATHS}::test_grid_keeps_latest_price_per_slot_and_ignores_late_older_ticks"),
    spec("spec_simple_returns_not_log_returns", "the correlator works on log returns",
         "actors/correlation.py", "        np.log(prices, out=logp, where=prices > 0)\n",
         "        np.copyto(logp, prices, where=prices > 0)\n",
         f"{MATHS}::test_a_slot_without_price_breaks_both_neighbouring_returns"),
    spec("spec_matrix_needs_eleven_returns", "a symbol with at least 10 valid returns enters the matrix",
         "actors/correlation.py", "    inside = np.flatnonzero((counts >= min_returns) & ~stale)\n",
         "    inside = np.flatnonzero((counts > min_returns) & ~stale)\n",
         f"{MATHS}::test_symbol_enters_matrix_with_ten_returns_and_ready_needs_two"),
    spec("spec_ready_with_one_symbol", "the correlator is ready when at least 2 symbols are in the matrix",
         "actors/correlation.py", "    ready = len(inside) >= 2\n", "    ready = len(inside) >= 1\n",
         f"{MATHS}::test_symbol_enters_matrix_with_ten_returns_and_ready_needs_two"),
    spec("spec_pearson_not_pairwise_complete", "Pearson correlation over pairwise-complete returns",
         "actors/correlation.py", "        cov -= p                            # symmetric: every factor is\n", "",
         f"{MATHS}::test_correlations_equal_per_pair_numpy_on_series_with_gaps"),
    spec("spec_unheld_members_count_in_a_cluster", "per cluster, only members with notional > 1e-9 count",
         "actors/clustering.py", "    held = np.abs(side) > HELD_MIN_NOTIONAL\n", "    held = np.abs(side) >= 0.0\n",
         f"{MATHS}::test_correlation_is_mean_over_held_members_only_and_unheld_clusters_are_dropped"),
    spec("spec_weight_over_the_matrix_not_the_book", "weight = cluster notional / total notional of the book",
         "actors/clustering.py", "        weight = float(notional[c]) / book\n",
         "        weight = float(notional[c]) / float(notional.sum())\n",
         f"{MATHS}::test_held_symbol_with_too_few_points_dilutes_weight_but_forms_no_cluster"),
    spec("spec_cluster_correlation_counts_the_diagonal", "correlation = mean pairwise correlation among held members",
         "actors/clustering.py", "            correlation = (total - float(corr[rows, rows].sum())) / (n * (n - 1))\n",
         "            correlation = total / (n * n)\n",
         f"{MATHS}::test_stress_of_one_long_cluster_matches_production_example"),
    spec("spec_cluster_stress_not_clipped_at_zero", "stress = clip(weight x concentration x correlation, 0, 1)",
         "actors/clustering.py", "        stress = float(np.clip(weight * concentration * correlation, 0.0, 1.0))\n",
         "        stress = float(min(weight * concentration * correlation, 1.0))\n",
         f"{MATHS}::test_a_chained_cluster_with_negative_mean_correlation_has_stress_clipped_to_zero"),
    spec("spec_cluster_stress_sum_not_clipped", "ClusterStress = clip(sum of cluster stresses, 0, 1)",
         "actors/clustering.py", "    total = float(np.clip(sum(c.stress for c in out), 0.0, 1.0))\n",
         "    total = float(sum(c.stress for c in out))\n",
         f"{MATHS}::test_cluster_stress_sum_is_clipped_to_one"),
    spec("spec_cluster_id_from_member_order", "cluster ids are derived from members, stable between updates",
         "actors/clustering.py", '    return "c" + hashlib.sha1(",".join(sorted(members)).encode()).hexdigest()[:10]\n',
         '    return "c" + hashlib.sha1(",".join(members).encode()).hexdigest()[:10]\n',
         f"{MATHS}::test_cluster_ids_depend_on_members_not_order"),
    spec("spec_min_points_over_every_symbol", "p27_min_points_per_symbol counts held or matrix symbols only",
         "actors/clustering.py", "    relevant = [points.get(s, 0) for s in set(matrix_symbols) | set(held)]\n",
         "    relevant = [points.get(s, 0) for s in set(matrix_symbols) | set(held) | set(points)]\n",
         f"{MATHS}::test_min_points_counts_held_and_matrix_symbols_only"),
    # P2.6 proposal
    spec("spec_plan_id_may_be_missing", "plan_id is a required string",
         "actors/policy.py",
         "    if named_plan_id is None:\n",
         "    if plan_id is not None and not isinstance(plan_id, str):\n",
         f"{POLICY}::test_an_invalid_proposal_is_refused_naming_the_field"),
    spec("spec_action_may_be_any_text", "action_proposed is one of the five actions",
         "actors/policy.py", "    if action not in ACTIONS:\n", "    if not isinstance(action, str):\n",
         f"{POLICY}::test_an_invalid_proposal_is_refused_naming_the_field"),
    spec("spec_kill_score_below_0_accepted", "kill_score is in [0, 1]",
         "actors/policy.py", "or not 0.0 <= kill_score <= 1.0):", "or not kill_score <= 1.0):",
         f"{POLICY}::test_an_invalid_proposal_is_refused_naming_the_field"),
    spec("spec_kill_score_default_not_0", "kill_score defaults to 0",
         "actors/policy.py", '    kill_score = obj.get("kill_score", 0.0)\n', '    kill_score = obj.get("kill_score", 0.5)\n',
         f"{POLICY}::test_a_minimal_proposal_defaults_kill_score_to_zero"),
    # P2.6 portfolio metrics
    spec("spec_heat_floor_default_006", "heat floor 0.05", "launcher/topology.py",
         "heat_floor: float = setting(0.05,", "heat_floor: float = setting(0.06,",
         f"{POLICY}::test_realized_sigma_lowers_heat_and_a_symbol_without_it_falls_back_to_the_constant_visibly"),
    spec("spec_heat_without_its_floor", "heat = clip((sum w sigma - 0.05) / (0.35 - 0.05), 0, 1)", "actors/policy.py",
         "    heat = clip01((weighted_sigma - settings.heat_floor) / (settings.heat_ceiling - settings.heat_floor))\n",
         "    heat = clip01(weighted_sigma / settings.heat_ceiling)\n",
         f"{POLICY}::test_realized_sigma_lowers_heat_and_a_symbol_without_it_falls_back_to_the_constant_visibly"),
    spec("spec_cluster_state_stale_at_120_s", "K from the cluster when 0 <= now - updated_ts <= 120 s (120 s fresh)",
         "actors/policy.py", "    return 0 <= age_s <= freshness_s\n", "    return 0 <= age_s < freshness_s\n",
         f"{POLICY}::test_gate_falls_back_to_proxy_when_cluster_state_is_121_s_old_with_60_s_cadence"),
    spec("spec_future_cluster_state_fresh", "a cluster state from the future is stale",
         "actors/policy.py", "    return 0 <= age_s <= freshness_s\n", "    return age_s <= freshness_s\n",
         f"{POLICY}::test_gate_falls_back_to_proxy_when_cluster_state_is_dated_in_the_future"),
    spec("spec_freshness_three_cadences", "the cluster state is fresh for 2 x cadence (120 s)",
         "launcher/topology.py", "        return 2.0 * self.clusters.cadence_s\n", "        return 3.0 * self.clusters.cadence_s\n",
         f"{CONTRACT}::test_cluster_state_freshness_defaults_to_two_cadences_120_s_in_production"),
    spec("spec_weight_k_default_016", "stress = clip(0.60 heat + 0.25 concentration + 0.15 K, 0, 1)",
         "launcher/topology.py", "weight_k: float = setting(0.15,", "weight_k: float = setting(0.16,",
         f"{POLICY}::test_production_example_heat_1_concentration_1_k_0748_gives_stress_0962"),
    spec("spec_stress_not_clipped", "stress is clipped to [0, 1]", "actors/policy.py",
         "    stress = clip01(settings.weight_heat * heat + settings.weight_concentration * concentration + settings.weight_k * k)\n",
         "    stress = settings.weight_heat * heat + settings.weight_concentration * concentration + settings.weight_k * k\n",
         f"{POLICY}::test_stress_is_clipped_to_one"),
    spec("spec_no_snapshot_not_fail_closed", "no snapshots, or all stale: fail closed", "actors/policy.py",
         "    state_ok = bool(state.positions) and math.isfinite(metrics.total_abs_notional)\n",
         "    state_ok = math.isfinite(metrics.total_abs_notional)\n",
         f"{POLICY}::test_a_batch_without_fresh_state_fails_closed_for_every_proposal"),
    spec("spec_zero_notional_keeps_k", "total notional 0: every metric 0", "actors/policy.py",
         "        return PortfolioMetrics(0.0, 0.0, 0.0, 0.0, k_source, 0.0, 0.0)\n",
         "        return PortfolioMetrics(0.0, 0.0, 0.0, cluster_stress or 0.0, k_source, 0.0, 0.0)\n",
         f"{POLICY}::test_total_notional_zero_gives_every_metric_zero"),
    # P2.6 policy, in order
    spec("spec_state_checked_before_the_allowlist", "policy step 1 (not_allowed) comes before step 2 (fail closed)",
         "actors/policy.py",
         "    if not allowed:\n        return HOLD, NOT_ALLOWED\n    if not state_ok or not math.isfinite(stress):\n"
         "        return HOLD, FAIL_CLOSED_STATE\n",
         "    if not state_ok or not math.isfinite(stress):\n        return HOLD, FAIL_CLOSED_STATE\n"
         "    if not allowed:\n        return HOLD, NOT_ALLOWED\n",
         f"{POLICY}::test_step_1_a_symbol_outside_the_allowlist_is_hold_not_allowed"),
    spec("spec_cooldown_steps_full_close_down_twice", "a cooldown steps FULL_CLOSE_PROPOSED down one step, to PARTIAL_75",
         "actors/policy.py", "STEP_DOWN = {FULL: P75, P75: P50,", "STEP_DOWN = {FULL: P50, P75: P50,",
         f"{POLICY}::test_step_4_a_cooldown_steps_the_action_down_once"),
    spec("spec_cold_at_055", "step 5: FULL_CLOSE is cold when stress < 0.55 (0.55 is not)", "actors/policy.py",
         "    if action == FULL and stress < settings.cold_stress:\n",
         "    if action == FULL and stress <= settings.cold_stress:\n",
         f"{POLICY}::test_step_5_stress_just_below_055_is_cold_and_at_055_is_not"),
    spec("spec_cold_stress_default_056", "step 5's threshold is 0.55", "launcher/topology.py",
         "cold_stress: float = setting(0.55,", "cold_stress: float = setting(0.56,",
         f"{POLICY}::test_step_5_stress_just_below_055_is_cold_and_at_055_is_not"),
    spec("spec_kill_score_hard_strict", "step 5: kill_score >= 0.85 gives PARTIAL_75 (ks_hard)", "actors/policy.py",
         "        if kill_score >= settings.kill_score_hard:\n", "        if kill_score > settings.kill_score_hard:\n",
         f"{POLICY}::test_step_5_a_cold_full_close_with_kill_score_at_085_becomes_partial_75"),
    spec("spec_kill_score_hard_default_090", "step 5's kill_score threshold is 0.85", "launcher/topology.py",
         "kill_score_hard: float = setting(0.85,", "kill_score_hard: float = setting(0.90,",
         f"{POLICY}::test_step_5_a_cold_full_close_with_kill_score_at_085_becomes_partial_75"),
    spec("spec_riskoff_strict", "step 6: stress >= 0.80 accelerates PARTIAL_25/50 (0.80 does)", "actors/policy.py",
         "    if stress >= settings.riskoff_stress and action in (P25, P50):\n",
         "    if stress > settings.riskoff_stress and action in (P25, P50):\n",
         f"{POLICY}::test_step_6_stress_at_080_accelerates_partial_25_and_50_to_75"),
    spec("spec_riskoff_default_085", "step 6's threshold is 0.80", "launcher/topology.py",
         "riskoff_stress: float = setting(0.80,", "riskoff_stress: float = setting(0.85,",
         f"{POLICY}::test_step_6_stress_at_080_accelerates_partial_25_and_50_to_75"),
    spec("spec_riskoff_touches_partial_75", "step 6 changes PARTIAL_25 and PARTIAL_50 only", "actors/policy.py",
         "    if stress >= settings.riskoff_stress and action in (P25, P50):\n",
         "    if stress >= settings.riskoff_stress and action in (P25, P50, P75):\n",
         f"{POLICY}::test_step_6_riskoff_leaves_other_actions_alone"),
    spec("spec_cold_rule_before_the_cooldown", "policy order: the cooldown (4) steps down before the cold rule (5)",
         "actors/policy.py", "    if cooldown and action != HOLD:\n        action, reason = STEP_DOWN[action], COOLDOWN\n",
         "    if cooldown and action != HOLD and not (action == FULL and stress < settings.cold_stress):\n"
         "        action, reason = STEP_DOWN[action], COOLDOWN\n",
         f"{POLICY}::test_steps_apply_in_order_so_a_cooled_down_full_close_is_not_also_forbidden_as_cold"),
    spec("spec_riskoff_before_the_cooldown", "policy order: risk-off (6) acts on the cooled-down action",
         "actors/policy.py", "    reason = PASS\n    if cooldown and action != HOLD:\n",
         "    reason = PASS\n    if stress >= settings.riskoff_stress and action in (P25, P50):\n"
         "        action, reason = P75, RISKOFF\n    if cooldown and action != HOLD:\n",
         f"{POLICY}::test_steps_apply_in_order_so_a_cooled_down_partial_25_is_hold_even_at_riskoff_stress"),
    # Redis key names and TTL defaults
    spec("spec_gate_stream_renamed", "decisions go on stream quantum:stream:portfolio.gate", "launcher/keys.py",
         'GATE_STREAM = "quantum:stream:portfolio.gate"', 'GATE_STREAM = "quantum:stream:portfolio.gate_decisions"',
         f"{CONTRACT}::test_gate_stream_permit_and_cooldown_keys_are_specs"),
    spec("spec_permit_key_renamed", "permits are quantum:permit:p26:{plan_id}", "launcher/keys.py",
         '    return f"quantum:permit:p26:{plan_id}"\n', '    return f"quantum:permit:{plan_id}"\n',
         f"{CONTRACT}::test_gate_stream_permit_and_cooldown_keys_are_specs"),
    spec("spec_cooldown_key_renamed", "cooldowns are quantum:p26:cooldown:{symbol}", "launcher/keys.py",
         '    return f"quantum:p26:cooldown:{symbol}"\n', '    return f"quantum:cooldown:p26:{symbol}"\n',
         f"{CONTRACT}::test_gate_stream_permit_and_cooldown_keys_are_specs"),
    spec("spec_cluster_state_key_renamed", "the cluster state is quantum:portfolio:cluster_state", "launcher/keys.py",
         'CLUSTER_STATE = "quantum:portfolio:cluster_state"\n', 'CLUSTER_STATE = "quantum:portfolio:clusterstate"\n',
         f"{CONTRACT}::test_cluster_state_keys_are_specs"),
    spec("spec_clusters_key_renamed", "the clusters hash is quantum:portfolio:clusters", "launcher/keys.py",
         'CLUSTERS = "quantum:portfolio:clusters"\n', 'CLUSTERS = "quantum:portfolio:cluster_ids"\n',
         f"{CONTRACT}::test_cluster_state_keys_are_specs"),
    spec("spec_cluster_state_stream_renamed", "the state stream is quantum:stream:portfolio.cluster_state",
         "launcher/keys.py", 'CLUSTER_STATE_STREAM = "quantum:stream:portfolio.cluster_state"\n',
         'CLUSTER_STATE_STREAM = "quantum:stream:portfolio.clusters"\n',
         f"{CONTRACT}::test_cluster_state_keys_are_specs"),
    spec("spec_per_cluster_key_renamed", "per-cluster hashes are quantum:portfolio:cluster_state:{cluster_id}",
         "launcher/keys.py", '    return f"{CLUSTER_STATE}:{cluster_id}"\n', '    return f"{CLUSTERS}:{cluster_id}"\n',
         f"{CONTRACT}::test_cluster_state_keys_are_specs"),
    spec("spec_permit_ttl_default_59", "permit TTL 60 s", "launcher/topology.py",
         "permit_ttl_s: int = setting(60,", "permit_ttl_s: int = setting(59,",
         f"{CONTRACT}::test_permit_and_cooldown_ttls_default_to_60_s"),
    spec("spec_cooldown_ttl_default_59", "cooldown TTL 60 s", "launcher/topology.py",
         "cooldown_ttl_s: int = setting(60,", "cooldown_ttl_s: int = setting(59,",
         f"{CONTRACT}::test_permit_and_cooldown_ttls_default_to_60_s"),
]

def metric_renamed(name: str, file: str, anchor: str, replacement: str, *tests: str) -> Mutation:
    return spec(name, "metric names and labels are the contract: " + anchor.split('"')[1], file, anchor, replacement,
                *tests)


P26_SERIES = f"{GATE_SERVICE}::test_the_gate_exports_every_p26_series_from_the_start"
SPEC_MUTATIONS += [
    # P2.7 maths and the buffer's grid
    spec("spec_window_copies_the_last_price_into_a_gap", "a slot with no fresh price is NaN, never the last price",
         "actors/grid.py", "        block = self.prices[:, -points - 1:-1]\n",
         "        block = self.prices[:, -points - 1:-1].copy()\n"
         "        for j in range(1, block.shape[1]):\n"
         "            block[:, j] = np.where(np.isnan(block[:, j]), block[:, j - 1], block[:, j])\n",
         f"{MATHS}::test_grid_keeps_latest_price_per_slot_and_ignores_late_older_ticks"),
    spec("spec_edge_needs_corr_above_070", "an edge where corr >= 0.70 (0.70 itself joins)",
         "actors/clustering.py", "        edges = corr >= threshold\n", "        edges = corr > threshold\n",
         f"{MATHS}::test_a_correlation_of_exactly_070_is_an_edge_and_one_just_below_is_not"),
    spec("spec_cluster_concentration_signed", "concentration = |sum(side x notional)| / cluster notional",
         "actors/clustering.py", "        concentration = abs(float(signed[c])) / float(notional[c])\n",
         "        concentration = float(signed[c]) / float(notional[c])\n",
         f"{MATHS}::test_a_net_short_cluster_has_the_concentration_and_stress_of_its_mirror_image_long"),
    spec("spec_clusters_without_notional_kept", "clusters with no notional are dropped",
         "actors/clustering.py", "    for c in np.flatnonzero(n_held):\n", "    for c in np.flatnonzero(n_held >= 0):\n",
         f"{MATHS}::test_correlation_is_mean_over_held_members_only_and_unheld_clusters_are_dropped"),
    # P2.6 portfolio metrics
    spec("spec_gate_concentration_signed", "concentration = |net| / gross", "actors/policy.py",
         "    concentration = abs(net) / gross\n", "    concentration = net / gross\n",
         f"{POLICY}::test_a_net_short_book_has_concentration_net_over_gross_and_proxy_the_weight_of_the_shorts"),
    spec("spec_corr_proxy_counts_the_longs_of_a_net_short_book", "corr_proxy = total weight of positions on the net side",
         "actors/policy.py",
         "        corr_proxy = -sum(p.signed_notional for p in positions if p.signed_notional < 0) / gross\n",
         "        corr_proxy = sum(p.signed_notional for p in positions if p.signed_notional > 0) / gross\n",
         f"{POLICY}::test_a_net_short_book_has_concentration_net_over_gross_and_proxy_the_weight_of_the_shorts"),
    spec("spec_corr_proxy_of_a_flat_book_not_0", "corr_proxy is 0 when net is 0", "actors/policy.py",
         "    else:\n        corr_proxy = 0.0\n", "    else:\n        corr_proxy = 0.5\n",
         f"{POLICY}::test_a_net_flat_book_has_proxy_zero"),
    spec("spec_fresh_cluster_stress_ignored", "K = cluster_stress when the cluster state is fresh", "actors/policy.py",
         "    k = cluster_stress if cluster_stress is not None else corr_proxy\n", "    k = corr_proxy\n",
         f"{POLICY}::test_fresh_cluster_stress_replaces_the_proxy_as_k"),
    spec("spec_sigma_default_09", "sigma = 1.0 per symbol by default", "launcher/topology.py",
         "sigma: float = setting(1.0,", "sigma: float = setting(0.9,", f"{CONTRACT}::test_gate_defaults_are_specs_and_production_keeps_them"),
    spec("spec_heat_ceiling_default_040", "heat ceiling 0.35", "launcher/topology.py",
         "heat_ceiling: float = setting(0.35,", "heat_ceiling: float = setting(0.40,",
         f"{POLICY}::test_realized_sigma_lowers_heat_and_a_symbol_without_it_falls_back_to_the_constant_visibly"),
    spec("spec_weight_concentration_default_026", "stress weight of concentration 0.25", "launcher/topology.py",
         "weight_concentration: float = setting(0.25,", "weight_concentration: float = setting(0.26,",
         f"{POLICY}::test_production_example_heat_1_concentration_1_k_0748_gives_stress_0962"),
    spec("spec_weight_heat_default_061", "stress weight of heat 0.60", "launcher/topology.py",
         "weight_heat: float = setting(0.60,", "weight_heat: float = setting(0.61,",
         f"{POLICY}::test_production_example_heat_1_concentration_1_k_0748_gives_stress_0962"),
    spec("spec_p25_under_cooldown_accelerated_before_stepping_down",
         "policy order: a cooldown takes PARTIAL_25 to HOLD before risk-off (step 6) could accelerate it",
         "actors/policy.py", "    reason = PASS\n    if cooldown and action != HOLD:\n",
         "    reason = PASS\n    if stress >= settings.riskoff_stress and action == P25:\n"
         "        action = P50\n    if cooldown and action != HOLD:\n",
         f"{POLICY}::test_steps_apply_in_order_so_a_cooled_down_partial_25_is_hold_even_at_riskoff_stress"),
    # P2.7 defaults
    spec("spec_default_allowlist_without_sol", "the default allowlist is BTCUSDT, ETHUSDT, SOLUSDT",
         "launcher/topology.py", 'SYMBOLS_DEFAULT = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]', 'SYMBOLS_DEFAULT = ["BTCUSDT", "ETHUSDT"]',
         f"{CONTRACT}::test_p27_defaults_are_specs_when_the_topology_gives_none"),
    spec("spec_default_cadence_59_s", "cadence 60 s by default", "launcher/topology.py",
         "cadence_s: float = setting(60.0,", "cadence_s: float = setting(59.0,", f"{CONTRACT}::test_p27_defaults_are_specs_when_the_topology_gives_none"),
    spec("spec_default_lookback_359", "lookback 360 returns (361 points) by default", "launcher/topology.py",
         "lookback_returns: int = setting(360,", "lookback_returns: int = setting(359,", f"{CONTRACT}::test_p27_defaults_are_specs_when_the_topology_gives_none"),
    spec("spec_default_min_returns_11", "minimum 10 returns (11 points) per symbol by default", "launcher/topology.py",
         "min_returns: int = setting(10,", "min_returns: int = setting(11,", f"{CONTRACT}::test_p27_defaults_are_specs_when_the_topology_gives_none"),
    spec("spec_default_corr_threshold_075", "cluster correlation threshold 0.70 by default", "launcher/topology.py",
         "corr_threshold: float = setting(0.70,", "corr_threshold: float = setting(0.75,", f"{CONTRACT}::test_p27_defaults_are_specs_when_the_topology_gives_none"),
    # State writer: SPEC's keys, fields, types, one transaction, trimming
    spec("spec_updated_ts_written_as_a_float", "cluster_state.updated_ts is an int epoch", "actors/state_writer.py",
         "    return int(seconds), int(seconds * 1000)\n", "    return seconds, int(seconds * 1000)\n",
         f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    spec("spec_clusters_count_field_renamed", "cluster_state has clusters_count", "actors/state_writer.py",
         '"cluster_stress": message["cluster_stress"], "clusters_count": len(clusters),\n             "updated_ts_ms"',
         '"cluster_stress": message["cluster_stress"], "cluster_count": len(clusters),\n             "updated_ts_ms"',
         f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    spec("spec_clusters_hash_not_replaced_whole", "the clusters hash is replaced whole", "actors/state_writer.py",
         "    pipe.delete(keys.CLUSTERS)\n", "",
         f"{CLUSTERS_E2E}::test_stale_cluster_ids_are_deleted_when_membership_changes"),
    spec("spec_per_cluster_hash_without_weight", "per-cluster hashes hold notional, weight, concentration, correlation, "
         "stress, updated_ts, symbols", "actors/state_writer.py",
         'pipe.hset(key, mapping={"notional": c["notional"], "weight": c["weight"],',
         'pipe.hset(key, mapping={"notional": c["notional"],',
         f"{CLUSTERS_E2E}::test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_its_stream"),
    spec("spec_stale_cluster_ids_kept", "ids that no longer exist are deleted", "actors/state_writer.py",
         "        pipe.delete(keys.cluster_state_of(stale))\n", "        pass\n",
         f"{CLUSTERS_E2E}::test_stale_cluster_ids_are_deleted_when_membership_changes"),
    spec("spec_state_stream_record_without_ts_epoch", "the state stream records cluster_stress, clusters_count, "
         "clusters JSON, ts_epoch", "actors/state_writer.py",
         '"clusters": json.dumps([{k: c[k] for k in ("id", "symbols", "stress")} for c in clusters]),\n'
         '              "ts_epoch": updated_ts}',
         '"clusters": json.dumps([{k: c[k] for k in ("id", "symbols", "stress")} for c in clusters])}',
         f"{CLUSTERS_E2E}::test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_its_stream"),
    spec("spec_state_stream_never_trimmed", "the state stream is trimmed with an approximate MAXLEN",
         "actors/state_writer.py",
         "    pipe.xadd(keys.CLUSTER_STATE_STREAM, record, maxlen=stream_maxlen, approximate=True)\n",
         "    pipe.xadd(keys.CLUSTER_STATE_STREAM, record)\n",
         f"{CLUSTERS_E2E}::test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_its_stream"),
    spec("spec_state_written_outside_one_transaction", "the state writer writes each update in one MULTI/EXEC",
         "actors/state_writer.py", "                pipe.multi()\n", "",
         f"{CLUSTERS_E2E}::test_two_state_writers_racing_between_hkeys_and_exec_leave_no_stale_cluster_behind", f"{CLUSTERS_E2E}::test_one_state_write_puts_specs_keys_fields_and_types_in_redis_and_trims_its_stream"),
    spec("spec_not_ready_state_written", "when upstream is not ready nothing is written", "actors/state_writer.py",
         '            self.m.fail_closed.labels(reason="upstream_not_ready").inc()\n            self.update_ready()\n'
         '            return\n',
         '            self.m.fail_closed.labels(reason="upstream_not_ready").inc()\n            self.update_ready()\n',
         f"{CLUSTERS_E2E}::test_each_p27_contract_series_has_one_meaning", f"{CLUSTERS_E2E}::test_the_cluster_state_stops_looking_fresh_soon_after_the_prices_stop"),
    # P2.6 records, permits, cooldowns
    spec("spec_hold_not_recorded", "every decision, HOLD included, is recorded on the gate stream",
         "actors/permit_issuer.py", "redis.call('XADD', KEYS[2], '*', unpack(record))\n",
         "if issue then redis.call('XADD', KEYS[2], '*', unpack(record)) end\n",
         f"{GATE_SERVICE}::test_a_symbol_outside_the_allowlist_is_hold_not_allowed_and_recorded"),
    spec("spec_decision_record_without_kill_score", "the decision record holds kill_score", "actors/permit_issuer.py",
         '"concentration", "corr_proxy", "kill_score", "ts_epoch", "K", "k_source")',
         '"concentration", "corr_proxy", "ts_epoch", "K", "k_source")',
         f"{GATE_SERVICE}::test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream"),
    spec("spec_permit_value_not_1", 'the permit\'s value is "1"', "actors/permit_issuer.py",
         "  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then\n",
         "  if not redis.call('SET', KEYS[3], 'ok', 'NX', 'EX', ARGV[4]) then\n",
         f"{GATE_SERVICE}::test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream"),
    spec("spec_permit_ttl_in_ms", "the permit's TTL is 60 s", "actors/permit_issuer.py",
         "  if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then\n",
         "  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then\n",
         f"{GATE_SERVICE}::test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream"),
    spec("spec_cooldown_ttl_in_ms", "the cooldown's TTL is 60 s", "actors/permit_issuer.py",
         "  redis.call('SET', KEYS[4], '1', 'EX', ARGV[5])\n", "  redis.call('SET', KEYS[4], '1', 'PX', ARGV[5])\n",
         f"{GATE_SERVICE}::test_a_permitted_decision_has_a_permit_and_a_cooldown_with_ttl_60_s_and_its_record_on_the_stream"),
    # P2.6 metrics: names and labels, then what the gauges say
    metric_renamed("spec_p26_stress_renamed", "actors/gate.py", 'Gauge("p26_stress",', 'Gauge("p26_portfolio_stress",', P26_SERIES),
    metric_renamed("spec_p26_heat_renamed", "actors/gate.py", 'Gauge("p26_heat",', 'Gauge("p26_portfolio_heat",', P26_SERIES),
    metric_renamed("spec_p26_concentration_renamed", "actors/gate.py", 'Gauge("p26_concentration",',
                   'Gauge("p26_portfolio_concentration",', P26_SERIES),
    metric_renamed("spec_p26_corr_proxy_renamed", "actors/gate.py", 'Gauge("p26_corr_proxy",', 'Gauge("p26_proxy",', P26_SERIES),
    metric_renamed("spec_p26_cluster_stress_used_renamed", "actors/gate.py", 'Gauge("p26_cluster_stress_used",',
                   'Gauge("p26_cluster_used",', P26_SERIES),
    metric_renamed("spec_p26_symbols_with_snapshot_renamed", "actors/gate.py", 'Gauge("p26_symbols_with_snapshot",',
                   'Gauge("p26_symbols_with_snapshots",', P26_SERIES),
    metric_renamed("spec_p26_total_abs_notional_renamed", "actors/gate.py", 'Gauge("p26_total_abs_notional",',
                   'Gauge("p26_total_notional",', P26_SERIES),
    metric_renamed("spec_p26_snapshot_age_label_renamed", "actors/gate.py",
                   '"p26_snapshot_age_seconds", "Age of the symbol\'s position snapshot", ["symbol"]',
                   '"p26_snapshot_age_seconds", "Age of the symbol\'s position snapshot", ["sym"]', P26_SERIES),
    metric_renamed("spec_p26_plans_seen_label_renamed", "actors/gate.py",
                   '"p26_plans_seen_total", "Valid proposals received", ["action_proposed"]',
                   '"p26_plans_seen_total", "Valid proposals received", ["action"]', P26_SERIES),
    metric_renamed("spec_p26_gate_writes_renamed", "actors/gate.py", 'Counter("p26_gate_writes_total",',
                   'Counter("p26_gate_write_total",', P26_SERIES),
    spec("spec_p26_downgrade_labels_swapped", "p26_actions_downgraded_total{from_action,to_action,reason}",
         "actors/gate.py", "P26_DOWNGRADED.labels(from_action=f, to_action=t, reason=r))",
         "P26_DOWNGRADED.labels(from_action=t, to_action=f, reason=r))", f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    metric_renamed("spec_p26_permit_issued_renamed", "actors/gate.py", 'Counter("p26_permit_issued_total",',
                   'Counter("p26_permits_issued_total",', P26_SERIES),
    metric_renamed("spec_p26_fail_closed_renamed", "actors/gate.py", 'Counter("p26_fail_closed_total",',
                   'Counter("p26_fail_closed_decisions_total",', P26_SERIES),
    metric_renamed("spec_p26_cluster_fallback_renamed", "actors/gate.py", 'Counter("p26_cluster_fallback_total",',
                   'Counter("p26_cluster_fallbacks_total",', P26_SERIES),
    metric_renamed("spec_p26_time_to_permit_renamed", "actors/gate.py", 'Histogram("p26_time_to_permit_seconds",',
                   'Histogram("p26_time_to_permit",', P26_SERIES),
    spec("spec_fallback_not_counted", "a decision on the proxy adds 1 to p26_cluster_fallback_total", "actors/gate.py",
         '        if metrics.k_source == "cluster":\n            return\n', "        if True:\n            return\n",
         f"{GATE_SERVICE}::test_the_gate_takes_k_from_fresh_cluster_state_falls_back_when_stale_and_returns"),
    spec("spec_cluster_stress_used_inverted", "p26_cluster_stress_used is 1 with K from the cluster, 0 from the proxy",
         "actors/gate.py", '1 if metrics.k_source == "cluster" else 0,', '0 if metrics.k_source == "cluster" else 1,',
         f"{GATE_SERVICE}::test_the_gate_takes_k_from_fresh_cluster_state_falls_back_when_stale_and_returns"),
    spec("spec_p26_heat_gauge_shows_concentration", "p26_heat is the heat of the last evaluation", "actors/gate.py",
         "            P26_HEAT.set(gauges[1])\n", "            P26_HEAT.set(gauges[2])\n", f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    spec("spec_p26_symbols_with_snapshot_counts_the_allowlist", "p26_symbols_with_snapshot counts fresh snapshots",
         "actors/gate.py", "len(state.positions), metrics.total_abs_notional)", "len(self.symbols), metrics.total_abs_notional)",
         f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    spec("spec_p26_total_abs_notional_gauge_shows_stress", "p26_total_abs_notional is the sum of |notional|",
         "actors/gate.py", "            P26_TOTAL_ABS_NOTIONAL.set(gauges[6])\n", "            P26_TOTAL_ABS_NOTIONAL.set(gauges[0])\n",
         f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    spec("spec_p26_snapshot_age_not_set", "p26_snapshot_age_seconds{symbol} is the snapshot's age", "actors/gate.py",
         "                child.set(age_s)\n", "                child.set(0.0)\n", f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    spec("spec_p26_plans_seen_not_counted", "p26_plans_seen_total{action_proposed} counts valid proposals",
         "actors/gate.py", "            self._plans_seen[proposal.action_proposed]()\n", "            pass\n", f"{GATE_SERVICE}::test_the_p26_gauges_and_plans_seen_say_what_the_last_decision_saw"),
    # P2.7 metrics: names (the state writer mirrors every p27_* gauge on 8048) and what they say
    metric_renamed("spec_p27_updates_renamed", "actors/state_writer.py", 'Counter("p27_updates",', 'Counter("p27_writes",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_corr_ready_renamed", "actors/state_writer.py", 'Gauge("p27_corr_ready",', 'Gauge("p27_ready",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_symbols_in_matrix_renamed", "actors/state_writer.py", 'Gauge("p27_symbols_in_matrix",',
                   'Gauge("p27_matrix_symbols",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_clusters_count_renamed", "actors/state_writer.py", 'Gauge("p27_clusters_count",',
                   'Gauge("p27_cluster_count",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_cluster_stress_sum_renamed", "actors/state_writer.py", 'Gauge("p27_cluster_stress_sum",',
                   'Gauge("p27_cluster_stress",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_cluster_stress_max_renamed", "actors/state_writer.py", 'Gauge("p27_cluster_stress_max",',
                   'Gauge("p27_cluster_stress_largest",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_min_points_renamed", "actors/state_writer.py", 'Gauge("p27_min_points_per_symbol",',
                   'Gauge("p27_min_points",',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_points_label_renamed", "actors/state_writer.py",
                   '"Valid grid points per symbol in the current window", ["symbol"]',
                   '"Valid grid points per symbol in the current window", ["sym"]',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    metric_renamed("spec_p27_fail_closed_label_renamed", "actors/state_writer.py",
                   'Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"])',
                   'Counter("p27_fail_closed", "Updates that could not be made, by reason", ["cause"])',
                   f"{CLUSTERS_E2E}::test_corr_becomes_ready_and_redis_state_is_fresh_and_consistent"),
    spec("spec_p27_cluster_stress_sum_shows_the_max", "p27_cluster_stress_sum = ClusterStress", "actors/state_writer.py",
         '        self.m.stress_sum.set(gauges.get("cluster_stress_sum", 0))\n',
         '        self.m.stress_sum.set(gauges.get("cluster_stress_max", 0))\n',
         f"{CLUSTERS_E2E}::test_the_state_writer_mirrors_each_p27_gauge_from_the_clusterers_state_into_its_own_series"),
    # Operations: ports and the health the operators watch
    spec("spec_p27_metrics_port_8050", "production P2.7 metrics on 8048", "configs/production.yaml",
         "  state_writer:\n    metrics_port: 8048\n", "  state_writer:\n    metrics_port: 8050\n", f"{CONTRACT}::test_production_exports_p27_metrics_on_8048_and_p26_metrics_on_8047"),
    spec("spec_p26_metrics_port_8046", "production P2.6 metrics on 8047", "configs/production.yaml",
         "  gate:\n    metrics_port: 8047\n", "  gate:\n    metrics_port: 8046\n", f"{CONTRACT}::test_production_exports_p27_metrics_on_8048_and_p26_metrics_on_8047"),
    spec("spec_snapshot_age_alert_at_600_s", "health: max(p26_snapshot_age_seconds) < 300", "configs/alerts.yml",
         "          max(p26_snapshot_age_seconds) >= 300\n", "          max(p26_snapshot_age_seconds) >= 600\n", ALERTS),
    spec("spec_snapshot_age_alert_strict", "health: max(p26_snapshot_age_seconds) < 300 (300 is not healthy)",
         "configs/alerts.yml", "          max(p26_snapshot_age_seconds) >= 300\n",
         "          max(p26_snapshot_age_seconds) > 300\n",
         ALERTS),
    spec("spec_cluster_stress_used_alert_uses_increase", "health: p26_cluster_stress_used is a gauge: max_over_time, "
         "not increase", "configs/alerts.yml", "          max_over_time(p26_cluster_stress_used[30m]) == 0\n",
         "          increase(p26_cluster_stress_used[30m]) == 0\n", ALERTS),
    spec("spec_fallback_alert_tolerates_one", "health: increase(p26_cluster_fallback_total[30m]) == 0",
         "configs/alerts.yml", "          increase(p26_cluster_fallback_total[30m]) > 0\n",
         "          increase(p26_cluster_fallback_total[30m]) > 1\n", ALERTS),
    spec("spec_corr_not_ready_alert_never_fires", "health: p27_corr_ready == 1", "configs/alerts.yml",
         "expr: p27_corr_ready == 0\n", "expr: p27_corr_ready < 0\n", ALERTS),
    spec("spec_symbol_may_be_missing", "symbol is required", "actors/policy.py",
         "    if not (type(symbol) is str and symbol and len(symbol) <= MAX_SYMBOL_CHARS and symbol.isprintable()):\n",
         "    if symbol is not None and not isinstance(symbol, str):\n",
         f"{POLICY}::test_an_invalid_proposal_is_refused_naming_the_field"),
    spec("spec_untouched_reason_not_pass", "policy step 3: an untouched proposal keeps its action with reason pass",
         "actors/policy.py", "    reason = PASS\n    if cooldown and action != HOLD:\n",
         "    reason = RISKOFF\n    if cooldown and action != HOLD:\n", f"{POLICY}::test_step_3_an_untouched_proposal_passes"),
    spec("spec_gate_writes_not_counted", "p26_gate_writes_total counts each decision recorded", "actors/gate.py",
         '                if outcome.get("written"):\n                    self._count_write()\n', "",
         f"{GATE_SERVICE}::test_resubmitting_a_plan_id_returns_the_first_decision_with_one_permit_and_one_stream_record"),
]

MUTATIONS += SPEC_MUTATIONS
