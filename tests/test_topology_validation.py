"""`clustergate validate`: one test per class of bad topology, each naming the YAML path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ha_helpers import with_second_gate_pair
from helpers import REPO, demo_topology_data
from launcher.schema import SchemaError
from launcher.topology import load_topology, topology_json_schema


def problems_of(tmp_path: Path, data: object, raw: str | None = None) -> list[str]:
    path = tmp_path / "topology.yaml"
    path.write_text(raw if raw is not None else yaml.safe_dump(data, sort_keys=False))
    try:
        load_topology(path)
    except SchemaError as exc:
        return [p.render("t.yaml") for p in exc.problems]
    return []


def demo() -> dict:
    return demo_topology_data()


@pytest.mark.parametrize("config", ["demo.yaml", "production.yaml"])
def test_shipped_topologies_are_valid(config: str) -> None:
    topo = load_topology(REPO / "configs" / config)
    assert topo.actors


def test_misspelt_key_gives_one_line_naming_it_with_a_suggestion(tmp_path: Path) -> None:
    data = demo()
    data["clusters"]["lookback_retruns"] = data["clusters"].pop("lookback_returns")
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1
    assert "clusters.lookback_retruns: unknown key (did you mean 'lookback_returns'?)" in problems[0]
    assert problems[0].startswith("t.yaml:")  # carries the line number


@pytest.mark.parametrize("clusters_change", [{"cadense_s": 1}, {"cadence_s": "1s"}, {"cadence_s": 0.01}],
                         ids=["misspelt", "text", "out_of_range"])
def test_a_wrong_cadence_is_the_one_problem_named_and_nothing_is_measured_against_a_cadence_not_given(
        tmp_path: Path, clusters_change: dict) -> None:
    """The gate's freshness_s (3 s in the demo) was measured against the default cadence (60 s) when
    cadence_s was misspelt: a second, false problem sent the operator to the wrong line."""
    data = demo()
    data["clusters"].pop("cadence_s")
    data["clusters"].update(clusters_change)
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1, problems
    assert "clusters.caden" in problems[0] and "freshness_s" not in problems[0]


@pytest.mark.parametrize("clusters_problem", [{"min_return": 10}, {"corr_threshold": 7}, {"foo": 1}])
def test_another_problem_under_clusters_leaves_freshness_measured_against_the_cadence_given(
        tmp_path: Path, clusters_problem: dict) -> None:
    """Any problem under clusters skipped the cadence checks: a freshness_s shorter than the cadence the
    file gives went unnamed until the first problem was fixed."""
    data = demo()
    data["clusters"]["cadence_s"] = 1
    data["clusters"].update(clusters_problem)
    data["actors"]["gate"].setdefault("settings", {})["freshness_s"] = 0.5
    problems = "\n".join(problems_of(tmp_path, data))
    assert "actors.gate.settings.freshness_s: shorter than one cadence (1.0 s)" in problems, problems



@pytest.mark.parametrize("freshness_s", ["4s", "1e1"])
def test_a_freshness_s_written_as_text_is_the_one_problem_named_not_also_shorter_than_a_cadence(
        tmp_path: Path, freshness_s: str) -> None:
    """opday: `freshness_s: 4s` (a unit typed after the number) was named twice, the second time `shorter than one
    cadence (1.0 s): the state would always look stale`, measured from the refused value's placeholder 0."""
    data = demo()
    data["actors"]["gate"]["settings"]["freshness_s"] = freshness_s
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1, problems
    assert "actors.gate.settings.freshness_s: expected a number" in problems[0], problems


def test_symbols_written_without_brackets_is_the_one_problem_named(tmp_path: Path) -> None:
    """opday: `symbols: BTCUSDT, ETHUSDT, SOLUSDT` (brackets forgotten) gave ten lines: `expected a list of a
    string`, `the allowlist is empty`, and eight `BTCUSDT is not in symbols` for the feed's and the book's settings,
    false lines for symbols the operator did list."""
    raw = (REPO / "configs" / "demo.yaml").read_text()
    assert raw.count("symbols: [BTCUSDT, ETHUSDT, SOLUSDT]") == 1
    problems = problems_of(tmp_path, None, raw.replace("symbols: [BTCUSDT, ETHUSDT, SOLUSDT]",
                                                       "symbols: BTCUSDT, ETHUSDT, SOLUSDT"))
    assert len(problems) == 1, problems
    assert "symbols: expected a list of strings, got str 'BTCUSDT, ETHUSDT, SOLUSDT'" in problems[0], problems


def test_a_symbol_refused_for_its_type_is_named_once(tmp_path: Path) -> None:
    """opday2: `symbols: [1, 2]` gave five lines: each `expected a string`, then, of the '' it was read as, `symbol ''
    must be upper-case letters and digits` twice and `duplicate symbol ''`, for names the operator never wrote."""
    data = demo()
    data["symbols"] = [1, 2]
    problems = [p.split(": ", 1)[1] for p in problems_of(tmp_path, data) if ": symbols" in p]
    assert problems == ["symbols[0]: expected a string, got int 1", "symbols[1]: expected a string, got int 2"], problems

