"""The audience-facing gateway: OpenAI-compatible proxy, survey and winners."""
