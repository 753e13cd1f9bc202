"""HTTP routes, one router per area; `create_app` (gateway/app.py) includes them.

chat (the OpenAI proxy), config (page config, mode, scaling status), survey (submit, results,
draw, export), admin (talk sessions, questions), ops (probes, metrics), forecast (the timeline's
forecast KEDA reads), page (the web page).
Each handler parses the request, asks `state.State` or the runtime, and shapes the answer.
"""
