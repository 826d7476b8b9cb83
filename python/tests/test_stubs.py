"""The .pyi stubs match the native module (mypy.stubtest)."""

import subprocess
import sys


def test_stubtest_native_module(tmp_path: object) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "tcpkit._native"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_ships_stubs_and_py_typed() -> None:
    import importlib.resources

    files = importlib.resources.files("tcpkit")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def test_package_type_checks_strict(tmp_path: object) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "tcpkit"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
