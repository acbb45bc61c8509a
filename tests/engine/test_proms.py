"""PROM scoring engine: the Ibis stage agrees with score_one, follows each instrument's missing-item
rule, refuses unknown answers with a reason, and scores any instrument defined in YAML."""

from __future__ import annotations

import random
from pathlib import Path

import ibis
import pytest

from carevalue.definitions.instrument import load_instruments
from carevalue.engine import proms
from carevalue.engine.proms import score_one, score_proms

INSTRUMENTS = load_instruments()

ANSWER_SCHEMA = {"response_id": "string", "link_id": "string", "value_num": "float64",
                 "value_code": "string", "value_text": "string"}
RESPONSE_SCHEMA = {"response_id": "string", "patient_id": "string", "questionnaire": "string",
                   "authored_ts": "timestamp"}
BASE = "https://carevalue.org/fhir/Questionnaire/"


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def _stored(value):
    """(value_num, value_code) as ingest stores an answer given to score_one."""
    if isinstance(value, str):
        try:
            return float(value), value
        except ValueError:
            return None, value
    return (None if value is None else float(value)), None


def _tables(responses: dict[str, tuple[str, dict]]):
    """responses: response_id -> (questionnaire canonical, {linkId: answer})."""
    ans, resp = [], []
    for i, (rid, (q, answers)) in enumerate(responses.items()):
        resp.append({"response_id": rid, "patient_id": f"p{i}", "questionnaire": q,
                     "authored_ts": f"2024-01-{1 + i % 28:02d} 10:00:00"})
        for link, value in answers.items():
            num, code = _stored(value)
            if num is None and code is None:
                continue
            ans.append({"response_id": rid, "link_id": link, "value_num": num, "value_code": code,
                        "value_text": None})
    r = ibis.memtable(resp, schema={**RESPONSE_SCHEMA, "authored_ts": "string"}).mutate(
        authored_ts=ibis._.authored_ts.cast("timestamp"))
    return ibis.memtable(ans, schema=ANSWER_SCHEMA), r


def _run(con, responses, instruments=None):
    a, r = _tables(responses)
    return con.execute(score_proms(a, r, INSTRUMENTS.values() if instruments is None else instruments))


def _row(df, rid, scale):
    hit = df[(df.response_id == rid) & (df.scale == scale)]
    assert len(hit) == 1, (rid, scale, len(hit))
    return hit.iloc[0]


def _random_answer(rng: random.Random, item) -> object:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.11:
        return "XX-UNKNOWN"
    if roll < 0.13:
        return 99
    if item.options:
        o = rng.choice(item.options)
        if o.code and rng.random() < 0.5:
            return o.code
        value = int(o.value) if o.value.is_integer() else o.value
        return str(value) if rng.random() < 0.5 else value  # ordinal code or plain number
    lo, hi = item.range
    return rng.randint(int(lo), int(hi))


def test_engine_agrees_with_score_one_on_random_responses(con):
    rng = random.Random(20240501)
    insts = load_instruments()
    responses = {}
    for inst in insts.values():
        for k in range(40):
            answers = {i.link_id: _random_answer(rng, i) for i in inst.items}
            if k % 4 == 0:  # mostly complete responses too, so most scales get scored
                answers = {i.link_id: (int(i.options[-1].value) if i.options and not i.options[-1].missing
                                       else (int(i.options[0].value) if i.options else 50))
                           for i in inst.items}
            responses[f"{inst.id}-{k}"] = (BASE + inst.id, answers)
    df = _run(con, responses)
    n_scored = 0
    for rid, (_, answers) in responses.items():
        inst_id = rid.rsplit("-", 1)[0]
        expected = score_one(insts[inst_id], answers)
        for scale, exp in expected.items():
            row = _row(df, rid, scale)
            assert row.status == exp["status"], (rid, scale)
            assert row["items_answered"] == exp["items_answered"], (rid, scale)
            if exp["score"] is None:
                assert row.isna()["score"], (rid, scale)
            else:
                n_scored += 1
                assert row.score == pytest.approx(exp["score"], abs=1e-9), (rid, scale)
            assert (None if row.isna()["band"] else row.band) == exp["band"]
            assert row.instrument == inst_id
    assert n_scored > 200 and len(df) == sum(len(insts[r.rsplit("-", 1)[0]].scales) for r in responses)