def test_wrong_type_names_path_and_value(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["metrics_port"] = "eighty"
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1
    assert "actors.gate.metrics_port: expected an integer, got str 'eighty'" in problems[0]


def test_out_of_range_values_are_rejected(tmp_path: Path) -> None:
    data = demo()
    data["clusters"]["cadence_s"] = -1
    data["clusters"]["lookback_returns"] = 10**9
    data["actors"]["buffer"]["metrics_port"] = 0
    problems = "\n".join(problems_of(tmp_path, data))
    assert "clusters.cadence_s: must be >= 0.05, got -1" in problems
    assert "clusters.lookback_returns: must be <= 100000" in problems
    assert "actors.buffer.metrics_port: must be >= 1, got 0" in problems


def test_duplicate_port_names_both_users(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["metrics_port"] = data["actors"]["buffer"]["metrics_port"]
    problems = problems_of(tmp_path, data)
    assert any("actors.gate.metrics_port: port 9183 is already used by actors.buffer.metrics_port" in p for p in problems)


def test_a_symbol_listed_twice_is_refused_naming_the_second(tmp_path: Path) -> None:
    data = demo()
    data["symbols"] = [*data["symbols"], data["symbols"][0]]
    problems = problems_of(tmp_path, data)
    at = len(data["symbols"]) - 1
    assert any(f"symbols[{at}]: duplicate symbol {data['symbols'][0]!r}" in p for p in problems), problems


def test_a_socket_bound_on_a_metrics_port_names_both_users(tmp_path: Path) -> None:
    """Socket binds and metrics ports share one port space: a bind on an actor's metrics port is refused."""
    data = demo()
    port = data["actors"]["buffer"]["metrics_port"]
    data["actors"]["gate"]["sockets"]["proposals"] = {"bind": f"tcp://127.0.0.1:{port}"}
    problems = problems_of(tmp_path, data)
    assert any(f"actors.gate.sockets.proposals.bind: port {port} is already used by actors.buffer.metrics_port" in p
               for p in problems), problems


def test_subscriber_connected_to_an_endpoint_nobody_binds(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["correlator"]["sockets"]["windows"] = {"connect": "tcp://127.0.0.1:5999"}
    problems = problems_of(tmp_path, data)
    assert any("actors.correlator.sockets.windows.connect: no actor binds tcp://127.0.0.1:5999" in p for p in problems)


def test_a_requester_or_subscriber_that_binds_where_no_actor_connects_is_rejected(tmp_path: Path) -> None:
    # rev-operator: the gate's permits bound on its own port (a typo for connect) validated and started; the
    # gate could never reach its permit issuer, the state writer never heard its clusterer.
    data = demo()
    data["actors"]["gate"]["sockets"]["permits"] = {"bind": "tcp://127.0.0.1:5558"}
    data["actors"]["state_writer"]["sockets"]["state"] = {"bind": "tcp://127.0.0.1:5559"}
    problems = "\n".join(problems_of(tmp_path, data))
    assert ("actors.gate.sockets.permits.bind: no actor connects to tcp://127.0.0.1:5558; this REQ socket "
            "needs a REP or a ROUTER to connect to it (or connect it to one)") in problems
    assert ("actors.state_writer.sockets.state.bind: no actor connects to tcp://127.0.0.1:5559; this SUB socket "
            "needs a PUB to connect to it (or connect it to one)") in problems


def test_a_requester_that_binds_with_its_server_connecting_to_it_is_valid(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["sockets"]["permits"] = {"bind": "tcp://127.0.0.1:5558"}
    data["actors"]["permit_issuer"]["sockets"]["requests"] = {"connect": "tcp://127.0.0.1:5558"}
    assert problems_of(tmp_path, data) == []


def test_a_topology_file_that_is_not_utf8_is_one_line_and_exit_2_not_a_traceback(tmp_path: Path) -> None:
    # rev-operator: `clustergate validate` on a Latin-1 (or binary) file printed a UnicodeDecodeError traceback, exit 1.
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: d\xe9mo\n".encode("latin-1"))
    done = subprocess.run([sys.executable, "-m", "launcher", "validate", str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{path}: (top level): cannot read topology: not UTF-8 text (byte 0xe9 at offset 7)" in done.stdout + done.stderr


def test_an_absolute_ipc_path_longer_than_a_socket_path_holds_is_rejected_by_validate(tmp_path: Path) -> None:
    # rev-operator: validate said ok, and only `up` refused it ("a socket path holds at most 107").
    data = demo()
    long_path = "/tmp/" + "x" * 120 + "/gate.sock"
    data["actors"]["gate"]["sockets"]["proposals"] = {"bind": f"ipc://{long_path}"}
    problems = "\n".join(problems_of(tmp_path, data))
    assert (f"actors.gate.sockets.proposals.bind: ipc path is {len(long_path)} bytes; a socket path holds at most 107"
            in problems)


def test_requester_connected_to_a_publisher_is_rejected(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["sockets"]["permits"] = {"connect": "tcp://127.0.0.1:5552"}
    problems = "\n".join(problems_of(tmp_path, data))
    assert "actors.gate.sockets.permits.connect: REQ socket connects to tcp://127.0.0.1:5552" in problems
    assert "it needs a REP" in problems


@pytest.mark.parametrize("actor, role, endpoint, bound_by, want", [
    ("state_writer", "state", "tcp://127.0.0.1:5554", "correlator.sockets.matrix", "clusterer.sockets.state"),
    ("clusterer", "matrix", "tcp://127.0.0.1:5552", "buffer.sockets.windows", "correlator.sockets.matrix"),
    ("correlator", "windows", "tcp://127.0.0.1:5555", "clusterer.sockets.state", "buffer.sockets.windows"),
], ids=["state_writer_on_the_matrix", "clusterer_on_the_windows", "correlator_on_the_state"])
def test_a_subscriber_connected_to_another_roles_publisher_is_rejected_naming_the_socket_it_needs(
        tmp_path: Path, actor: str, role: str, endpoint: str, bound_by: str, want: str) -> None:
    # rev-ops: the state writer's connect one port off (the correlator's matrix, 5554, for the clusterer's state,
    # 5555) validated ok, as a SUB on a PUB; `up` then waited 60 s and failed on a state writer never ready,
    # its log saying only bad_state "expected [b'state', JSON]" once a second, the gate on the proxy throughout.
    data = demo()
    data["actors"][actor]["sockets"][role] = {"connect": endpoint}
    problems = "\n".join(problems_of(tmp_path, data))
    want_endpoint = demo()["actors"][want.split(".")[0]]["sockets"][role]["bind"]
    assert (f"actors.{actor}.sockets.{role}.connect: {endpoint} is actors.{bound_by}, which carries "
            f"{bound_by.rpartition('.')[2]} messages; a {actor}'s {role} socket needs actors.{want} "
            f"({want_endpoint})") in problems, problems


def test_validate_exits_2_on_a_state_writer_connected_to_the_correlators_matrix(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["state_writer"]["sockets"]["state"] = {"connect": "tcp://127.0.0.1:5554"}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "launcher", "validate", str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "actors.state_writer.sockets.state.connect: tcp://127.0.0.1:5554 is actors.correlator.sockets.matrix" in (
        done.stdout + done.stderr)


@pytest.mark.parametrize("source", ["synthetic", "redis_snapshots"])
def test_a_price_feed_that_ticks_less_often_than_once_a_cadence_is_refused(tmp_path: Path, source: str) -> None:
    # rev-ops: the demo's feed at interval_s 2.5 with its 1 s cadence validated and came up "ready"; no two
    # consecutive grid slots ever held a price, so no symbol had a return, the correlator failed closed
    # (too_few_symbols) for good and the gate took K from the proxy for ever.
    data = demo()
    data["actors"]["price_feed"]["settings"].update({"source": source, "interval_s": 2.5})
    if source != "synthetic":
        del data["actors"]["price_feed"]["settings"]["synthetic"]  # the demo's, which only a synthetic feed reads
    problems = "\n".join(problems_of(tmp_path, data))
    assert ("actors.price_feed.settings.interval_s: 2.5 s is longer than clusters.cadence_s (1 s): the buffer's grid "
            "holds one price per cadence and a return needs two consecutive ones") in problems, problems
    data["actors"]["price_feed"]["settings"]["interval_s"] = 1.0  # once a cadence: every slot gets its price
    assert problems_of(tmp_path, data) == []



def test_a_feed_slower_than_the_cadence_in_a_topology_with_no_buffer_is_not_refused(tmp_path: Path) -> None:
    # rev2: the P2.6 side alone (a gate, its issuer, a feed and a book keeping the snapshots fresh) samples no grid:
    # its feed at 2.5 s was refused for the 1 s cadence of a buffer it does not have.
    data = demo()
    for name in ("buffer", "correlator", "clusterer", "state_writer"):
        del data["actors"][name]
    data["actors"]["price_feed"]["settings"]["interval_s"] = 2.5
    assert problems_of(tmp_path, data) == []

def test_a_replay_feed_is_not_judged_by_its_unused_interval(tmp_path: Path) -> None:
    data = demo()
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT,SOLUSDT\n1,1,2,3\n2,1,2,3\n")
    data["actors"]["price_feed"]["settings"] = {"source": "replay", "interval_s": 5, "replay": {"path": "prices.csv"}}
    assert problems_of(tmp_path, data) == []


@pytest.mark.parametrize("raw, path, hint", [
    ("cadence_s: 6e1", "clusters.cadence_s: expected a number, got str '6e1'", "write 6.0e+1"),
    ("corr_threshold: 7E-1", "clusters.corr_threshold: expected a number, got str '7E-1'", "write 7.0e-1"),
    ("lookback_returns: 3.6e2", "clusters.lookback_returns: expected an integer, got str '3.6e2'", "write 360"),
])
def test_a_number_in_exponent_form_that_yaml_reads_as_text_is_named_with_the_form_it_reads(
        tmp_path: Path, raw: str, path: str, hint: str) -> None:
    # rev-ops: `lookback_returns: 3.6e2` was refused as "expected an integer, got str '3.6e2'": PyYAML (YAML 1.1)
    # reads an exponent without a dot in the mantissa and a sign in the exponent as text, which nothing said.
    key = raw.split(":")[0]
    text = yaml.safe_dump(demo(), sort_keys=False)
    text = "\n".join(f"  {raw}" if line.strip().startswith(f"{key}:") else line for line in text.splitlines())
    problems = "\n".join(problems_of(tmp_path, None, raw=text))
    assert f"{path} (YAML reads {raw.split(': ')[1]} as text: {hint})" in problems, problems


@pytest.mark.parametrize("lookback", ["3.6e2", "many", 5])
def test_a_lookback_returns_already_refused_is_not_blamed_again_on_min_returns(tmp_path: Path, lookback) -> None:
    # docs review: `lookback_returns: 3.6e2` (text to YAML) was read as 0, and validate added "clusters.min_returns: must
    # not exceed lookback_returns" for the demo's min_returns of 10, a second problem the operator never wrote.
    data = demo()
    data["clusters"]["lookback_returns"] = lookback
    problems = problems_of(tmp_path, data)
    assert [p for p in problems if "clusters." in p] == [p for p in problems if "clusters.lookback_returns" in p], problems
    assert len(problems) == 1, problems


def test_a_min_returns_above_a_valid_lookback_returns_is_refused(tmp_path: Path) -> None:
    data = demo()
    data["clusters"]["min_returns"] = 400
    assert [p.split(": ", 1)[1] for p in problems_of(tmp_path, data)] == ["clusters.min_returns: must not exceed lookback_returns"]


def test_required_actor_missing(tmp_path: Path) -> None:
    data = demo()
    del data["actors"]["permit_issuer"]
    problems = "\n".join(problems_of(tmp_path, data))
    assert "required actor missing: actors.gate (gate) needs a permit_issuer" in problems


def test_unknown_actor_kind_and_socket_role(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["kind"] = "gaet"
    data["actors"]["buffer"]["sockets"]["tiks"] = data["actors"]["buffer"]["sockets"].pop("ticks")
    problems = "\n".join(problems_of(tmp_path, data))
    assert "actors.gate.kind: unknown actor kind 'gaet' (did you mean 'gate'?)" in problems
    assert "actors.buffer.sockets.tiks: unknown socket role for a buffer (did you mean 'ticks'?)" in problems
    assert "actors.buffer.sockets.ticks: required socket role of a buffer is missing" in problems


def test_duplicate_yaml_key_is_an_error_not_an_override(tmp_path: Path) -> None:
    raw = (REPO / "configs" / "demo.yaml").read_text().replace("  cadence_s: 1\n", "  cadence_s: 1\n  cadence_s: 2\n")
    problems = problems_of(tmp_path, None, raw)
    assert any("clusters.cadence_s: duplicate key" in p for p in problems)



def test_a_key_given_beside_a_yaml_merge_overrides_the_merged_one_and_only_its_own_keys_can_be_duplicates(
        tmp_path: Path) -> None:
    """opday: a second actor sharing the first's settings through an anchor and overriding one
    (`settings: {<<: *book, refresh_s: 2}`, YAML's merge, where the mapping's own keys win) was refused
    `actors.book_b.settings.refresh_s: duplicate key`: the merged keys were taken for keys written twice."""
    demo_text = (REPO / "configs" / "demo.yaml").read_text()
    book = "  book:\n    metrics_port: 9182\n    sockets:\n      ticks: {connect: \"tcp://127.0.0.1:5551\"}\n    settings:\n"
    assert demo_text.count(book) == 1

    def with_book_b(overrides: str) -> str:
        book_b = ("  book_b:\n    kind: book\n    metrics_port: 9189\n    sockets:\n      ticks: {connect: \"tcp://127.0.0.1:5551\"}\n"
                  f"    settings:\n      <<: *book\n{overrides}")
        return demo_text.replace(book, book.replace("settings:\n", "settings: &book\n")).replace(
            "  buffer:\n", book_b + "  buffer:\n", 1)

    assert problems_of(tmp_path, None, with_book_b("      refresh_s: 2\n")) == []
    topo = load_topology(tmp_path / "topology.yaml")
    assert (topo.actors["book_b"].settings.refresh_s, topo.actors["book"].settings.refresh_s) == (2, 1)
    assert topo.actors["book_b"].settings.positions == topo.actors["book"].settings.positions
    twice = problems_of(tmp_path, None, with_book_b("      refresh_s: 2\n      refresh_s: 3\n"))
    assert len(twice) == 1 and "actors.book_b.settings.refresh_s: duplicate key" in twice[0], twice


@pytest.mark.parametrize("book_b_settings", [
    "*book",  # the whole mapping again, by a plain alias
    "{<<: *book}",  # merged into another mapping
    "{<<: [*book, {refresh_s: 5}]}",  # in a list of merges
])
def test_a_mapping_with_a_yaml_merge_and_an_override_can_be_used_again_through_its_anchor(
        tmp_path: Path, book_b_settings: str) -> None:
    """opday2: the loader takes a mapping's merged keys apart from its own by the merge key, which PyYAML's
    flatten_mapping removes from the node in place: built a second time through its anchor, the mapping's merged
    `refresh_s` read as its own and the override was refused `actors.book_b.settings.refresh_s: duplicate key`."""
    demo_text = (REPO / "configs" / "demo.yaml").read_text()
    settings = "    settings:\n      positions: {BTCUSDT: 0.5, ETHUSDT: 8.0, SOLUSDT: -40.0}\n      refresh_s: 1\n"
    assert demo_text.count(settings) == 1
    shared = ("    settings: &book\n      <<: {positions: {BTCUSDT: 0.5, ETHUSDT: 8.0, SOLUSDT: -40.0}, refresh_s: 1}\n"
              "      refresh_s: 2\n")
    book_b = ("  book_b:\n    kind: book\n    metrics_port: 9189\n    sockets:\n      ticks: {connect: \"tcp://127.0.0.1:5551\"}\n"
              f"    settings: {book_b_settings}\n")
    raw = demo_text.replace(settings, shared + book_b)
    assert problems_of(tmp_path, None, raw) == []
    topo = load_topology(tmp_path / "topology.yaml")
    assert (topo.actors["book"].settings.refresh_s, topo.actors["book_b"].settings.refresh_s) == (2, 2)
    assert topo.actors["book_b"].settings.positions == topo.actors["book"].settings.positions


def test_in_a_list_of_merges_the_earlier_mapping_wins_for_validate_and_for_the_actors(tmp_path: Path) -> None:
    """opday2: YAML's merge rule gives a key of `<<: [*book, {refresh_s: 5}]` the earlier mapping's value; PyYAML's
    loader gives the later one's for a key of several characters (the earlier for `x`: it tells keys apart by the
    identity of their string), and the running copy `up` writes for the actors was made with it."""
    from launcher.supervise import Home, topology_copy

    demo_text = (REPO / "configs" / "demo.yaml").read_text()
    settings = "    settings:\n      positions: {BTCUSDT: 0.5, ETHUSDT: 8.0, SOLUSDT: -40.0}\n      refresh_s: 1\n"
    assert demo_text.count(settings) == 1
    book_b = ("  book_b:\n    kind: book\n    metrics_port: 9189\n    sockets:\n      ticks: {connect: \"tcp://127.0.0.1:5551\"}\n"
              "    settings: {<<: [*book, {refresh_s: 5}]}\n")
    raw = demo_text.replace(settings, settings.replace("settings:", "settings: &book") + book_b)
    assert problems_of(tmp_path, None, raw) == []
    topo = load_topology(tmp_path / "topology.yaml")
    assert topo.actors["book_b"].settings.refresh_s == 1
    copy = yaml.safe_load(topology_copy(topo, Home(tmp_path / "home")))
    assert copy["actors"]["book_b"]["settings"]["refresh_s"] == 1
    assert copy["actors"]["book_b"]["settings"]["positions"] == {"BTCUSDT": 0.5, "ETHUSDT": 8.0, "SOLUSDT": -40.0}


@pytest.mark.parametrize("refresh_s, stale_after_s", [(300, 300), (600, 300), (30, 20), (299, 300), (1.6, 2), (0.5, 1)])
def test_a_book_that_rewrites_its_snapshots_no_sooner_than_they_go_stale_is_refused(tmp_path: Path, refresh_s: float,
                                                                                   stale_after_s: float) -> None:
    """The book keeps the position snapshots fresh (README); one whose refresh_s is not below positions.stale_after_s
    leaves every snapshot stale between its writes, every decision then HOLD fail_closed_portfolio_state. It
    validated (refresh_s 600 beside SPEC's 300 s): docstruth review. A snapshot's ts_epoch is in whole seconds
    (SPEC), so it reads up to 1 s older than its write: refresh_s 1.6 beside stale_after_s 2 validated and 6 of 40
    decisions of a running demo were HOLD fail_closed_portfolio_state (revdocs43)."""
    data = demo()
    data["actors"]["book"]["settings"]["refresh_s"] = refresh_s
    data["positions"]["stale_after_s"] = stale_after_s
    assert [p.split(": ", 1)[1] for p in problems_of(tmp_path, data)] == [
        f"actors.book.settings.refresh_s: {refresh_s:g} s is not below positions.stale_after_s ({stale_after_s:g} s) "
        f"less 1 s (a snapshot's ts_epoch is in whole seconds: it reads up to 1 s older than its write): the book's "
        f"snapshots would go stale between its writes (with no other fresh snapshot, every decision meanwhile HOLD "
        f"fail_closed_portfolio_state)"]
    if stale_after_s > 1.05:  # the book's least refresh_s, 0.05, plus the whole second
        data["actors"]["book"]["settings"]["refresh_s"] = max(0.05, stale_after_s - 1.05)
        assert problems_of(tmp_path, data) == []


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, None, "name: demo\nactors: [unclosed\n")
    assert len(problems) == 1 and "not valid YAML" in problems[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.20.30.40", "::", "example.com"])
def test_metrics_beyond_loopback_are_rejected_whatever_the_address(tmp_path: Path, host: str) -> None:
    """Without hosts:, an actor's metrics host must be loopback: the wildcard is not the only address beyond it."""
    data = demo()
    data["actors"]["gate"]["host"] = host
    problems = "\n".join(problems_of(tmp_path, data))
    assert f"actors.gate.host: metrics would listen on {host}, beyond loopback" in problems, problems


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.5", "::1"])
def test_metrics_on_a_loopback_address_are_accepted(tmp_path: Path, host: str) -> None:
    data = demo()
    data["actors"]["gate"]["host"] = host
    assert not any("actors.gate.host" in p for p in problems_of(tmp_path, data))


def test_endpoint_beyond_loopback_is_rejected(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["gate"]["sockets"]["proposals"] = {"bind": "tcp://0.0.0.0:5556"}
    problems = "\n".join(problems_of(tmp_path, data))
    assert "actors.gate.sockets.proposals.bind: tcp://0.0.0.0:5556 exposes the socket beyond loopback" in problems


EXTERNAL_SENTINELS = {"sentinel": {"sentinels": ["127.0.0.1:26390", "127.0.0.1:26391", "127.0.0.1:26392"]}}


@pytest.mark.parametrize("external", [{"url": "redis://127.0.0.1:6380/0"}, EXTERNAL_SENTINELS], ids=["url", "sentinels"])
@pytest.mark.parametrize("key, value", [("port", 6381), ("maxmemory_mb", 256)])
def test_an_external_redis_refuses_the_settings_of_the_server_the_launcher_runs(tmp_path: Path, external: dict,
                                                                               key: str, value: int) -> None:
    """`port` and `maxmemory_mb` configure the redis-server `up` runs (redis.managed: true); beside a url or external
    sentinels they set nothing (operating.md: an external Redis keeps its own settings), and a `maxmemory_mb: 256` or
    `port: 6381` there validated in silence, read by an operator as the limit or the server in use: docstruth review."""
    data = demo()
    data["redis"] = {**external, key: value}
    assert [p.split(": ", 1)[1] for p in problems_of(tmp_path, data)] == [
        f"redis.{key}: is for the redis-server the launcher runs (redis.managed: true); an external Redis keeps its own: "
        f"remove it"], problems_of(tmp_path, data)
    data["redis"] = {"managed": True, key: value}
    assert problems_of(tmp_path, data) == []


def test_password_in_redis_url_is_rejected(tmp_path: Path) -> None:
    data = demo()
    data["redis"] = {"url": "redis://:secret@127.0.0.1:6379/0"}
    problems = "\n".join(problems_of(tmp_path, data))
    assert "redis.url: contains a password" in problems
    assert "secret" not in problems


@pytest.mark.parametrize("url", [["redis://:secret@127.0.0.1:6390/0"], {"primary": "redis://desk:secret@h:6390"}],
                         ids=["list", "mapping"])
def test_a_redis_url_of_the_wrong_type_is_refused_without_echoing_its_password(tmp_path: Path, url) -> None:
    """secrev: a url written as a list or a mapping was refused by its type with the value repr'd whole, password
    and all ("expected a string, got list ['redis://:secret@...']"), to the terminal and any log of it."""
    data = demo()
    data["redis"] = {"url": url}
    problems = "\n".join(problems_of(tmp_path, data))
    assert "redis.url: expected a string" in problems and "***@" in problems, problems
    assert "secret" not in problems, problems


def test_validate_command_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    data = demo()
    data["clusters"]["cadense_s"] = 1
    data["actors"]["gate"]["metrics_port"] = "x"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "launcher", "validate", str(path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(str(path) + ":") for line in lines)
    ok = subprocess.run([sys.executable, "-m", "launcher", "validate", str(REPO / "configs" / "demo.yaml")],
                        capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_shipped_schema_file_matches_the_schema_command() -> None:
    result = subprocess.run([sys.executable, "-m", "launcher", "schema"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((REPO / "configs" / "topology.schema.json").read_text())
    for config in ("demo.yaml", "production.yaml"):
        assert "$schema=./topology.schema.json" in (REPO / "configs" / config).read_text()


def test_json_schema_rejects_unknown_keys_and_knows_every_kind() -> None:
    schema = topology_json_schema()
    assert schema["additionalProperties"] is False
    kinds = schema["$defs"]["ActorSpec"]["properties"]["kind"]["enum"]
    assert set(kinds) >= {"price_feed", "buffer", "correlator", "clusterer", "state_writer", "gate", "permit_issuer"}


@pytest.mark.parametrize("name", ["--help", "-x", "gate\u00e9", "9lives"])
def test_an_actor_name_the_launcher_cannot_render_is_refused(tmp_path: Path, name: str) -> None:
    data = demo()
    data["actors"][name] = {**data["actors"].pop("book"), "kind": "book"}
    problems = problems_of(tmp_path, data)
    assert any(p.startswith(f"t.yaml:") and f"actor name {name!r}" in p and "start with a letter" in p
               for p in problems), problems


@pytest.mark.parametrize("name", ["redis", "prometheus"])
def test_an_actor_named_like_a_program_the_launcher_runs_itself_is_refused(tmp_path: Path, name: str) -> None:
    """redis is the managed redis-server's program, prometheus the monitor's (`clustergate monitor up`
    used to stop an actor of that name and run Prometheus in its place)."""
    data = demo()
    data["actors"][name] = {**data["actors"].pop("book"), "kind": "book"}
    problems = problems_of(tmp_path, data)
    assert any(f"actor name {name!r} is reserved" in p for p in problems), problems


def test_an_ipv6_endpoint_without_brackets_is_refused_naming_the_bracketed_form(tmp_path: Path) -> None:
    data = demo()
    data["actors"]["price_feed"]["sockets"]["ticks"]["bind"] = "tcp://::1:5551"
    problems = problems_of(tmp_path, data)
    assert any("actors.price_feed.sockets.ticks.bind: write an IPv6 address in brackets, e.g. tcp://[::1]:5551" in p
               for p in problems), problems


def test_a_topology_too_large_to_read_is_named_so_not_as_empty_invalid_yaml(tmp_path, monkeypatch) -> None:
    # A MemoryError's message is empty: validate printed "not valid YAML: " and nothing after it.
    import launcher.topology as topology_module

    def out_of_memory(text: str):
        raise MemoryError()
    monkeypatch.setattr(topology_module, "load_yaml_with_lines", out_of_memory)
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n")
    with pytest.raises(SchemaError) as caught:
        topology_module.load_topology(path)
    assert [p.message for p in caught.value.problems] == [
        "YAML too large to read: out of memory reading 8 characters (a topology is a few KB)"]


def test_a_symbol_with_a_letter_that_is_not_ascii_is_refused_naming_the_symbol_and_the_letter(tmp_path: Path) -> None:
    # "BTCUSDТ" with a Cyrillic Т (U+0422) looks like BTCUSDT and passed validate: no feed ever prices it, and
    # the gate would hold every plan for it without a snapshot.
    data = demo()
    data["symbols"][0] = "BTCUSD\u0422"
    assert ("t.yaml:3: symbols[0]: symbol 'BTCUSDТ' holds 'Т' (U+0422), not ASCII: write it in ASCII upper-case "
            "letters and digits, e.g. BTCUSDT") in problems_of(tmp_path, data)


def test_a_topology_name_with_a_letter_that_is_not_ascii_is_refused(tmp_path: Path) -> None:
    # "dеmo" with a Cyrillic е passed: it names the system in status, Redis keys and the refusal of `up` to replace it.
    data = demo()
    data["name"] = "d\u0435mo"
    assert ("t.yaml:1: name: name 'dеmo' must be 1 to 64 ASCII letters, digits, - or _") in problems_of(tmp_path, data)


def _gate_heat_band_closed(data: dict) -> None:
    data["actors"]["gate"].setdefault("settings", {}).update(heat_floor=0.2, heat_ceiling=0.2)


def _book_holds_an_unlisted_symbol(data: dict) -> None:
    data["actors"]["book"]["settings"]["positions"]["DOGEUSDT"] = 1000.0


def _feed_pair_correlation_one(data: dict) -> None:
    data["actors"]["price_feed"]["settings"]["synthetic"]["correlation"]["BTCUSDT/ETHUSDT"] = 1.0


def _feed_volatility_zero(data: dict) -> None:
    data["actors"]["price_feed"]["settings"]["synthetic"]["volatility"]["BTCUSDT"] = 0


def _tick_jump_for_an_unlisted_symbol(data: dict) -> None:
    data["clusters"]["max_tick_jump_by_symbol"] = {"DOGEUSDT": 0.5}


def _tick_jump_over_100(data: dict) -> None:
    data["clusters"]["max_tick_jump_by_symbol"] = {"BTCUSDT": 150}


def _allowlist_empty(data: dict) -> None:
    data["symbols"] = []


@pytest.mark.parametrize("breaks, problem", [
    # heat = (sum w sigma - floor) / (ceiling - floor): an empty band divides by zero on every proposal.
    (_gate_heat_band_closed, "actors.gate.settings.heat_ceiling: must be greater than heat_floor"),
    # A position the gate never decides on and the P2.7 side never prices.
    (_book_holds_an_unlisted_symbol, "actors.book.settings.positions.DOGEUSDT: DOGEUSDT is not in symbols"),
    (_feed_pair_correlation_one, "actors.price_feed.settings.synthetic.correlation.BTCUSDT/ETHUSDT: "
                                 "must be in (-1, 1), got 1.0"),
    (_feed_volatility_zero, "actors.price_feed.settings.synthetic.volatility.BTCUSDT: must be > 0, got 0.0"),
    (_tick_jump_for_an_unlisted_symbol, "clusters.max_tick_jump_by_symbol.DOGEUSDT: 'DOGEUSDT' is not in symbols"),
    (_tick_jump_over_100, "clusters.max_tick_jump_by_symbol.BTCUSDT: must be a number in (0, 100], got 150.0"),
    # Every proposal would be HOLD not_allowed.
    (_allowlist_empty, "symbols: the allowlist is empty"),
], ids=lambda x: x.__name__[1:] if callable(x) else "problem")
def test_a_setting_the_system_cannot_run_with_is_refused_naming_it(tmp_path: Path, breaks, problem: str) -> None:
    """Each of these was checked by validate and by no test: a topology with the check gone loaded clean."""
    data = demo()
    breaks(data)
    problems = problems_of(tmp_path, data)
    assert any(p.split(": ", 1)[1] == problem for p in problems), problems


def test_max_price_age_defaults_to_five_cadences(tmp_path: Path) -> None:
    """The setting's documented default: a shorter one makes the correlator not ready (the gate on the proxy)
    whenever a feed pauses a few cadences."""
    data = demo()
    data["clusters"]["cadence_s"] = 2
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_topology(path).max_price_age_s == 10.0
    data["clusters"]["max_price_age_s"] = 7
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_topology(path).max_price_age_s == 7


def _one_symbol(data: dict) -> dict:
    data["symbols"] = ["BTCUSDT"]
    synthetic = data["actors"]["price_feed"]["settings"]["synthetic"]
    for key in ("start_prices", "volatility"):
        synthetic[key] = {"BTCUSDT": synthetic[key]["BTCUSDT"]}
    synthetic.pop("correlation", None)
    data["actors"]["book"]["settings"]["positions"] = {"BTCUSDT": 0.5}
    return data


def test_a_cluster_side_with_one_symbol_is_refused_as_it_could_never_be_ready(tmp_path: Path) -> None:
    """One symbol and a correlator: validate said ok, `up` started every actor ready, and the correlator stayed not
    ready forever (a matrix needs 2 symbols), so no cluster state was ever written and the gate took K from the proxy
    on every decision while status called the symbol ready. A gate with no cluster side may price one symbol."""
    problems = problems_of(tmp_path, _one_symbol(demo()))
    assert any(p.split(": ", 1)[1].startswith("symbols: 1 symbol, but the correlator") for p in problems), problems
    gate_only = _one_symbol(demo())
    for name in ("price_feed", "book", "buffer", "correlator", "clusterer", "state_writer"):
        del gate_only["actors"][name]
    assert problems_of(tmp_path, gate_only) == []


@pytest.mark.parametrize("pattern, clash", [
    # revops: the state writer SCANs quantum:portfolio:cluster_state:* for cluster ids it no longer has and deleted
    # every snapshot each update (the gate failed closed); the permit issuer SETs cooldowns over a snapshot hash.
    ("quantum:portfolio:cluster_state:{symbol}", "quantum:portfolio:cluster_state:"),
    ("quantum:p26:cooldown:{symbol}", "quantum:p26:cooldown:"),
    ("quantum:permit:p26:{symbol}", "quantum:permit:p26:"),
    ("clustergate:positions:{symbol}", "clustergate:"),
])
def test_a_snapshot_key_pattern_inside_keys_clustergate_writes_is_refused_naming_them(tmp_path: Path, pattern: str,
                                                                                      clash: str) -> None:
    data = demo_topology_data()
    data["positions"] = {"key_pattern": pattern}
    problems = problems_of(tmp_path, data)
    assert any("positions.key_pattern: " in p and f"({clash}*)" in p for p in problems), problems


@pytest.mark.parametrize("pattern", ["quantum:state:positions:{symbol}", "quantum:portfolio:positions:{symbol}",
                                     "{symbol}", "quantum:portfolio:cluster_state{symbol}"])
def test_a_snapshot_key_pattern_beside_clustergates_keys_is_valid(tmp_path: Path, pattern: str) -> None:
    data = demo_topology_data()
    data["positions"] = {"key_pattern": pattern}
    assert problems_of(tmp_path, data) == []


@pytest.mark.parametrize("setting, value", [("permit_ttl_s", 5), ("cooldown_ttl_s", 5), ("decision_ttl_s", 600),
                                            ("hold_decision_ttl_s", 60), ("permitted_plan_ttl_s", 2 * 86400)])
def test_permit_issuers_that_disagree_on_a_ttl_of_the_keys_they_share_are_refused(tmp_path: Path, setting: str,
                                                                                   value: int) -> None:
    """Every permit issuer of a topology writes the same Redis keys and gate stream. One with permit_ttl_s and
    cooldown_ttl_s 5 (the other's 60) trimmed the stream's records older than 5 s: with a real gate pair, a permit
    of the other issuer with 53.9 s left had no decision record (idempotency review). Validated, it was accepted."""
    data = with_second_gate_pair(demo())
    data["actors"]["permit_issuer_b"]["settings"] = {setting: value}
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1, problems
    assert f"actors.permit_issuer_b.settings.{setting}" in problems[0] and "actors.permit_issuer's" in problems[0], problems
    data["actors"]["permit_issuer"]["settings"] = {setting: value}
    assert problems_of(tmp_path, data) == []


@pytest.mark.parametrize("redis, first, second", [
    ({"url": "redis://10.0.0.5:6390/0"}, {"wait_replicas": 1}, {}),  # an external Redis: no WAIT unless given
    ({"url": "redis://10.0.0.5:6390/0"}, {"wait_replicas": 1}, {"wait_replicas": 2}),
    ({"sentinel": {"master": "m", "sentinels": ["10.0.0.5:26379", "10.0.0.6:26379", "10.0.0.7:26379"]}}, {},
     {"wait_replicas": 0}),  # under Sentinel 1 by default, 0 given to one issuer
])
def test_permit_issuers_that_wait_for_different_numbers_of_replicas_are_refused(tmp_path: Path, redis: dict,
                                                                               first: dict, second: dict) -> None:
    """A plan_id's decision is replayed by whichever issuer its retry reaches. With real processes (harev review):
    permit_issuer WAITing for 1 replica, permit_issuer_b for 0, the replica's host lost: gate answered a PARTIAL_50
    HOLD replica_unacknowledged (outcome unknown), the client retried the same plan_id on gate_b (client rule 7),
    which answered it recorded: true with its permit, on a primary with 0 connected replicas; asked again, gate still
    said recorded: false. Validated, the topology was accepted."""
    data = with_second_gate_pair(demo())
    data["redis"] = redis
    data["actors"]["permit_issuer"]["settings"] = first
    data["actors"]["permit_issuer_b"]["settings"] = second
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1, problems
    assert "actors.permit_issuer_b.settings.wait_replicas" in problems[0] and "actors.permit_issuer's" in problems[0], \
        problems
    data["actors"]["permit_issuer_b"]["settings"] = first
    assert problems_of(tmp_path, data) == []


def test_a_permit_issuers_ttl_refused_for_its_range_is_not_also_named_as_differing(tmp_path: Path) -> None:
    data = with_second_gate_pair(demo())
    data["actors"]["permit_issuer_b"]["settings"] = {"permit_ttl_s": 120}
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1 and "permit_ttl_s" in problems[0] and "differs" not in problems[0], problems


@pytest.mark.parametrize("settings, refused", [
    ({"decision_ttl_s": 86400, "permitted_plan_ttl_s": 86399}, True),
    ({"decision_ttl_s": 7200, "permitted_plan_ttl_s": 3600}, True),
    ({"decision_ttl_s": 30 * 86400}, False),  # the marker's default equals the decision's largest TTL
    ({"decision_ttl_s": 3600, "permitted_plan_ttl_s": 3600}, False),
    ({}, False),
])
def test_a_permitted_plan_marker_shorter_than_the_decision_it_outlives_is_refused(tmp_path: Path, settings: dict,
                                                                                  refused: bool) -> None:
    """The marker that a plan_id got a permit refuses the plan_id once its decision expired: shorter than
    decision_ttl_s, it would be gone by then and the plan_id decided again, with a second permit."""
    data = demo()
    data["actors"]["permit_issuer"]["settings"] = settings
    problems = problems_of(tmp_path, data)
    if refused:
        assert len(problems) == 1, problems
        assert ("actors.permit_issuer.settings.permitted_plan_ttl_s" in problems[0]
                and "shorter than decision_ttl_s" in problems[0] and "second permit" in problems[0]), problems
    else:
        assert problems == [], problems


@pytest.mark.parametrize("value", [59, 366 * 86400 + 1, "30d"])
def test_a_permitted_plan_ttl_out_of_its_bounds_is_refused_naming_it(tmp_path: Path, value) -> None:
    data = demo()
    data["actors"]["permit_issuer"]["settings"] = {"permitted_plan_ttl_s": value, "decision_ttl_s": 60}
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1 and "permitted_plan_ttl_s" in problems[0], problems
