#!/usr/bin/env python3
"""Run the AWS SAM translator (the Transform that CloudFormation applies) over template.yaml, offline.

    infra/sam_translate.py [TEMPLATE] [--out translated.json]

cfn-lint already runs the translator internally; this shows the result (the IAM roles, the HTTP API's OpenAPI
body with its payload format and IAM security) and fails loudly if the translator rejects the template.
Local CodeUri values are replaced by a placeholder S3 object, as `sam package` would do after uploading.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class _Policies:
    """The managed policies SAM attaches itself; no AWS call needed."""

    def load(self):
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("template", nargs="?", type=Path, default=REPO / "template.yaml")
    ap.add_argument("--out", type=Path, help="write the translated CloudFormation template (JSON) here")
    args = ap.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-1")

    from cfnlint.decode import decode
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    tpl, matches = decode(str(args.template))
    if matches or tpl is None:
        print("\n".join(str(m) for m in matches), file=sys.stderr)
        return 1
    tpl = json.loads(json.dumps(tpl, default=str))  # plain dicts and strings
    for res in tpl.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(res["Properties"].get("CodeUri"), str):
            res["Properties"]["CodeUri"] = "s3://placeholder-bucket/placeholder-key"
    try:
        out = transform(tpl, {}, _Policies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"SAM translator: {cause.message}", file=sys.stderr)
        return 1
    if args.out:
        args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    kinds = Counter(r["Type"] for r in out["Resources"].values())
    print("SAM translator: ok, " + ", ".join(f"{n} {t}" for t, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
