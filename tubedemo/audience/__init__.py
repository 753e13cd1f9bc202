"""What the audience touches from the presenter's side: the gateway admin client, the winner
reveal, the QR code and the audience URL.

May import tubedemo.core only (httpx and pydantic for the client). How a command reaches the
in-cluster gateway (cluster proxy + this client) is wired in tubedemo.commands.wiring.
"""
