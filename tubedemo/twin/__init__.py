"""The digital twin: pure, deterministic models of vLLM, the autoscaling loop and the load.

Nothing here reads the wall clock, sleeps, opens sockets or files: time is a float (seconds from
the start of the talk) passed in by the caller, and randomness comes from a seeded
``random.Random``. ``tubedemo simulate`` fast-forwards these models; the rehearsal's fleet
simulator drives the same models from a real clock.
"""
