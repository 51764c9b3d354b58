"""Twofold protocol core: pure logic, no I/O."""
