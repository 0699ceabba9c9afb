"""The docs stay true: every command block marked runnable (a fence opened with ```sh runnable) runs
against a live demo, and every link between the pages points at a page (and heading) that exists.
Every fence names its language from a known set, so a command block is either `sh` (shown, not run) or
`sh runnable`, and a misspelt or indented marker fails here instead of silently skipping its block.

The demo is the demo topology on free ports in a temp home; each block runs in bash (-e, pipefail)
from the repository root with CLUSTERGATE_HOME naming that home, as an operator's shell would, and
must exit 0. `.venv/bin/` in a block is the environment running these tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO
from launcher.own_code import own_env
from reliability import LiveSystem

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Proofs last: the fallback proof stops and restarts the cluster side.
ORDER = ["README.md", "operating.md", "topology.md", "proposal-api.md", "monitoring.md", "faults-and-security.md",
         "benchmarks.md", "proofs.md"]
FENCE = re.compile(r"^```(\S*)(.*)$")


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each fenced block whose info string carries the word runnable."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = FENCE.match(line)
        if current is None and match and "runnable" in match.group(2).split():
            current, start = [], number
        elif current is not None and line.startswith("```"):
            blocks.append((start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def all_blocks() -> list[tuple[str, int, str]]:
    rank = {name: i for i, name in enumerate(ORDER)}
    pages = sorted(PAGES, key=lambda p: rank.get(p.name, len(ORDER) - 1.5))  # other pages before the proofs
    return [(page.name, line, text) for page in pages for line, text in runnable_blocks(page)]


BLOCKS = all_blocks()


def on_every_page(check) -> list[str]:
    """What check(page) finds wrong on each page of the docs, every page's in turn."""
    return [problem for page in PAGES for problem in check(page)]


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory):
    system = LiveSystem(tmp_path_factory.mktemp("docs"))
    try:
        yield system.up()
    finally:
        system.down()


def run_block(text: str, home: Path) -> subprocess.CompletedProcess:
    """A block as an operator's shell in this checkout would run it. `.venv/bin/clustergate` is the editable
    install of the checkout that made the venv: this checkout goes first on PYTHONPATH, so that in a worktree
    sharing that venv (docs/developing.md), or in the mutation runner's copy, the blocks run this code."""
    script = text.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=180, env=own_env({**os.environ, "CLUSTERGATE_HOME": str(home)}))


@pytest.mark.parametrize("page,line,text", BLOCKS, ids=[f"{page}:{line}" for page, line, _ in BLOCKS])
def test_every_runnable_command_block_in_the_docs_succeeds_on_a_live_demo(live_demo, page, line, text):
    result = run_block(text, live_demo.home)
    assert result.returncode == 0, f"{page}:{line} exited {result.returncode}\n{text}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


# Families every Python process exports (prometheus_client's process and interpreter collectors).
GENERIC_METRIC_PREFIXES = ("process_", "python_")


