"""Typer commands, one module per area; ``tubedemo.cli`` registers each module's commands.

Commands stay thin: parse options, call one module that does the work, print its result.
"""
