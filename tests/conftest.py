import pytest


@pytest.fixture(scope="module")
def ms_pynative_cpu():
    """MindSpore on the CPU in PYNATIVE mode for one test module (the previous mode restored)."""
    import mindspore as ms

    ms.set_device("CPU")
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=mode)


@pytest.fixture(autouse=True, scope="session")
def _model_cache_in_tmp(tmp_path_factory):
    """The model cache (downloads, converted models, ONNX exports) of the whole run lives in
    a temporary folder, never in the user's ~/.cache/arttrack. Subprocesses inherit it."""
    import os

    old = os.environ.get("ARTTRACK_HOME")
    os.environ["ARTTRACK_HOME"] = str(tmp_path_factory.mktemp("arttrack_home"))
    yield
    if old is None:
        os.environ.pop("ARTTRACK_HOME", None)
    else:
        os.environ["ARTTRACK_HOME"] = old


# ---- real sample files, hardware, and the skip report ------------------------------------

import pathlib as _pathlib  # noqa: E402

#: ``<repo>/../shared``: the real sample files (MPII, COCO, PoseTrack excerpts and poseval's
#: figures on them), which their datasets' terms keep out of the repository.
SHARED = _pathlib.Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture()
def shared_data():
    """``<repo>/../shared/data``; the test skips only when ``<repo>/../shared`` is absent.

    With ``../shared`` present, a missing file under it is the test's failure, not a skip."""
    if not SHARED.is_dir():
        pytest.skip(f"real sample files absent: {SHARED} (kept out of the repository by the "
                    "datasets' terms) does not exist")
    return SHARED / "data"


_SKIPS: list = []
_HARDWARE: set = set()  # ids of the tests marked `hardware`


def pytest_collection_modifyitems(items):
    _HARDWARE.update(item.nodeid for item in items if item.get_closest_marker("hardware"))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        kind = "hardware" if report.nodeid in _HARDWARE else "skip"
        _SKIPS.append(f"{kind}\t{report.nodeid}\t{_skip_reason(report)}")


def pytest_collectreport(report):
    if report.skipped:
        _SKIPS.append(f"skip\t{report.nodeid}\t{_skip_reason(report)}")


def pytest_sessionfinish(session, exitstatus):
    """With ``ARTTRACK_SKIP_REPORT=FILE`` (set by ``.ci/run``), write one line per skipped
    test: ``hardware|skip <TAB> test id <TAB> reason`` (an empty file: nothing skipped)."""
    import os

    path = os.environ.get("ARTTRACK_SKIP_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(line.replace("\n", " ") + "\n" for line in _SKIPS)
