"""Fault suite (issue 6): faults survived, bad input refused, nothing lost."""
