#!/usr/bin/env python3
"""Provision, for local development and tests, the AWS resources that template.yaml defines.

    AWS_ENDPOINT_URL=http://127.0.0.1:PORT infra/provision.py [--template template.yaml] [--region R]
    infra/provision.py --real          # a real AWS account, with the credentials already configured

The template is the single source of truth: this script reads it (with cfn-lint's decoder, so the short forms
!Ref, !If, !Sub ... parse) and creates what it finds, evaluating its Conditions for the target region:

  AWS::DynamoDB::GlobalTable  -> dynamodb create_table (same key schema, attributes, billing, stream, SSE),
                                 TTL and point-in-time recovery as the local region's replica declares them
  AWS::KMS::Key               -> kms create_key (SYMMETRIC_DEFAULT, MultiRegion as declared)
  AWS::KMS::ReplicaKey        -> kms replicate_key from PrimaryKeyArn (only in a replica region)
  AWS::KMS::Alias             -> kms create_alias, pointing at the key created above
  AWS::SES::EmailIdentity     -> ses (v1) verify_email_identity, or verify_domain_identity for a domain
  AWS::S3::Bucket             -> s3 create_bucket, named by the variable that refers to it (or kanri-<id>)
  AWS::SQS::Queue             -> sqs create_queue for a queue a variable refers to (not dead-letter queues)

Every step skips what already exists, so running it twice is harmless. Everything else in the template (the API,
the functions) is the local server's job and is ignored.

Names can be overridden through the environment variables the functions read (Globals.Function.Environment in
the template): a resource whose name is the template value of KANRI_TABLE is named $KANRI_TABLE if that is set,
and so on for KANRI_LOG_TABLE, KANRI_KMS_KEY_ID (an alias name) and KANRI_MAIL_FROM. Tests use this to give each
run its own tables.

Prints, on stdout, the environment a server needs (KEY=VALUE lines); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRIMARY_REGION = "ap-northeast-1"

# Dummy credentials for an emulator. Only set when none are configured and only without --real.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Template:
    """Just enough of CloudFormation's evaluation to read names and conditions out of template.yaml."""

    def __init__(self, path: Path, region: str, params: dict[str, str]):
        from cfnlint.decode import decode

        tpl, matches = decode(str(path))
        if matches or tpl is None:
            raise SystemExit(f"cannot read {path}: " + "; ".join(str(m) for m in matches or []))
        self.tpl = tpl
        self.region = region
        self.params = {}
        for name, spec in (tpl.get("Parameters") or {}).items():
            if name in params:
                self.params[name] = params[name]
            elif "Default" in spec:
                self.params[name] = str(spec["Default"])
        unknown = set(params) - set(self.params)
        if unknown:
            raise SystemExit(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        self._conditions: dict[str, bool] = {}

    @property
    def resources(self) -> dict:
        return self.tpl.get("Resources") or {}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::AccountId": "123456789012",
            "AWS::StackName": "kanri-local",
        }[name]

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.tpl["Conditions"][name]))
        return self._conditions[name]

    def active(self, logical_id: str) -> bool:
        cond = self.resources[logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def value(self, node):
        """Evaluate a template value: scalars, Ref to parameters and pseudo parameters, Fn::If, Fn::Equals,
        Fn::Not, Fn::And, Fn::Or, Condition, Fn::Sub without a variable map. A Ref to a resource evaluates to
        ("resource", logical_id), for the caller to map."""
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if not isinstance(node, dict):
            return str(node) if isinstance(node, str) else node
        if len(node) != 1:
            return {k: self.value(v) for k, v in node.items()}
        (fn, arg), = node.items()
        if fn == "Ref":
            if arg.startswith("AWS::"):
                return self.pseudo(arg)
            if arg in self.params:
                return self.params[arg]
            if arg in self.resources:
                return ("resource", arg)
            raise SystemExit(f"Ref to unknown name {arg}")
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            a, b = (self.value(v) for v in arg)
            return a == b
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(v) for v in arg)
        if fn == "Fn::Or":
            return any(self.value(v) for v in arg)
        if fn == "Fn::If":
            cond, yes, no = arg
            return self.value(yes if self.condition(cond) else no)
        if fn == "Fn::Sub" and isinstance(arg, str):
            def sub(m: re.Match) -> str:
                v = self.value({"Ref": m.group(1)})
                if not isinstance(v, str):
                    raise SystemExit(f"cannot substitute ${{{m.group(1)}}} locally")
                return v
            return re.sub(r"\$\{([A-Za-z0-9_:]+)\}", sub, arg)
        return {fn: self.value(arg)}

    def global_env(self) -> dict:
        g = ((self.tpl.get("Globals") or {}).get("Function") or {})
        return {k: self.value(v) for k, v in ((g.get("Environment") or {}).get("Variables") or {}).items()}


