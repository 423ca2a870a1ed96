"""outdial's rows in the shapes of seed 002: the task object and the create form's meta."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from outdial.domain import limits
from outdial.domain.campaign_state import ACTIVE, CampaignState
from outdial.services.common import Tenant
from outdial.services.yunfu import FormMeta, TaskView, residue

START_STR = {1: "开启", 0: "暂停"}
NOTIFY_TYPE = {"answered": 1, "all": 2}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class Presenter:
    """Formats for one tenant: its uuid is the 云蝠 ``user_id``, its zone the local time."""

    def __init__(self, tenant: Tenant):
        self.user_id = tenant.uuid
        self.zone = ZoneInfo(tenant.timezone)

    def time(self, at: datetime | None) -> str | None:
        return None if at is None else at.astimezone(self.zone).strftime(TIME_FORMAT)

    # --- the task object ------------------------------------------------------------------

    def task(self, view: TaskView) -> dict[str, Any]:
        c = view.campaign
        start = 1 if CampaignState(c["state"]) in ACTIVE else 0
        script, line = view.script, view.line
        gap = round(float(c["call_gap_seconds"]))
        return {
            "uuid": c["uuid"],
            "user_id": self.user_id,
            "name": c["name"],
            "remark": c["description"] or None,
            "start": start,
            "start_str": START_STR[start],
            "create_datetime": self.time(c["created_at"]),
            "alter_datetime": self.time(c["updated_at"]),
            "maximumcall": c["max_concurrency"],
            "call_per_second": gap,
            "call_pause_second": gap,
            "recycle_limit": 0,
            "random_assignment_number": 0,
            "disable_dial_timegroup": view.calendar["uuid"] if view.calendar else None,
            "destination_extension": c["script_id"],
            "destination_dialplan": script["dialplan"] if script else "XML",
            "destination_context": script["context"] if script else "default",
            "scheduling_policy_ratio": None,
            "scheduling_queue": None,
            "dial_format": _dial_string(line),
            "domain": None,
            "sort": c["priority"],
            "originate_variables": "{}",
            "_originate_timeout": c["ring_timeout_seconds"],
            "_origination_caller_id_number": _caller_number(c, line),
            "caller_line_id": line["uuid"] if line else None,
            "customer_service_id": c["skill_group_id"],
            "auto_recycle_rule_id": c["redial_policy_id"],
            "call_notify_url": c["webhook_url"],
            "call_notify_type": NOTIFY_TYPE[c["webhook_type"]],
            "group_str": script["name"] if script else "",
            "progress_bar": progress_bar(view),
            "caller_line": self.caller_line(line, view.line_allocated) if line else None,
            "auto_recycle_rule": self.recycle_rule(view.policy) if view.policy else None,
            "disable_time_group": self.disable_group(view.calendar) if view.calendar else None,
            "group": self.script_group(script) if script else None,
        }

    def caller_line(self, line: dict[str, Any], used: int) -> dict[str, Any]:
        deadline = line["expires_at"]
        numbers = [n for n in line["caller_numbers"] if n.get("enabled", True)]
        return {
            "id": line["uuid"],
            "name": line["name"],
            "user_id": self.user_id,
            "description": line["description"] or None,
            "deadline_at": self.time(deadline),
            "available_time": (
                None if deadline is None else int((deadline - line["created_at"]).total_seconds())
            ),
            "begin_at": self.time(line["created_at"]),
            "call_line": line["channels"],
            "call_line_used": used,
            "call_number_prefix": numbers[0]["number"] if numbers else "",
            "is_call_number_enable": 1 if numbers else 0,
            "is_call_number_prefix_editable": 0,
            "dial_string": _dial_string(line),
            "dial_string_mode": 1,
            "db_public_id": None,
            "db_private_id": None,
            "node_ip": _node_ip(line),
            "node_status": "1" if line["enabled"] else "0",
            "created_at": self.time(line["created_at"]),
            "updated_at": self.time(line["updated_at"]),
            "feature": 0,
        }

    def recycle_rule(self, policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": policy["id"],
            "user_id": self.user_id,
            "name": policy["name"],
            "remark": policy["description"],
            "status": bool(policy["enabled"]),
            "created_at": self.time(policy["created_at"]),
            "updated_at": self.time(policy["updated_at"]),
            "is_default": bool(policy["is_default"]),
        }

    def disable_group(self, calendar: dict[str, Any]) -> dict[str, Any]:
        return {
            "uuid": calendar["uuid"],
            "name": calendar["name"],
            "domain": "",
            "user_id": self.user_id,
            "created_at": self.time(calendar["created_at"]),
            "updated_at": self.time(calendar["updated_at"]),
        }

    def script_group(self, script: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": script["id"],
            "name": script["name"],
            "user_id": self.user_id,
            "debug": bool(script["debug"]),
            "deleted_at": None,
            "created_at": self.time(script["created_at"]),
            "updated_at": self.time(script["updated_at"]),
            "link_word_group_id": None,
            "tag_scene_id": None,
            "default": False,
        }

    # --- the create form ------------------------------------------------------------------

    def form_meta(self, meta: FormMeta) -> dict[str, Any]:
        return {
            "enum_disable_dial_timegroup": [
                {"uuid": c["uuid"], "name": c["name"]} for c in meta.calendars
            ],
            "caller_line_list": [self.line_choice(line, used) for line, used in meta.lines],
            "max_recycle_limit": str(limits.REDIAL_TIMES_MAX),
            "auto_recycle_rules": [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "remark": p["description"],
                    "status": bool(p["enabled"]),
                }
                for p in meta.policies
            ],
            "customer_service": [
                self.customer_service(group, line_uuid) for group, line_uuid in meta.skill_groups
            ],
            "outbound_group": [self.script_group(s) for s in meta.scripts],
        }

    def line_choice(self, line: dict[str, Any], used: int) -> dict[str, Any]:
        numbers = [n for n in line["caller_numbers"] if n.get("enabled", True)]
        return {
            "name": line["name"],
            "value": line["uuid"],
            "residue": residue(line, used),
            "call_line": line["channels"],
            "available_at": self.time(line["created_at"]),
            "call_number": numbers[0]["number"] if numbers else "",
        }

    def customer_service(self, group: dict[str, Any], line_uuid: str | None) -> dict[str, Any]:
        return {
            "id": group["id"],
            "user_id": self.user_id,
            "name": group["name"],
            "created_at": self.time(group["created_at"]),
            "updated_at": self.time(group["updated_at"]),
            "caller_line_id": line_uuid,
            "status": 1 if group["enabled"] else 0,
        }


def progress_bar(view: TaskView) -> dict[str, int]:
    """Contacts, contacts finished, and the whole percent finished."""
    total, done = view.contacts_total, view.contacts_done
    return {"total": total, "progress": done, "percent": round(100 * done / total) if total else 0}


def _caller_number(campaign: dict[str, Any], line: dict[str, Any] | None) -> str:
    if campaign["caller_numbers"]:
        return str(campaign["caller_numbers"][0])
    numbers = [n for n in (line or {}).get("caller_numbers", []) if n.get("enabled", True)]
    return str(numbers[0]["number"]) if numbers else ""


def _dial_string(line: dict[str, Any] | None) -> str:
    if line is None:
        return ""
    return str(line["settings"].get("dial_string") or line["driver"])


def _node_ip(line: dict[str, Any]) -> str:
    settings = line["settings"]
    nodes = settings.get("nodes") or []
    if nodes:
        return str(nodes[0].get("host", ""))
    return str(settings.get("host", ""))
