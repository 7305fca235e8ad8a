"""Feed entries: the leaf value types the journal, rules and boards share, and their builder."""
