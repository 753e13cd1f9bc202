"""The scripts that build and prepare what the lab and the test suite need, as Python modules
that ruff and mypy check. Each runs by its command name, `scripts/<name>` (a symlink to
`<name_with_underscores>.py`; go_builder.py is the Go builds' shared driver), with a fresh
machine's python3: standard library only, plus tubedemo's stdlib-only core modules
(``tubedemo.core.gobuild``, ``cache``, ``vllm_release``) imported straight from the
checkout, since they run before the project's virtualenv exists (tests/scripts checks both).
"""