PROMIS_FULL = {"Global01": 3, "Global02": 3, "Global03": 3, "Global04": 3, "Global05": 3,
               "Global06": 3, "Global07": 5, "Global08": 3, "Global09": 3, "Global10": 3}
PHQ = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]


def test_incomplete_questionnaires_follow_each_instruments_rule(con):
    promis_missing = {k: v for k, v in PROMIS_FULL.items() if k != "Global07"}
    responses = {
        "promis": (BASE + "promis-global-10", promis_missing),
        "phq-2-missing": (BASE + "phq-9", dict(zip(PHQ[:7], [3, 3, 2, 2, 1, 1, 0], strict=True))),
        "phq-3-missing": (BASE + "phq-9", dict(zip(PHQ[:6], [3, 3, 2, 2, 1, 1], strict=True))),
        "hoos": (BASE + "hoos-ps", {"HOOS-A1": 1, "HOOS-A13": 1, "HOOS-A14": 1, "HOOS-SP2": 1}),
        "koos": (BASE + "koos-ps", {"KOOS-A10": 0, "KOOS-A9": 0, "KOOS-A3": 0, "KOOS-A5": 0,
                                    "KOOS-SP4": 0, "KOOS-SP5": 0}),
        "kccq": (BASE + "kccq-12", {"KCCQ12-1a": 5, "KCCQ12-1b": 6, "KCCQ12-1c": 3,  # PL: 2 of 3
                                    "KCCQ12-2": 5,                                  # SF: 1 of 4
                                    "KCCQ12-7": 3,                                  # QL: 1 of 2
                                    "KCCQ12-8a": 6, "KCCQ12-8b": 6, "KCCQ12-8c": 4}),  # SL: 1 of 3
        "eq5d": (BASE + "eq-5d-5l", {"MO": 1, "SC": 2, "UA": 1, "PD": 3, "VAS": 80}),
    }
    df = _run(con, responses)
    for scale in ("gph-raw", "gph-t"):
        r = _row(df, "promis", scale)
        assert r.status == "refused: 3 of 4 items answered; needs 4" and r.isna()["score"]
    assert _row(df, "promis", "gmh-t").score == 43.5  # the other scale is complete
    r = _row(df, "phq-2-missing", "total")  # 12 * 9 / 7 = 15.43 -> 15 (prorated, rounded half up)
    assert (r.score, r.band, r["items_answered"], r.status) == (15, "moderately severe", 7, "scored")
    assert _row(df, "phq-3-missing", "total").status == "refused: 6 of 9 items answered; needs 7"
    assert _row(df, "hoos", "score").status == "refused: 4 of 5 items answered; needs 5"
    assert _row(df, "koos", "score").status == "refused: 6 of 7 items answered; needs 7"
    assert _row(df, "kccq", "physical-limitation").score == pytest.approx(75.0)  # (100 + 50) / 2
    assert _row(df, "kccq", "symptom-frequency").status == "refused: 1 of 4 items answered; needs 2"
    assert _row(df, "kccq", "quality-of-life").score == 50
    assert _row(df, "kccq", "social-limitation").status == "refused: 1 of 3 items answered; needs 2"
    assert _row(df, "kccq", "summary").score == pytest.approx(62.5)  # mean of PL and QL
    assert _row(df, "eq5d", "index-usa").status == "refused: 4 of 5 items answered; needs 5"
    assert _row(df, "eq5d", "vas").score == 80


