"""The relock scheduler's bench: `python bench/relocks.py [options]` from the repository root, with the
virtualenv active. It is bench/harness/relocks.py; see the README's "Speed" section for its figures."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # bench.harness and the tests' fakes and helpers import from here

from bench.harness.relocks import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
