"""Run INSIDE the pinned vLLM environment (scripts/build-vllm-env): parse `vllm serve` args with
vLLM's own parser, exactly as `vllm serve` does (vllm/entrypoints/cli/main.py: a
FlexibleArgumentParser with the serve subcommand's make_arg_parser, then the subcommand's
validate). This machine has no GPU, so vLLM's platform is unspecified and building the parser's
defaults fails ("Failed to infer device type"); as vLLM's own main does for `vllm bench`, the
CPU platform stands in. Flags and their checks are the same on every platform.

The LoadConfig `vllm serve` builds from the args is then handed to the model loader its load
format selects, whose constructor checks its extra config (--model-loader-extra-config) as it
would in the engine. Nothing is served and no model is loaded. Usage: python serve_args.py
ARG... (the container's args after `vllm serve`). Prints the parsed values as JSON; on an
unknown or invalid flag vLLM's parser prints its own message and exits 2.
"""

import json
import sys

from vllm import platforms
from vllm.engine.arg_utils import EngineArgs
from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.model_executor.model_loader import get_model_loader
from vllm.platforms.cpu import CpuPlatform
from vllm.utils.argparse_utils import FlexibleArgumentParser

if platforms.current_platform.is_unspecified():
    platforms.current_platform = CpuPlatform()

parser = FlexibleArgumentParser(description="vLLM CLI")
subparsers = parser.add_subparsers(required=False, dest="subparser")
serve = ServeSubcommand()
serve.subparser_init(subparsers)
args = parser.parse_args(["serve", *sys.argv[1:]])
serve.validate(args)
if getattr(args, "model_tag", None) is not None:
    args.model = args.model_tag  # as ServeSubcommand.cmd does
# The model loader's own checks of its extra config (the Run:ai streamer refuses unknown keys
# and bad values in its constructor, not in the parser): the LoadConfig `vllm serve` builds from
# these args, handed to the loader its load format selects. Nothing is loaded.
engine_args = EngineArgs.from_cli_args(args)
loader = get_model_loader(engine_args.create_load_config())
parsed = {k: v for k, v in vars(args).items() if k != "dispatch_function"}
parsed["model_loader"] = type(loader).__name__
print(json.dumps(parsed, default=str))