def test_unknown_answer_codes_and_values_are_refused_with_a_reason(con):
    phq = {link: "LA6568-5" for link in PHQ}
    responses = {
        "bad-code": (BASE + "phq-9", {**phq, "44250-9": "LA0000-0"}),
        "la-codes": (BASE + "phq-9", {**phq, "44250-9": "LA6571-9"}),
        "ordinal": (BASE + "phq-9", {**phq, "44250-9": "3"}),
        "out-of-range": (BASE + "promis-global-10", {**PROMIS_FULL, "Global07": 11}),
        "text-code": (BASE + "hoos-ps", {"HOOS-A1": "mild", "HOOS-A13": 1, "HOOS-A14": 1,
                                         "HOOS-SP2": 1, "HOOS-SP3": 1}),
        "vas-range": (BASE + "eq-5d-5l", {"VAS": 101}),
    }
    df = _run(con, responses)
    assert _row(df, "bad-code", "total").status == "refused: unknown answer code 'LA0000-0' for item 44250-9"
    assert _row(df, "la-codes", "total").score == 3
    assert _row(df, "ordinal", "total").score == 3
    r = _row(df, "out-of-range", "gph-t")
    assert r.status == "refused: answer 11 not allowed for item Global07" and r.isna()["score"]
    assert _row(df, "out-of-range", "gmh-t").status == "scored"
    assert _row(df, "text-code", "score").status == (
        "refused: coded answer 'mild' for item HOOS-A1, which takes a number")
    assert _row(df, "vas-range", "vas").status == "refused: answer 101 not allowed for item eq5d5l-vas"
    for rid in responses:  # the plain-Python scorer gives the same verdicts
        q, answers = responses[rid]
        inst = q.rsplit("/", 1)[-1]
        for scale, exp in score_one(INSTRUMENTS[inst], answers).items():
            assert _row(df, rid, scale).status == exp["status"]


def test_responses_are_matched_to_instruments_by_canonical(con):
    phq = {link: 1 for link in PHQ}
    responses = {
        "versioned": (BASE + "phq-9|1.0", phq),
        "loinc": ("http://loinc.org/q/44249-1", phq),
        "other": (BASE + "gad-7", phq),
    }
    df = _run(con, responses)
    assert set(df.response_id) == {"versioned", "loinc"}
    assert set(df.instrument) == {"phq-9"} and (df.score == 9).all()
    assert df.columns.tolist() == list(proms.PROM_SCORES_SCHEMA.names)


def test_any_instrument_defined_in_yaml_is_scored(tmp_path: Path, con):
    (tmp_path / "tiny.yaml").write_text("""
id: tiny-scale
title: Two-item test scale
source: test
items:
  - {link_id: a, options: [{value: 0}, {value: 1}, {value: 2, score: 4}]}
  - {link_id: b, range: [0, 10]}
scales:
  - id: doubled
    method: mean
    items: [a, b]
    min_items: 1
    transform: {multiply: 2}
    bands: [{min: 0, max: 5, label: low}, {min: 5.0001, max: 100, label: high}]
""")
    insts = load_instruments(tmp_path).values()
    df = _run(con, {"r": (BASE + "tiny-scale", {"a": 2, "b": 7}), "s": (BASE + "tiny-scale", {"b": 1})},
              insts)
    assert _row(df, "r", "doubled").score == 11 and _row(df, "r", "doubled").band == "high"
    assert _row(df, "s", "doubled").score == 2 and _row(df, "s", "doubled").band == "low"


def test_engine_code_names_no_instrument():
    source = Path(proms.__file__).read_text().lower()
    for inst in load_instruments().values():
        assert inst.id not in source
        assert all(item.link_id.lower() not in source for item in inst.items)
    for word in ("promis", "phq", "kccq", "hoos", "koos", "eq5d", "eq-5d"):
        assert word not in source


def test_no_responses_gives_an_empty_table(con):
    df = _run(con, {})
    assert len(df) == 0 and df.columns.tolist() == list(proms.PROM_SCORES_SCHEMA.names)


