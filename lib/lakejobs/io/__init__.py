"""Readers and writers: the only library code that touches storage."""
