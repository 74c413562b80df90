"""Compare profiler runs of two revisions: ``python -m fastloss bench --json`` files, per operation.

    python bench/ab_profiler.py --base base1.json base2.json --new new1.json new2.json

Run the profiler alternately from each revision with the same options (the older one from an
unpacked ``git archive REV fastloss``, with its folder first on ``PYTHONPATH``), then give the
files here. For each operation and thread count it prints the best median of each revision's runs
(the least disturbed by the machine's other load), their ratio ``new / base`` (above 1: the new
revision is slower) and each revision's best ``x_sklearn`` (scikit-learn's time over fastloss's in
the same run, the ratio that drifts least with the machine's load).
"""

from __future__ import annotations

import argparse
import json


def _best(files):
    best = {}
    for name in files:
        with open(name) as f:
            for row in json.load(f)["rows"]:
                if "median_ms" not in row:
                    continue
                key = (row["operation"], row["threads"])
                ms, x = row["median_ms"], row.get("x_sklearn")
                old = best.get(key, (float("inf"), None))
                best[key] = (min(old[0], ms), max(v for v in (old[1], x) if v is not None) if x or old[1] else None)
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", nargs="+", required=True)
    p.add_argument("--new", nargs="+", required=True)
    args = p.parse_args()
    base, new = _best(args.base), _best(args.new)
    print("| operation | threads | base ms | new ms | new / base | base x sklearn | new x sklearn |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in sorted(set(base) & set(new), key=lambda k: (k[1], k[0])):
        (b, bx), (n, nx) = base[key], new[key]
        fmt = lambda x: f"{x:.2f}" if x else "-"  # noqa: E731
        print(f"| {key[0]} | {key[1]} | {b:.1f} | {n:.1f} | {n / b:.3f} | {fmt(bx)} | {fmt(nx)} |")


if __name__ == "__main__":
    main()
