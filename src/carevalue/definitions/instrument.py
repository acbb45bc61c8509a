"""PROM instruments as data: items, answer options, recoding, scales and their scoring rules.

A YAML file under ``content/instruments/`` fully describes how one published instrument is
scored (items and their answer values, reverse-scoring, raw-to-T-score tables, minimum items
per scale, value sets), so the scoring engine stays generic and new instruments are content.
"""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carevalue.definitions.base import Definition, register_kind
from carevalue.definitions.yaml_text import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerOption(_Strict):
    """One allowed answer: matched by its code (value_code) or its numeric value (value_num)."""

    value: float = Field(description="The answer's numeric value as collected on the form.")
    score: float | None = Field(default=None, description="Scored value after recoding; = value when omitted.")
    code: str | None = Field(default=None, description="Answer code, e.g. a LOINC LA code.")
    display: str = ""
    missing: bool = Field(default=False, description="Counts as not answered (e.g. 'does not apply').")

    @property
    def scored(self) -> float:
        return self.value if self.score is None else self.score


class Item(_Strict):
    """A question. Either a list of options or a numeric range (answers scored as given)."""

    link_id: str = Field(description="QuestionnaireResponse item linkId (LOINC item code where one exists).")
    aliases: list[str] = Field(default_factory=list, description="Other linkIds accepted for this item.")
    loinc: str | None = None
    text: str = ""
    options: list[AnswerOption] = Field(default_factory=list)
    range: tuple[float, float] | None = Field(default=None, description="Inclusive min/max for numeric items.")
    integer: bool = Field(default=True, description="Numeric answers must be whole numbers.")

    @model_validator(mode="after")
    def _check(self) -> Item:
        if not self.options and self.range is None:
            raise ValueError(f"item {self.link_id}: needs options or a range")
        codes = [o.code for o in self.options if o.code]
        if len(codes) != len(set(codes)):
            raise ValueError(f"item {self.link_id}: duplicate answer codes")
        values = [o.value for o in self.options]
        if len(values) != len(set(values)):
            raise ValueError(f"item {self.link_id}: duplicate answer values")
        return self


class Linear(_Strict):
    """score = (x + add) * multiply / divide (per item before aggregation, or to the scale)."""

    add: float = 0.0
    multiply: float = 1.0
    divide: float = 1.0

    def apply(self, x: float) -> float:
        return (x + self.add) * self.multiply / self.divide


class Band(_Strict):
    """A labelled score interval [min, max] (inclusive), e.g. PHQ-9 severity."""

    min: float
    max: float
    label: str


class ValueSet(_Strict):
    """An EQ-5D-style additive value set: one column of a coefficient table shipped with the content."""

    table: str = Field(description="CSV file next to the YAML: first column = term, one column per country.")
    column: str = Field(description="Column (country / value set) to use.")
    dimensions: dict[str, str] = Field(description="Term prefix (e.g. MO) -> item linkId.")


