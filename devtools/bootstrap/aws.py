"""The AWS side of `make bootstrap`: SDK clients per (account, region, service), or, for a dry run, stand-ins that
print each call as the AWS CLI would spell it and answer as a fresh account would (no policy, basic scanning without
rules, no repository policy), so the dry run shows everything a first run does, without credentials or network."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

#: (account, region, service) -> a boto3 client (or a stand-in with the same methods).
ClientFactory = Callable[[str, str, str], Any]
#: Longer parameter values (policy documents) are shown by size: the document is the checkout's file, rendered.
SHOWN = 400


class BootstrapError(RuntimeError):
    """What stopped the set-up; the message is the one line to print."""


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def cli_line(service: str, operation: str, params: dict[str, Any], *, profile: str | None, region: str) -> str:
    """`aws <service> <operation> --profile P --region R --param value...` for one call."""
    words = ["aws", service, _kebab(operation)]
    words += ["--profile", profile] if profile else []
    words += ["--region", region]
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        shown = text if len(text) <= SHOWN else f"<{len(text)} characters>"
        words += [f"--{_kebab(key[0].upper() + key[1:])}", shown]
    return shlex.join(words)


def _error(code: str, operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


#: What a fresh account answers (operation -> response or error code); everything else answers {}.
FRESH_ACCOUNT: dict[str, Any] = {
    "GetPolicy": "NoSuchEntity",
    "GetRegistryScanningConfiguration": {"scanningConfiguration": {"scanType": "BASIC", "rules": []}},
    "GetRepositoryPolicy": "RepositoryPolicyNotFoundException",
    "GetConnection": {"Connection": {"ConnectionStatus": "PENDING"}},
}


class DryClient:
    """Prints every call; answers as FRESH_ACCOUNT says."""

    def __init__(self, account: str, region: str, service: str, *, profile: str | None, out: Callable[[str], None]):
        self.account, self.region, self.service, self.profile, self.out = account, region, service, profile, out

    def __getattr__(self, method: str) -> Callable[..., Any]:
        operation = "".join(part.capitalize() for part in method.split("_"))

        def call(**params: Any) -> Any:
            self.out(cli_line(self.service, operation, params, profile=self.profile, region=self.region))
            if operation == "GetCallerIdentity":
                return {"Account": self.account, "Arn": f"arn:aws:iam::{self.account}:root", "UserId": "dry-run"}
            answer = FRESH_ACCOUNT.get(operation, {})
            if isinstance(answer, str):
                raise _error(answer, operation, "dry run: assumed absent, as in a fresh account")
            return answer

        return call


def dry_clients(profiles: dict[str, str | None], out: Callable[[str], None]) -> ClientFactory:
    def factory(account: str, region: str, service: str) -> Any:
        return DryClient(account, region, service, profile=profiles.get(account), out=out)

    return factory


def real_clients(profiles: dict[str, str | None]) -> ClientFactory:
    """boto3 clients, one session per profile (None: the default credential chain)."""
    import boto3

    sessions: dict[str | None, Any] = {}

    def factory(account: str, region: str, service: str) -> Any:
        profile = profiles.get(account)
        try:
            if profile not in sessions:
                sessions[profile] = boto3.Session(profile_name=profile)
        except ProfileNotFound:
            raise BootstrapError(
                f"no AWS profile named {profile!r} (account {account}): see `aws configure list-profiles`"
            ) from None
        return sessions[profile].client(service, region_name=region)

    return factory


def describe(error: Exception, account: str, profile: str | None) -> str:
    """One line for an SDK error: which call, where, and what AWS said."""
    who = f"account {account}" + (f" (profile {profile})" if profile else " (default credentials)")
    if isinstance(error, NoCredentialsError):
        hint = f"`aws sso login --profile {profile}`" if profile else "set AWS_PROFILE or pass PROFILES=ACCOUNT=PROFILE"
        return f"no AWS credentials for {who}: {hint}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name} in {who} failed: {details.get('Code')}: {details.get('Message')}"
    if isinstance(error, BotoCoreError):
        return f"{who}: {error}"
    raise error
