"""The REST API: the httpx client with retries and paging, the schema of its answers, the regions."""
