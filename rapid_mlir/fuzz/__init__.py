"""Fuzzing. `generate` and `run`: differential fuzzing of the compiler and emulator with
random valid `nn` graphs checked by oracles (`rapid-fuzz`, docs/fuzzing.md); `mutate`:
mutation fuzzing of the tools' input files."""
