"""Integration tests: the outside contract (INTERFACES.md) checked across commands."""
