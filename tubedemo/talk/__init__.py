"""Running the talk on stage (and in a rehearsal, which runs the same show).

Modules: ``show`` (the show's clock, its screen and loop: k6 phases, mode flips, cues, keys),
``show_board`` (the show's live board, wired once for ``show`` and ``rehearse``), ``k6`` (the
only module that spawns k6), ``load_stats`` (the stage's running load figures from k6's
points), ``keys`` (presenter keys), ``modes`` (mode flips via the gateway or the cluster),
``forecast_feed`` (the timeline's forecast posted to the gateway on the show's clock).

May import core, telemetry, manifests, twin, cluster (the mode ConfigMap switcher), screen and
audience; never rehearsal/ or the edge.
"""
