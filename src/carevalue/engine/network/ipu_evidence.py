"""Structural evidence per service (organization x condition) for the IPU assessment, aggregated
from the store with Ibis: the service's standing team, each clinician's share of time on the
condition, where each phase's minutes were spent, and whether outcomes are compared."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend


@dataclass
class ServiceEvidence:
    services: pd.DataFrame     # condition, organization_id, cycles, ipu_cycles
    teams: pd.DataFrame        # care_team_id, organization_id, condition, member_id, role_code, member_org
    clinicians: pd.DataFrame   # condition, organization_id, practitioner_id, role, clinician_org, minutes, all_minutes
    phases: pd.DataFrame       # condition, organization_id, phase, facility_id, minutes
    compared: pd.DataFrame     # condition, organization_id, measures


def _most_frequent_role(per: ir.Table, keys: list[str]) -> ir.Table:
    """Per ``keys``, the role of most activities (``_n`` summed; ties: the smallest role), as
    :func:`~carevalue.engine.network.volume.most_frequent` counts them on the activities."""
    f = per.filter(per.role.notnull())
    c = f.group_by([*keys, "role"]).aggregate(_c=f._n.sum())
    w = ibis.window(group_by=[c[k] for k in keys], order_by=[ibis.desc(c._c), c.role])
    r = c.mutate(_rk=ibis.row_number().over(w))
    return r.filter(r._rk == 0).select(*keys, "role")


def gather(con: BaseBackend, min_cycles: int = 1) -> ServiceEvidence:
    cc = con.table("care_cycles")
    services = cc.group_by(["condition", "organization_id"]).aggregate(
        cycles=cc.count(), ipu_cycles=cc.ipu_id.notnull().sum()).execute()
    services = services[services.cycles >= min_cycles]
    ct, cm = con.table("care_teams"), con.table("care_team_members")
    p0, roles = con.table("practitioners"), con.table("practitioner_roles")
    role_org = roles.group_by("practitioner_id").aggregate(role_org=roles.organization_id.min())
    pr = p0.left_join(role_org, p0.practitioner_id == role_org.practitioner_id).select(
        practitioner_id=p0.practitioner_id, organization_id=p0.organization_id.fill_null(role_org.role_org))
    ipu = ct.filter((ct.category_code == "ipu") & ct.condition_template.notnull())
    m = ipu.join(cm, ipu.care_team_id == cm.care_team_id).select(
        ipu.care_team_id, ipu.organization_id, condition=ipu.condition_template, member_id=cm.member_id,
        role_code=cm.role_code)
    teams = m.left_join(pr, m.member_id == pr.practitioner_id).select(
        *[m[c] for c in m.columns], member_org=pr.organization_id).execute()
    ac, act = con.table("activity_costs"), con.table("activities")
    a = ac.join(act.select("activity_id", "practitioner_id"), "activity_id")
    a = a.filter(a.practitioner_id.notnull())
    # the activities joined to their clinicians once, summed per clinician x service x role (in a
    # cycle or not); every clinician figure below is read from these few rows
    per = a.group_by(["practitioner_id", "condition", a.cycle_organization_id.name("organization_id"), "role",
                      a.cycle_id.notnull().name("_in")]).aggregate(minutes=a.minutes.sum(), _n=a.count())
    per = per.cache()
    total = per.group_by("practitioner_id").aggregate(all_minutes=per.minutes.sum())
    inc = per.filter(per._in)
    keys = ["condition", "organization_id", "practitioner_id"]
    mins = inc.group_by(keys).aggregate(minutes=inc.minutes.sum())
    roles = _most_frequent_role(inc, keys)
    on = mins.left_join(roles, keys)
    on = on.select(*[mins[c] for c in mins.columns], role=on.role)
    cl = on.join(total, "practitioner_id").join(
        pr.select(practitioner_id=pr.practitioner_id, clinician_org=pr.organization_id), "practitioner_id")
    clinicians = cl.select("condition", "organization_id", "practitioner_id", "role", "clinician_org",
                           "minutes", "all_minutes").execute()
    per.release()
    s = ac.filter(ac.cycle_id.notnull())
    phases = s.group_by([s.condition, s.cycle_organization_id.name("organization_id"), s.phase, s.facility_id]).aggregate(
        minutes=s.minutes.sum()).execute()
    oc = con.table("outcome_comparison")
    oc = oc.filter((oc.status == "ok") & oc.organization_id.notnull())
    compared = oc.group_by(["condition", "organization_id"]).aggregate(measures=oc.measure.nunique()).execute()
    return ServiceEvidence(services, teams, clinicians, phases, compared)
