#!/usr/bin/env python3
"""Build the OpenTelemetry Collector the tests run, with the collector's own builder (OCB),
from the Go module proxy: exactly the components in tools/otelcol/manifest.yaml, which are
the ones templates/otel-collector.yaml.j2 renders.

Idempotent: the binary lives in ~/.cache/tubedemo/otelcol/<key>/otelcol (base overridable with
TUBEDEMO_OTELCOL_DIR), where <key> is the builder's version plus a digest of the manifest; a
folder with the binary and a matching stamp is only reported. Go's own GOCACHE/GOMODCACHE stay
at their defaults. The key and the folder are tubedemo.core.gobuild's OTELCOL (the lab reads
the same definition). Standard library only.

Usage:
  scripts/build-otelcol              build if needed, print the binary's path
  scripts/build-otelcol --print-path only print the binary's path
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.go_builder import GO_PARALLEL, go_env, run
from tubedemo.core.errors import TubedemoError
from tubedemo.core.gobuild import OTELCOL


def _builder_manifest(output: Path) -> str:
    """The manifest as OCB reads it: without our `builder:` block, with the output folder."""
    text = re.sub(r"^builder:\n(?:  .*\n)+", "", OTELCOL.manifest.read_text(), flags=re.M)
    return text.replace("OUTPUT_PATH", str(output))


def _env(gobin: Path | None = None) -> dict[str, str]:
    # OCB runs `go` itself: the parallelism goes through GOFLAGS.
    env = go_env()
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -p={GO_PARALLEL}".strip()
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    return env


def build() -> int:
    if shutil.which("go") is None:
        print("build-otelcol: Go is not installed (need go >= 1.25 on PATH)", file=sys.stderr)
        return 1
    out = OTELCOL.cache_dir()
    if OTELCOL.is_current():
        print(OTELCOL.binary())
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    # Build in a sibling temp folder and rename: an interrupted build never looks complete.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".building-") as tmp:
        stage = Path(tmp)
        module, version = OTELCOL.builder_pin()
        run(["go", "install", f"{module}@{version}"], stage, _env(stage / "bin"))
        (stage / "manifest.yaml").write_text(_builder_manifest(stage / "src"))
        run(
            [str(stage / "bin" / "builder"), "--config", str(stage / "manifest.yaml")],
            stage,
            _env(),
        )
        built = stage / "src" / "otelcol"
        if not built.is_file():
            print(f"build-otelcol: the builder wrote no {built}", file=sys.stderr)
            return 1
        final = stage / "final"
        final.mkdir()
        shutil.move(str(built), final / "otelcol")
        shutil.copy(OTELCOL.manifest, final / "manifest.yaml")
        stamp = {"key": OTELCOL.key(), "builder": f"{module}@{version}", "seconds": 0}
        stamp["seconds"] = round(time.monotonic() - start)
        (final / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        final.rename(out)
    print(f"[build-otelcol] built in {time.monotonic() - start:.0f}s", flush=True)
    print(OTELCOL.binary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--print-path", action="store_true", help="print the binary's path")
    args = parser.parse_args(argv)
    try:
        if args.print_path:
            print(OTELCOL.binary())
            return 0
        return build()
    except subprocess.CalledProcessError as exc:
        print(f"build-otelcol: {' '.join(exc.cmd[:3])} failed (exit {exc.returncode})")
        return 1
    except TubedemoError as exc:
        print(f"build-otelcol: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
