"""The foundation: config model, errors, durations, the formula language, the timeline plan,
shipped resources and child processes. Imports nothing else of tubedemo's.
"""
