"""The IAM and STS actions: each one's parameters, its authorization, and its answer.

Every action acts on the caller's own account only, through :mod:`.operations`
(the same functions the ``s3service`` command calls).  Before it does, the
caller must be allowed ``iam:ACTION`` on the resource's ARN
(``arn:aws:iam::ACCOUNT:user/NAME``, ``group/NAME``, ``policy/NAME``; the
listings on ``user/*``, ``group/*``, ``policy/*``): an account's root key may
do everything, an IAM user what its policies allow.  STS's GetCallerIdentity
and GetSessionToken need no permission, as on AWS.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..backends.protocols import AdminStore
from ..backends.records import Credential, PolicyRecord, PolicyVersion, UserRecord
from ..identity import Identity
from ..policies import ALLOWED, EXPLICIT_DENY
from . import operations as ops
from .errors import AccessDenied, InvalidInput, NoSuchEntity, ValidationError
from .query import member_list, page, policy_text, required

__all__ = ["IAM_ACTIONS", "STS_ACTIONS", "Call"]

Result = Mapping[str, Any] | None


@dataclass
class Call:
    """One IAM or STS request: the store, the authenticated caller and the parameters.

    ``allowed(action, resource)`` is the authorizer's answer for this caller and request;
    ``session`` says the caller signed with temporary (GetSessionToken) credentials.
    """

    store: AdminStore
    caller: Identity
    params: Mapping[str, str]
    allowed: Callable[[str, str], bool]
    session: bool = False

    @property
    def account(self) -> str:
        return self.caller.account_id

    def authorize(self, action: str, resource: str) -> None:
        ops.require(self.allowed(action, resource), self.caller, action, resource)

    def arn(self, kind: str, name: str) -> str:
        return ops.arn(self.account, kind, name)

    def required(self, name: str) -> str:
        return required(self.params, name)

    def user(self) -> str:
        """``UserName`` (required)."""
        return self.required("UserName")

    def own_user(self) -> str | None:
        """``UserName``, or the caller's own user when it is left out (``None``: the root)."""
        return self.params.get("UserName") or self.caller.user

    def principal_arn(self, user: str | None) -> str:
        return f"arn:aws:iam::{self.account}:root" if user is None else self.arn("user", user)

    def policy(self, parameter: str = "PolicyArn") -> str:
        """The name of the caller's managed policy a ``PolicyArn`` names."""
        text = self.required(parameter)
        prefix = f"arn:aws:iam::{self.account}:policy/"
        if not text.startswith(prefix) or not text[len(prefix):]:
            raise NoSuchEntity(f"Policy {text} does not exist or is not attachable.")
        return text[len(prefix):].rsplit("/", 1)[-1]


# -- shapes -------------------------------------------------------------------------------------

def user_shape(call: Call, user: UserRecord) -> dict[str, Any]:
    return {"Path": "/", "UserName": user.name, "UserId": ops.entity_id("AIDA", call.account,
                                                                          user.name),
            "Arn": call.arn("user", user.name), "CreateDate": user.created}


def key_shape(key: Credential, secret: bool = False) -> dict[str, Any]:
    return {"UserName": key.user, "AccessKeyId": key.access_key,
            "Status": "Active" if key.active else "Inactive",
            "SecretAccessKey": key.secret_key if secret else None, "CreateDate": key.created}


