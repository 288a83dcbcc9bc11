"""The API's implementation. The asyncio code is written by hand; tools/unasync.py generates
the blocking package from it."""
