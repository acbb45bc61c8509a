"""IPU integration assessment (F8): Porter's ten attributes of an integrated practice unit, each
scored 0-2 for every service (organization x condition) with the evidence behind the score.

Store evidence: the standing team (CareTeam of category ipu), each clinician's share of time on the
condition (activities), where each phase of the cycle was delivered, outcome comparisons. Facts the
store lacks (scheduling, meetings, team reporting, accountability, dedicated facilities) come from
the organisation's validated facts file; a fact neither in the store nor declared scores 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from carevalue.definitions.ipu_facts import IpuFacts, UnitFacts
from carevalue.engine.network.ipu_evidence import ServiceEvidence

ATTRIBUTES = (
    "Organized around the patient's medical condition",
    "Dedicated multidisciplinary team devoting a significant portion of their time to the condition",
    "Providers part of a common organizational unit",
    "Single administrative and scheduling structure",
    "Full cycle of care for the condition",
    "Co-located in dedicated facilities",
    "Physician team captain and care manager overseeing each patient",
    "Team meets formally and informally on a regular basis",
    "Measures outcomes and processes as a team on a common platform",
    "Joint accountability for outcomes and costs",
)
ASSESSMENT_COLUMNS = ("condition", "organization_id", "team_id", "attribute_no", "attribute", "score",
                      "evidence", "basis")
_NOT = "not in the store and not declared in the facts file"


def _fact(u: UnitFacts | None, name: str) -> object:
    return None if u is None else getattr(u, name)


def _service(ev: ServiceEvidence, condition: str, org: str) -> ServiceEvidence:
    """The evidence rows of one service (filtered from every service's)."""
    def of(df: pd.DataFrame) -> pd.DataFrame:
        return df[(df.condition == condition) & (df.organization_id == org)]
    return ServiceEvidence(of(ev.services), of(ev.teams), of(ev.clinicians), of(ev.phases), of(ev.compared))


def _by_service(ev: ServiceEvidence) -> dict[tuple[str, str], ServiceEvidence]:
    """Every service's evidence rows, split once (not filtered from the whole frames per service)."""
    frames = (ev.services, ev.teams, ev.clinicians, ev.phases, ev.compared)
    parts: list[dict[tuple[str, str], pd.DataFrame]] = [
        {(str(k[0]), str(k[1])): g for k, g in df.groupby(["condition", "organization_id"], sort=False)}
        for df in frames]
    keys = {k for p in parts for k in p}
    return {k: ServiceEvidence(*[p.get(k, df.iloc[0:0]) for p, df in zip(parts, frames, strict=True)])
            for k in keys}


def assess_service(ev: ServiceEvidence, facts: IpuFacts, condition: str, org: str, phases: Sequence[str],
                   captain_roles: Sequence[str]) -> list[dict[str, object]]:
    """The ten rows for one service."""
    return _assess_rows(_service(ev, condition, org), facts, condition, org, phases, captain_roles)


def _assess_rows(sv: ServiceEvidence, facts: IpuFacts, condition: str, org: str, phases: Sequence[str],
                 captain_roles: Sequence[str]) -> list[dict[str, object]]:
    """The ten rows for one service from its own evidence rows ``sv``."""
    team = sv.teams
    team_id = str(team.care_team_id.iloc[0]) if len(team) else None
    cl = sv.clinicians.copy()
    cl["share"] = cl["minutes"] / cl["all_minutes"].where(cl["all_minutes"] > 0)
    dedicated = cl[cl["share"] >= facts.significant_time_share]
    droles = sorted(set(dedicated["role"].dropna()))
    ph = sv.phases
    svc_min = float(ph["minutes"].sum())
    own_min = float(ph[ph.facility_id == org]["minutes"].sum())
    u = facts.unit(org, condition)
    src = f"facts file ({u.source})" if u else "facts file"
    rows: list[tuple[int, str, str]] = []

    # 1 condition focus
    if team_id:
        rows.append((2, f"standing team {team_id} serves this condition", "store"))
    elif len(dedicated):
        rows.append((1, f"no condition team; {len(dedicated)} clinicians spend >= {facts.significant_time_share:.0%} of their time on it", "store"))
    else:
        rows.append((0, "no condition team and no clinician mainly on the condition", "store"))
    # 2 dedicated multidisciplinary team
    n = len(droles)
    rows.append((2 if n >= 3 else 1 if n >= 1 else 0,
                 f"{len(dedicated)} of {len(cl)} clinicians spend >= {facts.significant_time_share:.0%} of their minutes on it; roles: {', '.join(droles) or 'none'}",
                 "store"))
    # 3 common organizational unit
    if team_id:
        orgs = sorted(set(team["member_org"].dropna()))
        rows.append((2 if orgs == [org] else 1, f"team {team_id}: {len(team)} members employed by {', '.join(orgs) or 'unknown'}", "store"))
    else:
        own = float(cl[cl.clinician_org == org]["minutes"].sum()) / max(float(cl["minutes"].sum()), 1e-9)
        rows.append((1 if own >= 0.8 else 0, f"no team; {own:.0%} of clinician minutes by the organization's own staff", "store"))
    # 4 single scheduling
    sched = _fact(u, "single_scheduling")
    rows.append(({"yes": 2, "partial": 1, "no": 0}.get(str(sched), 0),
                 f"single scheduling: {sched}" if sched else f"single scheduling {_NOT}", src if sched else "none"))
    # 5 full cycle of care
    by_phase: dict[str, float] = {}
    at_own: dict[str, float] = {}
    for phase, fac, minutes in zip(ph["phase"], ph["facility_id"], ph["minutes"], strict=True):
        if pd.isna(minutes):
            continue  # as Series.sum skips nulls
        by_phase[phase] = by_phase.get(phase, 0.0) + float(minutes)
        if fac == org:
            at_own[phase] = at_own.get(phase, 0.0) + float(minutes)
    inhouse = [p for p in phases if at_own.get(p, 0.0) >= 0.5 * max(by_phase.get(p, 0.0), 1e-9)
               and by_phase.get(p, 0.0) > 0]
    share = len(inhouse) / max(len(phases), 1)
    rows.append((2 if share >= 0.8 else 1 if share >= 0.5 else 0,
                 f"{len(inhouse)} of {len(phases)} phases mostly delivered in house ({', '.join(inhouse) or 'none'})", "store"))
    # 6 co-location
    ded = _fact(u, "dedicated_facility")
    loc = own_min / svc_min if svc_min else 0.0
    rows.append((2 if ded else 1 if loc >= 0.8 else 0,
                 ("dedicated facility declared; " if ded else "") + f"{loc:.0%} of the cycle's minutes at the organization's own site",
                 src if ded else "store"))
    # 7 captain and care manager
    troles = set(team["role_code"].dropna()) if team_id else set(cl["role"].dropna())
    has_captain = bool(troles & set(captain_roles))
    has_cm = bool(troles & set(facts.care_manager_roles))
    score7 = int(has_captain) + int(has_cm) if team_id else min(int(has_captain) + int(has_cm), 1)
    rows.append((score7, f"{'team' if team_id else 'clinicians'}: captain role ({', '.join(captain_roles) or 'none named'}) "
                 f"{'present' if has_captain else 'absent'}, care manager {'present' if has_cm else 'absent'}", "store"))
    # 8 meetings
    mt = _fact(u, "team_meetings_per_month")
    rows.append((0 if mt is None else 2 if float(str(mt)) >= 2 else 1 if float(str(mt)) > 0 else 0,
                 f"{mt} team meetings a month" if mt is not None else f"team meetings {_NOT}", src if mt is not None else "none"))
    # 9 team measurement
    comp = sv.compared
    nm = int(comp["measures"].iloc[0]) if len(comp) else 0
    svc = sv.services
    ipu_share = float(svc["ipu_cycles"].iloc[0]) / max(float(svc["cycles"].iloc[0]), 1) if len(svc) else 0.0
    rep = _fact(u, "team_level_reporting")
    score9 = 0 if nm == 0 else 2 if (rep or ipu_share >= 0.8) else 1
    rows.append((score9, f"{nm} outcome measures risk-adjusted for the service; {ipu_share:.0%} of cycles attributed to a team"
                 + ("; team-level reporting declared" if rep else ""), src if rep else "store"))
    # 10 joint accountability
    ja = _fact(u, "joint_accountability")
    rows.append(({"bundled-payment": 2, "shared-budget": 2, "shared-targets": 1}.get(str(ja), 0),
                 f"joint accountability: {ja}" if ja else f"joint accountability {_NOT}", src if ja else "none"))
    return [{"condition": condition, "organization_id": org, "team_id": team_id, "attribute_no": i + 1,
             "attribute": ATTRIBUTES[i], "score": s, "evidence": e, "basis": b} for i, (s, e, b) in enumerate(rows)]


def assess(ev: ServiceEvidence, facts: IpuFacts, phases_by_condition: Mapping[str, Sequence[str]],
           captains_by_condition: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Every service's ten attribute rows (services of conditions without a template are skipped)."""
    rows: list[dict[str, object]] = []
    split = _by_service(ev)
    for s in ev.services.sort_values(["condition", "organization_id"]).to_dict("records"):
        cond, org = str(s["condition"]), str(s["organization_id"])
        if cond in phases_by_condition:
            rows += _assess_rows(split.get((cond, org)) or _service(ev, cond, org), facts, cond, org, phases_by_condition[cond],
                                 captains_by_condition.get(cond, ()))
    return pd.DataFrame(rows, columns=list(ASSESSMENT_COLUMNS))
