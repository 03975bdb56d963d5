"""A PEP 517 build backend for `pip install --no-build-isolation .` with nothing from PyPI.

It builds bitcask._bitcask with the project's CMake (Debian's cmake, g++ and pybind11-dev)
for the interpreter running pip, and writes the wheel with the standard library: no
setuptools, no wheel package needed.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

NAME = "bitcask"
ROOT_FOR_VERSION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _project_version():
    """The version in CMakeLists.txt's project(): the one place it is written."""
    import re
    with open(os.path.join(ROOT_FOR_VERSION, "CMakeLists.txt")) as f:
        match = re.search(r"project\(bitcask VERSION ([0-9.]+)", f.read())
    if not match:
        raise RuntimeError("no 'project(bitcask VERSION x.y.z' in CMakeLists.txt")
    return match.group(1)


VERSION = _project_version()
SUMMARY = "A Bitcask key-value store (C++ engine) with the pybitcask API"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("bitcask", "pybitcask")


def _tag():
    impl = f"cp{sys.version_info.major}{sys.version_info.minor}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{impl}-{impl}-{plat}"


def _dist_info():
    return f"{NAME}-{VERSION}.dist-info"


def _metadata_files():
    metadata = (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: {SUMMARY}\n"
                "Requires-Python: >=3.9\nLicense: see the repository\n")
    wheel = (f"Wheel-Version: 1.0\nGenerator: bitcask build_backend\nRoot-Is-Purelib: false\n"
             f"Tag: {_tag()}\n")
    return {"METADATA": metadata, "WHEEL": wheel}


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, _dist_info())
    os.makedirs(path, exist_ok=True)
    for name, text in _metadata_files().items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)
    return _dist_info()


def _build():
    """Builds the module with CMake; returns the directory that holds the packages."""
    build = os.path.join(ROOT, "build-wheel", _tag())
    configure = ["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                 "-DBITCASK_PYTHON_ONLY=ON", f"-DPython_EXECUTABLE={sys.executable}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    subprocess.run(configure, check=True, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", build, "--target", "bitcask_python", "-j",
                    str(os.cpu_count() or 2)], check=True, stdout=sys.stderr)
    return os.path.join(build, "python")


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    source = _build()
    wheel_name = f"{NAME}-{VERSION}-{_tag()}.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        for package in PACKAGES:
            for dirpath, dirnames, filenames in os.walk(os.path.join(source, package)):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                for filename in sorted(filenames):
                    path = os.path.join(dirpath, filename)
                    arcname = os.path.relpath(path, source)
                    with open(path, "rb") as f:
                        data = f.read()
                    whl.writestr(arcname, data)
                    records.append(_record_line(arcname, data))
        for name, text in _metadata_files().items():
            arcname = f"{_dist_info()}/{name}"
            whl.writestr(arcname, text)
            records.append(_record_line(arcname, text.encode()))
        records.append(f"{_dist_info()}/RECORD,,")
        whl.writestr(f"{_dist_info()}/RECORD", "\n".join(records) + "\n")
    return wheel_name
