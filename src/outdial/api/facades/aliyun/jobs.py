"""Filling and steering a job group's jobs (contacts): AssignJobs, SubmitBatchJobs, and
SuspendJobs / ResumeJobs / CancelJobs on the whole group (``All=true``) or on named jobs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from outdial.api.facades.aliyun import files, jobgroups, strategy
from outdial.api.facades.aliyun.call import Call, action
from outdial.api.facades.aliyun.errors import (
    FieldRules,
    from_outdial,
    incorrect_status,
    invalid,
    missing,
    not_exist,
    vendor_field,
)
from outdial.api.facades.aliyun.jobviews import CONTACTS_KEY
from outdial.api.facades.aliyun.params import only_keys, parse_object
from outdial.domain import limits
from outdial.domain.campaign_state import ACTIVE, TERMINAL, CampaignState, LifecycleAction
from outdial.domain.contact_actions import ContactAction
from outdial.domain.errors import IllegalTransition, OutdialError, ValidationFailed
from outdial.services.common import PageRequest
from outdial.services.models import CampaignIn, ContactAppendIn

ASSIGN_MAX = 99  # JobsJson.N per AssignJobs call, as the SDK documents
JOB_KEYS = {"extras", "contacts"}
PERSON_KEYS = {"phoneNumber", "referenceId", "name", "honorific", "role"}
S = CampaignState


def _job(m: Any, rest: str) -> str:
    return f"JobsJson.{int(m[1]) + 1}{rest}"


PHONE = r"contacts\[(\d+)\]\.phones\[(\d+)\]"
JOB_RULES: FieldRules = [
    (rf"{PHONE}\.number", lambda m: _job(m, f".contacts[{m[2]}].phoneNumber")),
    (rf"{PHONE}\.relation", lambda m: _job(m, f".contacts[{m[2]}].role")),
    (r"contacts\[(\d+)\]\.phones.*", lambda m: _job(m, ".contacts")),
    (r"contacts\[(\d+)\]\.name", lambda m: _job(m, ".contacts[0].name")),
    (r"contacts\[(\d+)\]\.external_id", lambda m: _job(m, ".contacts[0].referenceId")),
    (r"contacts\[(\d+)\]\.attributes.*", lambda m: _job(m, ".extras")),
    (r"contacts\[(\d+)\].*", lambda m: _job(m, "")),
    (r"contacts.*", "JobsJson.N"),
]  # fmt: skip


# --- JobsJson → contacts ----------------------------------------------------------------------


def job_contact(n: int, text: str) -> dict[str, Any]:
    """One JobsJson item (``{"extras": [{key, value}], "contacts": [{phoneNumber*,
    referenceId*, name, honorific, role}]}``) as an outdial contact: the first contact is the
    person, their phones in order; extras become attributes."""
    name = f"JobsJson.{n}"
    job = parse_object(name, text)
    only_keys(name, job, JOB_KEYS)
    people = job.get("contacts")
    if not isinstance(people, list) or not people:
        raise invalid(f"{name}.contacts", "a list of at least one {phoneNumber, referenceId}")
    if len(people) > limits.PHONES_PER_CONTACT:
        raise invalid(f"{name}.contacts", f"at most {limits.PHONES_PER_CONTACT} contacts a job")
    sent = [_person(f"{name}.contacts[{k}]", p) for k, p in enumerate(people)]
    attributes = _extras(f"{name}.extras", job.get("extras", []))
    attributes[CONTACTS_KEY] = json.dumps(sent, ensure_ascii=False)
    phones = [
        {"number": p["phoneNumber"], "relation": "self" if k == 0 else p.get("role", "")[:20]}
        for k, p in enumerate(sent)
    ]
    return {
        "name": sent[0].get("name", ""),
        "external_id": sent[0]["referenceId"],
        "attributes": attributes,
        "phones": phones,
    }


def _person(where: str, person: Any) -> dict[str, str]:
    if not isinstance(person, dict):
        raise invalid(where, "must be an object {phoneNumber, referenceId, name, honorific, role}")
    only_keys(where, person, PERSON_KEYS)
    out: dict[str, str] = {}
    for key, value in person.items():
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise invalid(f"{where}.{key}", "must be a string")
        out[key] = str(value).strip()
    for key in ("phoneNumber", "referenceId"):
        if not out.get(key):
            raise missing(f"{where}.{key}")
    return out


def _extras(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        raise invalid(where, "must be a list of {key, value}")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise invalid(f"{where}[{i}]", "must be {key, value} with a key")
        only_keys(f"{where}[{i}]", item, {"key", "value"})
        if item["key"] == CONTACTS_KEY:
            raise invalid(f"{where}[{i}].key", f"{CONTACTS_KEY} is outdial's own")
        out[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return out


# --- AssignJobs -------------------------------------------------------------------------------


@action("AssignJobs")
def assign_jobs(call: Call) -> dict[str, Any]:
    """Add jobs to a group (all or none: a bad job refuses the call, naming it). CallingNumber.N
    must be numbers of the group; StrategyJson is applied to the group. A Draft group that can
    dial starts (Alibaba schedules assigned jobs at once) [outdial: the start]."""
    call.instance()
    campaign = jobgroups.campaign_of(call)
    p = call.params
    roster = p.text("RosterType") or "json"
    if roster not in ("json", "excel"):
        raise invalid("RosterType", "use json or excel")
    p.boolean("IsAsynchrony")  # checked; outdial assigns JSON rosters at once either way
    source = files.parsed_file(call) if roster == "excel" else None
    rows = _job_rows(call) if source is None else []
    _check_numbers(call, campaign)
    patch = _strategy_patch(call, campaign)
    job_ids: list[str] = []
    if source is not None:  # imported in the background: the jobs appear as it runs
        files.import_into(call, campaign, *source)
    else:
        job_ids = append_jobs(call, campaign, rows)
    if patch:
        call.services.campaigns.update(call.tenant, campaign["id"], patch)
    jobgroups.start_if_ready(call, campaign["id"])
    return {"JobGroupId": campaign["uuid"], "JobsId": job_ids}


ASYNC = "aliyun assign"


@action("AssignJobsAsync")
def assign_jobs_async(call: Call) -> dict[str, Any]:
    """AssignJobs as the SDK's form-body variant sends it. outdial assigns at once (a bad job
    is refused now, naming it); AsyncTaskId is a token outdial signs, holding the result for
    GetAssignJobsAsyncResult [outdial]."""
    done = assign_jobs(call)
    contacts = call.services.contacts.by_uuids(call.tenant, done["JobsId"])
    payload = {"t": call.tenant.id, "g": done["JobGroupId"],
               "c": [contacts[j]["id"] for j in done["JobsId"]]}  # fmt: skip
    text = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return {"AsyncTaskId": f"{text}.{call.services.jobs.links.seal(text, ASYNC)}"}


@action("GetAssignJobsAsyncResult")
def get_assign_jobs_async_result(call: Call) -> dict[str, Any]:
    token = call.params.required("AsyncTaskId")
    text, _, signature = token.partition(".")
    if not call.services.jobs.links.sealed(text, signature, ASYNC):
        raise not_exist("AsyncTask", token[:40])
    payload = json.loads(base64.urlsafe_b64decode(text))
    if payload["t"] != call.tenant.id:
        raise not_exist("AsyncTask", token[:40])
    rows = call.services.contacts.by_ids(call.tenant, payload["c"])
    return {"JobGroupId": payload["g"], "JobsId": [r["uuid"] for r in rows], "Valid": True,
            "Timeout": False}  # fmt: skip


def _job_rows(call: Call) -> list[dict[str, Any]]:
    texts = call.params.strings("JobsJson")
    if not texts:
        raise missing("JobsJson.N")
    if len(texts) > ASSIGN_MAX:
        raise invalid("JobsJson.N", f"at most {ASSIGN_MAX} jobs a call, got {len(texts)}")
    return [job_contact(n, text) for n, text in enumerate(texts, 1)]


def append_jobs(call: Call, campaign: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """The rows appended to the campaign, all or none; the new jobs' ids in order."""
    body = ContactAppendIn(contacts=rows, all_or_nothing=True)
    try:
        report = call.services.contacts.append(call.tenant, campaign["id"], body)
    except OutdialError as exc:
        raise from_outdial(exc, JOB_RULES) from exc
    ids = [r["id"] for r in report["results"]]
    return [c["uuid"] for c in call.services.contacts.by_ids(call.tenant, ids)]


