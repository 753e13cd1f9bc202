"""The talk on a laptop: rehearse, the fleet simulator and its HTTP server, the vLLM stand-in,
and the talk on the lab.

Modules: ``rehearse`` (the whole talk: fleet, gateway, k6, dashboard), ``room_survey`` (the
simulated room answering the survey when the page flips), ``children`` (the
fleet's command line and start-up, shared by rehearse and the lab session), ``fleet`` (the
simulated fleet: twin engines behind one router), ``server`` (its HTTP face), ``openai_api``
(vLLM's OpenAI API, for the fleet and the stand-in), ``standin`` (one simulated vLLM replica:
a pod of the local profile), ``vllm_metrics`` (vLLM's /metrics, the one exposition of the
stand-in, the fleet's replicas and the tests), ``summed_gauges`` (the queue summed per metric,
as KEDA reads it), ``scaler_standin`` (in place of the Kedify OTEL scaler on the lab),
``lab_session`` (lab + fleet + our manifests, up and warm), ``lab_feed`` (the dashboard's feed
on the lab), ``agreement`` (twin vs lab, pure) and ``twin_vs_lab`` (running both).

May import anything but the CLI edge (tubedemo.cli, tubedemo.commands); this is where sockets,
servers and child processes for the rehearsal live (the twin itself stays pure); processes
through tubedemo.core.processes.
"""
