"""The API handler's cold start stays cheap: importing app.py must not import the AWS SDK, PynamoDB or the
X-Ray SDK (services build them on first use). Timings live in `make bench`; this guards the structure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("botocore.client", "boto3", "pynamodb", "aws_xray_sdk", "reportlab", "netsgiro", "phonenumbers")


def test_importing_the_api_handler_loads_no_sdk() -> None:
    code = f"import json, sys, app; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout.strip().splitlines()[-1]) == []
