"""Signing in: PKCE through a loopback listener, client credentials, tokens, the keyring store."""
