"""Leaf value types of the contact centre shared by every room: media types and their words."""
