"""Where the project lives on disk: the one definition of the repository root."""

from pathlib import Path

#: The checkout holding ``dlkit/``, ``studies/`` and ``reports/`` (the default store and the
#: reports' output directory live here).
REPO_ROOT = Path(__file__).resolve().parent.parent
