"""Peer engines the benchmarks set beside jianyi for context: the same process, run by someone else's engine."""