def policy_shape(call: Call, policy: PolicyRecord) -> dict[str, Any]:
    return {"PolicyName": policy.name, "PolicyId": ops.entity_id("ANPA", call.account,
                                                                 policy.name),
            "Arn": call.arn("policy", policy.name), "Path": "/",
            "DefaultVersionId": f"v{policy.default_version}",
            "AttachmentCount": policy.attachments, "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True, "CreateDate": policy.created, "UpdateDate": policy.updated}


def version_shape(version: PolicyVersion, document: bool = True) -> dict[str, Any]:
    return {"Document": policy_text(version.document) if document else None,
            "VersionId": f"v{version.version}", "IsDefaultVersion": version.default,
            "CreateDate": version.created}


def group_shape(call: Call, group: str) -> dict[str, Any]:
    return {"Path": "/", "GroupName": group, "GroupId": ops.entity_id("AGPA", call.account, group),
            "Arn": call.arn("group", group)}


def paged(call: Call, name: str, items: list[Any]) -> dict[str, Any]:
    shown, rest = page(items, call.params)
    return {name: shown, **rest}


# -- users ------------------------------------------------------------------------------------

def create_user(call: Call) -> Result:
    name = call.user()
    call.authorize("iam:CreateUser", call.arn("user", name))
    return {"User": user_shape(call, ops.create_user(call.store, call.account, name))}


def get_user(call: Call) -> Result:
    name = call.own_user()
    if name is None:                    # the root asks about itself
        return {"User": {"Path": "/", "UserId": call.account,
                         "Arn": call.principal_arn(None)}}
    call.authorize("iam:GetUser", call.arn("user", name))
    return {"User": user_shape(call, ops.get_user(call.store, call.account, name))}


def list_users(call: Call) -> Result:
    call.authorize("iam:ListUsers", call.arn("user", "*"))
    return paged(call, "Users", [user_shape(call, u)
                                 for u in ops.list_users(call.store, call.account)])


def update_user(call: Call) -> Result:
    name = call.user()
    call.authorize("iam:UpdateUser", call.arn("user", name))
    new_name = call.params.get("NewUserName")
    if new_name:
        call.authorize("iam:UpdateUser", call.arn("user", new_name))
        ops.rename_user(call.store, call.account, name, new_name)
    else:
        ops.get_user(call.store, call.account, name)
    return None


def delete_user(call: Call) -> Result:
    name = call.user()
    call.authorize("iam:DeleteUser", call.arn("user", name))
    ops.delete_user(call.store, call.account, name)
    return None


# -- access keys ----------------------------------------------------------------------------

def create_access_key(call: Call) -> Result:
    user = call.own_user()
    call.authorize("iam:CreateAccessKey", call.principal_arn(user))
    return {"AccessKey": key_shape(ops.create_key(call.store, call.account, user), secret=True)}


def list_access_keys(call: Call) -> Result:
    user = call.own_user()
    call.authorize("iam:ListAccessKeys", call.principal_arn(user))
    return paged(call, "AccessKeyMetadata",
                 [key_shape(k) for k in ops.principal_keys(call.store, call.account, user)])


def _status(call: Call) -> bool:
    status = call.required("Status")
    if status not in ("Active", "Inactive"):
        raise ValidationError("Status must be Active or Inactive")
    return status == "Active"


def update_access_key(call: Call) -> Result:
    user = call.own_user()
    call.authorize("iam:UpdateAccessKey", call.principal_arn(user))
    ops.set_key_active(call.store, call.required("AccessKeyId"), _status(call), call.account,
                       user)
    return None


def delete_access_key(call: Call) -> Result:
    user = call.own_user()
    call.authorize("iam:DeleteAccessKey", call.principal_arn(user))
    ops.delete_key(call.store, call.required("AccessKeyId"), call.account, user)
    return None


def get_access_key_last_used(call: Call) -> Result:
    key = ops.find_key(call.store, call.required("AccessKeyId"), call.account)
    call.authorize("iam:GetAccessKeyLastUsed", call.principal_arn(key.user))
    used = {"LastUsedDate": key.last_used, "ServiceName": key.last_used_service or "N/A",
            "Region": key.last_used_region or "N/A"}
    return {"UserName": key.user, "AccessKeyLastUsed": used}


# -- managed policies ---------------------------------------------------------------------------

def create_policy(call: Call) -> Result:
    name = call.required("PolicyName")
    call.authorize("iam:CreatePolicy", call.arn("policy", name))
    return {"Policy": policy_shape(call, ops.create_policy(
        call.store, call.account, name, call.required("PolicyDocument")))}


def get_policy(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:GetPolicy", call.arn("policy", name))
    return {"Policy": policy_shape(call, ops.get_policy(call.store, call.account, name))}


def list_policies(call: Call) -> Result:
    call.authorize("iam:ListPolicies", call.arn("policy", "*"))
    if call.params.get("Scope") == "AWS":       # no AWS-managed policies here
        return paged(call, "Policies", [])
    only_attached = call.params.get("OnlyAttached", "").lower() == "true"
    return paged(call, "Policies", [policy_shape(call, p) for p in ops.list_policies(
        call.store, call.account, only_attached=only_attached)])


def delete_policy(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:DeletePolicy", call.arn("policy", name))
    ops.delete_policy(call.store, call.account, name)
    return None


def create_policy_version(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:CreatePolicyVersion", call.arn("policy", name))
    version = ops.create_policy_version(
        call.store, call.account, name, call.required("PolicyDocument"),
        set_default=call.params.get("SetAsDefault", "").lower() == "true")
    return {"PolicyVersion": version_shape(version, document=False)}


def get_policy_version(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:GetPolicyVersion", call.arn("policy", name))
    number = ops.version_number(call.required("VersionId"))
    return {"PolicyVersion": version_shape(ops.get_policy_version(call.store, call.account, name,
                                                                  number))}


def list_policy_versions(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:ListPolicyVersions", call.arn("policy", name))
    return paged(call, "Versions", [version_shape(v, document=False) for v
                                    in ops.list_policy_versions(call.store, call.account, name)])


def delete_policy_version(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:DeletePolicyVersion", call.arn("policy", name))
    ops.delete_policy_version(call.store, call.account, name,
                              ops.version_number(call.required("VersionId")))
    return None


def set_default_policy_version(call: Call) -> Result:
    name = call.policy()
    call.authorize("iam:SetDefaultPolicyVersion", call.arn("policy", name))
    ops.set_default_policy_version(call.store, call.account, name,
                                   ops.version_number(call.required("VersionId")))
    return None


def _attachment(kind: str, action: str, detach: bool = False) -> Callable[[Call], Result]:
    parameter = "UserName" if kind == "user" else "GroupName"

    def act(call: Call) -> Result:
        principal = call.required(parameter)
        call.authorize(action, call.arn(kind, principal))
        policy = call.policy()
        who = {kind: principal}
        (ops.detach if detach else ops.attach)(call.store, call.account, policy, **who)
        return None

    return act


def _attached(kind: str, action: str) -> Callable[[Call], Result]:
    parameter = "UserName" if kind == "user" else "GroupName"

    def listed(call: Call) -> Result:
        principal = call.required(parameter)
        call.authorize(action, call.arn(kind, principal))
        names = ops.list_attached(call.store, call.account, **{kind: principal})
        return paged(call, "AttachedPolicies", [
            {"PolicyName": name, "PolicyArn": call.arn("policy", name)} for name in names])

    return listed


# -- inline policies ------------------------------------------------------------------------

def put_user_policy(call: Call) -> Result:
    user = call.user()
    call.authorize("iam:PutUserPolicy", call.arn("user", user))
    ops.put_user_policy(call.store, call.account, user, call.required("PolicyName"),
                        call.required("PolicyDocument"))
    return None


def get_user_policy(call: Call) -> Result:
    user = call.user()
    call.authorize("iam:GetUserPolicy", call.arn("user", user))
    name = call.required("PolicyName")
    document = ops.get_user_policy(call.store, call.account, user, name)
    return {"UserName": user, "PolicyName": name, "PolicyDocument": policy_text(document)}


def list_user_policies(call: Call) -> Result:
    user = call.user()
    call.authorize("iam:ListUserPolicies", call.arn("user", user))
    return paged(call, "PolicyNames", ops.list_user_policies(call.store, call.account, user))


def delete_user_policy(call: Call) -> Result:
    user = call.user()
    call.authorize("iam:DeleteUserPolicy", call.arn("user", user))
    ops.delete_user_policy(call.store, call.account, user, call.required("PolicyName"))
    return None


# -- groups ------------------------------------------------------------------------------------

def create_group(call: Call) -> Result:
    group = call.required("GroupName")
    call.authorize("iam:CreateGroup", call.arn("group", group))
    ops.create_group(call.store, call.account, group)
    return {"Group": group_shape(call, group)}


def get_group(call: Call) -> Result:
    group = call.required("GroupName")
    call.authorize("iam:GetGroup", call.arn("group", group))
    members = ops.get_group(call.store, call.account, group)
    users = {u.name: u for u in ops.list_users(call.store, call.account)}
    return {"Group": group_shape(call, group),
            **paged(call, "Users", [user_shape(call, users[m]) for m in members if m in users])}


def list_groups(call: Call) -> Result:
    call.authorize("iam:ListGroups", call.arn("group", "*"))
    return paged(call, "Groups", [group_shape(call, name)
                                  for name, _ in ops.list_groups(call.store, call.account)])


def delete_group(call: Call) -> Result:
    group = call.required("GroupName")
    call.authorize("iam:DeleteGroup", call.arn("group", group))
    ops.delete_group(call.store, call.account, group)
    return None


def add_user_to_group(call: Call) -> Result:
    group = call.required("GroupName")
    call.authorize("iam:AddUserToGroup", call.arn("group", group))
    ops.add_user_to_group(call.store, call.account, group, call.user())
    return None


def remove_user_from_group(call: Call) -> Result:
    group = call.required("GroupName")
    call.authorize("iam:RemoveUserFromGroup", call.arn("group", group))
    ops.remove_user_from_group(call.store, call.account, group, call.user())
    return None


def list_groups_for_user(call: Call) -> Result:
    user = call.user()
    call.authorize("iam:ListGroupsForUser", call.arn("user", user))
    return paged(call, "Groups", [group_shape(call, g)
                                  for g in ops.groups_for_user(call.store, call.account, user)])


# -- deciding -------------------------------------------------------------------------------------

_DECISIONS = {ALLOWED: "allowed", EXPLICIT_DENY: "explicitDeny"}


def simulate_principal_policy(call: Call) -> Result:
    source = call.required("PolicySourceArn")
    prefix = f"arn:aws:iam::{call.account}:user/"
    if not source.startswith(prefix):
        if source.startswith("arn:aws:iam::") and source.split(":")[4] != call.account:
            raise NoSuchEntity(f"{source} does not exist")
        raise InvalidInput(f"PolicySourceArn must name a user of account {call.account}")
    user = source[len(prefix):].rsplit("/", 1)[-1]
    call.authorize("iam:SimulatePrincipalPolicy", call.arn("user", user))
    actions = member_list(call.params, "ActionNames")
    if not actions:
        raise ValidationError("ActionNames must name at least one action")
    resources = member_list(call.params, "ResourceArns") or ["*"]
    context = _context_entries(call.params)
    results = []
    for action in actions:
        for resource in resources:
            decision = ops.simulate(call.store, call.account, user, action, resource, context)
            matched = ([{"SourcePolicyId": decision.policy, "SourcePolicyType": "IAM Policy"}]
                       if decision.policy else [])
            results.append({"EvalActionName": action, "EvalResourceName": resource,
                            "EvalDecision": _DECISIONS.get(decision.outcome, "implicitDeny"),
                            "MatchedStatements": matched})
    return paged(call, "EvaluationResults", results)


def _context_entries(params: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """``ContextEntries.member.N.ContextKeyName`` / ``.ContextKeyValues.member.M``."""
    entries: dict[str, tuple[str, ...]] = {}
    index = 1
    while f"ContextEntries.member.{index}.ContextKeyName" in params:
        base = f"ContextEntries.member.{index}"
        entries[params[f"{base}.ContextKeyName"]] = tuple(
            member_list(params, f"{base}.ContextKeyValues"))
        index += 1
    return entries


# -- STS ---------------------------------------------------------------------------------------

def get_caller_identity(call: Call) -> Result:
    user = call.caller.user
    user_id = call.account if user is None else ops.entity_id("AIDA", call.account, user)
    return {"UserId": user_id, "Account": call.account, "Arn": call.caller.arn}


def get_session_token(call: Call) -> Result:
    if call.session:
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    duration = call.params.get("DurationSeconds")
    try:
        seconds = None if duration is None else int(duration)
    except ValueError:
        raise ValidationError("DurationSeconds must be a number") from None
    key = ops.session_token(call.store, call.caller, seconds)
    return {"Credentials": {"AccessKeyId": key.access_key, "SecretAccessKey": key.secret_key,
                            "SessionToken": key.session_token, "Expiration": key.expires}}


IAM_ACTIONS: dict[str, Callable[[Call], Any]] = {
    "CreateUser": create_user, "GetUser": get_user, "ListUsers": list_users,
    "UpdateUser": update_user, "DeleteUser": delete_user,
    "CreateAccessKey": create_access_key, "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key, "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "CreatePolicy": create_policy, "GetPolicy": get_policy, "ListPolicies": list_policies,
    "DeletePolicy": delete_policy, "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version, "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "AttachUserPolicy": _attachment("user", "iam:AttachUserPolicy"),
    "DetachUserPolicy": _attachment("user", "iam:DetachUserPolicy", detach=True),
    "ListAttachedUserPolicies": _attached("user", "iam:ListAttachedUserPolicies"),
    "AttachGroupPolicy": _attachment("group", "iam:AttachGroupPolicy"),
    "DetachGroupPolicy": _attachment("group", "iam:DetachGroupPolicy", detach=True),
    "ListAttachedGroupPolicies": _attached("group", "iam:ListAttachedGroupPolicies"),
    "PutUserPolicy": put_user_policy, "GetUserPolicy": get_user_policy,
    "ListUserPolicies": list_user_policies, "DeleteUserPolicy": delete_user_policy,
    "CreateGroup": create_group, "GetGroup": get_group, "ListGroups": list_groups,
    "DeleteGroup": delete_group, "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group, "ListGroupsForUser": list_groups_for_user,
    "SimulatePrincipalPolicy": simulate_principal_policy,
}

STS_ACTIONS: dict[str, Callable[[Call], Any]] = {
    "GetCallerIdentity": get_caller_identity, "GetSessionToken": get_session_token,
}
