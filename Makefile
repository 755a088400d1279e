# Two entry points: `make demo` and `make test`. Both create .venv and install the
# project (with its dev extra) into it when needed, so they work on a fresh clone
# with only Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-lit test-unit fuzz venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "error: Python >= 3.11 is needed (found '$(PYTHON)'); run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The zoo's ResNet-18 (224x224, seeded weights) as ONNX, imported, compiled for rapid-4c,
# emulated, and checked against onnxruntime.
demo: $(STAMP)
	mkdir -p build
	$(BIN)/python -m rapid_mlir.models.zoo resnet18 --size full -o build/resnet18.onnx
	$(BIN)/rapid-demo build/resnet18.onnx

test: $(STAMP)
	$(BIN)/python tools/run_tests.py

test-lit: $(STAMP)
	$(BIN)/lit -v test/filecheck

test-unit: $(STAMP)
	$(BIN)/python -m pytest test/unit

# Longer fuzzing campaigns than the unit tests' slices: random graphs through the whole
# compiler on every preset and mapping variant in turn, two at a time (10 min), then
# mutated inputs for every tool (5 min); shrunk reproducers go to fuzz-out/.
fuzz: $(STAMP)
	$(BIN)/rapid-fuzz --seconds 600 --seed $${SEED:-0} --mappings --rotate --jobs $${JOBS:-2} --out fuzz-out
	$(BIN)/rapid-fuzz-inputs --seconds 300 --seed $${SEED:-0} --out fuzz-out/inputs

clean:
	rm -rf $(VENV) build *.egg-info