class Scale(_Strict):
    """One reported score of the instrument."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    title: str = ""
    method: Literal["sum", "mean", "value", "value_set", "mean_of_scales"] = "sum"
    items: list[str] = Field(default_factory=list, description="Item linkIds (sum/mean/value/value_set).")
    scales: list[str] = Field(default_factory=list, description="Scale ids (mean_of_scales).")
    item_transform: Linear | None = Field(default=None, description="Applied to every item score first.")
    item_transforms: dict[str, Linear] = Field(default_factory=dict, description="Per-item transform (overrides).")
    min_items: int | None = Field(default=None, description="Fewest answered items to score; default all.")
    prorate: bool = Field(default=False, description="sum only: sum * n_items / answered.")
    round_half_up: int | None = Field(default=None, description="Round the raw result to this many decimals.")
    lookup: dict[float, float] | None = Field(default=None, description="Raw result -> reported score table.")
    transform: Linear | None = Field(default=None, description="Applied to the (looked-up) result.")
    value_set: ValueSet | None = None
    bands: list[Band] = Field(default_factory=list)
    missing_rule: str = Field(default="", description="The published missing-item rule, in words.")

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.method == "mean_of_scales":
            if not self.scales:
                raise ValueError(f"scale {self.id}: mean_of_scales needs scales")
        elif not self.items:
            raise ValueError(f"scale {self.id}: needs items")
        if self.method == "value" and len(self.items) != 1:
            raise ValueError(f"scale {self.id}: method value takes exactly one item")
        if self.method == "value_set" and self.value_set is None:
            raise ValueError(f"scale {self.id}: method value_set needs value_set")
        if self.prorate and self.method != "sum":
            raise ValueError(f"scale {self.id}: prorate only applies to sum")
        if self.method == "value_set" and self.min_items not in (None, len(self.items)):
            # a value-set index is defined for a whole health state only (EQ-5D user guides)
            raise ValueError(f"scale {self.id}: a value-set index needs every dimension answered "
                             f"(min_items must be omitted or {len(self.items)})")
        return self

    @property
    def needed(self) -> int:
        size = len(self.scales) if self.method == "mean_of_scales" else len(self.items)
        return size if self.min_items is None else self.min_items

    def item_linear(self, link_id: str) -> Linear | None:
        return self.item_transforms.get(link_id, self.item_transform)


@register_kind("instruments")
class Instrument(Definition):
    """A PROM instrument and its published scoring algorithm."""

    version: str = ""
    source: str = Field(description="Where the scoring algorithm and tables come from.")
    questionnaire_urls: list[str] = Field(
        default_factory=list,
        description="Questionnaire canonicals (without |version) whose responses this instrument scores.",
    )
    loinc_panel: str | None = None
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Instrument:
        ids = [i.link_id for i in self.items]
        names = ids + [a for i in self.items for a in i.aliases]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.id}: duplicate item linkId or alias")
        seen: set[str] = set()
        for s in self.scales:
            missing = [i for i in s.items if i not in ids]
            if missing:
                raise ValueError(f"{self.id}/{s.id}: unknown items {missing}")
            if s.value_set and set(s.value_set.dimensions.values()) - set(s.items):
                raise ValueError(f"{self.id}/{s.id}: value-set dimensions must be scale items")
            unknown = [x for x in s.scales if x not in seen]
            if unknown:
                raise ValueError(f"{self.id}/{s.id}: scales {unknown} must be defined before it")
            nested = [x for x in s.scales if self.scale(x).method == "mean_of_scales"]
            if nested:
                raise ValueError(f"{self.id}/{s.id}: a mean of scales cannot take another mean of scales {nested}")
            if s.value_set:
                for link in s.value_set.dimensions.values():
                    dim = self.item(link)
                    levels = {o.scored for o in dim.options if not o.missing}
                    if dim.range is not None or not levels or \
                            any(v != int(v) or not 0 <= v <= 9 for v in levels):
                        raise ValueError(f"{self.id}/{s.id}: value-set dimension {link} must be answered with "
                                         "options scored as whole levels 0-9")
            if s.id in seen:
                raise ValueError(f"{self.id}: duplicate scale {s.id}")
            seen.add(s.id)
        return self

    def scale(self, scale_id: str) -> Scale:
        for s in self.scales:
            if s.id == scale_id:
                return s
        raise KeyError(scale_id)

    def item(self, link_id: str) -> Item:
        for i in self.items:
            if i.link_id == link_id:
                return i
        raise KeyError(link_id)

    def matches(self, questionnaire: str | None) -> bool:
        """True when a QuestionnaireResponse.questionnaire canonical refers to this instrument."""
        if not questionnaire:
            return False
        canonical = questionnaire.split("|", 1)[0].rstrip("/")
        last = canonical.rsplit("/", 1)[-1]
        return canonical in self.questionnaire_urls or last in {self.id, self.loinc_panel}

    def value_set_terms(self, scale: Scale) -> dict[str, float]:
        """Coefficients of a value-set scale's column (missing/NA terms dropped)."""
        assert scale.value_set is not None
        return _value_set_column(scale.value_set.table, scale.value_set.column)


def content_dir() -> Path:
    return Path(str(importlib_resources.files("carevalue") / "content" / "instruments"))


@lru_cache(maxsize=64)
def _value_set_column(table: str, column: str) -> dict[str, float]:
    path = content_dir() / table
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    if column not in header:
        raise ValueError(f"value set {column!r} not in {table}")
    col = header.index(column)
    out: dict[str, float] = {}
    for row in rows[1:]:
        cell = row[col].strip() if col < len(row) else ""
        if cell in ("", "NA"):
            continue
        value = float(cell)
        if not math.isnan(value):
            out[row[0]] = value
    return out


def load_instruments(directory: Path | None = None) -> dict[str, Instrument]:
    """All instrument definitions by id, validated (the packaged content is read once)."""
    if directory is None:
        return dict(_packaged())
    return _read(directory)


@lru_cache(maxsize=1)
def _packaged() -> dict[str, Instrument]:
    return _read(content_dir())


def _read(directory: Path) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for path in sorted(directory.glob("*.yaml")):
        inst = Instrument.model_validate(read_yaml(path))
        if inst.id in out:
            raise ValueError(f"duplicate instrument id {inst.id} ({path.name})")
        out[inst.id] = inst
    return out


def instrument(instrument_id: str) -> Instrument:
    return load_instruments()[instrument_id]
