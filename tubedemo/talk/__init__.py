"""Running the talk: the show's clock, k6 (the only module that spawns it), k6's series,
presenter keys, mode flips.

May import core, telemetry, manifests, twin, cluster (the mode ConfigMap switcher), screen and
audience; never rehearsal/ or the edge.
"""
