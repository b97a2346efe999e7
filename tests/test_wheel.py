"""The wheel installs one import root: its top-level entries are ``vecbridge`` and its dist-info only."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (path,) = out.glob("vecbridge-*.whl")
    return path


def test_wheel_has_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"vecbridge"}
    assert len(top) == 2, sorted(top)
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["vecbridge"]


def test_wheel_ships_the_layers_the_typing_marker_and_the_sample_corpus(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "vecbridge/schemas/__init__.py",
        "vecbridge/encoders/__init__.py",
        "vecbridge/connectors/__init__.py",
        "vecbridge/py.typed",
        "vecbridge/data/sample_corpus.jsonl",
    ):
        assert module in names, module
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))]
