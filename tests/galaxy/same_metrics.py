"""Are two genofm metrics.json files the same evaluation? Prints both side by side.

    python same_metrics.py GALAXY_METRICS NEXTFLOW_METRICS

Exit 0 when the test-set size, class counts and every metric's value agree (to 1e-9); the first
output line is a one-line summary (AUROC of each), then one line per metric.
"""

from __future__ import annotations

import json
import sys

TOLERANCE = 1e-9


def main() -> None:
    galaxy, nextflow = (json.load(open(path)) for path in sys.argv[1:3])
    same = galaxy.get("n") == nextflow.get("n") and galaxy.get("class_counts") == nextflow.get("class_counts")
    rows = []
    for name in sorted(set(galaxy["metrics"]) | set(nextflow["metrics"])):
        g = (galaxy["metrics"].get(name) or {}).get("value")
        n = (nextflow["metrics"].get(name) or {}).get("value")
        equal = g is not None and n is not None and abs(g - n) <= TOLERANCE
        same = same and equal
        rows.append(f"{name:9s} galaxy {g!s:>22s}  nextflow {n!s:>22s}  {'equal' if equal else 'DIFFERENT'}")
    auroc_g = galaxy["metrics"]["auroc"]
    auroc_n = nextflow["metrics"]["auroc"]
    print(f"test AUROC galaxy {auroc_g['value']:.4f} [{auroc_g['ci_low']:.3f}, {auroc_g['ci_high']:.3f}], "
          f"nextflow {auroc_n['value']:.4f} [{auroc_n['ci_low']:.3f}, {auroc_n['ci_high']:.3f}] "
          f"(n = {galaxy.get('n')} vs {nextflow.get('n')} test peaks)")
    print("\n".join(rows))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