def _check_numbers(call: Call, campaign: Mapping[str, Any]) -> None:
    numbers = call.params.strings("CallingNumber")
    if not numbers:
        return
    own = set(jobgroups.calling_numbers(call, campaign))
    for i, number in enumerate(numbers):
        if number not in own:
            raise invalid(
                f"CallingNumber.{i + 1}",
                f"{number} is not a calling number of the job group (outdial dials a group's "
                "jobs through the group's numbers; change them with ModifyJobGroup)",
            )


def _strategy_patch(call: Call, campaign: Mapping[str, Any]) -> dict[str, Any]:
    """StrategyJson's campaign fields, checked against the whole group before anything is
    written."""
    raw = call.params.json_object(strategy.NAME)
    if raw is None:
        return {}
    patch = strategy.campaign_fields(raw)
    stored = {k: campaign[k] for k in CampaignIn.model_fields if k in campaign}
    jobgroups.checked({**stored, **patch}, jobgroups.MODIFY_RULES)
    return patch


# --- SubmitBatchJobs --------------------------------------------------------------------------


@action("SubmitBatchJobs")
def submit_batch_jobs(call: Call) -> dict[str, Any]:
    """Start the group: a Draft group starts, a Paused one resumes, a started one stays."""
    call.instance()
    campaign = jobgroups.campaign_of(call)
    state = S(campaign["state"])
    if state in ACTIVE:
        return {}
    if state in TERMINAL:
        raise incorrect_status(
            "JobGroup", f"a {jobgroups.STATUS[state.value]} job group cannot be submitted"
        )
    move = LifecycleAction.START if state is S.DRAFT else LifecycleAction.RESUME
    group_act(call, campaign, move)
    return {}


