"""Feed entries: the leaf value types the journal, the rules and the boards share, and their builder."""