def exported_metric_names(exposition: str) -> set[str]:
    """The metric names a /metrics page declares (`# TYPE` lines), as a query names them: a counter with its
    `_total` (prometheus_client's TYPE line names a counter with or without it, by version); prometheus_client's `_created` series and the process and interpreter families left out."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()[:4]
            if family.startswith(GENERIC_METRIC_PREFIXES) or family.endswith("_created"):
                continue
            names.add(f"{family.removesuffix('_total')}_total" if kind == "counter" else family)
    return names


def test_every_metric_an_actor_of_the_live_demo_exports_is_named_in_the_docs(live_demo):
    """An operator finds each series an actor exports in README.md or docs/ (12 series of five actors, and every
    actor's handler errors, were named nowhere)."""
    import urllib.request

    exported: dict[str, set[str]] = {}
    for actor, spec in live_demo.data["actors"].items():
        with urllib.request.urlopen(f"http://127.0.0.1:{spec['metrics_port']}/metrics", timeout=10) as response:
            for name in exported_metric_names(response.read().decode()):
                exported.setdefault(name, set()).add(actor)
    text = "\n".join(page.read_text() for page in PAGES)
    assert "p26_plans_seen_total" in exported and "clustergate_actor_ready" in exported, sorted(exported)
    missing = {name: sorted(actors) for name, actors in exported.items()
               if not re.search(rf"\b{re.escape(name)}\b", text)}
    assert not missing, missing


def test_the_exported_metric_names_are_read_as_a_query_names_them():
    exposition = ("# HELP a_total x\n# TYPE a counter\na_total 1.0\n# TYPE a_created gauge\na_created 1.7e9\n"
                  "# TYPE d_total counter\nd_total 0\n# TYPE b_seconds histogram\nb_seconds_bucket{le=\"1\"} 0\n# TYPE c gauge\nc 0\n"
                  "# TYPE process_cpu_seconds counter\n# TYPE python_info gauge\n")
    assert exported_metric_names(exposition) == {"a_total", "b_seconds", "c", "d_total"}


def test_a_block_runs_this_checkouts_clustergate_even_where_the_venv_was_made_by_another(tmp_path):
    """`.venv/bin/clustergate` puts its own directory, not the working directory, first on sys.path, as -P does."""
    result = run_block('.venv/bin/python -P -c "import launcher; print(launcher.__file__)"\n', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(REPO / "launcher" / "__init__.py"), result.stdout


def test_the_docs_mark_a_moderate_number_of_blocks_runnable_on_several_pages():
    assert 5 <= len(BLOCKS) <= 20, [f"{page}:{line}" for page, line, _ in BLOCKS]
    assert len({page for page, _, _ in BLOCKS}) >= 4


def clustergate_parsers() -> dict:
    """Each `clustergate` command -> its argparse parser (proof and backtest from their own modules, which the
    launcher runs as processes)."""
    import argparse
    import launcher.backtest
    import proofs.cli
    from launcher.cli import build_parser
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    return {**commands, "proof": proofs.cli.build_parser(), "backtest": launcher.backtest.build_parser()}


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _subcommands(parser) -> dict:
    import argparse
    return next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def command_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every inline code span and every line of a fenced block: where the docs write a command."""
    found, inside = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            inside = not inside
        elif inside:
            found.append((number, line))
        else:
            found += [(number, span) for _, span in re.findall(r"(`+)(.+?)\1", line)]
    return found


def command_option_problems(path: Path, parsers: dict) -> list[str]:
    """`clustergate COMMAND [SUBCOMMAND] ... --option` written in the docs with a command or an option the program
    does not have. The command's words end at a shell separator (`|`, `;`, `&&`, `#`, `>`); `up|down|status` reads
    as any of them."""
    problems = []
    for number, text in command_texts(path):
        for match in re.finditer(r"clustergate\s+([a-z][a-z-]*)([^|;&#>`]*)", text):
            command, words = match.group(1), match.group(2).split()
            where = f"{shown(path)}:{number}: clustergate {command}"
            if command not in parsers:
                problems.append(f"{where}: no such command")
                continue
            chosen = [parsers[command]]
            subcommands = _subcommands(parsers[command])
            if subcommands and words and all(w in subcommands for w in words[0].split("|")):
                chosen = [subcommands[w] for w in words[0].split("|")]
            known = set().union(*(_options(p) for p in chosen))
            for option in (m.group(1) for w in words for m in [re.match(r"\[?(--[a-z][a-z0-9-]*)", w)] if m):
                if option not in known:
                    problems.append(f"{where}: no option {option}")
    return problems


def test_every_clustergate_command_and_option_the_docs_write_exists():
    parsers = clustergate_parsers()
    assert on_every_page(lambda page: command_option_problems(page, parsers)) == []


def test_the_command_check_sees_a_misspelt_option_and_command(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Run `clustergate proof readiness --warmup-timeout 5` or `clustergate statu`.\n"
                    "```sh\n.venv/bin/clustergate monitor up|status --home H   # --nothing in a comment\n"
                    "clustergate positions list --json | grep --count x\nclustergate up FILE --hots market\n```\n")
    found = command_option_problems(page, clustergate_parsers())
    assert found == ["page.md:1: clustergate proof: no option --warmup-timeout", "page.md:1: clustergate statu: no such command",
                     "page.md:5: clustergate up: no option --hots"], found


# Paths the docs name that are not in the repository by design: what a documented command writes (benchmark results,
# keys an operator generates) and the example file of an error message.
WRITTEN_OR_EXAMPLE_PATHS = ("bench/results/", "configs/keys", "configs/multihost-keys", "configs/x.yaml")


def missing_repository_paths(path: Path, root: Path = REPO) -> list[str]:
    """Paths under the repository's folders (actors/, launcher/, proofs/, bench/, tests/, configs/, .ci/) that the page
    names and that do not exist under root (a glob such as tests/test_reliability_*.py must match a file)."""
    missing = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for found in re.findall(r"(?<![\w/.-])((?:actors|launcher|proofs|bench|tests|configs|\.ci)/[\w*./-]*[\w*])", line):
            if not found.startswith(WRITTEN_OR_EXAMPLE_PATHS) and not list(root.glob(found)):
                missing.append(f"{shown(path)}:{number}: {found}")
    return missing


def test_every_repository_path_the_docs_name_exists():
    """A module renamed or a test file split leaves the docs pointing at nothing; the link check sees only links."""
    assert on_every_page(missing_repository_paths) == []


def test_the_path_check_sees_a_renamed_module_and_reads_a_glob(tmp_path):
    (tmp_path / "launcher").mkdir()
    (tmp_path / "launcher" / "keys.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_reliability_crashes.py").write_text("")
    page = tmp_path / "page.md"
    page.write_text("`launcher/keys.py` and launcher/key_names.py, `tests/test_reliability_*.py`, "
                    "tests/test_gone_*.py, bench/results/latest.json, run/launcher/x.py.\n")
    assert missing_repository_paths(page, tmp_path) == ["page.md:1: launcher/key_names.py", "page.md:1: tests/test_gone_*.py"]


def test_the_front_page_keeps_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_every_link_between_the_pages_points_at_a_page_that_exists():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def alert_rules_for() -> dict[str, str]:
    """alert -> its `for` as the monitoring page's table writes it: each distinct duration of its rules, shortest first,
    joined by " / " ("1m / 2m"), or "-" for a rule with none."""
    import yaml
    rules = yaml.safe_load((REPO / "configs" / "alerts.yml").read_text())
    seconds = {"s": 1, "m": 60, "h": 3600}
    durations: dict[str, set[str]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                durations.setdefault(rule["alert"], set()).add(str(rule.get("for", "-")))
    return {alert: " / ".join(sorted(each, key=lambda d: 0 if d == "-" else int(d[:-1]) * seconds[d[-1]]))
            for alert, each in durations.items()}


def alert_table_for(page: Path) -> dict[str, str]:
    """alert -> the last column (`for`) of its row in the page's table of alert rules (`| `Name` | ... | for |`)."""
    return {match.group(1): match.group(2).strip()
            for match in re.finditer(r"^\| `([A-Z][A-Za-z0-9]+)` \|.*\|([^|]*)\|$", page.read_text(), re.MULTILINE)}


def doc_sections_named_in(text: str) -> list[tuple[str, str]]:
    """Every (docs/PAGE.md, SECTION) that `text` sends a reader to as `docs/PAGE.md: SECTION` (up to a `)`, `"` or
    end of line)."""
    return [(m.group(1), m.group(2).strip()) for m in re.finditer(r"(docs/[\w.-]+\.md): ([^)\"\n]+)", text)]


def has_section(page: Path, section: str) -> bool:
    """Whether a docs page holds `section` as a heading (`## Section`) or a paragraph's bold lead (`**Section.**`)."""
    text = page.read_text()
    return (re.search(rf"^#+ {re.escape(section)}\s*$", text, re.MULTILINE) is not None
            or f"**{section}.**" in text)


def test_every_section_the_alert_rules_send_a_reader_to_exists_on_that_page():
    """An alert's comment or description that says where to read on (`docs/operating.md: Redis memory and capacity`)
    must name a section its page has: ClustergateGateShedding sent the operator to `docs/operating.md: Overload`,
    a section that page never had (overload is docs/proposal-api.md's **Overload.** paragraph)."""
    named = doc_sections_named_in((REPO / "configs" / "alerts.yml").read_text())
    assert len(named) >= 3, named
    missing = [(page, section) for page, section in named
               if not (REPO / page).exists() or not has_section(REPO / page, section)]
    assert not missing, missing


def test_the_monitoring_page_names_every_alert_rule():
    names = set(alert_rules_for())
    page = (REPO / "docs" / "monitoring.md").read_text()
    assert names and not {name for name in names if f"`{name}`" not in page}


def test_the_monitoring_pages_alert_table_gives_each_rules_for_as_alerts_yml_has_it():
    """The `for` column is what an operator reads to know how long a fault goes unpaged: each row as the rules say."""
    table, rules = alert_table_for(REPO / "docs" / "monitoring.md"), alert_rules_for()
    assert set(table) == set(rules), (sorted(set(rules) - set(table)), sorted(set(table) - set(rules)))
    assert {alert: table[alert] for alert in rules if table[alert] != rules[alert]} == {}, rules


def test_the_alert_table_reader_reads_each_rows_last_column(tmp_path):
    page = tmp_path / "m.md"
    page.write_text("| alert | fires when | for |\n| --- | --- | --- |\n| `P27A` | x `| y | 5m |\n"
                    "| `ClustergateB` | z | 1m / 2m |\n| `P26C` | w | - |\n| `lower` | v | 1m |\n")
    assert alert_table_for(page) == {"P27A": "5m", "ClustergateB": "1m / 2m", "P26C": "-"}


# Every fence opens with one of these info strings. Anything else (```sh rnnable, ```shell, ```yaml runnable)
# fails the docs test naming its file and line, rather than the finder silently not running the block.
KNOWN_FENCE_INFO = {"sh", "sh runnable", "console", "text", "yaml", "json", "python", "promql", "ini", "toml"}


def shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def fence_problems(path: Path) -> list[str]:
    """Fences the runnable-block finder would misread: an opener without a language (a command block
    must say whether it runs), an indented fence (the finder reads fences at column 0 only), and an
    info string outside KNOWN_FENCE_INFO (a misspelt marker such as ```sh runable or ```sh rnnable,
    or a language nobody listed)."""
    problems, inside = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.lstrip()
        if not stripped.startswith("```"):
            continue
        info = stripped[3:].strip()
        where = f"{shown(path)}:{number}: {line.strip()!r}"
        if line != stripped:
            problems.append(f"{where}: indented fence")
        if inside:
            inside = False
            if info:
                problems.append(f"{where}: a closing fence carries text")
            continue
        inside = True
        if not info:
            problems.append(f"{where}: no language ({', '.join(sorted(KNOWN_FENCE_INFO))})")
        elif " ".join(info.split()) not in KNOWN_FENCE_INFO:
            hint = " (a runnable command block is ```sh runnable)" if len(info.split()) > 1 or "run" in info.lower() else ""
            problems.append(f"{where}: unknown fence info string {info!r}{hint}; "
                            f"known: {', '.join(sorted(KNOWN_FENCE_INFO))}")
    if inside:
        problems.append(f"{shown(path)}: a fence is never closed")
    return problems


def test_every_fence_names_its_language_and_every_runnable_marker_is_one_the_finder_reads():
    problems = on_every_page(fence_problems)
    assert not problems, problems


def test_a_fence_info_string_outside_the_known_set_fails_naming_the_file_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh rnnable\na\n```\n```shell\nb\n```\n```yaml runnable\nc\n```\n```sh runnable\nok\n```\n")
    found = fence_problems(page)
    assert [p.split(": ")[0] for p in found] == ["page.md:1", "page.md:4", "page.md:7"], found
    assert "'sh rnnable'" in found[0] and "unknown fence info string" in found[0], found


def test_the_fence_check_sees_marker_typos_indented_fences_and_bare_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh runable\na\n```\n```runnable\nb\n```\n```sh Runnable\nc\n```\n"
                    "- item\n  ```sh runnable\n  d\n  ```\n```\ne\n```\n```sh runnable\nok\n```\n```yaml\nx: 1\n```\n")
    found = fence_problems(page)
    assert [p.split(": ")[0] for p in found] == ["page.md:1", "page.md:4", "page.md:7", "page.md:11", "page.md:13",
                                                 "page.md:14"], found
    assert runnable_blocks(page) == [(17, "ok\n")]  # the finder itself skips every broken one


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    found, inside, seen = set(), False, {}
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside and (match := re.match(r"^#{1,6}\s+(.*)$", line)):
            anchor = github_anchor(match.group(1))
            count = seen.get(anchor, 0)
            found.add(anchor if count == 0 else f"{anchor}-{count}")
            seen[anchor] = count + 1
    return found


def test_every_link_to_a_heading_points_at_a_heading_that_exists():
    broken = []
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", page.read_text()):
            if "://" in target:
                continue
            linked = (page.parent / target) if target else page
            if linked.exists() and anchor not in anchors_of(linked):
                broken.append(f"{page.relative_to(REPO)} -> {target}#{anchor}")
    assert not broken, broken


def test_the_anchor_of_a_heading_is_githubs(tmp_path):
    assert github_anchor("Several active gates: the client rules (Freelance failover, issue 12)") == \
        "several-active-gates-the-client-rules-freelance-failover-issue-12"
    assert github_anchor("Which system a command acts on, and what `up` promises") == \
        "which-system-a-command-acts-on-and-what-up-promises"
    page = tmp_path / "p.md"
    page.write_text("# A\n## Figures\n```sh\n# not a heading\n```\n## Figures\n")
    assert anchors_of(page) == {"a", "figures", "figures-1"}


def test_the_runnable_block_finder_reads_only_marked_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\nnot this\n```\n\n```sh runnable\necho one\necho two\n```\n```yaml\nx: 1\n```\n")
    assert runnable_blocks(page) == [(5, "echo one\necho two\n")]


def orphan_table_rows(path: Path) -> list[str]:
    """Lines that look like table rows (`| a | b |`) but render as text: not in a block of `|` lines
    whose second line is the header's delimiter (`| --- |`), e.g. a row left below a paragraph."""
    problems, inside, block = [], False, []
    lines = path.read_text().splitlines() + [""]
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            inside = not inside
        if not inside and line.startswith("|"):
            block.append((number, line))
            continue
        if block and not (len(block) >= 2 and re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", block[1][1].strip())):
            problems += [f"{path.name}:{n}: {text[:60]}" for n, text in block]
        block = []
    return problems


def test_every_table_row_in_the_docs_is_in_a_table_with_a_header():
    problems = on_every_page(orphan_table_rows)
    assert not problems, problems


def test_the_table_check_sees_a_row_left_below_a_paragraph(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("| a | b |\n| --- | --- |\n| 1 | 2 |\n\nA paragraph.\n| 3 | 4 |\n\n```text\n| x |\n```\n")
    assert [p.split(": ")[0] for p in orphan_table_rows(page)] == ["page.md:6"]


def proof_check_names() -> set[str]:
    """The name of every check the proofs print: the first argument of each `check(...)` and `require(...)` call in
    proofs/, a string literal there."""
    import ast
    names = set()
    for path in (REPO / "proofs").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("check", "require") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names.add(node.args[0].value)
    return names


def proof_table_checks(page: Path) -> list[tuple[int, str]]:
    """(line, name) of each check named in the `checks that FAIL` column of the page's table of breaks: the column's
    names, separated by `; `, each without a trailing parenthesis that comments on it."""
    found, inside = [], False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.startswith("| break | checks that FAIL |"):
            inside = True
        elif inside and not line.startswith("|"):
            inside = False
        elif inside and not line.startswith("| ---"):
            column = line.split(" | ")[1]
            found += [(number, name.strip()) for name in re.sub(r" \([^()]*\)", "", column).split("; ")]
    return found


def test_every_check_the_proofs_page_says_fails_is_a_check_a_proof_prints():
    """An operator matches the table's names against a proof's FAIL lines (`p27_corr_ready back to 1 within one
    cadence` was named there, a check the warm-restart proof renamed `p27_corr_ready back to 1 in time`)."""
    checks, names = proof_check_names(), proof_table_checks(REPO / "docs" / "proofs.md")
    assert len(names) >= 15 and "p27_corr_ready back to 1 in time" in checks, (names, sorted(checks))
    assert [f"docs/proofs.md:{line}: {name}" for line, name in names if name not in checks] == []


def production_ports_sentence(page: Path) -> tuple[set[str], set[str]]:
    """The metric names the monitoring page says the state writer (8048) serves, and those it says only their own
    actors serve: the backticked `p27_*` names of its sentence `In production the state writer (8048) ...`, before
    and after `the other \\`p27_*\\` series`; empty sets when the page has no such sentence."""
    text = " ".join(page.read_text().split())
    match = re.search(r"In production the state writer \(8048\)(.*?)the other `p27_\*` series(.*?)not 8048 and 8047 alone",
                      text)
    if not match:
        return set(), set()
    def named(part: str) -> set[str]:
        return set(re.findall(r"`(p27_[a-z0-9_*]+)(?:\{[^}`]*\})?`", part))
    return named(match.group(1)), named(match.group(2))


def test_the_monitoring_page_names_what_the_production_ports_8048_and_8047_serve(live_demo):
    """A desk whose dashboards scrape the earlier stack's two ports alone reads there what the page says it finds (it
    said the state writer mirrored every P2.7 gauge: the buffer's, the correlator's shrinkage and the clusterer's
    held-price series, which five alert rules read, are on their own actors' ports only)."""
    import fnmatch
    import urllib.request

    exported: dict[str, set[str]] = {}
    for actor, spec in live_demo.data["actors"].items():
        with urllib.request.urlopen(f"http://127.0.0.1:{spec['metrics_port']}/metrics", timeout=10) as response:
            exported[actor] = exported_metric_names(response.read().decode())
    writer = {name for name in exported["state_writer"] if name.startswith("p27_")}
    elsewhere = {name for actor, names in exported.items() if actor != "state_writer"
                 for name in names if name.startswith("p27_")} - writer
    on_8048, not_on_8048 = production_ports_sentence(REPO / "docs" / "monitoring.md")
    assert on_8048 == writer, (sorted(on_8048), sorted(writer))
    covered = {name for name in elsewhere if any(fnmatch.fnmatch(name, pattern) for pattern in not_on_8048)}
    assert covered == elsewhere, sorted(elsewhere - covered)
    assert all(fnmatch.filter(elsewhere, pattern) for pattern in not_on_8048), sorted(not_on_8048)
    p26 = {name for names in exported.values() for name in names if name.startswith("p26_")}
    assert p26 and p26 <= exported["gate"], sorted(p26 - exported["gate"])


def proposal_field_row(field: str) -> str:
    """The meaning column of a proposal field's row in the proposal API page's table of fields."""
    for line in (REPO / "docs" / "proposal-api.md").read_text().splitlines():
        if line.startswith(f"| `{field}` |"):
            return line.rstrip(" |").split(" | ")[-1]
    raise AssertionError(f"no row for {field}")


def test_the_proposal_fields_the_page_says_are_kept_are_where_it_says(live_demo):
    """The page said `r_net` was "recorded with the decision" and `ts_epoch` "recorded as proposal_ts_epoch", where a
    decision's record is its entry on the gate stream, which carries neither: an auditor reading the stream found no
    trace of them. They come back in the reply (and its replays), from the stored decision."""
    from launcher import keys
    from launcher.client import GateClient

    with GateClient(live_demo.gate_endpoint, timeout_ms=5000, retries=2) as gate:
        reply = gate.propose("SOLUSDT", "HOLD", plan_id="docs-r-net-0001", r_net=-0.5, ts_epoch=1_700_000_000)
        replay = gate.propose("SOLUSDT", "HOLD", plan_id="docs-r-net-0001", r_net=9.0)
    decision = reply["decision"]
    assert decision["recorded"] and decision["r_net"] == -0.5 and decision["proposal_ts_epoch"] == 1_700_000_000, reply
    assert replay["decision"]["replayed"] and replay["decision"]["r_net"] == -0.5, replay
    records = [fields for _, fields in live_demo.redis().xrange(keys.GATE_STREAM)
               if fields.get("plan_id") == "docs-r-net-0001"]
    assert len(records) == 1, records
    for field, stored in (("r_net", "r_net"), ("ts_epoch", "proposal_ts_epoch")):
        row = proposal_field_row(field)
        if stored not in records[0]:
            assert "not on the gate stream" in row and "reply" in row, (field, row, records[0])


# Metric families the product declares (prometheus_client's Counter, Gauge, Histogram, Summary), read from the code;
# a counter under its `_total` name, as a query names it.
METRIC_KINDS = ("Counter", "Gauge", "Histogram", "Summary")
# What a doc's label matcher may name besides the family's own labels: Prometheus's target labels and `le`.
TARGET_LABELS = {"job", "instance", "clustergate_kind", "le"}
# A name in code that looks like a metric and is a label (`prometheus-config` gives each target clustergate_kind).
NOT_METRICS = {"clustergate_kind"}
METRIC_PREFIXES = ("p26_", "p27_", "clustergate_", "gate_", "price_feed_", "buffer_", "book_", "permit_issuer_")


def declared_metrics(root: Path = REPO) -> dict[str, set[str]]:
    """name -> label names of each metric family constructed in actors/ and launcher/ with a literal name."""
    import ast
    declared: dict[str, set[str]] = {}
    for path in [*root.glob("actors/*.py"), *root.glob("launcher/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            kind = getattr(func, "id", None) or getattr(func, "attr", None)
            if not (isinstance(node, ast.Call) and kind in METRIC_KINDS and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            labels = node.args[2] if len(node.args) > 2 else next(
                (k.value for k in node.keywords if k.arg == "labelnames"), None)
            names = {e.value for e in getattr(labels, "elts", []) if isinstance(e, ast.Constant)}
            name = node.args[0].value
            declared[f"{name.removesuffix('_total')}_total" if kind == "Counter" else name] = names
            if kind in ("Histogram", "Summary"):
                declared.update({f"{name}_{part}": names for part in ("bucket", "sum", "count")})
    return declared


def metric_reference_problems(path: Path, declared: dict[str, set[str]]) -> list[str]:
    """Each metric the page writes in code (an inline span or a fenced block) that the product does not declare, or
    with a label matcher naming a label its family lacks. A name is taken for a metric when it starts with p26_, p27_
    or clustergate_, or with another actor's prefix and ends in _total, _seconds or _bytes or carries `{labels}`
    (`gate_reason` is a field, `permit_issuer_connected` a log event)."""
    token = re.compile(rf"(?<![\w:./-])((?:{'|'.join(METRIC_PREFIXES)})[a-z0-9_]*[a-z0-9])(?![\w*])(\{{[^}}`]*\}})?")
    problems = []
    for number, text in command_texts(path):
        for match in token.finditer(text):
            name, matchers = match.group(1), match.group(2)
            if name in NOT_METRICS or not (name.startswith(("p26_", "p27_", "clustergate_"))
                                           or name.endswith(("_total", "_seconds", "_bytes")) or matchers):
                continue
            where = f"{shown(path)}:{number}: {name}"
            if name not in declared:
                problems.append(f"{where}: no such metric in actors/ or launcher/")
                continue
            labels = {re.split(r"[=!~]", m)[0].strip() for m in (matchers or "{}").strip("{}").split(",") if m.strip()}
            if unknown := sorted(labels - declared[name] - TARGET_LABELS):
                problems.append(f"{where}: no label {', '.join(unknown)} (it has {', '.join(sorted(declared[name])) or 'none'})")
    return problems


def test_every_metric_the_docs_name_is_one_the_code_declares_with_those_labels():
    """The other way round from the live demo's check above: a metric renamed or a label dropped in the code leaves
    a page (an alert recipe, a dashboard query) naming a series that no longer exists, which no scrape can show."""
    declared = declared_metrics()
    assert {"p26_plans_seen_total", "p26_time_to_permit_seconds_bucket", "clustergate_actor_ready"} <= set(declared)
    assert declared["p26_actions_downgraded_total"] == {"from_action", "to_action", "reason"}
    assert on_every_page(lambda page: metric_reference_problems(page, declared)) == []


def test_the_metric_check_sees_a_renamed_metric_and_a_label_the_family_lacks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("`p26_plans_seen_total{action_proposed}`, `rate(p27_updates_total[10m])`, `gate_reason`,\n"
                    "`p26_plan_seen_total`, `p26_fail_closed_total{reason=\"x\",symbol}` and `up{job=\"gate\"}`;\n"
                    "```promql\nhistogram_quantile(0.99, rate(p26_time_to_permit_seconds_bucket{job=\"gate\"}[5m]))\n"
                    "sum(gate_request_total)\n```\n")
    assert metric_reference_problems(page, declared_metrics()) == [
        "page.md:2: p26_plan_seen_total: no such metric in actors/ or launcher/",
        "page.md:2: p26_fail_closed_total: no label symbol (it has reason)",
        "page.md:5: gate_request_total: no such metric in actors/ or launcher/"]


def stated_setting_defaults(path: Path) -> list[tuple[str, str, str]]:
    """(where, setting, number) for each `setting` the page gives a number as its default, written
    `` `setting` (..., default N ``, as in `` `state_refresh_ms` (gate setting, default 100 ms) ``; a default given
    as a formula (`default 5 x cadence_s`) is left out."""
    text = " ".join(path.read_text().split())
    pattern = re.compile(r"`(?:[a-z_]+\.)*([a-z_]+)`,? \((?:[^()`]*?, )?default:? (-?[0-9][0-9,]*(?:\.[0-9]+)?)(?![0-9,.]* x )")
    return [(shown(path), m.group(1), m.group(2).rstrip(",").replace(",", "")) for m in pattern.finditer(text)]


def topology_setting_defaults() -> dict[str, set[float]]:
    """setting name -> the numeric defaults the topology's JSON Schema gives settings of that name."""
    import json
    from launcher.topology import dump_schema
    found: dict[str, set[float]] = {}
    for model in json.loads(dump_schema()).get("$defs", {}).values():
        for key, spec in model.get("properties", {}).items():
            if isinstance(spec.get("default"), (int, float)) and not isinstance(spec.get("default"), bool):
                found.setdefault(key, set()).add(float(spec["default"]))
    return found


def test_every_setting_default_the_docs_state_is_the_topologys():
    """An operator leaves a setting out because the page says what it defaults to: each such number is the one
    `clustergate schema` (the code's settings) gives."""
    defaults, stated = topology_setting_defaults(), [s for page in PAGES for s in stated_setting_defaults(page)]
    assert len(stated) >= 10 and ("docs/proposal-api.md", "deadline_skew_ms", "50") in stated, stated
    wrong = [f"{where}: {name} default {value}, the topology's {sorted(defaults.get(name, []))}"
             for where, name, value in stated if float(value) not in defaults.get(name, set())]
    assert wrong == []


def test_the_default_check_reads_each_way_a_page_states_one(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("the gate's `state_refresh_ms` (gate setting, default 100 ms) and `redis.maxmemory_mb` (default\n"
                    "1,024 MB), `clusters.max_price_age_s` (default 5 x `cadence_s`), `frozen_after_slots` (default 10;\n"
                    "0 turns it off), `lease_ms` defaults to 0.\n")
    assert stated_setting_defaults(page) == [("page.md", "state_refresh_ms", "100"), ("page.md", "maxmemory_mb", "1024"),
                                             ("page.md", "frozen_after_slots", "10")]
