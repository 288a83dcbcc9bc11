"""Hand-written async source of truth; tools/unasync.py generates pgqrs._sync from it."""
