#!/usr/bin/env python3
"""Adds to template.yaml a function block for every route of the route table that has none, and writes the
route's thin binary in functions/src/bin/ if missing. A developer's helper when adding routes:

    cargo run -q -p kanri-functions --bin kanri-local -- routes > /tmp/routes.json
    python3 infra/dev/add_functions.py /tmp/routes.json [--ses ID ...]

Each new function gets read/write on both tables and kms:Decrypt (every authenticated function unwraps its
tenant's key); --ses adds ses:SendEmail for functions that send mail. Review the policy before committing:
narrow it where the function needs less. tests/tests/api/layout.rs checks the result against the route table.
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
RW = ("[dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem, dynamodb:PutItem, dynamodb:UpdateItem, "
      "dynamodb:DeleteItem, dynamodb:ConditionCheckItem, dynamodb:BatchWriteItem]")


def logical(route_id):
    return "".join(w.capitalize() for w in route_id.split("-")) + "Function"


def block(r, ses):
    operator = r.get("operator")
    auth = "\n            Auth:\n              Authorizer: AWS_IAM" if operator else ""
    text = f"""  {logical(r['id'])}:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: {r['id']}
    Properties:
      CodeUri: .
      Description: {r['method']} {r['path']}
      Events:
        Api:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: {r['method']}
            Path: {r['path']}{auth}
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: DataReadWrite
              Effect: Allow
              Action: {RW}
              Resource: !Sub arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/kanri-data
            - Sid: LogReadWrite
              Effect: Allow
              Action: {RW}
              Resource: !Sub arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/kanri-log
            - Sid: DataKeyDecrypt
              Effect: Allow
              Action: [kms:Decrypt]
              Resource: !If [IsPrimaryRegion, !GetAtt DataKey.Arn, !GetAtt DataReplicaKey.Arn]
"""
    if ses:
        text += """            - Sid: SendMail
              Effect: Allow
              Action: [ses:SendEmail, ses:SendRawEmail]
              Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailFrom}
"""
    return text


def main():
    routes = json.load(open(sys.argv[1]))
    ses = set(sys.argv[sys.argv.index("--ses") + 1:]) if "--ses" in sys.argv else set()
    path = os.path.join(ROOT, "template.yaml")
    t = open(path).read()
    for r in routes:
        binary = os.path.join(ROOT, "functions", "src", "bin", r["id"] + ".rs")
        if not os.path.exists(binary):
            with open(binary, "w") as f:
                f.write(f"//! Lambda function for `{r['method']} {r['path']}`.\n\n#[tokio::main]\n"
                        f"async fn main() -> Result<(), kanri::http::lambda::Error> {{\n"
                        f"    kanri::http::lambda::run(\"{r['id']}\").await\n}}\n")
            print("wrote", binary)
        if f"Binary: {r['id']}\n" in t:
            continue
        i = t.index("\nOutputs:")
        t = t[:i] + "\n" + block(r, r["id"] in ses) + t[i:]
        print("added", logical(r["id"]))
    open(path, "w").write(t)


if __name__ == "__main__":
    main()
