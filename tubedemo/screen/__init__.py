"""What the projector shows, and what is left after the talk.

Modules: ``dashboard`` (package: the pure render of snapshot history, in theme, block font,
graphs, frame, panels, commentary and layout), ``board`` (the one live board: source ->
history -> recording -> frame, on a thread or stepped), ``watching`` (``watch``'s terminal loop
and replay), ``report`` (package: the post-talk numbers, matplotlib charts and HTML page).

May import tubedemo.core and tubedemo.telemetry.
"""
