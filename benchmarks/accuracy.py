"""Accuracy ablation: the table of `hipbot eval FILE --compare`, as the command prints it."""

from __future__ import annotations

from pathlib import Path

from .common import ROOT, Table, child_env, hipbot, run_child


def compare_table(eval_path: Path, cache: Path) -> Table:
    """Run `hipbot eval FILE --compare` and keep its output."""
    run = run_child([*hipbot(), "eval", str(eval_path), "--compare"], child_env(cache)).checked("hipbot eval --compare")
    shown = eval_path.relative_to(ROOT.parent) if eval_path.is_relative_to(ROOT.parent) else eval_path
    return Table(f"Accuracy ablation: hipbot eval {shown} --compare", text=run.stdout.decode().rstrip(),
                 note="Accuracy counts the intent and, where the item names evidence, the reply's grounding.")
