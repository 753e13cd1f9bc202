"""The vLLM release tubedemo deploys, defined once: ``ModelConfig.image``'s default and
scripts/build_vllm_env.py (which installs the same wheel, so the tests parse the rendered args
with this release's own parser) both import it. Imports nothing: the script imports it before
the project's virtualenv exists.
"""

# v0.33.0: the newest vLLM on PyPI (`pip index versions vllm`, Nov 2026); vLLM's release
# publishes vllm/vllm-openai:v<release> for each PyPI release, and this one knows
# --shutdown-timeout (since v0.18.0).
VLLM_RELEASE = "0.33.0"
"""The `vllm` wheel on PyPI, and the tag of its image."""

VLLM_IMAGE = f"vllm/vllm-openai:v{VLLM_RELEASE}"
"""The vLLM container image, pinned: a surprise upgrade on stage is not a demo."""
