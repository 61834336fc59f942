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
