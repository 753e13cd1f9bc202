"""The talk on a laptop: rehearse, the fleet simulator and its HTTP server. May import
anything but the CLI edge (tubedemo.cli, tubedemo.commands).
"""
