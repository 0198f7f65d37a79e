"""ProjectConfig promotion windows and auto-rollback, as Kargo Enterprise defines them (checked at load).

Date-times are iCal's `YYYYMMDDTHHMMSS` with an optional `Z` (UTC) or `TZID=Zone/Name:` prefix; a value with
neither is read as UTC. Recurrence is an RFC 5545 RRULE, parsed by python-dateutil.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from kargo_actions.model.base import ManifestModel
from kargo_actions.model.fields import ResourceName
from kargo_actions.model.selectors import StageSelector
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from dateutil.rrule import rrule as Recurrence

_DATE_TIME = re.compile(r"^(?:TZID=(?P<zone>[^:]+):)?(?P<stamp>\d{8}T\d{6})(?P<utc>Z?)$")


@struct
class WindowTime:
    """A parsed dtstart/dtend: the aware moment and the zone name it is shown in (`UTC` when none)."""

    moment: datetime
    zone: str


def parse_ical_time(text: str) -> WindowTime:
    """`TZID=Europe/Berlin:20261204T180000`, `20261204T180000Z` or `20261204T180000`; ValueError saying why not."""
    match = _DATE_TIME.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not an iCal date-time: write YYYYMMDDTHHMMSS, with Z for UTC or a "
            "TZID=Zone/Name: prefix (e.g. TZID=Europe/Berlin:20261204T180000)"
        )
    try:
        naive = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S")
    except ValueError as err:
        raise ValueError(f"{text!r} is not a valid date-time: {err}") from err
    zone = match["zone"]
    if zone is None:
        return WindowTime(naive.replace(tzinfo=UTC), "UTC")
    if match["utc"]:
        raise ValueError(f"{text!r} has both a TZID and Z: give one of them")
    # zoneinfo and dateutil load when a window is read: every command loads the ProjectConfig model
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        where: tzinfo = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(
            f"unknown time zone TZID={zone!r}: use an IANA name such as Europe/Berlin or America/New_York"
        ) from err
    return WindowTime(naive.replace(tzinfo=where), zone)


def parse_rrule(text: str, start: datetime) -> Recurrence:
    """An RFC 5545 recurrence rule from `start`; ValueError (dateutil's message) when it does not parse."""
    from dateutil.rrule import rrule, rrulestr

    body = text.strip().removeprefix("RRULE:")
    if "\n" in body or "DTSTART" in body.upper() or not body:
        raise ValueError(
            f"{text!r} must be one RRULE (e.g. FREQ=WEEKLY;BYDAY=SA,SU); dtstart is its own field"
        )
    try:
        rule = rrulestr(body, dtstart=start)
    except (ValueError, TypeError) as err:
        raise ValueError(f"rrule {text!r} does not parse: {err}") from err
    if not isinstance(rule, rrule):
        raise ValueError(f"rrule {text!r} must be a single recurrence rule")
    return rule


class PromotionWindow(ManifestModel):
    """A recurring or one-shot time window that allows or denies promotions into the Stages it matches."""

    name: ResourceName
    kind: Literal["Allow", "Deny"]
    # Required here (the CRD leaves them to Kargo Enterprise's validation): a window needs both ends.
    dtstart: str | None = Field(default=None, validate_default=True)
    dtend: str | None = Field(default=None, validate_default=True)
    rrule: str | None = None
    stage_selector: StageSelector | None = None
    project_selector: dict[str, Any] | None = None

    @field_validator("dtstart")
    @classmethod
    def _dtstart(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError(
                "a promotion window needs dtstart (when it starts), e.g. TZID=Europe/Berlin:20261204T180000"
            )
        parse_ical_time(value)
        return value

    @field_validator("dtend")
    @classmethod
    def _dtend(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            raise ValueError(
                "a promotion window needs dtend (when it ends; with rrule, dtend - dtstart is each occurrence's length)"
            )
        end = parse_ical_time(value)
        start_text = info.data.get("dtstart")
        if start_text is not None:
            start = parse_ical_time(start_text)
            if end.moment <= start.moment:
                raise ValueError(f"dtend {value} is not after dtstart {start_text}")
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None, info: ValidationInfo) -> str | None:
        start_text = info.data.get("dtstart")
        if value is not None and start_text is not None:
            parse_rrule(value, parse_ical_time(start_text).moment)
        return value

    @field_validator("project_selector")
    @classmethod
    def _no_project_selector(cls, value: dict[str, Any] | None) -> None:
        if value is not None:
            raise ValueError(
                "projectSelector is for ClusterConfig windows only; on a ProjectConfig the Project is implicit: "
                "remove it"
            )
        return None

    @property
    def start(self) -> WindowTime:
        assert self.dtstart is not None
        return parse_ical_time(self.dtstart)

    @property
    def length(self) -> timedelta:
        """dtend - dtstart, as wall-clock time in dtstart's zone (a 09:00-17:00 window stays so across DST)."""
        assert self.dtend is not None
        start, end = self.start.moment, parse_ical_time(self.dtend).moment
        return end.astimezone(start.tzinfo).replace(tzinfo=None) - start.replace(tzinfo=None)

    def recurrence(self) -> Recurrence | None:
        return parse_rrule(self.rrule, self.start.moment) if self.rrule else None


def check_unique_names(windows: list[PromotionWindow]) -> list[PromotionWindow]:
    """Window names are unique within their list (the CRD's rule): they name a window in refusals."""
    twice = [name for name, count in Counter(w.name for w in windows).items() if count > 1]
    if twice:
        where = ", ".join(
            f"{name!r} at items {', '.join(str(i) for i, w in enumerate(windows) if w.name == name)}"
            for name in twice
        )
        raise ValueError(f"promotion window names must be unique: {where}; rename one of each")
    return windows


class AutoRollback(ManifestModel):
    """When a Stage goes back to its last verified Freight by itself (Kargo Enterprise's autoRollback)."""

    # An absent or empty list means [Failed] (the CRD's default); "Error", not "Errored", as Argo Rollouts.
    on_verification: list[Literal["Failed", "Error"]] = Field(default_factory=list, max_length=2)
    on_promotion: list[Literal["Failed", "Errored"]] = Field(default_factory=list, max_length=2)

    @field_validator("on_verification", "on_promotion")
    @classmethod
    def _a_set(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} names a phase twice: the list is a set")
        return value

    @property
    def verification_phases(self) -> frozenset[str]:
        return frozenset(self.on_verification or ["Failed"])

    @property
    def promotion_phases(self) -> frozenset[str]:
        return frozenset(self.on_promotion)
