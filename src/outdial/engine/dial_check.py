"""The dial-instant rules for one contact: eligibility from the campaign's settings and the
ledger's facts about the number (read in the same transaction that writes the attempt). The
runner asks it before every dial; preview asks it when a contact is offered and when it is
dialed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from outdial.domain.calendar import local_day_start
from outdial.domain.campaign_state import CampaignState
from outdial.domain.eligibility import DialFacts, Eligibility, eligibility
from outdial.domain.outcomes import ContactState
from outdial.engine.config import CampaignConfig
from outdial.engine.ledger import LeasedContact


class DialCheck:
    def __init__(
        self,
        campaign: dict[str, Any],
        config: CampaignConfig,
        contact: LeasedContact,
        now: datetime,
    ):
        self.campaign, self.config, self.contact, self.now = campaign, config, contact, now
        self.zones = config.zones_for(contact.phone.number, contact.timezone)
        self.day_start = local_day_start(now, self.zones[0])
        self.on_dnc = False

    def __call__(self, today: int, last: datetime | None, on_dnc: bool) -> Eligibility:
        self.on_dnc = on_dnc
        campaign = self.campaign
        return eligibility(
            DialFacts(
                at=self.now,
                campaign_state=CampaignState(campaign["state"]),
                contact_state=ContactState.PENDING,
                contact_reason=self.contact.reason,
                next_eligible_at=self.contact.next_eligible_at,
                schedule=self.config.schedule,
                zones=self.zones,
                number_attempts_today=today,
                day_ends_at=self.day_start + timedelta(days=1),
                last_attempt_at=last,
                max_attempts_per_day=campaign["max_attempts_per_day"],
                min_attempt_interval_seconds=campaign["min_attempt_interval_seconds"],
                on_dnc=on_dnc,
            )
        )
