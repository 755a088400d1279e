"""lit configuration: FileCheck tests under test/filecheck, run with `lit test/filecheck`."""

import os
import shutil

import lit.formats

config.name = "rapid-mlir"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".rasm"]
# lit maps test paths relative to the directory of this file (the repo root); run it
# on the test directory: `lit test/filecheck`.
repo_root = os.path.dirname(os.path.abspath(__file__))
config.test_source_root = repo_root
config.test_exec_root = os.path.join(repo_root, "build", "lit")
config.excludes = ["inputs", "examples", "docs", "build", ".venv", "rapid_mlir"]

# The tools come from the environment lit runs in (the project's .venv).
venv_bin = os.path.join(repo_root, ".venv", "bin")
config.environment["PATH"] = os.pathsep.join([venv_bin, os.environ.get("PATH", "")])
config.substitutions.append(
    ("%roundtrip", "rapid-opt %s --split-input-file --print-op-generic | rapid-opt --split-input-file")
)
config.substitutions.append(("%inputs", os.path.join(repo_root, "test", "filecheck", "inputs")))
if shutil.which("filecheck", path=config.environment["PATH"]) is None:
    lit_config.fatal("filecheck not found: install the project's dev extra into .venv")
