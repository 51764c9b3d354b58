"""Client apps of the local REST API: the twofold CLI and the Python SDK."""
