"""The SQLite journal of feed entries: writer, reader, query, export, recovery."""
