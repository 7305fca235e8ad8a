"""The REST API: the httpx client with retries and paging, its answers' schema, the regions."""
