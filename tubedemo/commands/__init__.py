"""The CLI edge: Typer commands, one module per area; ``tubedemo.cli`` registers each.

Commands stay thin: parse options, call one module that does the work, print its result.
They may import anything; nothing imports them. A command module imports at its top only
Typer, Rich's Console, ``commands.options`` and the light ``core`` modules, and everything
else inside the command that uses it, so ``tubedemo --help`` starts fast.

Modules: ``options`` (the shared options and how help reads), ``core`` (init, config, render,
validate, crds), ``cluster`` (up, diff, preflight, policy, mode, teardown), ``status``,
``prepare``, ``images``, ``twin`` (simulate, rehearse), ``lab`` (lab up, down, status),
``lab_compare``, ``show`` (show, load), ``watch`` (watch, report), ``audience`` (qr, winners,
session), ``eks`` (cluster create, cluster delete), ``drill`` (drill spot); ``live`` and ``wiring``
wire what several commands read (the dashboard's feeds, the way to the gateway).
"""
