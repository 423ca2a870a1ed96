"""Robot then human: a script hands an answered call to a skill group; when no agent takes it
within the script's wait, the script's fallback decides what the caller gets."""

from __future__ import annotations

from enum import StrEnum


class TransferFallback(StrEnum):
    """What happens to a handed-off call that no agent took in time."""

    CONTINUE = "continue"  # the script carries on (takes a message, offers a call back)
    HANGUP = "hangup"  # a short apology, then the call ends


class TransferResult(StrEnum):
    """How a hand-off ended, as recorded on the attempt."""

    BRIDGED = "bridged"  # an agent took the call
    NO_AGENT = "no_agent"  # nobody was free within the wait: the fallback ran
