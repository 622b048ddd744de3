#!/usr/bin/env python3
"""Write BENCHMARKS.md from bench/results.json (bench/bench.py) and the build figures of a CI log.

    bench/report.py --results bench/results.json --out BENCHMARKS.md \
        [--ci-log /tmp/ci.log] [--ci-json bench/ci-build.json] [--total-seconds N]

The CI log is the output of a clean-clone `time bash .ci/run` (what CI runs: `make test`). Its figures are
kept in --ci-json, so a later run without the log still reports them (with their own date).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from pathlib import Path

# ---- targets (issue #10) ---------------------------------------------------------------------------------
TARGET_RPS = 10_000
TARGET_P99_MS = 10.0
TARGET_INIT_MS = 15.0           # Lambda init, each function (issue #19)
TARGET_ZIP_BYTES = 6_000_000    # each function's deployment zip, profile `lambda` (issue #19): 6 MB
TARGET_FIRST_MS = 100.0
TARGET_PEAK_MB = 64.0
TARGET_LOGIN_OVER_ARGON2_MS = 10.0
TARGET_BENCH_MIN = 15.0
TARGET_IMPORT_S = 5.0            # 10,000-row CSV import on the local server
TARGET_IMPORT_REQUESTS = 400     # DynamoDB requests of a 10,000-row import: O(N/25)
TARGET_IMPORT_ROWS = 10_000
TARGET_SUBSCRIBERS = 10_000      # a notice mailed to 10,000 subscribers must be feasible
TARGET_BG_IMPORT_ROWS = 100_000  # background import (uploads + POST /v1/imports)
TARGET_BG_IMPORT_BYTES = 20 * 1024 * 1024  # the import upload limit
TARGET_SOAK_ERRORS = 0           # the soak (issue #20): mixed traffic for minutes, no error
TARGET_SOAK_RSS_END_MIB = 256.0  # ... and memory stays bounded (redb's cache is 64 MiB, not 1 GiB) ...
TARGET_SOAK_RSS_DRIFT_MIB = 32.0 # ... and flat: at most this much more at the end than half-way through
AWS_MAIL_RATE = 7                # KANRI_MAIL_RATE in the template: mails/s per worker
AWS_MAIL_WORKERS = 2             # the worker function's SQS event source: MaximumConcurrency 2
TARGET_HASH_PEAK_MIB = 256.0    # peak RSS with 32 concurrent creates + logins (issue #19)
# Password reset (issue #14): the answer for a known account and for an unknown login must not differ. The
# medians may differ by at most the larger of RESET_MAX_DIFF_MS and RESET_MAX_DIFF_PCT of the smaller. The
# request path no longer looks at the account at all, so what is left is the noise of this shared machine
# (section 9 gives the distance between the medians of two halves of the same class as its measure); the
# old path differed by 2.1-3.2 ms (50-90 %), seven times the allowance or more.
RESET_MAX_DIFF_MS = 0.3
RESET_MAX_DIFF_PCT = 10.0
SECTIONS = ("load", "argon2", "aws", "lambda", "bulk", "tasks", "reset", "fanout", "soak", "makerun")  # as bench/bench.py
MAKE_BENCH_SECTIONS = ("load", "argon2", "aws", "lambda", "bulk", "tasks", "reset")  # bench/run.sh's default
LONG_SECTIONS = ("fanout", "soak", "makerun")  # make bench-long's

# ---- the bulk operations' layout minimum (DynamoDB requests), derived by hand like MINIMUM below ----------
# A transaction holds 100 items, a BatchGetItem 100 keys, a BatchWriteItem 25 writes.
IMPORT_ITEMS_PER_USER = 4   # profile, e-mail guard, invitation token, the user's token index (invite_link)
# Items every import transaction holds besides its rows: the seat counter (its condition keeps the seat limit
# under concurrent imports and creates) and the audit entry (written with the users it records).
IMPORT_ITEMS_PER_TX = 2
NOTICE_PAGE = 100           # subscribers per NoticeMails task (shared/src/app/notices.rs PAGE)
NOTICE_BATCH = 16           # recipients claimed, mailed and marked together (notices.rs BATCH)
MEMBER_ITEMS = 2            # the membership item, the user's group set
GROUP_ITEMS = 3             # the group, its name guard, its audit entry

# ---- the fewest AWS requests the data layout allows, per call (warm: the tenant's keys cached) -----------
# (DynamoDB, KMS, S3, SES, why). Derived by hand from the layout (docs/ARCHITECTURE.md "Data",
# shared/src/app/layout.rs): a session token names its tenant and user beside its secret, and its item is found by
# the hash of the whole token (TOKEN#<hash>), so an authenticated call reads the session, the caller, the
# tenant item and whatever else it needs by key in ONE BatchGetItem (the session is part of it, not a read
# before it); each write is one transaction. Update this table with the layout.
MINIMUM = {
    ("health", ""): (1, 0, 0, 0, "the readiness check: one GetItem of a probe key"),
    ("openapi", ""): (0, 0, 0, 0, "no storage"),
    ("ops-tenants-create", "*"): (2, 2, 0, 1, "one transaction; two GenerateDataKey (data key, log key); "
                                  "the mail and its mail-log write"),
    ("ops-tenants-get", ""): (1, 0, 0, 0, "GetItem of the tenant item"),
    ("ops-tenants-update", "*"): (2, 0, 0, 0, "the tenant item (404 for an unknown id), then the "
                                  "transaction (update + audit entry); the answer is that item with what was "
                                  "written (a transaction returns no item)"),
    ("auth-login", "*"): (5, 0, 0, 0, "the throttle units taken (one conditional increment per limit, in "
                          "one write), slug → tenant, e-mail guard → user, BatchGetItem(user, tenant item, SSO "
                          "settings), one transaction (the session, the units given back, the account's "
                          "failures from this source cleared). The take cannot be a read of the counters: "
                          "parallel attempts would all pass a read and all run argon2, and a unit is taken "
                          "before the password is checked so that N parallel attempts run at most the limit's "
                          "checks (credentials.rs forty_parallel_wrong_passwords_run_at_most_ten_password_checks); "
                          "a transaction returns nothing, so that write is a request of its own before the "
                          "check (sent alongside the reads)"),
    ("auth-logout", ""): (2, 0, 0, 0, "the session item, then one transaction deleting its two items"),
    ("auth-set-password", "*"): (4, 0, 0, 0, "token item, user profile, one transaction, one Query for "
                                 "the user's other tokens (none left here, so no delete batch)"),
    ("me-get", ""): (1, 0, 0, 0, "BatchGetItem(session, caller's profile, tenant item)"),
    ("me-password", ""): (3, 0, 0, 0, "BatchGetItem(session, profile, tenant item), one transaction, one Query for other sessions "
                          "(+1 BatchWriteItem when there are some)"),
    ("tenant-get", ""): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("roles-list", ""): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item) (+1 Query once custom roles are stored)"),
    ("permissions", ""): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("users-create", "delivery invite_link"): (3, 0, 0, 1, "BatchGetItem(session, caller, tenant item), "
                                               "ONE transaction, then the mail and its mail-log write"),
    ("users-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), ONE transaction"),
    ("users-list", "page of 50"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of 50 users"),
    ("users-list", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query per 200 users scanned"),
    ("users-get", "warm (tenant key cached)"): (1, 0, 0, 0, "BatchGetItem(session, caller, user); "
                                                "the issue's target: one request"),
    ("users-get", "first request of a new process (tenant key not cached)"):
        (2, 1, 0, 0, "as warm, plus the tenant's wrapped data key (GetItem, keys table) and one KMS Decrypt"),
    ("users-get", "warm, under a sign-in policy (IP allow-list, lifetime)"):
        (1, 0, 0, 0, "as warm: the policy is on the tenant item the session check reads anyway"),
    ("users-get", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, user)"),
    ("tenant-sign-in-policy-get", ""): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item): the "
                                        "policy is the copy the session check read"),
    ("tenant-sign-in-policy-put", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), "
                                         "one transaction (update + audit entry)"),
    ("users-update", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction"),
    ("users-delete", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, user) with a Query of the user's "
                            "tokens, one transaction that also deletes them"),
    ("users-bulk-delete", "1 id"): (3, 0, 0, 0, "as users-delete for one id"),
    ("users-bulk-delete", "10 ids"): (12, 0, 0, 0, "one BatchGetItem of session, caller and 10 users, "
                                      "10 token Queries (DynamoDB has no batched Query), ONE transaction "
                                      "(the 10 users' items and tokens, the seat counter once with their "
                                      "sum, an audit entry each; a failed one is done again user by user)"),
    ("groups-get", ""): (1, 0, 0, 0, "BatchGetItem(session, caller, group)"),
    ("groups-list", ""): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of groups"),
    ("audit-log", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of the log"),
    ("mail-log", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of the log"),
    ("ops-tenants-audit-log", ""): (1, 0, 0, 0, "one Query of the log"),
    # -- the rest of the route table (issue 19 item 2). A SCIM token names its tenant and its own id before
    # the secret, as a session token does, so a SCIM call's check is its "token record" (`SCIMTOK#<id>`,
    # keeping the hash of the whole token) read in the call's one BatchGetItem with the tenant item and
    # whatever else the call needs by key. A page that does what an API route does costs that route's
    # minimum plus what the page adds.
    ("groups-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, name guard), one transaction"),
    ("groups-rename", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, group, new name's guard), one "
                             "transaction"),
    ("groups-members-add", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, group, the users), one "
                                  "transaction (memberships, the users' group sets)"),
    ("groups-members-list", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, group), one Query of the "
                                   "members, one BatchGetItem of their profiles"),
    ("groups-members-remove", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, group, the users), one "
                                     "transaction"),
    ("groups-member-delete", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, group, user), one transaction"),
    ("groups-delete", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, group), one Query of its members, "
                             "one transaction that also removes them"),
    ("groups-bulk-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, the 3 name guards), one "
                                  "transaction (3 × group, guard, audit entry)"),
    ("groups-bulk-delete", "*"): (4, 0, 0, 0, "BatchGetItem(session, caller, the 2 groups), one members "
                                  "Query per group, one transaction"),
    ("groups-import", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, name guard, the 2 e-mail guards), "
                             "BatchGetItem of the 2 users, one transaction"),
    ("users-import", "*"): (4, 0, 0, 3, "as the import minimum of section 6 for 3 rows: "
                            "BatchGetItem(session, caller, guards), one transaction, one BatchWriteItem of the mail "
                            "log; a mail per row"),
    ("auth-password-reset", "*"): (7, 0, 0, 1, "the request: the source's unit taken (a conditional "
                                   "increment, so parallel requests cannot pass the per-source limit together), "
                                   "slug → tenant (the login's blind index needs the tenant's key); the task: "
                                   "e-mail guard → user, BatchGetItem(user, tenant item), one Query of older "
                                   "reset tokens, one transaction (token, older ones deleted, the account's "
                                   "hourly counter conditionally increased), the mail and its mail-log write"),
    ("users-credentials", "*"): (4, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction (the "
                                 "password), then one Query of the user's sessions and links and one "
                                 "transaction deleting them: the Query must follow the commit, or a session "
                                 "opened with the old password between a Query before it and the commit "
                                 "would outlive the re-issue"),
    ("users-disable", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction, then one "
                             "Query of the user's sessions (after the commit: a session opened between a "
                             "Query before it and the commit would outlive the disabling and work again "
                             "once the user is enabled); none here, so no delete"),
    ("users-enable", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction"),
    ("roles-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, name guard), one transaction"),
    ("roles-update", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, role), one transaction"),
    ("roles-delete", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, role with its holder count), one "
                            "transaction conditioned on no holder"),
    ("users-role", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, user, role), one transaction"),
    ("tenant-default-role", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item, role), one "
                                   "transaction"),
    ("users-org-admin-grant", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction"),
    ("users-org-admin-revoke", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, user), one transaction"),
    ("me-mfa-totp", "*"): (2, 0, 0, 0, "BatchGetItem(session, profile, tenant item), one transaction (the pending secret)"),
    ("me-mfa-totp-confirm", "*"): (2, 0, 0, 0, "BatchGetItem(session, tenant item, profile with the pending secret), one transaction "
                                   "(factor on, 10 recovery codes, audit entry)"),
    ("auth-login", "password step of a user with a second factor"):
        (5, 0, 0, 0, "as a login: the challenge instead of the session in the one transaction"),
    ("auth-login-mfa", "*"): (4, 0, 0, 0, "the challenge item (it names the user, the throttle's subject), "
                              "the units taken (one conditional increment per limit, in one write), "
                              "BatchGetItem(user, tenant item), one transaction (session, challenge deleted, "
                              "the code's step used, the units given back). As the password step, a unit is "
                              "taken before the code is checked: counters only read would let a burst of "
                              "parallel guesses all be checked before any counted, and the limit (10 codes "
                              "per user in 15 minutes) is what keeps a six-digit code from being guessed"),
    ("me-mfa-delete", "*"): (3, 0, 0, 0, "BatchGetItem(session, profile, tenant item), one Query of the recovery codes, one "
                             "transaction that deletes them"),
    ("users-mfa-reset", "*"): (3, 0, 0, 0, "BatchGetItem(session, caller, user), one Query of the "
                               "recovery codes, one transaction that deletes them"),
    ("questionnaires-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one transaction"),
    ("questionnaires-respond", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, questionnaire), one "
                                      "transaction"),
    ("questionnaires-get", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, questionnaire), one Query of "
                                  "its responses"),
    ("ops-tenants-questionnaires", "*"): (2, 0, 0, 0, "the tenant item (404 for an unknown id), one Query "
                                          "of its questionnaires"),
    ("me-subscriptions-get", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, subscriptions)"),
    ("me-subscriptions-put", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, subscriptions), one "
                                    "transaction"),
    ("ops-notices-create", "*"): (13, 0, 0, 1, "the notice minimum of section 7 for 1 subscriber in 1 "
                                  "tenant: publish, the registry Query, per tenant 5, per page 3, per batch 3; "
                                  "one mail"),
    ("notices-list", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of notices"),
    ("ops-notices-list", "*"): (1, 0, 0, 0, "one Query of notices"),
    ("tenant-sso-put", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, SSO settings), one transaction"),
    ("tenant-sso-get", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, SSO settings)"),
    ("tenant-sso-delete", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, SSO settings), one transaction"),
    ("scim-tokens-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one transaction"),
    ("scim-tokens-list", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of tokens"),
    ("scim-tokens-revoke", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, token), one transaction"),
    ("scim-service-provider-config", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item), "
                                            "and its first use in a minute writes its last-use time (the "
                                            "next SCIM rows, within the minute, do not)"),
    ("scim-resource-types", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item); a fixed "
                                   "document"),
    ("scim-resource-type", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item); a fixed "
                                  "document"),
    ("scim-schemas", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item); a fixed document"),
    ("scim-schema", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item); a fixed document"),
    ("scim-users-create", "*"): (3, 0, 0, 1, "BatchGetItem(token record, tenant item, e-mail and external id "
                                 "guards), one transaction, the mail and its mail-log write"),
    ("scim-users-list", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item, userName guard): no match"),
    ("scim-users-search", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, external id guard), the "
                                 "user found"),
    ("scim-search", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, userName guard), the user found "
                           "(groups have no userName)"),
    ("scim-users-get", "*"): (1, 0, 0, 0, "BatchGetItem(token record, tenant item, user)"),
    ("scim-users-replace", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, user), one transaction"),
    ("scim-users-patch", "*"): (3, 0, 0, 0, "BatchGetItem(token record, tenant item, user), one Query of the "
                                "user's sessions, one transaction that also deletes them"),
    ("scim-users-delete", "*"): (3, 0, 0, 0, "BatchGetItem(token record, tenant item, user), one Query of the "
                                 "user's tokens, one transaction that also deletes them"),
    ("scim-groups-create", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, name guard, the member), "
                                  "one transaction"),
    ("scim-groups-list", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item), one Query of groups"),
    ("scim-groups-search", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, name guard), the group "
                                  "found (no members asked for)"),
    ("scim-groups-get", "*"): (3, 0, 0, 0, "BatchGetItem(token record, tenant item, group), one Query of members, "
                               "one BatchGetItem of their profiles (display)"),
    ("scim-groups-replace", "*"): (3, 0, 0, 0, "BatchGetItem(token record, tenant item, group, new name's guard), "
                                   "one Query of members (to compare), one transaction"),
    ("scim-groups-patch", "*"): (2, 0, 0, 0, "BatchGetItem(token record, tenant item, group, membership, user), "
                                 "one transaction"),
    ("scim-groups-delete", "*"): (3, 0, 0, 0, "BatchGetItem(token record, tenant item, group), one Query of "
                                  "members, one transaction"),
    ("uploads-create", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one transaction; "
                              "S3 0: presigning the PUT URL sends nothing"),
    ("uploads-get", "*"): (2, 0, 1, 0, "BatchGetItem(session, caller, upload), the write marking it "
                           "uploaded; S3: HEAD (has it arrived); presigning the download URL sends nothing"),
    ("imports-create", "*"): (7, 0, 2, 3, "BatchGetItem(session, caller, upload, tenant item), one "
                              "transaction (job, task); the task: BatchGetItem of guards, one transaction, "
                              "one BatchWriteItem of the mail log, 2 job updates (running, done); S3 GET and "
                              "DELETE of the file; a mail per row"),
    ("imports-get", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, job)"),
    ("imports-cancel", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, job): ended, refused"),
    ("uploads-delete", "*"): (2, 0, 1, 0, "BatchGetItem(session, caller, upload), one transaction; S3 "
                              "DeleteObject (a PUT may have come)"),
    ("ops-jobs-cleanup-uploads", "*"): (1, 0, 0, 0, "one Query of uploads due by then (none left here)"),
    ("ops-jobs-backup", "*"): (4, 0, 0, 0, "per table backed up (2): one ListBackups (today's generation "
                               "made already? the retention follows from the same list and the new one), one "
                               "CreateBackup"),
    ("ops-backups-list", "*"): (2, 0, 0, 0, "one ListBackups per table"),
    ("page-login", "*"): (0, 0, 0, 0, "no storage (the CSRF cookie is random)"),
    ("page-login-post", "*"): (5, 0, 0, 0, "as auth-login"),
    ("page-login-mfa", "*"): (1, 0, 0, 0, "the challenge item (a live challenge shows the form)"),
    ("page-login-mfa-post", "*"): (4, 0, 0, 0, "as auth-login-mfa"),
    ("page-sso-start", "*"): (3, 0, 0, 0, "slug → tenant, BatchGetItem(tenant item, SSO settings), one "
                              "write of the state (the discovery document is HTTP to the provider)"),
    ("page-sso-callback", "*"): (2, 0, 0, 0, "the state item, then one transaction: the state deleted on "
                                 "condition it is still there (single use) with the refusal's entry in the "
                                 "tenant's operation log"),
    ("page-logout-post", "*"): (2, 0, 0, 0, "as auth-logout"),
    ("page-account", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, subscriptions, their role, their "
                            "groups, tenant item)"),
    ("page-account-password", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-account-password-post", "*"): (3, 0, 0, 0, "as me-password"),
    ("page-account-subscriptions-post", "*"): (2, 0, 0, 0, "as me-subscriptions-put"),
    ("page-account-mfa", "*"): (1, 0, 0, 0, "BatchGetItem(session, tenant item, profile) (the factor's state and pending secret)"),
    ("page-account-mfa-totp-post", "*"): (2, 0, 0, 0, "as me-mfa-totp"),
    ("page-account-mfa-confirm-post", "*"): (2, 0, 0, 0, "as me-mfa-totp-confirm"),
    ("page-account-mfa-delete-post", "*"): (3, 0, 0, 0, "as me-mfa-delete"),
    ("page-notices", "*"): (2, 0, 0, 0, "as notices-list, the subscriptions in its BatchGetItem"),
    ("page-set-password", "*"): (2, 0, 0, 0, "the token item, then BatchGetItem(user, tenant item) (the "
                                 "names shown, the policy's minimum length)"),
    ("page-set-password-post", "*"): (4, 0, 0, 0, "as auth-set-password, the session it opens in the same "
                                      "transaction"),
    ("page-password-reset", "*"): (0, 0, 0, 0, "no storage"),
    ("page-password-reset-post", "*"): (7, 0, 0, 1, "as auth-password-reset"),
    ("page-admin-users", "*"): (4, 0, 0, 0, "as users-list (2), one Query of groups (the filter), one of "
                                "custom roles (the names)"),
    ("page-admin-users-new", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query of roles (the choices)"),
    ("page-admin-users-create", "*"): (3, 0, 0, 1, "as users-create (invite_link)"),
    ("page-admin-user", "*"): (3, 0, 0, 0, "as users-get (1), one Query of roles (the choices), one of "
                               "the user's tokens (a pending invitation)"),
    ("page-admin-user-role-post", "*"): (2, 0, 0, 0, "as users-role"),
    ("page-admin-user-org-admin-post", "*"): (2, 0, 0, 0, "as users-org-admin-grant"),
    ("page-admin-user-status-post", "*"): (4, 0, 0, 0, "as users-disable, and one transaction deleting the "
                                           "sessions the Query found (this user has some)"),
    ("page-admin-user-credentials-post", "*"): (4, 0, 0, 1, "a new invitation link: BatchGetItem(session, "
                                                "caller, user, tenant item), one Query of the user's links, "
                                                "one transaction (the new link, the earlier ones deleted), "
                                                "the mail and its mail-log write"),
    ("page-admin-user-mfa-reset-post", "*"): (3, 0, 0, 0, "as users-mfa-reset"),
    ("page-admin-users-delete", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, the ids)"),
    ("page-admin-users-delete-post", "*"): (3, 0, 0, 0, "as users-bulk-delete of 1 id"),
    ("page-admin-users-export", "*"): (4, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query each of users (one page "
                                       "here), custom roles and groups (their names)"),
    ("page-admin-users-import", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-admin-users-import-preview", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item, "
                                               "the rows' guards)"),
    ("page-admin-users-import-post", "*"): (4, 0, 0, 3, "as users-import"),
    ("page-admin-users-import-status", "*"): (1, 0, 0, 0, "as imports-get"),
    ("page-admin-users-import-report", "*"): (2, 0, 0, 0, "as imports-get, one Query of the failed rows"),
    ("page-admin-audit-log", "*"): (2, 0, 0, 0, "as audit-log"),
    ("page-admin-mail-log", "*"): (2, 0, 0, 0, "as mail-log"),
    ("page-admin-roles", "*"): (2, 0, 0, 0, "as roles-list with custom roles stored: one Query of them"),
    ("page-admin-roles-new", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-admin-roles-create", "*"): (2, 0, 0, 0, "as roles-create"),
    ("page-admin-role", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, role)"),
    ("page-admin-role-post", "*"): (2, 0, 0, 0, "as roles-update"),
    ("page-admin-role-delete", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, role with its holder "
                                      "count)"),
    ("page-admin-role-delete-post", "*"): (2, 0, 0, 0, "as roles-delete"),
    ("page-admin-default-role", "*"): (2, 0, 0, 0, "BatchGetItem(session, caller, tenant item), one Query "
                                       "of roles (the choices)"),
    ("page-admin-default-role-post", "*"): (2, 0, 0, 0, "as tenant-default-role"),
    ("page-admin-sign-in-policy", "*"): (1, 0, 0, 0, "as tenant-sign-in-policy-get"),
    ("page-admin-sign-in-policy-post", "*"): (2, 0, 0, 0, "as tenant-sign-in-policy-put"),
    ("page-admin-sso", "*"): (1, 0, 0, 0, "as tenant-sso-get"),
    ("page-admin-sso-post", "*"): (2, 0, 0, 0, "as tenant-sso-put"),
    ("page-admin-sso-delete-post", "*"): (2, 0, 0, 0, "as tenant-sso-delete"),
    ("page-admin-groups", "*"): (2, 0, 0, 0, "as groups-list"),
    ("page-admin-groups-new", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-admin-groups-create", "*"): (2, 0, 0, 0, "as groups-create"),
    ("page-admin-groups-bulk", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-admin-groups-bulk-post", "*"): (2, 0, 0, 0, "as groups-bulk-create"),
    ("page-admin-groups-import", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, tenant item)"),
    ("page-admin-groups-import-post", "*"): (3, 0, 0, 0, "as groups-import"),
    ("page-admin-group", "*"): (2, 0, 0, 0, "as groups-get, one Query of members (none here)"),
    ("page-admin-group-rename-post", "*"): (2, 0, 0, 0, "as groups-rename"),
    ("page-admin-group-members-add-post", "*"): (2, 0, 0, 0, "as groups-members-add"),
    ("page-admin-group-members-remove-post", "*"): (2, 0, 0, 0, "as groups-members-remove"),
    ("page-admin-groups-delete", "*"): (1, 0, 0, 0, "BatchGetItem(session, caller, the group)"),
    ("page-admin-groups-delete-post", "*"): (3, 0, 0, 0, "as groups-delete of a group without members: "
                                             "the members Query finds none"),
}


# What the deployed architecture changes; the bench runs x86_64 only (no arm64 machine here).
ARM64_NOTE = (
    "**arm64, as deployed** (template.yaml `Architectures: [arm64]`): not measured here (the bench runs on "
    "x86_64; no arm64 machine). What it changes: the same code is linked (the route split and the `lambda` "
    "profile apply alike), but AArch64 code is usually somewhat larger than x86-64 code for the same program "
    "(fixed 4-byte instructions), so expect the binary and the zip a little larger than in this table: the "
    "margin under 6 MB must be read with that in mind (`cargo lambda build --profile lambda --arm64 --bin <id>` "
    "cross-builds one with zig to check). Init here is mostly the process start, the runtime's and the AWS "
    "SDK's set-up, which do not depend on the instruction set; Lambda's own Init Duration adds the sandbox "
    "start and the package's download and unpacking, which grow with the zipped size. Graviton functions are "
    "billed 20 % less per GB-second."
)


def ceil_div(a, b):
    return -(-a // b)


def import_minimum(n):
    """(total, text): the fewest DynamoDB requests of an n-row import (invite_link, e-mail only) as designed:
    read the tenant and check the guards first, write, log the mails."""
    per_tx = (100 - IMPORT_ITEMS_PER_TX) // IMPORT_ITEMS_PER_USER
    tx = ceil_div(n, per_tx)
    gets = ceil_div(n, 100)
    mail_log = ceil_div(n, 25)
    return 3 + gets + tx + mail_log, (
        f"3 (session, caller, tenant) + {gets:,} BatchGetItem (guards, 100 keys each) + {tx:,} TransactWriteItems "
        f"({per_tx} rows of {IMPORT_ITEMS_PER_USER} items beside the seat counter and the audit entry) + "
        f"{mail_log:,} BatchWriteItem (mail log, 25 each)")


def members_minimum(n):
    tx = ceil_div(n * MEMBER_ITEMS, 100)
    gets = ceil_div(n, 100)
    return tx, 2 + gets + tx, (f"2 (session, caller and group) + {gets} BatchGetItem (the users) + {tx} "
                               f"TransactWriteItems ({n:,} × {MEMBER_ITEMS} items / 100)")


def groups_minimum(n):
    tx = ceil_div(n * GROUP_ITEMS, 100)
    gets = ceil_div(n, 100)
    return tx, 2 + gets + tx, (f"2 (session, caller) + {gets} BatchGetItem (name guards) + {tx} "
                               f"TransactWriteItems ({n:,} × {GROUP_ITEMS} items / 100)")


def minimum(route, label):
    return MINIMUM.get((route, label)) or MINIMUM.get((route, "*"))


# ---- formatting ------------------------------------------------------------------------------------------

def f0(x):
    return "–" if x is None else f"{x:,.0f}"


def f1(x):
    return "–" if x is None else f"{x:,.1f}"


def f2(x):
    return "–" if x is None else f"{x:,.2f}"


def mib(b):
    return "–" if b is None else f"{b / 1048576:.1f}"


def ok(cond):
    if cond is None:
        return "not measured"
    return "**met**" if cond else "**not met**"


def parse_duration(s: str) -> float | None:
    """'5m 12s', '12m3.456s', '45.67s', '1h 2m 3s' -> seconds."""
    total, found = 0.0, False
    for num, unit in re.findall(r"([\d.]+)\s*(h|m|s)", s):
        total += float(num) * {"h": 3600, "m": 60, "s": 1}[unit]
        found = True
    return total if found else None


def read_ci_log(path: str) -> dict | None:
    if not path or not os.path.exists(path):
        return None
    text = Path(path).read_text(errors="replace")
    exit_m = re.search(r"^EXIT\s*(\d+)", text, re.M)
    if not exit_m:
        return None  # still running
    out = {"log": path, "exit": int(exit_m.group(1)),
           "date": datetime.datetime.fromtimestamp(os.path.getmtime(path),
                                                   datetime.timezone(datetime.timedelta(hours=9)))
           .isoformat(timespec="minutes")}
    finished = re.findall(r"Finished `(\w+)` profile.*? in (.+)$", text, re.M)
    if finished:
        out["first_build"] = {"profile": finished[0][0], "seconds": parse_duration(finished[0][1])}
        tests = [parse_duration(d) for p, d in finished if p == "test"]
        if tests:
            out["test_build_seconds"] = tests[0]
    if m := re.search(r"^real\s+(\S+)", text, re.M):
        out["real_seconds"] = parse_duration(m.group(1))
    if m := re.search(r"^user\s+(\S+)", text, re.M):
        out["user_seconds"] = parse_duration(m.group(1))
    if m := re.search(r"^sys\s+(\S+)", text, re.M):
        out["sys_seconds"] = parse_duration(m.group(1))
    if m := re.search(r"make test: everything passed in (\d+) s", text):
        out["make_test_seconds"] = int(m.group(1))
    out["passed_lines"] = re.findall(r"^(?:\w+: )?\d+ passed, \d+ failed.*$", text, re.M)[:8]
    return out


def function_link_text(b: dict) -> str:
    """What each function adds to a build of profile lambda, from the units of the bench's build."""
    fl = b["function_link"]
    each = ", ".join(f"{k} {v} s" for k, v in sorted(fl["functions"].items()))
    n, jobs = fl["all_binaries"], b.get("jobs") or 1
    return (f"each function binary is its own compile and thin-LTO link (the dependencies are compiled to bitcode "
            f"once, and each link optimises and generates the code its function reaches): {mmss(fl['mean_s'])} on "
            f"average in this run's build ({each}; cargo `--timings`, {jobs} units at once, load average "
            f"{' '.join(b.get('load_average_start') or [])} at the start). `make lambda-build` builds all {n} "
            f"binaries of kanri-functions: **estimated ≈ {hmm(fl['all_estimate_s'])}** on {jobs} cores after the "
            f"dependencies ({n} × {mmss(fl['mean_s'])} ÷ {jobs}; computed, not measured: it builds for arm64 "
            "through cargo-lambda's zig linker, and its links of other functions may take longer or shorter)")


