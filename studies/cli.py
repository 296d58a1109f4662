"""Command line: ``python -m studies list | run NAME|all [options] | report NAME``.

The one module that sees both the studies and the reports: it runs a study through
:mod:`studies.engine.runner`, then builds its page with :mod:`reports`.

``run`` executes a study (reusing every trial already in the MLflow store), prints the claims'
verdicts and the tracking overhead, then builds the study's HTML report and prints its path.
Exit status: 0 on success, 1 on an error (unknown study, failed report), 2 on bad usage,
130 when interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import reports
from studies.engine import registry
from studies.engine.executors import EXECUTORS, SCHEDULER_ENV, stop_local_pool
from studies.engine.overrides import apply_overrides, parse_arms, select_arms
from studies.engine.runner import run_study
from studies.store.writer import StoreError, StudyBusyError, key_number

log = logging.getLogger("studies")

VERDICT_MARK = {
    "supported": "supported",
    "not supported": "NOT supported",
    "inconclusive": "inconclusive",
    "not evaluated": "not evaluated",
}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {text}"
        return text


def setup_logging(verbose: bool = False) -> None:
    """Plain ``studies`` progress lines on stderr; other libraries only from WARNING up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("studies").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m studies",
        description="Run dlkit studies, track them in MLflow, and build their reports.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list the catalogue's studies (and your study files)")
    listing.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help=f"also list the study files of DIR (repeatable; also ${registry.PATH_ENV}, "
        "directories separated by ':')",
    )
    run = sub.add_parser("run", help="run a study (or 'all') and build its report")
    run.add_argument(
        "name",
        help="a study's name, 'all', a path to a study file (my_study.py) or a package.module",
    )
    run.add_argument(
        "--quick", action="store_true", help="smoke run: fewer epochs and seeds, same code path"
    )
    run.add_argument(
        "--seeds",
        type=_positive,
        default=None,
        metavar="N",
        help=(
            "run exactly N seeds per arm and judge the claims once on them, instead of the "
            "sequential design (stages that tune with fixed seeds keep theirs)"
        ),
    )
    run.add_argument(
        "--max-seeds",
        type=_positive,
        default=None,
        metavar="N",
        help=(
            "cap the sequential design at N seeds per arm (looks below N, then a last look "
            "at N; default looks 5, 10, 15, 20)"
        ),
    )
    run.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes (default: all cores; 1 = in-process)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="rerun trials even when a finished run with the same config exists",
    )
    run.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="where trials run (default: local)"
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=(
            f"Dask scheduler for --executor dask, e.g. tcp://127.0.0.1:8786 (default: "
            f"${SCHEDULER_ENV}; neither starts a LocalCluster of --jobs workers)"
        ),
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY.PATH=VALUE",
        help="override a base-config value for every arm, e.g. --set train.epochs=20 "
        "(repeatable; lists and dicts as JSON)",
    )
    run.add_argument(
        "--arms",
        type=_arm_list,
        default=None,
        metavar="A,B",
        help="run only these arms (comma-separated); claims comparing other arms are reported "
        "as not evaluated",
    )
    run.add_argument("--no-report", action="store_true", help="skip building the HTML report")
    report = sub.add_parser("report", help="rebuild a study's HTML report from MLflow alone")
    report.add_argument("name", help="study name")
    new = sub.add_parser("new", help="write a runnable, commented study file to start from")
    new.add_argument("name", help="the study's name (a Python identifier): writes NAME.py")
    new.add_argument("--dir", default=".", help="directory to write it in (default: here)")
    return parser


def _arm_list(text: str) -> list[str]:
    try:
        return parse_arms(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "scheduler", None) and args.executor != "dask":
        parser.error("--scheduler needs --executor dask")
    if getattr(args, "max_seeds", None) is not None and args.seeds is not None:
        parser.error("give --seeds N (a fixed number) or --max-seeds N (a cap), not both")
    if getattr(args, "arms", None) is not None and args.name == "all":
        parser.error("--arms names the arms of one study: give a study, not 'all'")
    setup_logging(args.verbose)
    try:
        if args.command == "list":
            return cmd_list(args.path)
        if args.command == "report":
            # A catalogue study, or one run from a file: the store knows its name either way
            # (an unknown name is one line listing the studies the store has).
            return 0 if make_report(args.name) is not None else 1
        if args.command == "new":
            return cmd_new(args.name, args.dir)
        try:
            return cmd_run(args, argv)
        finally:
            stop_local_pool()  # before the interpreter's exit (see its docstring)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished trials are saved; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except (ValueError, ConnectionError, StoreError) as err:
        # A bad value, an unreachable Dask scheduler, a store MLflow cannot use: one line.
        print(f"error: {err}", file=sys.stderr)
        return 1


