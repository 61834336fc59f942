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