def hmm(s):
    """Hours and minutes for the long estimates."""
    return f"{int(s // 3600)} h {round(s % 3600 / 60):02d} min" if s >= 3600 else mmss(s)


def mmss(s):
    if s is None:
        return "–"
    s = round(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


# The cargo profile each section's binaries were built with (bench/bench.py records it in section_runs since
# make bench builds everything with one profile; earlier runs measured the release profile's binaries).
PROFILES: dict[str, str] = {}


def binpath(section: str, name: str) -> str:
    return f"target/{PROFILES.get(section, 'release')}/{name}"


def build_text(b: dict) -> str:
    """The build of a bench/run.sh run: command, state, wall and CPU time, load."""
    if b.get("build_s") is None:
        return ""
    cpu = (b.get("user_s") or 0) + (b.get("sys_s") or 0)
    load = " ".join(b.get("load_average_start") or [])
    return (f"`{b.get('command')}` ({b.get('state')}): **{mmss(b['build_s'])}** wall, {mmss(cpu)} of CPU "
            f"(user {mmss(b.get('user_s'))} + sys {mmss(b.get('sys_s'))}) on {b.get('jobs')} cores"
            + (f", load average {load} at its start" if load else "")
            + (f"; {b['units_compiled']} units compiled" if b.get("units_compiled") else ""))


# ---- the document ----------------------------------------------------------------------------------------

def render(res: dict, ci: dict | None, total_seconds: int | None) -> str:
    m = res.get("machine", {})
    date = res.get("date", "?")
    day = date[:10]
    git = res.get("git", {})
    load = res.get("load") or {}
    eps = load.get("endpoints") or {}
    aws = res.get("aws") or {}
    lam = (res.get("lambda") or {}).get("functions") or {}
    a2 = res.get("argon2") or {}
    login = load.get("login") or {}
    L = []
    w = L.append
    PROFILES.clear()
    PROFILES.update({k: v["profile"] for k, v in (res.get("section_runs") or {}).items() if v and v.get("profile")})

    w("# Benchmarks")
    w("")
    w("Every claim about Kanri's speed, cost and memory, as a figure measured on a named machine. This file is")
    w("**generated by `make bench`** (bench/report.py from bench/results.json): edit the generator, not the file.")
    w("")
    w(f"- Measured: {date} (JST), commit `{git.get('commit')}`{' with uncommitted changes' if git.get('dirty') else ''}.")
    older = {}
    for name, run in (res.get("section_runs") or {}).items():
        if run and run.get("date") != date:
            g = run.get("git") or {}
            older.setdefault((run.get("date"), g.get("commit"), g.get("dirty")), []).append(name)
    for (d, c, dirty), names in older.items():
        how = ("`make bench-long`'s sections, not part of `make bench`" if set(names) <= set(LONG_SECTIONS)
               else "`BENCH_SECTIONS` ran only some")
        w(f"- Section(s) {', '.join(names)} from a separate run ({how}): {d}, "
          f"commit `{c}`{' with uncommitted changes' if dirty else ''}.")
    w(f"- Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, {m.get('os')}, "
      f"Linux {m.get('kernel')}; {m.get('rustc')}; {m.get('wrk')}. Load average at start: "
      f"{' '.join(m.get('loadavg_at_start') or [])}. The machine is shared and noisy: figures are medians "
      "of repeated runs, and the load generator runs on the same two cores as the server.")
    # The sections the recorded `make bench` time covers (files from before the bulk section lack the list).
    timed = res.get("make_bench_sections") or ["load", "argon2", "aws", "lambda"]
    untimed = [x for x in MAKE_BENCH_SECTIONS if x in res and x not in timed]
    untimed_note = (f" (a full run without section(s) {', '.join(untimed)}, which came later: not timed with "
                    "them yet)") if untimed else ""
    b = res.get("build") or {}
    if b.get("build_s") is not None:
        built = f"build of profile `{b.get('profile')}`, {b.get('state', '?')}"
    else:  # results from before the one-profile build: a release build, and the functions' own build apart
        built = f"{b.get('state', '?')} release build"
    if total_seconds:
        phases = res.get("make_bench_phases") or {}
        w(f"- `make bench` took **{mmss(total_seconds)}**{untimed_note} (target: under {TARGET_BENCH_MIN:.0f} min "
          "from a clean clone), "
          + (f"with a {built}; its phases: " + ", ".join(f"{k} {mmss(v)}" for k, v in phases.items()) if phases else
             f"of which the {built} {mmss(b.get('build_s', b.get('release_build_s')))}")
          + f". Its sections: {', '.join(timed)}.")
    if b.get("build_s") is not None:
        w(f"- The build: {build_text(b)}. One cargo invocation of one profile builds kanri-local, kanri-bench and "
          "the sampled functions, so every dependency is compiled once (section 5).")
    long_here = [x for x in LONG_SECTIONS if x in res]
    if long_here:
        w(f"- Not part of `make bench` (each takes minutes that do not fit beside the build in its "
          f"{TARGET_BENCH_MIN:.0f} minutes): section(s) {', '.join(long_here)}, run by `make bench-long`; their "
          "figures are from their own run, dated above.")
    secs = res.get("section_seconds") or {}
    if secs:
        w("- Time per section (bench/bench.py, without the build; each from its own last run): "
          + ", ".join(f"{k} {mmss(secs[k])}" for k in MAKE_BENCH_SECTIONS if secs.get(k) is not None)
          + "; `make bench-long`: "
          + (", ".join(f"{k} {mmss(secs[k])}" for k in LONG_SECTIONS if secs.get(k) is not None) or "–") + ".")
    if res.get("errors"):
        w(f"- **{len(res['errors'])} problem(s) in this run** (listed at the end); figures they touch may be missing.")
    w("")

    # -- summary
    w("## Targets")
    w("")
    w("| what | measured | target | |")
    w("|---|---|---|---|")
    g = (eps.get("users-get") or {}).get("median") or {}
    w(f"| GET /v1/users/{{id}}, local server: throughput | {f0(g.get('rps'))} requests/s | ≥ {TARGET_RPS:,} requests/s | "
      f"{ok(None if g.get('rps') is None else g['rps'] >= TARGET_RPS)} |")
    w(f"| GET /v1/users/{{id}}, local server: p99 latency | {f2(g.get('p99_ms'))} ms | < {TARGET_P99_MS:.0f} ms | "
      f"{ok(None if g.get('p99_ms') is None else g['p99_ms'] < TARGET_P99_MS)} |")
    rows = aws.get("rows") or []

    def row(route, label_start=""):
        for r in rows:
            if r["route"] == route and r["label"].startswith(label_start):
                return r
        return None

    rg = row("users-get", "warm")
    if rg:
        n = rg["services"]["DynamoDB"]
        w(f"| DynamoDB requests for a single-user read (GET /v1/users/{{id}}, warm) | {n} "
          f"({ops_text(rg)}) | 1 | {ok(n <= 1)} |")
    rc = row("users-create", "delivery invite_link")
    if rc:
        tx = sum(o["count"] for o in rc["operations"] if o["operation"] == "TransactWriteItems")
        w(f"| Transactions for a create (POST /v1/users) | {tx} TransactWriteItems "
          f"(of {rc['services']['DynamoDB']} DynamoDB requests in all) | 1 transaction | {ok(tx == 1)} |")
    if rows:
        warm = [r for r in rows if r["route"] not in ("ops-tenants-create",)
                and "new process" not in r["label"]]
        kms = sum(r["services"]["KMS"] for r in warm)
        w(f"| KMS requests per request once the tenant's key is cached | {kms} in {len(warm)} calls | 0 | {ok(kms == 0)} |")
    if lam:
        fns = {k: v for k, v in lam.items() if "runs" in v}
        inits = [v["init_ms"] for v in fns.values() if v.get("init_ms") is not None]
        firsts = [v["first_request_ms"] for v in fns.values() if v.get("first_request_ms") is not None]
        peaks = [v["peak_rss_mib"] for v in fns.values() if v.get("peak_rss_mib") is not None]
        prof = (res.get("lambda") or {}).get("profile", "release")
        for rid in sorted(fns):
            v = fns[rid]
            z, i = v.get("zip_bytes"), v.get("init_ms")
            w(f"| Lambda {rid} (profile `{prof}`): zipped package, init (process start → first `next`) | "
              f"{z / 1e6:.2f} MB ({mib(v.get('bytes'))} MiB unzipped), {f1(i)} ms | "
              f"≤ {TARGET_ZIP_BYTES / 1e6:.0f} MB, ≤ {TARGET_INIT_MS:.0f} ms | "
              f"{ok(None if z is None or i is None else z <= TARGET_ZIP_BYTES and i <= TARGET_INIT_MS)} |")
        if firsts:
            worst = max(fns, key=lambda k: fns[k].get("first_request_ms") or 0)
            own = fns[worst].get("first_request_own_ms")
            waited = fns[worst].get("first_request_aws_ms")
            w(f"| Lambda first request after init, against moto, slowest function | {f1(max(firsts))} ms ({worst}: "
              f"{f1(waited)} ms waiting on moto, {f1(own)} ms its own) | "
              f"< {TARGET_FIRST_MS:.0f} ms | {ok(max(firsts) < TARGET_FIRST_MS)} |")
            owns = [v["first_request_own_ms"] for v in fns.values() if v.get("first_request_own_ms") is not None]
            if owns:
                wo = max(fns, key=lambda k: fns[k].get("first_request_own_ms") or 0)
                w(f"| … the same without the time spent waiting on moto, slowest function | {f1(max(owns))} ms ({wo}) | "
                  f"< {TARGET_FIRST_MS:.0f} ms | {ok(max(owns) < TARGET_FIRST_MS)} |")
        if peaks:
            worst = max(fns, key=lambda k: fns[k].get("peak_rss_mib") or 0)
            w(f"| Lambda peak memory (VmHWM), largest function | {f1(max(peaks))} MiB ({worst}) | "
              f"< {TARGET_PEAK_MB:.0f} MB | {ok(max(peaks) < TARGET_PEAK_MB)} |")
    lm = (login.get("median") or {})
    if lm.get("p50_ms") is not None and a2.get("median_ms") is not None:
        over = lm["p50_ms"] - a2["median_ms"]
        w(f"| Login median minus one argon2 hash | {f1(lm['p50_ms'])} − {f1(a2['median_ms'])} = {f1(over)} ms | "
          f"≤ {TARGET_LOGIN_OVER_ARGON2_MS:.0f} ms | {ok(over <= TARGET_LOGIN_OVER_ARGON2_MS)} |")
    for line in bulk_target_rows(res.get("bulk") or {}):
        w(line)
    for line in tasks_target_rows(res.get("tasks") or {}, fanout_of(res)):
        w(line)
    c = a2.get("concurrent") or {}
    if c.get("peak_rss_mib") is not None:
        w(f"| Peak RSS of kanri-local, {c.get('concurrency')} concurrent creates (generated passwords) then "
          f"{c.get('concurrency')} concurrent logins | {f1(c['peak_rss_mib'])} MiB (idle {f1(c.get('idle_rss_mib'))} MiB) | "
          f"≤ {TARGET_HASH_PEAK_MIB:.0f} MiB | {ok(c['peak_rss_mib'] <= TARGET_HASH_PEAK_MIB)} |")
    for line in soak_target_rows(res.get("soak") or {}):
        w(line)
    for line in reset_target_rows(res.get("reset") or {}):
        w(line)
    for line in makerun_target_rows(res.get("makerun") or {}, res.get("section_runs") or {}):
        w(line)
    if total_seconds:
        clean = b.get("state") == "clean"
        verdict = (ok(total_seconds < TARGET_BENCH_MIN * 60) if clean or total_seconds >= TARGET_BENCH_MIN * 60
                   else ok(None) + " (not from a clean build)")
        w(f"| `make bench` wall time | {mmss(total_seconds)} ({built}){untimed_note} | "
          f"< {TARGET_BENCH_MIN:.0f} min from a clean clone | {verdict} |")
    w("")

    # -- method
    w("## How to reproduce")
    w("")
    w("```sh")
    w("make bench        # the build, then load, argon2, aws, lambda, bulk, tasks, reset; installs wrk (apt), moto (pip)")
    w("make bench-long   # fanout (a notice to 10,000 subscribers on moto), soak (5 minutes), makerun (make run's start)")
    w("SKIP_BUILD=1 BENCH_SECTIONS=load bench/run.sh  # one section on the binaries already built")
    w("```")
    w("")
    w("`bench/run.sh` builds kanri-local, kanri-bench and the sampled Lambda functions in one cargo invocation,")
    w("`cargo build --profile lambda` (the profile `make lambda-build` deploys the functions with: `opt-level = \"s\"`,")
    w("thin LTO, the hashing and AEAD crates at `opt-level = 3`), so every dependency is compiled once; the local")
    w("server's figures are therefore of that profile too (`BENCH_PROFILE=release` measures the release profile).")
    w("Then it runs `bench/bench.py` (raw figures to `bench/results.json`) and")
    w("`bench/report.py` (this file). Knobs: `BENCH_PROFILE`, `BENCH_RUNS`, `BENCH_SECONDS`, `BENCH_CONNECTIONS`,")
    w("`BENCH_FUNCTIONS`, `BENCH_LAMBDA_RUNS`, `BENCH_BULK_USERS`, `BENCH_BULK_AWS_USERS`, "
      "`BENCH_TASKS_SUBSCRIBERS`, `BENCH_TASKS_IMPORT_ROWS`, `BENCH_TASKS_AWS_ROWS`, `BENCH_SOAK_SECONDS`, `BENCH_SOAK_RATE`, `BENCH_RESET_N`, …")
    w("(top of bench/bench.py and bench/run.sh). A run of some sections replaces only their figures in")
    w("bench/results.json; the others are kept, with the date of their own run.")
    w("")

    # -- 1. local server
    cfg = load.get("config") or {}
    w("## 1. Request cost on the local server (embedded store)")
    w("")
    w(f"`{binpath('load', 'kanri-local')}` on a fresh data dir, one tenant with {cfg.get('tenant_users_at_start', '?')} "
      f"users (its admin's session is the bearer token). Load from a separate `wrk` process: "
      f"`wrk -t{cfg.get('wrk_threads', '?')} -c{cfg.get('connections', '?')} -d{cfg.get('seconds', '?')}s "
      f"-s bench/scripts/wrk.lua URL` (so a fixed concurrency of {cfg.get('connections', '?')} connections), "
      f"one untimed 2 s warm-up, then {cfg.get('runs', '?')} timed runs per endpoint; each figure is the median of "
      "the runs (`make bench` runs 3, to fit its 15 minutes: a median of 3 still sets one outlier run aside; "
      "`BENCH_RUNS=5` for more). CPU time per request is the server's utime+stime delta (/proc/PID/stat) over a run divided "
      "by the requests of that run. POST bodies get a unique e-mail per request (the Lua script).")
    w("")
    w("| endpoint | requests/s | p50 ms | p90 ms | p99 ms | server CPU µs/request | errors (all runs) |")
    w("|---|---|---|---|---|---|---|")
    for rid in ("users-get", "users-list", "users-create"):
        e = eps.get(rid)
        if not e:
            w(f"| {rid} | not measured | | | | | |")
            continue
        md = e["median"]
        w(f"| {e['label']} | {f0(md['rps'])} | {f2(md['p50_ms'])} | {f2(md['p90_ms'])} | {f2(md['p99_ms'])} | "
          f"{f0(md['cpu_us_per_request'])} | {md['errors']} of {md['requests']:,} |")
    if login:
        md = login["median"]
        w(f"| {login['label']} | {f1(md['rps'])} | {f1(md['p50_ms'])} | {f1(md['p90_ms'])} | {f1(md['p99_ms'])} | "
          f"{f0(md['cpu_us_per_request'])} | {md['errors']} of {md['requests']:,} |")
    w("")
    if eps:
        w("Every run (requests/s, p99 ms):")
        w("")
        for rid, e in list(eps.items()) + ([("auth-login", login)] if login else []):
            w(f"- {e['label']}: " + "; ".join(f"{r['rps']:,.0f} / {r['p99_ms']:.2f}" for r in e["runs"]))
        w("")
    if load.get("server_peak_rss_mib") is not None:
        w(f"Peak RSS of kanri-local over the whole load test: {load['server_peak_rss_mib']} MiB; the tenant had "
          f"{load.get('tenant_users_at_end', '?')} users at the end (the POST runs create them).")
        w("")

    # -- 2. AWS requests
    w("## 2. AWS requests per endpoint")
    w("")
    w(f"`{binpath('aws', 'kanri-bench')} aws-requests` (bench/src/main.rs) starts the app in its own process on the")
    w("AWS backend against moto (infra/moto.sh, tables provisioned by infra/provision.py), with")
    w("`KANRI_COUNT_AWS_REQUESTS=1`: an SDK interceptor (`shared/src/adapters/aws/metrics.rs`,")
    w("`read_before_transmit`) counts every request put on the wire per service and operation, retries")
    w("included. Each endpoint is called once on a warm tenant (an earlier request of the same process has")
    w("already unwrapped the tenant's data and log keys) and the counter delta of that call is its cost. The")
    w("last two rows use a second app instance on the same tables, i.e. a new process with no key cached")
    w("(a Lambda cold start). **Minimum** is the fewest requests the current data layout allows, derived by")
    w("hand (bench/report.py `MINIMUM`). Every route of the route table is called once or more, as its "
      "client calls it: the API with a session token, SCIM with a SCIM token, the operator's routes with the "
      "operator token, the pages as a browser (the session cookie, the form's CSRF token; the second factor "
      "with TOTP codes computed by the bench; single sign-on against a discovery document the bench serves, "
      "the provider's answer an `error=access_denied`, as no ID token is signed here). Before and after each "
      "call the bench waits until no AWS request has been sent for 75 ms (the in-process worker idle), so the "
      "requests of the background tasks a call queues (mails, an import, a notice's fan-out) are counted "
      "with it. Presigning a URL sends nothing and is not counted (the "
      "interceptor skips a request that carries `X-Amz-Signature`).")
    w("")
    w("| endpoint | call | DynamoDB | KMS | S3 | SES | minimum DynamoDB / KMS / S3 / SES | measured DynamoDB operations | minimum: why | ms (of which waiting on moto) |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    over_rows = []
    for r in rows:
        s = r["services"]
        mn = minimum(r["route"], r["label"])
        mtxt = f"{mn[0]} / {mn[1]} / {mn[2]} / {mn[3]}"
        over = (s["DynamoDB"] > mn[0]) or (s["KMS"] > mn[1]) or (s["S3"] > mn[2]) or (s["SES"] > mn[3])
        if over:
            over_rows.append(r)
        mtxt = f"**{mtxt}**" if over else mtxt
        why = mn[4]
        w(f"| {r['route']} | {r['label'] or r['request']} | {s['DynamoDB']} | {s['KMS']} | {s['S3']} | {s['SES']} | "
          f"{mtxt} | {ops_text(r, 'DynamoDB') or '–'} | {why} | {f1(r.get('ms_on_emulator'))} "
          f"({f1(r.get('ms_waiting_on_emulator'))}) |")
    w("")
    routes = sorted({r["route"] for r in rows})
    at_min = len(rows) - len(over_rows)
    w(f"A bold minimum marks a call that makes more requests than the layout needs: {len(over_rows)} of "
      f"{len(rows)} calls; {at_min} are at their minimum. Every route of the route table is called: "
      f"{len(routes)} routes here, and {', '.join(aws.get('routes_counted_in_bulk') or [])} in section 6 "
      "(they end the tenant); `kanri-bench aws-requests` fails when a route of the table "
      "(`kanri::http::routes::table()`) is not called, and this report when a call has no minimum.")
    w("")

    # -- 3. Lambda
    w("## 3. Lambda functions")
    w("")
    lr = (res.get("lambda") or {})
    prof = lr.get("profile", "release")
    ids_all = lr.get("route_ids") or []
    if lr.get("sample"):
        sampled = sorted(k for k, v in lam.items() if "runs" in v)
        w(f"A sample of {len(sampled)} of the {len(ids_all)} functions ({', '.join(sampled)}; `make bench`'s default "
          "sample is auth-login and ops-tenants-create, the largest packages measured so far, the one that hashes "
          "(argon2: the most memory) and the one that calls KMS GenerateDataKey on its first request: each function "
          "is its own thin-LTO link of minutes on 2 cores, so each one more costs `make bench` that much of its 15 "
          "minutes; `BENCH_FUNCTIONS=health,users-get,auth-login,page-admin-users,scim-users-create,"
          "ops-tenants-create` measures one of each kind). Each binary "
          "hands the runtime its own route's function (`run(routes::users_get)`), so it links its own handler "
          "and the code that handler calls, and no other route's: the sizes differ by what each route uses. "
          "`BENCH_FUNCTIONS=all` measures every one (it does not fit the 15-minute budget from a clean clone: "
          "each binary is its own LTO link, see `make lambda-build` in section 5).")
        w("")
    b = res.get("build") or {}
    if b.get("function_link") and b.get("profile") == "lambda":
        w(function_link_text(b) + " (section 5).")
        w("")
    elif b.get("lambda_build_s") is not None:
        w(f"Build of the sampled functions in this run (`{b.get('lambda_command')}`, {b.get('lambda_state')}): "
          f"**{mmss(b['lambda_build_s'])}**" + (" (every dependency again: the `lambda` profile's LTO needs "
          "its own artefacts)" if b.get("lambda_state") == "clean" else "") + ".")
        w("")
    if (b.get("command") or "").count("kanri-bench") and prof == b.get("profile"):
        w("The functions are built in the same cargo invocation as kanri-bench (one build of the dependencies), "
          "whose reqwest turns on a few more features of shared crates (tower's `retry` and `timeout`, "
          "sync_wrapper's `futures`, tower-http) than `make lambda-build`'s `-p kanri-functions` alone: code no "
          "function reaches, which the link drops; the two builds' binaries were not compared byte for byte.")
        w("")
    w(f"Sizes: `target/{prof}/<route id>` as built by `cargo build --profile {prof}` (x86_64 here"
      + ("; **the deployed functions use profile `lambda`** (thin LTO, arm64, `make lambda-build`): "
         "`BENCH_PROFILE=lambda` (the default) measures that profile" if prof != "lambda" else
         "; the deployed profile, built for arm64 by `make lambda-build`")
      + "), and zipped as `bootstrap` with")
    w("deflate level 6 as a deployment package. Timings: each binary is started as a process with the")
    w("Lambda environment (`AWS_LAMBDA_RUNTIME_API` pointing at bench/scripts/runtime_api.py, a minimal")
    w("Runtime API in the bench process; AWS endpoints at moto on loopback; 256 MB memory setting). **Init** is")
    w("the time from spawning the process to its first `GET /runtime/invocation/next`; **first request** is from")
    w("handing it an API Gateway HTTP API v2 event to receiving its response (so it includes the cold work of")
    w("that request: the first connection to the endpoint, the tenant's KMS Decrypt, argon2 for logins);")
    w("**warm** is the median of the following requests in the same process; **moto** is the part of the first")
    w("request spent waiting for moto's answers (each AWS request's send-to-response time, logged by the")
    w("counting interceptor, `KANRI_COUNT_AWS_REQUESTS=1`, from sending to the response headers), **own** the")
    w("rest (so a response body moto sends late, e.g. held back by Nagle's algorithm, counts as own time: the")
    w("~45 ms own time of some warm requests is probably of that kind (not verified)); **peak memory** is VmHWM from")
    w(f"/proc/PID/status after {lr.get('invokes', '?')} requests. {lr.get('runs', '?')} cold starts per function; "
      "init, first and warm are medians, peak memory the largest of the cold starts. The functions run with "
      "the environment template.yaml gives them, `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072` included: "
      "without it glibc keeps argon2's freed 19 MiB blocks, and auth-login peaked at 73.3 MiB (run at c16ab83).")
    w("")
    w("| function | binary MiB | zipped MiB | init ms | first request ms | … waiting on moto ms (AWS requests) | … own ms | warm request ms (own) | peak memory MiB |")
    w("|---|---|---|---|---|---|---|---|---|")
    for rid, v in sorted(lam.items()):
        if "runs" not in v:
            continue
        note = "" if v.get("known_request", True) else " (no valid request defined: 4xx)"
        w(f"| {rid}{note} | {mib(v['bytes'])} | {mib(v['zip_bytes'])} | {f1(v.get('init_ms'))} | "
          f"{f1(v.get('first_request_ms'))} | {f1(v.get('first_request_aws_ms'))} "
          f"({f0(v.get('first_request_aws_requests'))}) | {f1(v.get('first_request_own_ms'))} | "
          f"{f1(v.get('warm_request_ms'))} ({f1(v.get('warm_request_own_ms'))}) | {f1(v.get('peak_rss_mib'))} |")
    w("")
    w(ARM64_NOTE)
    w("")

    # -- 4. argon2 and login
    w("## 4. argon2 and login")
    w("")
    if a2:
        w(f"`{binpath('argon2', 'kanri-bench')} argon2 {len(a2.get('ms', []))}`: argon2id m = {a2.get('m_kib')} KiB, "
          f"t = {a2.get('t')}, p = {a2.get('p')} (`kanri::crypto::hash_password_blocking`, the production "
          f"parameters), 3 untimed warm-up hashes then {len(a2.get('ms', []))} timed ones on an idle server: "
          f"median **{f1(a2.get('median_ms'))} ms**, min {f1(a2.get('min_ms'))} ms, p99 {f1(a2.get('p99_ms'))} ms "
          "per hash (one core). Verifying a password costs one hash.")
        w("")
        c = a2.get("concurrent") or {}
        if c:
            peak = c.get("peak_rss_mib")
            met = "met" if peak is not None and peak <= 256 else "**not met**"
            w(f"Memory under concurrent hashing (`{binpath('argon2', 'kanri-local')}`, embedded store, started as `make run` starts "
              f"it, with `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`): {c.get('concurrency')} concurrent "
              f"creates with generated passwords ({c.get('creates_ok')} answered 201 in {f1(c.get('creates_s'))} s), "
              f"then {c.get('concurrency')} concurrent logins ({c.get('logins_ok')} answered 200 in "
              f"{f1(c.get('logins_s'))} s). At most one hash per core runs at once (`crypto::password_slots`), the "
              f"rest wait their turn. RSS idle {f1(c.get('idle_rss_mib'))} MiB, after the creates "
              f"{f1(c.get('rss_after_creates_mib'))} MiB, after the logins {f1(c.get('rss_after_logins_mib'))} MiB; "
              f"**peak {f1(peak)} MiB** (target ≤ 256 MiB: {met}).")
            w("")
    if login:
        md = login["median"]
        w(f"Login (`POST /v1/auth/login`, e-mail and password, one connection so requests do not queue): median "
          f"**{f1(md['p50_ms'])} ms**, p99 **{f1(md['p99_ms'])} ms** (medians of {len(login['runs'])} runs of "
          f"{cfg.get('seconds', '?')} s), {f0(md['cpu_us_per_request'])} µs server CPU per login. "
          + (f"Login minus one hash: {f1(md['p50_ms'] - a2['median_ms'])} ms." if a2.get("median_ms") else ""))
        w("")

    # -- 5. build
    w("## 5. Build")
    w("")
    b = res.get("build") or {}
    if b.get("build_s") is not None:
        w(f"- The build of the last `bench/run.sh` run: {build_text(b)}. One profile for every binary: a second "
          "one (say `release` for the local server beside `lambda` for the functions) would compile every "
          "dependency a second time.")
        big = [f"the `kanri` library {mmss(b['kanri_lib_s'])}"] if b.get("kanri_lib_s") is not None else []
        big += [f"{x} {mmss((b.get('binaries_s') or {})[x])}" for x in ("kanri-local", "kanri-bench")
                if (b.get("binaries_s") or {}).get(x) is not None]
        if big:
            w(f"  Its longest units (cargo `--timings`, wall time of each with {b.get('jobs')} units at once): "
              + ", ".join(big) + " (each binary's unit is its thin-LTO link of everything it reaches).")
        if b.get("function_link") and b.get("profile") == "lambda":
            w(f"- `make lambda-build`: {function_link_text(b)}.")
    elif b.get("release_build_s") is not None:
        w(f"- Release build in this `make bench` run (`{b.get('command')}`, {b.get('state')}): "
          f"**{mmss(b['release_build_s'])}**.")
    if ci:
        w(f"- From a clean-clone CI run (`time bash .ci/run`, i.e. `make test`, log `{ci.get('log')}`, "
          f"{ci.get('date')}, exit {ci.get('exit')}):")
        fb = ci.get("first_build") or {}
        if fb:
            w(f"  - clean build of the workspace (`cargo build --workspace --bins`, {fb.get('profile')} profile, "
              f"from an empty target dir): **{mmss(fb.get('seconds'))}**;")
        if ci.get("test_build_seconds") is not None:
            w(f"  - then compiling the tests (`cargo test --workspace`): {mmss(ci['test_build_seconds'])};")
        if ci.get("make_test_seconds") is not None:
            w(f"  - `make test` as a whole (its own clock): **{mmss(ci['make_test_seconds'])}**;")
        if ci.get("real_seconds") is not None:
            w(f"  - `time`: real **{mmss(ci['real_seconds'])}**, user {mmss(ci.get('user_seconds'))}, "
              f"sys {mmss(ci.get('sys_seconds'))} for the whole `.ci/run`.")
        for line in ci.get("passed_lines") or []:
            w(f"  - `{line.strip()}`")
    else:
        w("- Clean-clone `make test` / workspace build: not measured in this run (no finished CI log; set "
          "KANRI_CI_LOG to the output of `time bash .ci/run` in a fresh clone, ending with a line `EXIT <code>`).")
    w("")

    makerun_lines(w, res.get("makerun") or {}, res.get("section_runs") or {})
    bulk_section(w, res.get("bulk") or {})
    tasks_section(w, res.get("tasks") or {}, fanout_of(res))
    soak_section(w, res.get("soak") or {})
    reset_section(w, res.get("reset") or {})

    # -- not measured
    w("## Not measured")
    w("")
    routes = set((res.get("lambda") or {}).get("route_ids") or [])
    bulk = [("importing 10,000 users from CSV", "users-import"),
             ("adding 1000 members to a group", "groups-members-add"),
             ("the purge rate", "ops-jobs-purge")]
    measured_bulk = set(((res.get("bulk") or {}).get("aws") or {}).get("routes_measured") or [])
    for what, rid in bulk:
        if rid in measured_bulk:
            continue
        if rid in routes:
            w(f"- {what[0].upper() + what[1:]}: not measured yet (the feature, route `{rid}`, was built after this first "
              "version of the bench; no figure is given rather than an invented one).")
        else:
            w(f"- {what[0].upper() + what[1:]}: not measured: feature not built.")
    if not ((res.get("tasks") or {}).get("import_aws") or {}).get("services"):
        w("- S3 requests of uploads and background imports (section 7, not run here).")
    w("- Real AWS: no figure here comes from AWS Lambda, DynamoDB or KMS themselves. The Lambda timings are local "
      "x86_64 processes against moto on loopback, which answers more slowly than DynamoDB and much more "
      "variably (hence the split into time waiting on moto and the function's own time); a real cold start "
      "also has the sandbox start and the package download, which Lambda reports separately.")
    w("- AWS requests of the routes listed at the end of section 2 (built after this bench's first version).")
    ba = (res.get("bulk") or {}).get("aws") or {}
    if ba and ba.get("users") and ba["users"] < TARGET_IMPORT_ROWS:
        w(f"- The {TARGET_IMPORT_ROWS:,}-row import against moto: measured with {ba['users']:,} rows and extrapolated "
          "(section 6), to keep `make bench` within its 15-minute budget.")
    ta = res.get("tasks") or {}
    if ta.get("import_aws", {}).get("rows") and ta["import_aws"]["rows"] < TARGET_BG_IMPORT_ROWS:
        w(f"- The {TARGET_BG_IMPORT_ROWS:,}-row background import against moto: measured with "
          f"{ta['import_aws']['rows']:,} rows and extrapolated (section 7); the {TARGET_BG_IMPORT_ROWS:,} rows "
          "themselves are timed on the local server only.")
    if fanout_of(res) or ta.get("fanout_embedded"):
        w(f"- A notice's mailing in AWS itself: the {mail_time_aws(TARGET_SUBSCRIBERS):,.0f} s for "
          f"{TARGET_SUBSCRIBERS:,} subscribers is computed from the template's rate limit, not measured.")
    w("")
    if res.get("errors"):
        w("## Problems in this run")
        w("")
        for e in res["errors"]:
            w(f"- {e}")
        w("")
    return "\n".join(L)


# ---- 6. bulk operations ----------------------------------------------------------------------------------

def bulk_row(ba, route):
    return next((r for r in ba.get("rows") or [] if r["route"] == route), None)


def op_count(r, op):
    return sum(o["count"] for o in r["operations"] if o["operation"] == op)


def import_extrapolated(r, n, to):
    """DynamoDB requests of a `to`-row import from the counts of an n-row one: the per-request reads
    (GetItem, Query) stay, the batched ones grow with the rows."""
    total, parts = 0, []
    for o in r["operations"]:
        if o["service"] != "DynamoDB":
            continue
        c = o["count"] if o["operation"] in ("GetItem", "Query") else round(o["count"] * to / n)
        total += c
        parts.append(f"{c:,} {o['operation']}")
    return total, ", ".join(parts)


def purge_totals(ba):
    rows = [r for r in ba.get("rows") or [] if r["route"] == "ops-jobs-purge"]
    items = sum(x.get("items_deleted") or 0 for x in ba.get("purge_runs") or [])
    if not rows or not items:
        return None
    ops = {}
    for r in rows:
        for o in r["operations"]:
            ops[o["operation"]] = ops.get(o["operation"], 0) + o["count"]
    ms = sum(r["ms_on_emulator"] for r in rows)
    return {"runs": len(rows), "items": items, "dynamodb": sum(r["services"]["DynamoDB"] for r in rows),
            "ops": ", ".join(f"{c:,} {op}" for op, c in sorted(ops.items())), "ms": ms,
            "waited_ms": sum(r["ms_waiting_on_emulator"] for r in rows)}


def bulk_target_rows(bulk):
    out = []
    emb = bulk.get("embedded") or {}
    ba = bulk.get("aws") or {}
    if emb.get("median_seconds") is not None:
        n = emb["rows"]
        created = ", ".join(f"{r['created']:,}" for r in emb["runs"])
        met = emb["median_seconds"] < TARGET_IMPORT_S and emb.get("all_created")
        out.append(f"| CSV import of {n:,} users (`POST /v1/users/import`, invite_link), local server: wall time, "
                   f"median of {len(emb['runs'])} | {f2(emb['median_seconds'])} s (rows created: {created}) | "
                   f"< {TARGET_IMPORT_S:.0f} s, all {n:,} created | "
                   f"{ok(met) if n == TARGET_IMPORT_ROWS else ok(None) + f' ({n:,} rows, not {TARGET_IMPORT_ROWS:,})'} |")
    r = bulk_row(ba, "users-import")
    if r:
        n = ba["users"]
        d = r["services"]["DynamoDB"]
        mn, _ = import_minimum(TARGET_IMPORT_ROWS)
        if n == TARGET_IMPORT_ROWS:
            out.append(f"| DynamoDB requests for a {n:,}-row CSV import (moto) | {d:,} ({ops_text(r, 'DynamoDB')}) | "
                       f"≤ {TARGET_IMPORT_REQUESTS} (O(N/25)); layout minimum {mn:,} | "
                       f"{ok(d <= TARGET_IMPORT_REQUESTS)} |")
        else:
            x, _ = import_extrapolated(r, n, TARGET_IMPORT_ROWS)
            out.append(f"| DynamoDB requests for a {TARGET_IMPORT_ROWS:,}-row CSV import (moto) | **extrapolated** "
                       f"≈ {x:,} from {d:,} measured for {n:,} rows ({d / n:.3f} per row) | "
                       f"≤ {TARGET_IMPORT_REQUESTS} (O(N/25)); layout minimum {mn:,} | "
                       f"{ok(x <= TARGET_IMPORT_REQUESTS)} (extrapolated) |")
    for route, what, minimum in (("groups-members-add", "adding {n:,} members to one group", members_minimum),
                                 ("groups-bulk-create", "creating {n:,} groups (`POST /v1/groups/bulk`)",
                                  groups_minimum)):
        r = bulk_row(ba, route)
        if not r:
            continue
        n = ba["members"] if route == "groups-members-add" else ba["groups"]
        tx = op_count(r, "TransactWriteItems")
        mtx, _, _ = minimum(n)
        out.append(f"| Transactions for {what.format(n=n)} (moto) | {tx} TransactWriteItems (of "
                   f"{r['services']['DynamoDB']} DynamoDB requests) | < {n // 10} (O(n/100)); layout minimum {mtx} | "
                   f"{ok(tx < n // 10)} |")
    pe = emb.get("purge") or {}
    if pe.get("items_per_s") is not None:
        out.append(f"| Purge rate, local server (embedded) | {f0(pe['items_per_s'])} items/s ({pe['items_deleted']:,} "
                   f"items in {len(pe['runs'])} run(s), {f2(pe['seconds'])} s) | no target set | – |")
    pt = purge_totals(ba)
    if pt:
        out.append(f"| DynamoDB requests per purged item (moto) | {pt['dynamodb'] / pt['items']:.3f} ({pt['dynamodb']:,} "
                   f"for {pt['items']:,} items) | ≈ 0.05 (1/25 BatchWriteItem + 1/100 Query per item) | – |")
    return out


TARGET_MAKERUN_S = 10.0  # `make run` after make test's build, to the first healthy answer: "in seconds"


def makerun_when(runs):
    r = runs.get("makerun") or {}
    g = r.get("git") or {}
    return f"{r.get('date', '?')}, commit `{g.get('commit', '?')}`"


def makerun_target_rows(mr, runs):
    out = []
    a = mr.get("after_test") or {}
    if a.get("seconds") is not None:
        out.append(f"| `make run` after make test's build: to the first 200 from /v1/health | {f1(a['seconds'])} s "
                   f"({a.get('crates_compiled')} crates compiled; section makerun, {makerun_when(runs)}) | "
                   f"≤ {TARGET_MAKERUN_S:.0f} s (in seconds) | {ok(a['seconds'] <= TARGET_MAKERUN_S)} |")
    f = mr.get("fresh_clone") or {}
    if f.get("seconds") is not None:
        out.append(f"| A fresh clone's `make run` (empty target dir): to the first 200 from /v1/health | "
                   f"{mmss(f['seconds'])} ({f.get('crates_compiled')} crates compiled; {mr.get('cpus')} cores, load "
                   f"average {' '.join(str(x) for x in mr.get('load_average_at_start') or [])} at the start) | "
                   "measured (no target) | – |")
    return out


def makerun_lines(w, mr, runs):
    if not mr:
        return
    a, f = mr.get("after_test") or {}, mr.get("fresh_clone") or {}
    w(f"**`make run`, a newcomer's second command** (section makerun, `make bench-long`, or `BENCH_SECTIONS=makerun "
      f"bench/run.sh`; from its own run: {makerun_when(runs)}). `make run` builds "
      "`cargo build --workspace --bin kanri-local` (dev profile) and starts it; timed from `make run` to the first "
      "200 from `GET /v1/health`. `--workspace` selects every package, so cargo resolves the same features as "
      "tests/run.sh's `cargo build --workspace --bins` and `cargo test --workspace` (kanri-tests lists the unit "
      "tests' `aws-smithy-mocks` as a normal dependency, so its `test-util` features are on in both): one build of "
      "each crate serves the three, and after make test's build `make run` compiles nothing. (A build of another "
      "package set, such as `cargo test -p kanri --lib` alone, resolves other features and compiles the AWS SDK "
      "again.)")
    w("")
    if a:
        w(f"- After make test's build ({mr.get('test_build')}): **{f1(a.get('seconds'))} s** to healthy, "
          f"{a.get('crates_compiled')} crates compiled ({a.get('cargo_finished') or 'cargo said nothing'}).")
    if f:
        w(f"- A fresh clone (`git clone` of commit `{f.get('commit')}`, empty target dir), `make run`: "
          f"**{mmss(f.get('seconds'))}** to healthy, {f.get('crates_compiled')} crates compiled "
          f"({f.get('cargo_finished')}); {mr.get('cpus')} cores, load average "
          f"{' '.join(str(x) for x in mr.get('load_average_at_start') or [])} at the start (the machine is shared "
          "with other builds). A whole dev build: too long for `make bench`'s 15-minute budget beside its own "
          "build, hence `make bench-long`.")
    w("")


def bulk_section(w, bulk):
    w("## 6. Bulk operations: CSV import, group members, purge")
    w("")
    if not bulk:
        w("Not measured in this run (`BENCH_SECTIONS` without `bulk`).")
        w("")
        return
    emb = bulk.get("embedded") or {}
    ba = bulk.get("aws") or {}
    if emb:
        n = emb.get("rows")
        w(f"**Local server (embedded store).** `{binpath('bulk', 'kanri-local')}` on a fresh data dir; {len(emb.get('runs') or [])} "
          f"tenant(s) created through the operator API (seat limit {n:,} + 10), then each gets one "
          f"`POST /v1/users/import?delivery=invite_link` of a {n:,}-row CSV (`text/csv`, header "
          "`name,email,login_id,role,groups`, rows `I<i>,i<i>@<slug>.example.com,,,`, "
          f"{((emb.get('runs') or [{}])[0].get('csv_bytes') or 0) / 1024:,.0f} KiB), timed from sending to the "
          "whole answer (which includes writing the invitation mails to the outbox); the report's `created` must "
          f"equal {n:,}. Server CPU is its utime+stime over the request.")
        w("")
        w("| run | wall s | server CPU s | created | failed |")
        w("|---|---|---|---|---|")
        for i, r in enumerate(emb.get("runs") or []):
            w(f"| {i + 1} | {f2(r['seconds'])} | {f2(r['server_cpu_s'])} | {r['created']:,} | {r['failed']} |")
        w(f"| **median** | **{f2(emb.get('median_seconds'))}** | {f2(emb.get('median_server_cpu_s'))} | | |")
        w("")
        pe = emb.get("purge") or {}
        if pe:
            w(f"Purge: the last run's tenant ({f0(pe.get('tenant_users'))} users) terminated with `contract_end` "
              f"{pe.get('contract_end')} (the day of the run), then `POST /v1/ops/jobs/purge "
              f"{{\"as_of\": \"{pe.get('as_of')}\"}}` (100 days later: `as_of` stands in for the clock, so the contract "
              "ended 90 or more days before it) repeated until the tenant is reported purged (each run deletes at most "
              "`PURGE_BUDGET` = 20,000 items, shared/src/app/retention.rs; `items_deleted` counts the tenant's own "
              "items, not the global token records deleted with them): "
              + "; ".join(f"run {i + 1}: {r['items_deleted']:,} items in {f2(r['seconds'])} s"
                          for i, r in enumerate(pe.get("runs") or []))
              + f". **{f0(pe.get('items_per_s'))} items/s** in all. Peak RSS of kanri-local over the section: "
              f"{emb.get('server_peak_rss_mib')} MiB.")
            w("")
    if ba:
        w(f"**DynamoDB requests (moto).** `{binpath('bulk', 'kanri-bench')} bulk-requests {ba.get('users')} "
          f"{ba.get('members')} {ba.get('groups')}` (bench/src/main.rs): the app in its own process on the AWS "
          "backend against moto, requests counted by the same interceptor as section 2, on one tenant: the "
          f"import of {ba.get('users'):,} rows (the same CSV shape; {ba.get('created'):,} created, "
          f"{ba.get('failed')} failed), {ba.get('members'):,} of those users added to one new group in one "
          f"request, {ba.get('groups'):,} groups created in one request, then the tenant's contract ended today "
          "and the purge job run as of 100 days later until the tenant is gone (a contract end already past "
          "would also end every user's sessions in the terminate call: one Query per user). Times are **moto's**, an emulator on this machine, "
          "not DynamoDB's: moto (infra/moto_server.py) handles one request at a time.")
        w("")
        w("| operation | DynamoDB | SES | measured DynamoDB operations | layout minimum DynamoDB | moto ms (waiting on moto) |")
        w("|---|---|---|---|---|---|")
        r = bulk_row(ba, "users-import")
        if r:
            mn, why = import_minimum(ba["users"])
            w(f"| import of {ba['users']:,} rows | {r['services']['DynamoDB']:,} | {r['services']['SES']:,} | "
              f"{ops_text(r, 'DynamoDB')} | {mn:,}: {why} | {f0(r['ms_on_emulator'])} "
              f"({f0(r['ms_waiting_on_emulator'])}) |")
        for route, what, minimum in (("groups-members-add", "{n:,} members into one group", members_minimum),
                                     ("groups-bulk-create", "{n:,} groups", groups_minimum)):
            r = bulk_row(ba, route)
            if r:
                n = ba["members"] if route == "groups-members-add" else ba["groups"]
                _, mn, why = minimum(n)
                w(f"| {what.format(n=n)} | {r['services']['DynamoDB']:,} | {r['services']['SES']} | "
                  f"{ops_text(r, 'DynamoDB')} | {mn}: {why} | {f0(r['ms_on_emulator'])} "
                  f"({f0(r['ms_waiting_on_emulator'])}) |")
        pt = purge_totals(ba)
        if pt:
            w(f"| purge of {pt['items']:,} items, {pt['runs']} run(s) | {pt['dynamodb']:,} | 0 | {pt['ops']} | "
              f"≈ {ceil_div(pt['items'], 25) + ceil_div(pt['items'], 100):,}: one BatchWriteItem per 25 deletes, "
              f"one Query per 100 items (+ the global token records) | {f0(pt['ms'])} ({f0(pt['waited_ms'])}) |")
        w("")
        w("The import's time waiting on moto exceeds its wall time because it sends the mails 8 at a time "
          "(`MAIL_CONCURRENCY`) and each request's wait is counted. SES: one SendEmail per invitation.")
        w("")
        r = bulk_row(ba, "users-import")
        if r:
            n = ba["users"]
            d = r["services"]["DynamoDB"]
            w(f"Per row of the import: {d / n:.3f} DynamoDB requests, {r['services']['SES'] / n:.0f} SES request "
              f"(one mail each), {r['ms_on_emulator'] / n:.1f} ms of moto time.")
            if n != TARGET_IMPORT_ROWS:
                x, parts = import_extrapolated(r, n, TARGET_IMPORT_ROWS)
                w(f"**Extrapolated** (not measured) to {TARGET_IMPORT_ROWS:,} rows, the batched operations "
                  f"scaled by {TARGET_IMPORT_ROWS / n:g}: ≈ {x:,} DynamoDB requests ({parts}).")
            mn, _ = import_minimum(TARGET_IMPORT_ROWS)
            per_tx = (100 - IMPORT_ITEMS_PER_TX) // IMPORT_ITEMS_PER_USER
            w(f"The issue's O(N/25) target (≤ {TARGET_IMPORT_REQUESTS} requests for {TARGET_IMPORT_ROWS:,} rows) is "
              f"below what this layout allows ({mn:,}): a row is {IMPORT_ITEMS_PER_USER} items (profile, e-mail "
              f"guard, the invitation's token and its index under the user), and every transaction also holds the "
              f"seat counter (its condition is what keeps the seat limit when imports and creates race) and the "
              f"audit entry (written with the users it records), so a transaction of DynamoDB's 100 items takes "
              f"{per_tx} rows: {ceil_div(TARGET_IMPORT_ROWS, per_tx):,} transactions, plus the mail log, one "
              f"BatchWriteItem per 25 mails ({ceil_div(TARGET_IMPORT_ROWS, 25):,}). The import packs exactly that "
              "(shared/src/app/imports.rs `pack`: a custom role's holder counter or a group's member counter takes "
              "an item only in the transactions that touch it). What the measured count adds to the minimum does "
              "not grow with the rows: one Query of the tenant's roles, which resolves the role names a file may "
              "use. The extrapolation scales the measured run's partly filled last transaction and guard batch "
              "too, so it lies a few requests above what a 10,000-row run makes.")
        if pt:
            w(f"Purge against moto: {pt['dynamodb'] / pt['items']:.3f} DynamoDB requests per item, "
              f"{pt['items'] / (pt['ms'] / 1000):,.0f} items/s of **emulator** time.")
        w(f"The whole `bulk-requests` run took {ba.get('seconds')} s.")
        w("")


# ---- 7. background tasks ---------------------------------------------------------------------------------

def fanout_pages(subscribers, tenants):
    """NoticeMails pages of a notice to `subscribers` spread evenly over `tenants` (as kanri-bench spreads them)."""
    per = [subscribers // tenants + (1 if t < subscribers % tenants else 0) for t in range(tenants)]
    return sum(ceil_div(p, NOTICE_PAGE) for p in per), per


def fanout_minimum(subscribers, tenants):
    """(total, text): the fewest DynamoDB requests of a notice's mailing with this layout."""
    pages, per = fanout_pages(subscribers, tenants)
    batches = 0
    for p in per:
        full, rest = divmod(p, NOTICE_PAGE)
        batches += full * ceil_div(NOTICE_PAGE, NOTICE_BATCH) + ceil_div(rest, NOTICE_BATCH)
    counts = sum(ceil_div(p, 1000) for p in per)
    per_tenant = 2 * counts + 3 * len(per)
    return 2 + per_tenant + 3 * pages + 3 * batches, (
        f"2 (publish: one transaction; fan-out: one Query of the tenant registry) + per tenant ({per_tenant:,}): "
        f"its subscribers counted (one Query per 1,000) and recorded (one transaction), and settled at its last "
        f"page (its mailing record read, its claims counted, one transaction) + per page of {NOTICE_PAGE} "
        f"({pages:,} pages, {3 * pages:,}): one Query of subscribers, one BatchGetItem of their profiles, one of "
        f"their claims + per batch of {NOTICE_BATCH} recipients ({batches:,} batches, {3 * batches:,}): one "
        "transaction of claims, one of outcomes with the counters, one BatchWriteItem of the mail log")


def mail_time_aws(n):
    return n / (AWS_MAIL_RATE * AWS_MAIL_WORKERS)


def svc_n(r, name):
    return (r.get("services") or {}).get(name, 0)


def fanout_of(res):
    """The notice fan-out on moto: section fanout (make bench-long); results from before it kept it in tasks."""
    return res.get("fanout") or (res.get("tasks") or {}).get("fanout_aws") or {}


def tasks_target_rows(tasks, fa):
    out = []
    fe = tasks.get("fanout_embedded") or {}
    if fa or fe:
        n = fa.get("subscribers") or fe.get("subscribers")
        size_note = "" if n == TARGET_SUBSCRIBERS else f" ({n:,} subscribers, not {TARGET_SUBSCRIBERS:,})"
        if fa:
            ses = svc_n(fa, "SES")
            out.append(f"| SES requests for a notice mailed to {n:,} subscribers (moto; section fanout, `make bench-long`) | {ses:,} SendEmail "
                       f"({fa.get('mails_sent'):,} mails sent, {fa.get('mails_failed')} failed) | "
                       f"{n:,}: one per recipient (layout minimum {n:,}) | "
                       f"{ok(ses == n == fa.get('mails_sent')) if not size_note else ok(None) + size_note} |")
        parts = []
        if fa:
            parts.append(f"moto (section fanout): {f1(fa.get('seconds'))} s of **emulator** time (in-process worker, "
                         "no rate limit)")
        if fe:
            parts.append(f"local server's embedded store and outbox: {f1(fe.get('seconds'))} s")
        parts.append(f"AWS at the template's {AWS_MAIL_RATE} mails/s × {AWS_MAIL_WORKERS} workers: "
                     f"**computed** {mail_time_aws(TARGET_SUBSCRIBERS):,.0f} s for {TARGET_SUBSCRIBERS:,}")
        done = all(r.get("mails_sent") == r.get("subscribers") for r in (fa, fe) if r)
        out.append(f"| Notice to {n:,} subscribers: wall time from publish to the last mail | {'; '.join(parts)} | "
                   f"feasible: every subscriber mailed | {ok(done) if not size_note else ok(None) + size_note} |")
        if fa:
            d = svc_n(fa, "DynamoDB")
            mn, _ = fanout_minimum(n, fa.get("tenants") or 1)
            out.append(f"| DynamoDB requests for that notice (moto) | {d:,} ({d / n:.3f} per recipient) | "
                       f"no target set; layout minimum {mn:,} | – |")
    ie = tasks.get("import_embedded") or {}
    if ie:
        n = ie["rows"]
        met = ie.get("created") == n and ie.get("status") == "done" and ie["csv_bytes"] <= TARGET_BG_IMPORT_BYTES
        out.append(f"| Background import of {n:,} users (uploads + `POST /v1/imports`), local server: wall time | "
                   f"{f1(ie.get('seconds'))} s, {f0(ie.get('rows_per_s'))} rows/s ({f0(ie.get('created'))} created; "
                   f"file {mib(ie['csv_bytes'])} MiB) | all {TARGET_BG_IMPORT_ROWS:,} created; file ≤ 20 MiB | "
                   f"{ok(met) if n == TARGET_BG_IMPORT_ROWS else ok(None) + f' ({n:,} rows)'} |")
    ia = tasks.get("import_aws") or {}
    if ia.get("operations"):
        n, to = ia["rows"], TARGET_BG_IMPORT_ROWS
        d = svc_n(ia, "DynamoDB")
        x, _ = import_extrapolated(ia, n, to)
        mn, _ = import_minimum(to)
        out.append(f"| DynamoDB requests for a {to:,}-row background import (moto) | **extrapolated** ≈ {x:,} from "
                   f"{d:,} measured for {n:,} rows ({d / n:.3f} per row); S3: {svc_n(ia, 'S3')} requests | "
                   f"no target set; layout minimum {mn:,} | – |")
    return out


def tasks_section(w, tasks, fa):
    w("## 7. Background tasks: notice fan-out, background import")
    w("")
    if not tasks and not fa:
        w("Not measured in this run (`BENCH_SECTIONS` without `tasks`).")
        w("")
        return
    cfg = tasks.get("config") or {}
    fe = tasks.get("fanout_embedded") or {}
    if fa or fe:
        n = (fa or fe).get("subscribers")
        t = (fa or fe).get("tenants")
        w(f"**Notice fan-out.** `{binpath('tasks', 'kanri-bench')} notice-fanout embedded {n} {t}` (section tasks, "
          f"`make bench`) and `{binpath('fanout', 'kanri-bench')} notice-fanout aws {n} {t}` (section fanout, "
          "`make bench-long`: 10,000 SendEmail through moto take minutes) (bench/src/main.rs): "
          f"{t} tenants created with `tenants::create`, then {n:,} users with an e-mail address spread over them "
          "and each user's `SUB#release#<user>` item written straight into the store (`UserRecord::to_item` and "
          "BatchWriteItem, for setup speed; not timed, not counted), then `notices::publish` of a release note and "
          f"the tasks it queues run by this process as the worker (`kanri::worker::run_task`, {WORKER_CONCURRENCY_TEXT}) "
          "until no task is left: one `NoticeFanout`, then one `NoticeMails` per tenant and page of "
          f"{NOTICE_PAGE} subscribers. The time runs from publishing to the end of the last task; the notice's "
          "`mails_sent` must then equal the subscribers. The worker sends without a rate limit here "
          f"(`KANRI_MAIL_RATE` unset); in AWS the template sets {AWS_MAIL_RATE} mails/s per worker and at most "
          f"{AWS_MAIL_WORKERS} workers, {AWS_MAIL_RATE * AWS_MAIL_WORKERS} mails/s, so {n:,} mails take "
          f"{mail_time_aws(n):,.0f} s there (**computed**, not measured), whatever the figures below.")
        w("")
        w("| backend | subscribers | tenants | tasks run | mails sent | wall s | DynamoDB | SES | KMS | per recipient: DynamoDB / SES |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for name, r in (("moto (AWS backend, **emulator** time)", fa),
                        ("embedded store, outbox .eml files", fe)):
            if not r:
                continue
            aws = name.startswith("moto")
            w(f"| {name} | {r['subscribers']:,} | {r['tenants']} | {r.get('tasks_run')} | {r.get('mails_sent'):,} "
              f"(failed {r.get('mails_failed')}) | {f1(r.get('seconds'))} | "
              + (f"{svc_n(r, 'DynamoDB'):,} | {svc_n(r, 'SES'):,} | {svc_n(r, 'KMS')} | "
                 f"{svc_n(r, 'DynamoDB') / r['subscribers']:.3f} / {svc_n(r, 'SES') / r['subscribers']:.0f} |"
                 if aws else "– | – | – | – |"))
        w("")
        if fa:
            mn, why = fanout_minimum(fa["subscribers"], fa["tenants"])
            w(f"Measured DynamoDB operations (moto): {ops_text(fa, 'DynamoDB')}; SES: {ops_text(fa, 'SES')}. "
              f"Layout minimum {mn:,}: {why}. What the measured count adds per page: the notice item read again "
              "(each task loads it), the tenant item (contract check), and the empty page a full last page can leave "
              "behind (its Query returned a cursor). KMS 0: this process created the tenants and holds their keys; "
              "a cold worker unwraps each tenant's data and log key once (2 Decrypt per tenant, as in the import below). "
              f"Time waiting on moto, summed over concurrent requests: {f1(fa.get('seconds_waiting_on_emulator'))} s. "
              f"Setup (tenants, users, subscriptions): {f1(fa.get('setup_seconds'))} s, not counted.")
            w("")
        if fe and fe.get("outbox_files") is not None:
            w(f"Embedded: the outbox held {fe['outbox_files']:,} files at the end ({fe['subscribers']:,} notices and "
              f"{fe['tenants']} admin invitations).")
            w("")
    ie = tasks.get("import_embedded") or {}
    ia = tasks.get("import_aws") or {}
    if ie:
        n = ie["rows"]
        w(f"**Background import on the local server.** `{binpath('tasks', 'kanri-local')}` on a fresh data dir, one tenant "
          f"with {n:,} + 10 seats; a {n:,}-row CSV (the same short rows as section 6, {mib(ie['csv_bytes'])} MiB, "
          "limit 20 MiB) sent as a client would: `POST /v1/uploads` (`user_import`), PUT to `upload_url` with "
          "`upload_headers`, `POST /v1/imports {upload_id, kind: \"users\"}` (delivery invite_link), then "
          "`GET /v1/imports/{id}` every 0.25 s until `done`. Timed from the upload request to the poll that saw "
          f"`done`: **{f1(ie.get('seconds'))} s** ({f2(ie.get('upload_seconds'))} s of it the upload), "
          f"**{f0(ie.get('rows_per_s'))} rows/s**, {f0(ie.get('created'))} created, {f0(ie.get('failed'))} failed, "
          f"server CPU {f1(ie.get('server_cpu_s'))} s, peak RSS {ie.get('server_peak_rss_mib')} MiB. The "
          f"invitation mails are part of the cost: the outbox held {f0(ie.get('outbox_files'))} files at the end.")
        w("")
    if ia:
        n, to = ia["rows"], TARGET_BG_IMPORT_ROWS
        d = svc_n(ia, "DynamoDB")
        w(f"**Background import, AWS requests (moto).** `{binpath('tasks', 'kanri-bench')} import-requests {n}`: the app on "
          f"the AWS backend against moto; the upload through the API (its PUT goes from the client to S3 and is not "
          f"counted), then counted from `POST /v1/imports`'s work (the session, `import_jobs::start`) to the end of "
          f"the last task, this process playing the worker as above ({ia.get('tasks_run')} task(s)). "
          f"{ia.get('created'):,} of {n:,} rows created, status {ia.get('status')}; "
          f"{f1(ia.get('seconds'))} s of **emulator** time.")
        w("")
        w("| rows | DynamoDB | S3 | SES | KMS | measured operations | per row: DynamoDB |")
        w("|---|---|---|---|---|---|---|")
        w(f"| {n:,} (measured) | {d:,} | {svc_n(ia, 'S3')} | {svc_n(ia, 'SES'):,} | {svc_n(ia, 'KMS')} | "
          f"{ops_text(ia)} | {d / n:.3f} |")
        x, parts = import_extrapolated(ia, n, to)
        mn, why = import_minimum(to)
        w(f"| {to:,} (**extrapolated**) | ≈ {x:,} | {svc_n(ia, 'S3')} | ≈ {to:,} | {svc_n(ia, 'KMS')} | {parts} | "
          f"{x / to:.3f} |")
        w("")
        w(f"Extrapolated, not measured: the per-request reads (GetItem, Query) kept, the batched operations "
          f"scaled by {to / n:g}. Layout minimum for {to:,} rows: {mn:,} ({why}), as for the synchronous import "
          "(section 6); the background import adds the job's own progress writes. S3: the import file read once "
          "(HEAD, GET) and deleted when the import ends, whatever its size. The POST /v1/imports part alone: "
          + ", ".join(f"{k} {v}" for k, v in (ia.get("start_services") or {}).items() if v) + ".")
        w("")
    secs = dict(tasks.get("seconds") or {})
    if fa.get("part_seconds") is not None and "fanout_aws" not in secs:
        secs["fanout_aws (section fanout)"] = fa["part_seconds"]
    if secs:
        w("Time of each part (setup and clean-up included): " + ", ".join(f"{k} {v} s" for k, v in secs.items())
          + f"; knobs: BENCH_TASKS_SUBSCRIBERS={cfg.get('subscribers')}, BENCH_TASKS_TENANTS={cfg.get('tenants')}, "
          f"BENCH_TASKS_IMPORT_ROWS={cfg.get('import_rows')}, BENCH_TASKS_AWS_ROWS={cfg.get('aws_rows')}.")
        w("")


WORKER_CONCURRENCY_TEXT = "4 tasks at once, as the local server's worker"


# ---- 8. soak ---------------------------------------------------------------------------------------------

def soak_errors_text(soak):
    kinds = soak.get("errors_by_kind") or soak.get("error_statuses") or {}
    return ", ".join(f"{k}: {v:,}" for k, v in kinds.items())


def soak_target_rows(soak):
    if not soak.get("samples"):
        return []
    mins = soak["config"]["seconds"] / 60
    drift = soak["rss_end_mib"] - soak["rss_half_mib"]
    rate = soak["config"].get("rate")
    pace = f", {rate:,} requests/s" if rate else ", unpaced"
    kinds = soak_errors_text(soak)
    return [
        f"| Soak: {mins:g} min of mixed traffic on the local server{pace}: errors | {soak['errors']:,} of "
        f"{soak['requests']:,} requests{f' ({kinds})' if kinds else ''} | {TARGET_SOAK_ERRORS} | "
        f"{ok(soak['errors'] <= TARGET_SOAK_ERRORS)} |",
        f"| Soak: RSS of kanri-local at the end (start {f1(soak['rss_start_mib'])} MiB, peak "
        f"{f1(soak.get('rss_peak_mib'))} MiB) | {f1(soak['rss_end_mib'])} MiB (store {f1(soak.get('store_end_mib'))} MiB) | "
        f"< {TARGET_SOAK_RSS_END_MIB:.0f} MiB | {ok(soak['rss_end_mib'] < TARGET_SOAK_RSS_END_MIB)} |",
        f"| Soak: RSS growth over the second half (flat memory) | {f1(drift)} MiB "
        f"({f1(soak['rss_half_mib'])} → {f1(soak['rss_end_mib'])}) | ≤ {TARGET_SOAK_RSS_DRIFT_MIB:.0f} MiB | "
        f"{ok(drift <= TARGET_SOAK_RSS_DRIFT_MIB)} |",
    ]


def soak_section(w, soak):
    if not soak.get("samples"):
        return
    cfg = soak["config"]
    w("## 8. Soak: mixed traffic for minutes, errors and memory")
    w("")
    w("Section soak, run by `make bench-long` (issue #20's 5-minute soak: its preload and its 5 minutes take about "
      "8 minutes, which do not fit beside the build in `make bench`'s 15).")
    w("")
    mix = ", ".join(f"{k} {v} %" for k, v in cfg["mix"].items())
    rate = cfg.get("rate")
    pace = (f"at a steady {rate:,} requests/s in all (`BENCH_SOAK_RATE`; each thread keeps its own fixed "
            f"schedule, {rate / cfg['threads']:,.0f} requests/s)") if rate else "with no pause (unpaced)"
    w(f"`{binpath('soak', 'kanri-local')}` on a fresh data dir with the default store cache (`KANRI_STORE_CACHE_MB`, "
      f"{cfg['store_cache_mib']} MiB; redb's own default would be 1 GiB); one tenant with "
      f"{cfg.get('seed_users', 50) + 1 + cfg.get('preload_users', 0):,} users at the start"
      + (f" ({cfg['preload_users']:,} of them imported by CSV before the soak, untimed, so that the store, "
         f"{f1(soak.get('store_start_mib'))} MiB, is larger than the cache from the start, as a deployment's is: "
         f"RSS growth then shows a leak, not a cache still filling)" if cfg.get('preload_users') else "")
      + f"; {cfg['threads']} client threads (bench/bench.py, one "
      f"keep-alive connection each) send for {cfg['seconds']} s {pace} a mix of {mix} (`users-create` adds a "
      f"user and mails the invitation; `users-update` renames one of the thread's own share of the seed users). "
      f"Every {cfg['sample_s']} s: requests and errors (any status outside 2xx, or a broken connection) in the "
      "interval, the server's RSS (VmRSS) and the store file's size.")
    w("")
    if rate:
        w(f"Why paced: a soak is meant to show what a steady load does to the server over time, so the load is "
          f"the same from run to run and leaves the server headroom; an unpaced client instead measures how fast "
          f"two shared cores can go, and lets the store's growth (and so its memory) depend on whatever else runs "
          f"on the machine. {rate:,} requests/s is about half of what the unpaced client reached while other "
          f"builds shared the two cores (≈ 1,040/s, 2 Dec) and an eighth of what it reached on a quiet machine "
          f"(≈ 3,770/s), still {rate * cfg['mix'].get('users-create', 0) // 100:,} new users a second. "
          f"The unpaced run (1,130,122 requests) had 1,875 errors, all of them 409 `conflict` from renames: "
          f"two threads renaming the same one of 50 seed users at once, which the API refuses by design (the "
          f"write is conditioned on the user being unchanged since it was read). Each thread now renames only "
          f"its own users. A 40 s unpaced re-run with the old renames confirmed it: 115 errors in 41,550 requests, "
          f"every one `users-update: 409 conflict`.")
        w("")
    kinds = soak_errors_text(soak)
    behind = soak.get("max_behind_schedule_s")
    w(f"**{soak['requests']:,} requests ({f0(soak.get('rps'))}/s), {soak['errors']:,} errors**"
      + (f" ({kinds})" if kinds else "")
      + f"; RSS {f1(soak['rss_start_mib'])} MiB at the start, {f1(soak['rss_half_mib'])} MiB half-way, "
      f"{f1(soak['rss_end_mib'])} MiB at the end (peak {f1(soak.get('rss_peak_mib'))} MiB"
      + (f"; {f1(soak['rss_second_half_min_mib'])}–{f1(soak['rss_second_half_max_mib'])} MiB over the second half"
         if soak.get("rss_second_half_max_mib") is not None else "")
      + f"); the store grew to {f1(soak.get('store_end_mib'))} MiB and the tenant to "
      f"{f0(soak.get('tenant_users_at_end'))} users; server CPU {f1(soak.get('server_cpu_s'))} s"
      + (f"; the client fell at most {f2(behind)} s behind its schedule" if behind is not None else "") + ".")
    w("")
    lat = soak.get("latency_ms") or {}
    if lat:
        w("Latency as the client saw it (successful requests): "
          + "; ".join(f"{op} p50 {f2(v.get('p50'))} ms, p99 {f2(v.get('p99'))} ms" for op, v in lat.items()
                      if op != "all")
          + f"; all p50 {f2(lat['all'].get('p50'))} ms, p99 {f2(lat['all'].get('p99'))} ms, "
          f"max {f1(lat['all'].get('max'))} ms.")
        w("")
    for k, ex in (soak.get("error_examples") or {}).items():
        w(f"- error `{k}`, e.g.: `{ex[:200]}`")
    if soak.get("error_examples"):
        w("")
    w("| s | requests | errors | RSS MiB | store MiB |")
    w("|---|---|---|---|---|")
    for x in soak["samples"]:
        w(f"| {x['t']} | {x['requests']:,} | {x['errors']} | {f1(x['rss_mib'])} | {f1(x.get('store_mib'))} |")
    w("")


# ---- 9. password reset -----------------------------------------------------------------------------------

def reset_verdict(r):
    k, u = r["known"]["p50_ms"], r["unknown"]["p50_ms"]
    diff = abs(k - u)
    allowed = max(RESET_MAX_DIFF_MS, min(k, u) * RESET_MAX_DIFF_PCT / 100)
    return diff, allowed, diff <= allowed


def reset_target_rows(r):
    if not r.get("known"):
        return []
    k, u = r["known"], r["unknown"]
    diff, allowed, met = reset_verdict(r)
    mailed = 1 <= r.get("known_reset_mails", 0) <= 3 and not r.get("unknown_mails") and not r.get("non_202")
    return [
        f"| Password reset (`POST /v1/auth/password-reset`), local server: median answer, known account vs "
        f"unknown login | known {f2(k['p50_ms'])} ms (p90 {f2(k['p90_ms'])}) vs unknown {f2(u['p50_ms'])} ms "
        f"(p90 {f2(u['p90_ms'])}), {k['n']:,} each: {f2(diff)} ms apart | medians within "
        f"{RESET_MAX_DIFF_MS:g} ms or {RESET_MAX_DIFF_PCT:g} %, whichever is larger (here {f2(allowed)} ms) | "
        f"{ok(met)} |",
        f"| … the known account was mailed, the unknown login not | {r.get('known_reset_mails')} reset mail(s) to "
        f"the known account, {r.get('unknown_mails')} to the unknown login; answers other than 202: "
        f"{sum((r.get('non_202') or {}).values())} | 1–3 (3 an hour per account), 0, 0 | {ok(mailed)} |",
    ]


def reset_section(w, r):
    if not r.get("known"):
        return
    k, u = r["known"], r["unknown"]
    diff, allowed, met = reset_verdict(r)
    cfg = r["config"]
    w("## 9. Password reset: known and unknown accounts answer alike")
    w("")
    w(f"`{binpath('reset', 'kanri-local')}` on a fresh data dir with `KANRI_CLIENT_IP_HEADER=X-Forwarded-For`; one tenant "
      f"and one known user (invited, password set). `POST /v1/auth/password-reset {{tenant, login}}` for the known "
      f"user's e-mail and for an unknown address of the same tenant, interleaved (each pair in random order), "
      f"{cfg['warmup_pairs']} untimed pairs and then {cfg['n']:,} timed requests of each, one after another on one "
      f"keep-alive connection; every request comes from its own source address (`X-Forwarded-For: 198.51.100.7, "
      f"10.x.y.z`: the right-most entry counts), so the per-source limit (20 an hour) never answers. The time is "
      f"the client's, from sending the request to the end of the answer (bench/bench.py, Python, on the same "
      f"cores). The route answers 202 before it looks: it queues a task naming only the login's blind index, and "
      f"the worker looks the account up and mails (shared/src/app/auth.rs `request_reset`, `send_reset`).")
    w("")
    w("| login | requests | median ms | p90 ms | p99 ms | min ms | mean ms |")
    w("|---|---|---|---|---|---|---|")
    for name, x in (("known account", k), ("unknown login", u)):
        w(f"| {name} | {x['n']:,} | **{x['p50_ms']:.3f}** | {x['p90_ms']:.3f} | {x['p99_ms']:.3f} | "
          f"{x['min_ms']:.3f} | {x['mean_ms']:.3f} |")
    w("")
    w(f"Medians {diff:.3f} ms apart (target: within {RESET_MAX_DIFF_MS:g} ms or {RESET_MAX_DIFF_PCT:g} % of the "
      f"smaller median, whichever is larger, here {allowed:.3f} ms: {'met' if met else '**not met**'}). For "
      f"scale: the two halves of the known account's own requests have medians "
      f"{r.get('same_class_halves_diff_ms', 0):.3f} ms apart, and before the change the two classes answered in "
      f"4.8–6.8 ms vs 2.7–3.6 ms (issue #14). The worker's half: the outbox holds "
      f"{r.get('known_reset_mails')} reset mail(s) to the known account (the worker mails at most 3 an hour per "
      f"account; exactly one of the mailed links (each new one deletes the older ones) "
      f"{'set the password' if r.get('newest_link_sets_password') else 'did NOT set the password'}) and "
      f"{r.get('unknown_mails')} to the unknown address; answers other than 202: "
      f"{r.get('non_202') or 'none'}.")
    w("")


def ops_text(r, service=None):
    return ", ".join(f"{o['count']} {o['operation']}" for o in r["operations"]
                     if service is None or o["service"] == service)


def check_aws(res: dict) -> list[str]:
    """Section 2's refusals: a route of the route table not called, a call without a derived minimum, a route
    said to be counted in section 6 that section 6 did not count."""
    aws = res.get("aws") or {}
    problems = []
    if aws.get("routes_not_measured"):
        problems.append("routes not called by kanri-bench aws-requests: " + ", ".join(aws["routes_not_measured"]))
    missing = sorted({f"{r['route']} ({r['label']})" for r in aws.get("rows") or []
                      if not minimum(r["route"], r["label"])})
    if missing:
        problems.append("calls without a minimum in bench/report.py MINIMUM: " + ", ".join(missing))
    bulk = set(((res.get("bulk") or {}).get("aws") or {}).get("routes_measured") or [])
    elsewhere = [r for r in aws.get("routes_counted_in_bulk") or [] if r not in bulk]
    if elsewhere:
        problems.append("routes left to section 6 that its last run did not count: " + ", ".join(elsewhere))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ci-log")
    ap.add_argument("--ci-json")
    ap.add_argument("--total-seconds", type=int)
    ap.add_argument("--phases", help="bench/run.sh's wall time per phase of this make bench: deps=S,build=S,…")
    args = ap.parse_args()
    res = json.loads(Path(args.results).read_text())
    problems = check_aws(res)
    if problems:
        sys.exit("bench/report.py: section 2 refused, BENCHMARKS.md not written:\n- " + "\n- ".join(problems))
    ci = read_ci_log(args.ci_log) if args.ci_log else None
    if ci and args.ci_json:
        Path(args.ci_json).write_text(json.dumps(ci, indent=1) + "\n")
    elif args.ci_json and os.path.exists(args.ci_json):
        ci = json.loads(Path(args.ci_json).read_text())
    if args.total_seconds:
        res["make_bench_seconds"] = args.total_seconds
        # The sections this run measured (the others in the file are from earlier runs).
        this = (res.get("section_runs") or {})
        res["make_bench_sections"] = [x for x in SECTIONS if x in res and (this.get(x) or {}).get("date") == res.get("date")]
        res["make_bench_phases"] = {k: int(v) for k, v in (p.split("=", 1) for p in (args.phases or "").split(",") if "=" in p)}
        Path(args.results).write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    Path(args.out).write_text(render(res, ci, args.total_seconds or res.get("make_bench_seconds")))


if __name__ == "__main__":
    main()
