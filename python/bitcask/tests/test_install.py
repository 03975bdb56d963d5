"""`pip install --no-build-isolation .` works with nothing downloaded (no PyPI here)."""

import os
import pathlib
import subprocess
import sys
import tempfile
import unittest


def find_source_root():
    for parent in pathlib.Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists() and (parent / "python" / "build_backend").exists():
            return parent
    return None


def have_pip():
    return subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode == 0


@unittest.skipIf(find_source_root() is None, "not run from a source checkout")
@unittest.skipUnless(have_pip(), "pip is not installed for this interpreter (Debian: python3-pip)")
class PipInstallTest(unittest.TestCase):
    def test_pip_install_then_import(self):
        root = find_source_root()
        with tempfile.TemporaryDirectory(prefix="bitcask-pip-") as target:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                 "--target", target, str(root)],
                capture_output=True, text=True, timeout=1800)
            self.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-3000:])
            script = ("import bitcask, pybitcask, tempfile, os\n"
                      "d = tempfile.mkdtemp()\n"
                      "db = pybitcask.Bitcask(os.path.join(d, 'db'))\n"
                      "db.put('k', {'v': [1, 2]})\n"
                      "assert db.get('k') == {'v': [1, 2]}\n"
                      "print(bitcask.__file__)\n")
            env = dict(os.environ, PYTHONPATH=target)
            run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                 env=env, cwd=target)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertTrue(run.stdout.startswith(target), run.stdout)


if __name__ == "__main__":
    unittest.main()
