#!/usr/bin/env python3
"""Judges the Autobahn reports kosoku wrote for sockwire (see autobahn.sh).

Usage: autobahn_check.py [--outdir target/autobahn] [--role server|client]...
                         [--expect-all-cases]

For each role (default: server and client) it reads
`<outdir>/<role>/index.json` (agent -> case id -> {"behavior", "behaviorClose",
"remoteCloseCode", "duration", "reportfile"}), prints the tally per behavior
and lists every case that does not meet the project's bar:

  - behavior OK or INFORMATIONAL; UNIMPLEMENTED never (permessage-deflate,
    sections 12 and 13, is implemented and negotiated by both examples);
    NON-STRICT and FAILED never;
  - behaviorClose OK or INFORMATIONAL (kosoku counts a case as passed only
    when both verdicts are acceptable);
  - with --expect-all-cases, every case of the suite is present: kosoku writes
    only the cases that ran and exits 0 even if a client stopped early. The
    list of cases comes from `kosoku.cases.CASES` (run this with the venv
    python), or 517 ids when kosoku cannot be imported.

For each listed case it prints the verdicts, the close code sockwire sent
and, from the per-case JSON, kosoku's `result` / `resultClose` text.
Writes `<outdir>/summary.txt` with both tallies and the problems. Exits 1 if
any role has a problem or a missing report, else 0. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
GOOD = {"OK", "INFORMATIONAL"}
# kosoku 0.1.0 ships 517 cases (sections 1-13).
SUITE_SIZE = 517


def unimplemented_allowed(case_id: str) -> bool:
    """No case may be UNIMPLEMENTED: 12.* and 13.* (permessage-deflate) included."""
    del case_id
    return False


def sort_key(case_id: str) -> list[int]:
    return [int(p) if p.isdigit() else 0 for p in case_id.split(".")]


def suite_case_ids() -> list[str] | None:
    try:
        from kosoku.cases import CASES  # type: ignore[import-not-found]
    except Exception:
        return None
    return list(CASES)


def case_detail(role_dir: Path, entry: dict) -> str:
    report = entry.get("reportfile")
    if not report:
        return ""
    try:
        data = json.loads((role_dir / report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f" [report {report} unreadable]"
    parts = [f"result: {data.get('result', '?')}"]
    if data.get("behaviorClose") not in GOOD:
        parts.append(f"resultClose: {data.get('resultClose', '?')}")
    parts.append(f"remoteCloseCode={data.get('remoteCloseCode')}")
    parts.append(f"localCloseCode={data.get('localCloseCode')}")
    if data.get("remoteCloseReason"):
        parts.append(f"remoteCloseReason={data.get('remoteCloseReason')!r}")
    parts.append(f"closedByMe={data.get('closedByMe')} wasClean={data.get('wasClean')}")
    return " | " + "; ".join(parts) + f" [{role_dir.name}/{report}]"


def check_role(
    outdir: Path, role: str, expected_ids: list[str] | None, expect_all: bool
) -> tuple[list[str], list[str]]:
    """Returns (summary lines, problem lines)."""
    role_dir = outdir / role
    index = role_dir / "index.json"
    lines: list[str] = []
    problems: list[str] = []
    if not index.is_file():
        problems.append(f"{role}: no report ({index} missing)")
        return [f"[{role}] no report: {index} missing"], problems
    data = json.loads(index.read_text(encoding="utf-8"))
    if not data:
        problems.append(f"{role}: {index} lists no agent")
    for agent, cases in data.items():
        tally = Counter(entry.get("behavior", "?") for entry in cases.values())
        counts = ", ".join(f"{b} {tally.get(b, 0)}" for b in BEHAVIORS)
        extra = {b: n for b, n in tally.items() if b not in BEHAVIORS}
        if extra:
            counts += ", " + ", ".join(f"{b} {n}" for b, n in extra.items())
        lines.append(f"[{role}] agent {agent!r}: {len(cases)} cases: {counts}")
        close_tally = Counter(entry.get("behaviorClose", "?") for entry in cases.values())
        lines.append(f"[{role}]   behaviorClose: " + ", ".join(f"{b} {n}" for b, n in sorted(close_tally.items())))
        for case_id in sorted(cases, key=sort_key):
            entry = cases[case_id]
            behavior = entry.get("behavior", "?")
            close = entry.get("behaviorClose", "?")
            ok_behavior = behavior in GOOD or (behavior == "UNIMPLEMENTED" and unimplemented_allowed(case_id))
            ok_close = close in GOOD
            if not (ok_behavior and ok_close):
                problems.append(
                    f"{role} {case_id}: behavior={behavior} behaviorClose={close}"
                    + case_detail(role_dir, entry)
                )
        if expected_ids is not None:
            missing = [c for c in expected_ids if c not in cases]
            if missing:
                shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
                problems.append(f"{role}: {len(missing)} of {len(expected_ids)} cases have no result: {shown}")
                lines.append(f"[{role}]   MISSING {len(missing)} cases")
        elif expect_all and len(cases) != SUITE_SIZE:
            problems.append(f"{role}: agent {agent!r} has {len(cases)} cases, expected {SUITE_SIZE}")
        elif len(cases) < SUITE_SIZE:
            lines.append(f"[{role}]   note: {len(cases)} cases (a selection, or a run that stopped early)")
    return lines, problems


def main() -> int:
    parser = argparse.ArgumentParser(description="Judge kosoku's Autobahn reports for sockwire.")
    parser.add_argument("--outdir", default="target/autobahn", type=Path)
    parser.add_argument("--role", action="append", choices=["server", "client"])
    parser.add_argument("--expect-all-cases", action="store_true")
    args = parser.parse_args()
    roles = args.role or ["server", "client"]

    expected_ids = None
    if args.expect_all_cases:
        expected_ids = suite_case_ids()
        if expected_ids is None:
            print("autobahn_check: kosoku not importable; expecting the 517-case suite by count")
    summary: list[str] = []
    problems: list[str] = []
    for role in roles:
        lines, role_problems = check_role(args.outdir, role, expected_ids, args.expect_all_cases)
        summary.extend(lines)
        problems.extend(role_problems)

    verdict = "PASS" if not problems else f"FAIL ({len(problems)} problems)"
    text = "\n".join(summary)
    if problems:
        text += "\n\nCases not OK/INFORMATIONAL (UNIMPLEMENTED never allowed):\n"
        text += "\n".join(f"  {p}" for p in problems)
    text += f"\n\nautobahn: {verdict}\n"
    print(text, end="")
    args.outdir.mkdir(parents=True, exist_ok=True)
    (args.outdir / "summary.txt").write_text(text, encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