def cmd_new(name: str, directory: str) -> int:
    """Write ``DIR/NAME.py`` from the scaffold and say how to run it."""
    from studies.scaffold import write_scaffold

    path = write_scaffold(name, Path(directory))
    print(f"wrote {path}")
    print(f"  run it:   python -m studies run {path} --quick")
    print(f"  then:     python -m studies run {path}   (the report: reports/out/{name}.html)")
    return 0


def cmd_list(paths: Sequence[str] = ()) -> int:
    """The catalogue's studies, then the study files of ``--path`` / ``$DLKIT_STUDIES_PATH``
    (marked external, with the file to run)."""
    for name, study in registry.discover().items():
        print(f"{name:16s} {study.question}")
    for found in registry.external(paths):
        if found.study is None:
            print(f"{found.path.stem:16s} [external, not a study] {found.error}")
        else:
            print(f"{found.study.name:16s} [external: {found.path}] {found.study.question}")
    return 0


def reproducing_command(argv: Sequence[str], name: str) -> str:
    """The command line that reruns study ``name``: ``argv`` as given, except that ``run
    all`` becomes ``run NAME`` (each study of ``all`` records its own command)."""
    words = list(argv)
    run = words.index("run")
    if "all" in words[run:]:
        words[words.index("all", run)] = name
    return shlex.join(["python", "-m", "studies", *words])


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.name == "all":
        studies = list(registry.discover().values())
    else:
        studies = [registry.resolve(args.name)]
    for study in studies:  # a bad --set or --arms fails before any study runs
        checked = apply_overrides(study, args.overrides)
        if args.arms is not None:
            select_arms(checked, args.arms)
    status = 0
    options = {
        "quick": args.quick,
        "n_seeds": args.seeds,
        "max_seeds": args.max_seeds,
        "jobs": args.jobs,
        "force": args.force,
        "executor": args.executor,
        "scheduler": args.scheduler,
        "overrides": args.overrides,
        "arms": args.arms,
    }
    for study in studies:
        try:
            command = reproducing_command(argv, study.name)
            outcome = run_study(study, **options, command=command)
        except StudyBusyError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
            continue
        print_outcome(outcome)
        if not args.no_report and make_report(study.name, outcome.tracking_uri) is None:
            status = 1
    return status


def print_outcome(outcome) -> None:
    """The user-facing summary of a run: counts, timing and the claims' verdicts."""
    t = outcome.timing
    print(
        f"\n{outcome.study}: {t['n_trials']} trials ({t['n_run']} run, {t['n_reused']} reused "
        f"from the store, {t['n_diverged']} diverged, {t['n_failed']} failed)"
    )
    print(
        f"  wall {t['wall_seconds']:.1f} s; tracking {t['tracking_seconds']:.2f} s "
        f"({100 * t['tracking_fraction']:.1f}% of wall, {t['tracking_calls']} MLflow calls) "
        f"+ opening the store {t['store_open_seconds']:.2f} s; "
        f"trial compute {t['compute_seconds']:.1f} s on {t['jobs']} worker(s)"
    )
    if outcome.claims:
        print("  claims:")
        for claim, result in outcome.claims:
            print(f"    [{VERDICT_MARK[result.verdict]}] {claim.text}")
            print(f"        {verdict_line(result)}")
            expected = getattr(claim, "expected", None)
            # A smoke run's verdicts are not held against the sources.
            quick = getattr(outcome, "quick", False)
            if expected is not None and result.verdict != expected and not quick:
                why = claim.explains(result.verdict) or "no explanation given"
                print(f"        the source ({claim.source}) reports {expected}: {why}")
    print(f"  MLflow: {outcome.tracking_uri} (experiment {outcome.study!r})")


def verdict_line(result) -> str:
    """One line of a claim's result: verdict, seeds and look, the deciding number."""
    if result.seeds is None:
        return f"{result.verdict}: {result.detail}"
    where = f"{result.verdict} at look {result.look} ({result.seeds} seeds)"
    if result.verdict == "inconclusive" and result.seeds_needed:
        where += f"; ~{result.seeds_needed} seeds would decide it"
    return f"{where}: {key_number(result)}"


def make_report(name: str, tracking_uri: str | None = None) -> Path | None:
    """Build ``reports/out/NAME.html`` from the store and print its path (None on failure)."""
    try:
        path = reports.build_report(name, tracking_uri=tracking_uri)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    except Exception as err:
        log.debug("report failed", exc_info=True)
        print(
            f"error: building the report for {name!r} failed: {type(err).__name__}: {err}",
            file=sys.stderr,
        )
        return None
    print(f"report: {path}")
    return Path(path)
