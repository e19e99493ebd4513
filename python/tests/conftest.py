import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def village():
    return str(REPO / "scenarios" / "village.ron")


@pytest.fixture(scope="session")
def cli():
    """The command line built from the same tree (`cargo build --release`)."""
    path = Path(os.environ.get("PEERGRID_CLI", REPO / "target" / "release" / "peergrid"))
    if not path.exists():
        pytest.skip(f"{path} not built: run `cargo build --release` first")
    return str(path)
