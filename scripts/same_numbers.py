"""Same seeds, same numbers: compare two stores' claims and trial summaries.

Used to prove that a behaviour-preserving change is one: run ``make studies QUICK=1`` on the
old code into one store and on the new code into another, then

    python scripts/same_numbers.py dump sqlite:////tmp/old/mlflow.db old.json
    python scripts/same_numbers.py dump sqlite:////tmp/new/mlflow.db new.json
    python scripts/same_numbers.py compare old.json new.json [--tol 1e-9] [--ignore train_time]

``dump`` reads every catalogue study's latest invocation through the store's reader (the same
code the reports use); ``compare`` lists every claim verdict, claim number and trial summary
figure that differs by more than ``--tol`` (absolute, NaN equal to NaN, inf to inf), and
exits 1 if there is any. Wall-clock figures (``train_time``) differ run to run: ``--ignore``
them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from studies.engine import registry
from studies.store.reader import load_runs


def dump(tracking_uri: str) -> dict:
    """``{study: {"claims": {id: {"verdict", "numbers"}}, "trials": {stage/arm/seed: {...}}}}``."""
    out = {}
    for name in registry.candidate_names():
        try:
            runs = load_runs(name, tracking_uri=tracking_uri)
        except ValueError:
            continue  # not run into this store
        claims = {
            row["id"]: {"verdict": row["verdict"], "numbers": dict(row["numbers"])}
            for _, row in runs.claims.iterrows()
        }
        trials = {}
        for _, row in runs.trials.iterrows():
            key = f"{row['stage']}/{row['arm']}/{int(row['seed'])}"
            trials[key] = {
                "status": row["status"],
                **{k: float(row[k]) for k in runs.summary_keys if k in row.index},
            }
        out[name] = {"claims": claims, "trials": trials}
    return out


def _differs(a: object, b: object, tol: float) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) != math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a != b
        return abs(a - b) > tol
    return a != b


def _missing(where: str, a: dict, b: dict) -> list[str]:
    problems = [f"{where}: {k!r} only in the first" for k in sorted(set(a) - set(b))]
    return problems + [f"{where}: {k!r} only in the second" for k in sorted(set(b) - set(a))]


def _compare_maps(where: str, a: dict, b: dict, tol: float, ignore=frozenset()) -> list[str]:
    a = {k: v for k, v in a.items() if k not in ignore}
    b = {k: v for k, v in b.items() if k not in ignore}
    problems = _missing(where, a, b)
    for key in sorted(set(a) & set(b)):
        if _differs(a[key], b[key], tol):
            problems.append(f"{where}.{key}: {a[key]!r} != {b[key]!r}")
    return problems


def compare(
    old: dict, new: dict, tol: float, ignore: frozenset[str] = frozenset()
) -> tuple[list[str], int]:
    """Every difference between two dumps, and how many values were compared.

    ``ignore`` names trial summary figures left out (wall-clock times differ run to run).
    """
    problems = _missing("studies", old, new)
    checked = 0
    for study in sorted(set(old) & set(new)):
        for part in ("claims", "trials"):
            a, b = old[study][part], new[study][part]
            problems += _missing(f"{study}.{part}", a, b)
            for key in sorted(set(a) & set(b)):
                x, y = a[key], b[key]
                if part == "claims":
                    checked += 1 + len(x["numbers"])
                    if x["verdict"] != y["verdict"]:
                        problems.append(
                            f"{study}.claims.{key}.verdict: {x['verdict']!r} != {y['verdict']!r}"
                        )
                    problems += _compare_maps(
                        f"{study}.claims.{key}.numbers", x["numbers"], y["numbers"], tol
                    )
                else:
                    checked += len(set(x) - ignore)
                    problems += _compare_maps(f"{study}.trials.{key}", x, y, tol, ignore)
    return problems, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="write a store's claims and trial summaries as JSON")
    d.add_argument("tracking_uri")
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare", help="compare two dumps")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--tol", type=float, default=1e-9)
    c.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="KEY",
        help="a trial summary figure to leave out, e.g. train_time (wall clock); repeatable",
    )
    args = parser.parse_args(argv)
    if args.command == "dump":
        args.out.write_text(json.dumps(dump(args.tracking_uri), indent=1, sort_keys=True))
        return 0
    old, new = json.loads(args.old.read_text()), json.loads(args.new.read_text())
    problems, checked = compare(old, new, args.tol, frozenset(args.ignore))
    for line in problems:
        print(line)
    studies = len(set(old) & set(new))
    print(
        f"{checked} values of {studies} studies compared; {len(problems)} differ (tol {args.tol:g})"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
