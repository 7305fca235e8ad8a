"""Leaf values shared by every room: media types and words, system presences, formatting."""
