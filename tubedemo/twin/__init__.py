"""The digital twin: pure, deterministic models of vLLM, the autoscaling loop and the load.

Nothing here reads the wall clock, sleeps, opens sockets, threads, processes or files: time is
a float (seconds from the start of the talk) passed in by the caller, and randomness comes from
a seeded ``random.Random`` (the "twin is pure" import contract forbids time, socket, threading,
subprocess, asyncio and HTTP libraries). ``tubedemo simulate`` fast-forwards these models; the
rehearsal's fleet simulator (tubedemo.rehearsal) drives the same models from a real clock and
serves them over HTTP; ``view.world_view`` turns either into the Snapshot's cluster groups.

May import tubedemo.core and tubedemo.telemetry (the Snapshot contract).
"""
