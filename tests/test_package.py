import subprocess
import sys

import arttrack
from arttrack import _core


def test_core_version_matches_package():
    assert _core.__version__ == arttrack.__version__


def test_import_without_extension_says_how_to_build():
    # sys.modules[name] = None makes `import name` fail, as a missing .so would.
    code = ("import sys; sys.modules['arttrack._core'] = None\n"
            "try:\n    import arttrack.postprocess\n"
            "except ImportError as e:\n    print(e)\nelse:\n    print('imported')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "not built" in out and "pip install" in out


def test_top_level_import_is_light():
    # `import arttrack` must not drag in MindSpore (seconds to import) or the extension.
    code = "import sys, arttrack, arttrack.config, arttrack.joints; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
