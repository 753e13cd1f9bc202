"""The talk on a laptop: rehearse, the fleet simulator and its HTTP server, the vLLM stand-in.

May import anything but the CLI edge (tubedemo.cli, tubedemo.commands); this is where sockets,
servers and child processes for the rehearsal live (the twin itself stays pure).
"""
