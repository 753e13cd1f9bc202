"""Live telemetry: the Snapshot contract, the sources that sample the talk (HTTP feeds,
Prometheus text, the twin's state, the Kubernetes view) and the Assembler that turns them into
one Snapshot per tick; the recorder and its reader.

May import tubedemo.core only; twin/, cluster/ and screen/ build on it.
"""
