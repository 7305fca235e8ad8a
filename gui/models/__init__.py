"""Qt item models of the boards and the shared table plumbing."""
