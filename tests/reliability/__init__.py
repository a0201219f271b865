"""The reliability and security suite: faults, bad input and attacks against a whole hub, with nothing lost.

`python -m tests.reliability` (or `make reliability`) runs it and prints the figures; `--long` runs the
long form. Every test records what it tried in the ledger (tests/reliability/ledger.py).
"""
