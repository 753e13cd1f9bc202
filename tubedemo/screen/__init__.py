"""What the projector shows: the pure dashboard render, the live board loop, the post-talk
report. May import tubedemo.core and tubedemo.telemetry.
"""
