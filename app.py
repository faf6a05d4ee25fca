#!/usr/bin/env python3
"""CDK entry point (`cdk.json` runs it). All wiring lives in `stages.app.build`."""

import sys
from pathlib import Path

# The stages import the service's platform contract (src/download_service/contract.py).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from stages import ConfigError
from stages.app import build, new_app


def main() -> None:
    app = new_app()
    try:
        build(app)
    except ConfigError as error:
        sys.exit(str(error))  # one line naming the field, no stack trace
    app.synth()


if __name__ == "__main__":
    main()
