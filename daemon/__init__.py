"""The Twofold daemon: storage, the local REST API, and service lifecycle (all the I/O)."""