def test_invalid_definitions_are_rejected(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("""
id: bad
title: Bad
source: test
items: [{link_id: a, options: [{value: 0}]}]
scales: [{id: s, method: sum, items: [a, zz]}]
""")
    with pytest.raises(ValueError, match="unknown items"):
        load_instruments(tmp_path)


@pytest.mark.parametrize(("scales", "why"), [
    ("[{id: m, method: mean, items: [a]}, {id: mm, method: mean_of_scales, scales: [m]},"
     " {id: mmm, method: mean_of_scales, scales: [mm]}]", "cannot take another mean of scales"),
    ("[{id: v, method: value_set, items: [a, b], min_items: 1,"
     " value_set: {table: t.csv, column: c, dimensions: {A: a, B: b}}}]", "needs every dimension answered"),
    ("[{id: v, method: value_set, items: [a, r],"
     " value_set: {table: t.csv, column: c, dimensions: {A: a, R: r}}}]", "dimension r must be answered with options"),
    ("[{id: v, method: value_set, items: [a, h],"
     " value_set: {table: t.csv, column: c, dimensions: {A: a, H: h}}}]", "dimension h must be answered with options"),
])
def test_definitions_the_set_based_scorer_cannot_express_are_refused_at_load(tmp_path: Path, scales: str,
                                                                              why: str) -> None:
    """The stage scores every instrument in one query; shapes it cannot express fail when the
    content is read (``carevalue definitions validate``), naming the scale, not at run time."""
    (tmp_path / "odd.yaml").write_text(f"""
id: odd
title: Odd
source: test
items:
  - {{link_id: a, options: [{{value: 1}}, {{value: 2}}]}}
  - {{link_id: b, options: [{{value: 1}}, {{value: 2}}]}}
  - {{link_id: r, range: [0, 10]}}
  - {{link_id: h, options: [{{value: 1}}, {{value: 10}}]}}
scales: {scales}
""")
    with pytest.raises(ValueError, match=why):
        load_instruments(tmp_path)


def test_unknown_item_id_is_an_error_not_dropped() -> None:
    import pytest as _pytest

    from carevalue.engine.proms import UnknownItemError

    answers = {f"Global{i:02d}": 3 for i in range(1, 11)}
    assert score_one(INSTRUMENTS["promis-global-10"], answers)  # the PROMIS ids are the linkIds
    # an awell-style id that the YAML does not list as an alias is refused, naming the id
    with _pytest.raises(UnknownItemError, match="'global01'"):
        score_one(INSTRUMENTS["promis-global-10"], {**answers, "global01": 3})
    # listed aliases are accepted (EQ-5D-5L: MO and awell's eq5d_5l_mobility for eq5d5l-mobility)
    eq = {"MO": 1, "SC": 1, "UA": 1, "PD": 1, "AD": 1}
    assert score_one(INSTRUMENTS["eq-5d-5l"], eq) == score_one(INSTRUMENTS["eq-5d-5l"], {**eq, "eq5d_5l_mobility": 1} | {"MO": 1})


def test_value_set_table_holds_the_plain_python_index_of_every_state() -> None:
    """The set-based scorer looks value-set indices up in a table (engine/prom_specs.py); every
    state of every value-set scale must hold exactly the float the plain-Python scorer computes."""
    import itertools

    import numpy as np

    from carevalue.engine.prom_specs import value_set_indices

    checked = 0
    for inst in INSTRUMENTS.values():
        for scale in inst.scales:
            if scale.value_set is None:
                continue
            links = list(scale.value_set.dimensions.values())
            levels = [sorted({o.scored for o in next(i for i in inst.items if i.link_id == link).options})
                      for link in links]
            states = np.array(list(itertools.product(*levels)), dtype=float)
            got = value_set_indices(inst, scale, states)
            want = [proms._value_set_index(inst, scale, dict(zip(links, row, strict=True))) for row in states.tolist()]
            assert got.tolist() == want, scale.id
            checked += len(want)
    assert checked > 1000
