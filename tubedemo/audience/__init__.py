"""What the audience touches from the presenter's side: the gateway admin client, the winner
reveal, the QR code and the audience URL. May import tubedemo.core only.
"""
