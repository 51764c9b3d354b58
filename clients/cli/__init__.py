"""The twofold command."""
