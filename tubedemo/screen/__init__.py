"""What the projector shows: the pure dashboard render, the live board (snapshots on a thread,
recorded) and its terminal loop, the post-talk report.

May import tubedemo.core and tubedemo.telemetry.
"""
