"""``fastloss`` as of an older git revision, importable next to the working copy (for A/B runs)."""

from __future__ import annotations

import importlib
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def import_revision(rev: str, name: str = "fastloss_base"):
    """Import the package as of git revision ``rev`` under the name ``name``.

    ``git archive`` unpacks it to a folder named after the commit, kept between runs so that its
    Numba cache is too. Its absolute ``"fastloss.<module>"`` strings (lazy imports) are rewritten
    to ``name``: otherwise they would load this checkout's modules. So is the name of the LLVM
    symbol of its table of loss loops (``kernels/_loops.py``): one symbol name registered by two
    packages points to one table only, and the kernels of the other package then called loops
    from a table they did not fill (a segmentation fault in an A/B run).
    """
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    folder = pathlib.Path(tempfile.gettempdir()) / f"fastloss_ab_{commit[:12]}_{name}"
    package = folder / name
    if not package.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "fastloss"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        (folder / "fastloss").rename(package)
        for path in package.rglob("*.py"):
            text = path.read_text()
            text = text.replace('"fastloss.', f'"{name}.').replace('f"fastloss.{', f'f"{name}.{{')
            path.write_text(text.replace('"fastloss_loop_table"', f'"{name}_loop_table"'))
    sys.path.insert(0, str(folder))
    module = importlib.import_module(name)
    assert module.LinearObjective.__module__ == f"{name}.objective"
    return module
