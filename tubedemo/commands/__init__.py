"""The CLI edge: Typer commands, one module per area; ``tubedemo.cli`` registers each.

Commands stay thin: parse options, call one module that does the work, print its result.
They may import anything; nothing imports them. A command module imports at its top only
Typer, Rich's Console, ``commands.options`` and the light ``core`` modules, and everything
else inside the command that uses it, so ``tubedemo --help`` starts fast.
"""