def client(service: str, region: str, endpoint: str | None):
    import boto3
    from botocore.config import Config

    # Fail fast against an emulator: a 500 from moto is a bug there, not a transient error.
    config = Config(retries={"max_attempts": 1 if endpoint else 5, "mode": "standard"})
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=config)


def provision_table(ddb, props: dict, name: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        ddb.describe_table(TableName=name)
        log(f"table {name}: exists")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        args = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if args["BillingMode"] == "PROVISIONED":
            raise SystemExit(f"table {name}: only PAY_PER_REQUEST is supported here")
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        sse = props.get("SSESpecification")
        if sse and sse.get("SSEEnabled"):
            # No per-replica KMSMasterKeyId in the template: the AWS managed key, as in AWS.
            args["SSESpecification"] = {"Enabled": True, "SSEType": sse.get("SSEType", "KMS")}
        ddb.create_table(**args)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        log(f"table {name}: created")

    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            log(f"table {name}: TTL on '{current.get('AttributeName')}' already enabled")
        else:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
            log(f"table {name}: TTL enabled on '{ttl['AttributeName']}'")

    replica = next((r for r in props.get("Replicas") or [] if r.get("Region") == region), None)
    pitr = (replica or {}).get("PointInTimeRecoverySpecification") or {}
    if pitr.get("PointInTimeRecoveryEnabled"):
        desc = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        status = (desc.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
        if status == "ENABLED":
            log(f"table {name}: point-in-time recovery already enabled")
        else:
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
            log(f"table {name}: point-in-time recovery enabled")


def create_key(kms, kprops: dict, logical_id: str, multi_region: bool) -> dict:
    meta = kms.create_key(
        Description=kprops.get("Description", ""),
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage=kprops.get("KeyUsage", "ENCRYPT_DECRYPT"),
        MultiRegion=multi_region,
        Tags=[{"TagKey": "kanri:logical-id", "TagValue": logical_id}],
    )["KeyMetadata"]
    if kprops.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return meta


def replicate_key(primary_kms, replica_kms, key_id: str, region: str, description: str, emulator: bool) -> dict:
    """Replicate a multi-Region key into region. key_id is the bare key id: AWS accepts the ARN too, moto 5.2
    only the id."""
    from botocore.exceptions import ClientError

    multi_region = primary_kms.describe_key(KeyId=key_id)["KeyMetadata"].get("MultiRegion", False)
    if multi_region or not emulator:
        return primary_kms.replicate_key(KeyId=key_id, ReplicaRegion=region, Description=description)[
            "ReplicaKeyMetadata"]
    # The emulator fallback above made the "primary" a single-Region key. moto 5.2's ReplicateKey copies such a
    # key (id and material) into the replica region and then fails with a 500 while updating the primary's
    # multi-Region configuration, which it does not have. The copy is what we want: accept it if it is there.
    try:
        return primary_kms.replicate_key(KeyId=key_id, ReplicaRegion=region, Description=description)[
            "ReplicaKeyMetadata"]
    except ClientError:
        try:
            meta = replica_kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError:
            raise SystemExit(f"kms: the emulator could not copy key {key_id} into {region}") from None
        log(f"kms: warning: emulated the replica of single-Region key {key_id} in {region} with a copy")
        return meta


def round_trips(kms, key_id: str) -> bool:
    """Whether a data key generated under key_id decrypts again (the envelope-encryption round trip)."""
    from botocore.exceptions import ClientError

    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    try:
        return kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    except ClientError:
        return False


def existing_aliases(kms) -> dict[str, str]:
    out = {}
    for page in kms.get_paginator("list_aliases").paginate():
        for a in page["Aliases"]:
            out[a["AliasName"]] = a.get("TargetKeyId", "")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=REPO / "template.yaml")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                    or PRIMARY_REGION)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="template parameter override (e.g. PrimaryKeyArn=... in a replica region)")
    ap.add_argument("--real", action="store_true",
                    help="provision in real AWS with the configured credentials (no AWS_ENDPOINT_URL needed)")
    args = ap.parse_args()

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not args.real and not endpoint:
        ap.error("AWS_ENDPOINT_URL is required (the emulator's URL, e.g. from infra/moto.sh); "
                 "use --real for real AWS")
    made_up_credentials = False
    if not args.real and not os.environ.get("AWS_ACCESS_KEY_ID"):
        os.environ.update(DUMMY_CREDENTIALS)
        made_up_credentials = True
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region

    params = dict(p.split("=", 1) for p in args.param)
    tpl = Template(args.template, args.region, params)

    # Local names: the template's, unless the environment variable that carries that name to the functions
    # (Globals.Function.Environment) is set.
    env_for_name = {v: k for k, v in tpl.global_env().items() if isinstance(v, str)}

    def local_name(template_name: str) -> str:
        var = env_for_name.get(template_name)
        return os.environ.get(var, template_name) if var else template_name

    ddb = client("dynamodb", args.region, endpoint)
    kms = client("kms", args.region, endpoint)
    ses = client("ses", args.region, endpoint)

    by_type: dict[str, list[str]] = {}
    for lid, res in tpl.resources.items():
        if tpl.active(lid):
            by_type.setdefault(res["Type"], []).append(lid)

    out: dict[str, str] = {"KANRI_BACKEND": "aws"}

    # Tables. A global table exists in every region it lists as a replica, whichever stack creates it (the Tokyo
    # stack creates the Osaka replicas), so its Condition is not what decides here. An emulator does not
    # replicate: each region's table is on its own.
    for lid, res in tpl.resources.items():
        if res["Type"] != "AWS::DynamoDB::GlobalTable":
            continue
        props = tpl.value(res["Properties"])
        if not any(r.get("Region") == args.region for r in props.get("Replicas") or []):
            log(f"table {props['TableName']}: no replica in {args.region}, skipped")
            continue
        name = local_name(props["TableName"])
        provision_table(ddb, props, name, args.region)
        if var := env_for_name.get(props["TableName"]):
            out[var] = name
    if by_type.get("AWS::DynamoDB::Table"):
        log("warning: plain AWS::DynamoDB::Table resources are not provisioned by this script")

    # Keys, then their aliases. Keys are found again through their alias on a second run.
    aliases = existing_aliases(kms)
    alias_ids = [lid for lid in by_type.get("AWS::KMS::Alias", [])]
    key_ids: dict[str, str] = {}  # logical id -> KMS key id

    for lid in alias_ids:
        props = tpl.value(tpl.resources[lid]["Properties"])
        alias = local_name(props["AliasName"])
        target = props["TargetKeyId"]
        if not (isinstance(target, tuple) and target[0] == "resource"):
            raise SystemExit(f"{lid}: TargetKeyId must refer to a key in the template, got {target!r}")
        key_lid = target[1]
        if not tpl.active(key_lid):
            raise SystemExit(f"{lid}: key {key_lid} is not created in {args.region} (check its Condition "
                             "and the PrimaryKeyArn parameter)")
        if alias in aliases:
            key_ids[key_lid] = aliases[alias]
            log(f"kms {alias}: exists -> {aliases[alias]}")
            if not round_trips(kms, alias):
                log(f"kms {alias}: warning: a data key generated under it does not decrypt")
        else:
            key = tpl.resources[key_lid]
            kprops = tpl.value(key["Properties"])
            if key["Type"] == "AWS::KMS::Key":
                if kprops.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                    raise SystemExit(f"{key_lid}: only SYMMETRIC_DEFAULT keys are supported here")
                multi_region = bool(kprops.get("MultiRegion", False))
                meta = create_key(kms, kprops, key_lid, multi_region)
                if multi_region and endpoint and not round_trips(kms, meta["KeyId"]):
                    # moto 5.2 stores a 36-character key id in its ciphertext blobs, so nothing encrypted
                    # under a multi-Region key (40-character "mrk-..." id) ever decrypts. Fall back to a
                    # single-Region key on such an emulator; moto's replicate_key copies it, key id and
                    # material, so cross-region decryption still works there.
                    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
                    meta = create_key(kms, kprops, key_lid, False)
                    log(f"kms {alias}: warning: the emulator cannot decrypt under a multi-Region key; "
                        "using a single-Region key instead")
            elif key["Type"] == "AWS::KMS::ReplicaKey":
                primary = kprops["PrimaryKeyArn"]  # arn:aws:kms:REGION:ACCOUNT:key/mrk-...
                primary_region = primary.split(":")[3]
                meta = replicate_key(client("kms", primary_region, endpoint), kms,
                                     primary.rsplit("/", 1)[-1], args.region, kprops.get("Description", ""),
                                     emulator=bool(endpoint))
            else:
                raise SystemExit(f"{lid}: unsupported key type {key['Type']}")
            # moto copies aliases along with a replicated key; AWS does not.
            if alias not in existing_aliases(kms):
                kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
            key_ids[key_lid] = meta["KeyId"]
            if not round_trips(kms, alias):
                raise SystemExit(f"kms {alias}: a data key generated under {meta['KeyId']} does not decrypt")
            log(f"kms {alias}: created key {meta['KeyId']} (MultiRegion={meta.get('MultiRegion')})")
        if var := env_for_name.get(props["AliasName"]):
            out[var] = alias
    for key_type in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
        for lid in by_type.get(key_type, []):
            if lid not in key_ids:
                log(f"warning: {lid} has no alias in the template and was not created")

    # SES identities (the v1 API, which moto's SES and SESv2 sending both check).
    if by_type.get("AWS::SES::EmailIdentity"):
        verified = set()
        for page in ses.get_paginator("list_identities").paginate():
            verified.update(page["Identities"])
        for lid in by_type["AWS::SES::EmailIdentity"]:
            template_identity = tpl.value(tpl.resources[lid]["Properties"]["EmailIdentity"])
            identity = local_name(template_identity)
            if identity in verified:
                log(f"ses {identity}: exists")
            elif "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
                log(f"ses {identity}: email identity verified")
            else:
                ses.verify_domain_identity(Domain=identity)
                log(f"ses {identity}: domain identity verified")
            if var := env_for_name.get(template_identity):
                out[var] = identity

    # Buckets and queues that the functions find through an environment variable holding `!Ref <resource>`:
    # the variable's value from the environment, or a name made from the logical id.
    env_for_ref = {v[1]: k for k, v in tpl.global_env().items() if isinstance(v, tuple) and v[0] == "resource"}
    if by_type.get("AWS::S3::Bucket"):
        s3 = client("s3", args.region, endpoint)
        have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for lid in by_type["AWS::S3::Bucket"]:
            var = env_for_ref.get(lid)
            name = os.environ.get(var, "") if var else ""
            name = name or f"kanri-{lid.lower()}"
            if name in have:
                log(f"s3 {name}: exists")
            else:
                conf = {} if args.region == "us-east-1" else {
                    "CreateBucketConfiguration": {"LocationConstraint": args.region}}
                s3.create_bucket(Bucket=name, **conf)
                log(f"s3 {name}: created")
            if var:
                out[var] = name
    if by_type.get("AWS::SQS::Queue"):
        sqs = client("sqs", args.region, endpoint)
        for lid in by_type["AWS::SQS::Queue"]:
            var = env_for_ref.get(lid)
            if not var:
                continue  # a dead-letter queue: nothing reads it locally
            url = os.environ.get(var, "")
            if not url:
                url = sqs.create_queue(QueueName=f"kanri-{lid.lower()}")["QueueUrl"]
                log(f"sqs {url}: ready")
            out[var] = url

    out["AWS_REGION"] = args.region
    if endpoint:
        out["AWS_ENDPOINT_URL"] = endpoint
    if made_up_credentials:
        out.update(DUMMY_CREDENTIALS)
    for k, v in out.items():
        print(f"{k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