def group_act(call: Call, campaign: Mapping[str, Any], move: LifecycleAction) -> None:
    try:
        call.services.campaigns.act(call.tenant, campaign["id"], move)
    except ValidationFailed as exc:
        first = exc.details[0] if exc.details else None
        where = vendor_field(first.field, jobgroups.CREATE_RULES) if first else ""
        why = f"{where}: {first.message}" if first else exc.message
        raise incorrect_status("JobGroup", f"The job group cannot execute yet: {why}") from exc
    except IllegalTransition as exc:
        raise incorrect_status("JobGroup", exc.message) from exc


# --- SuspendJobs / ResumeJobs / CancelJobs ----------------------------------------------------

GroupRule = tuple[frozenset[CampaignState], frozenset[CampaignState], LifecycleAction]
"""(states the group moves from, states where it already is, the lifecycle action)."""
GROUP_RULES: dict[ContactAction, GroupRule] = {
    ContactAction.SUSPEND: (frozenset(ACTIVE), frozenset({S.PAUSED}), LifecycleAction.PAUSE),
    ContactAction.RESUME: (frozenset({S.PAUSED}), frozenset(ACTIVE), LifecycleAction.RESUME),
    ContactAction.CANCEL: (
        frozenset({S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED}),
        frozenset({S.CANCELLED}),
        LifecycleAction.CANCEL,
    ),
}


def steer(call: Call, move: ContactAction) -> dict[str, Any]:
    call.instance()
    p = call.params
    every = p.boolean("All")
    if every is None:
        raise missing("All")
    group = jobgroups.campaign_of(call) if p.text("JobGroupId") else None
    if every:
        for campaign in [group] if group else _all_groups(call):
            _steer_group(call, campaign, move, named=group is not None)
        return {}
    contact_ids = _named_jobs(call, group)
    try:
        call.services.contacts.move(call.tenant, list(contact_ids), move)
    except IllegalTransition as exc:
        job = contact_ids.get(exc.extra.get("contact_id", 0), "")
        raise incorrect_status("Job", f"Job {job}: {exc.message}") from exc
    except OutdialError as exc:
        raise incorrect_status("JobGroup", exc.message) from exc
    return {}


def _steer_group(call: Call, campaign: Mapping[str, Any], move: ContactAction, named: bool) -> None:
    sources, already, lifecycle = GROUP_RULES[move]
    state = S(campaign["state"])
    if state in already:
        return
    if state not in sources:
        if not named:
            return  # every group of the instance: those the move does not apply to are left
        status = jobgroups.STATUS[state.value]
        raise incorrect_status("JobGroup", f"cannot {move.value} the jobs of a {status} job group")
    group_act(call, campaign, lifecycle)


def _all_groups(call: Call) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page_no = 1
    while True:
        page = call.services.campaigns.list(call.tenant, PageRequest(page_no, 500), {})
        out += page.items
        if page_no * 500 >= page.total:
            return out
        page_no += 1


def _named_jobs(call: Call, group: Mapping[str, Any] | None) -> dict[int, str]:
    """The contacts JobId.N and JobReferenceId.N name (in the group, if one is given): their
    ids → the caller's name for them."""
    p = call.params
    ids, refs = p.strings("JobId") or [], p.strings("JobReferenceId") or []
    if not ids and not refs:
        raise missing("JobId.N")
    out: dict[int, str] = {}
    found = call.services.contacts.by_uuids(call.tenant, ids) if ids else {}
    for i, job_id in enumerate(ids):
        contact = found.get(job_id)
        _check_job(contact, group, f"{job_id} (JobId.{i + 1})")
        assert contact is not None
        out[contact["id"]] = job_id
    for i, ref in enumerate(refs):
        filters: dict[str, Any] = {"external_id": ref}
        if group is not None:
            filters["campaign_id"] = group["id"]
        page = call.services.contacts.search(call.tenant, PageRequest(1, 500), filters)
        if not page.items:
            raise not_exist("Job", f"{ref} (JobReferenceId.{i + 1})")
        out |= {c["id"]: c["uuid"] for c in page.items}
    return out


def _check_job(
    contact: Mapping[str, Any] | None, group: Mapping[str, Any] | None, name: str
) -> None:
    if contact is None:
        raise not_exist("Job", name)
    if group is not None and contact["campaign_id"] != group["id"]:
        raise not_exist("Job", f"{name} in job group {group['uuid']}")


def _steering(move: ContactAction) -> Callable[[Call], dict[str, Any]]:
    def handler(call: Call) -> dict[str, Any]:
        return steer(call, move)

    return handler


action("SuspendJobs")(_steering(ContactAction.SUSPEND))
action("ResumeJobs")(_steering(ContactAction.RESUME))
action("CancelJobs")(_steering(ContactAction.CANCEL))
