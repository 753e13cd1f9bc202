"""Live telemetry: sources that sample the talk and the Snapshot they are assembled into."""
