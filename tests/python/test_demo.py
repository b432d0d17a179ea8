"""The README's first command runs the main job end to end on real data."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs(data_dir):
    env = dict(os.environ, TOKENOPS_DATA_DIR=str(data_dir))
    out = subprocess.run([sys.executable, "-m", "tokenops", "demo"], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    for section in ("1. Tokens", "2. Cost", "3. Routing", "4. Compression"):
        assert section in out.stdout
    assert "answer 'Ishmael' kept: True" in out.stdout


def test_demo_without_the_optional_packages_says_what_to_install(data_dir):
    # `pip install tokenops` alone (numpy only): the demo still counts, prices and routes, and
    # names the extra it lacks instead of a traceback
    code = ("import sys; sys.modules['pandas'] = None; sys.modules['wordfreq'] = None; "
            "from tokenops.__main__ import main; sys.exit(main(['demo']))")
    env = dict(os.environ, TOKENOPS_DATA_DIR=str(data_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "pip install 'tokenops[router]'" in out.stdout and "Traceback" not in out.stderr
    assert "4. Compression" in out.stdout and "wordfreq" in out.stdout
