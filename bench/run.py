"""lockbot's benchmark: `python bench/run.py [options]` from the repository root, with the virtualenv
active. The bench itself is the package bench/harness/; see bench/README.md for the options and what
each figure means."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench.harness and the tests' fakes and helpers import from here

from bench.harness.scenario import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
