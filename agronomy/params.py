"""The models' parameters (params/models.toml), validated; a county edits a copy of the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT = Path(__file__).parent / "params" / "models.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WetnessParams(_Strict):
    rh_wet_pct: float = Field(gt=0, le=100)
    night_dew_margin_c: float = Field(ge=0, le=10)
    leaf_wet_pct: float = Field(gt=0, le=100)


class ScabParams(_Strict):
    crops: list[str]
    stages: list[str]
    table_f: list[tuple[float, float]] = Field(min_length=2)
    moderate_factor: float = Field(ge=1)
    severe_factor: float = Field(ge=1)
    max_dry_gap_h: int = Field(ge=1, le=48)
    night_start_at_sunrise: bool
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _table_rises(self) -> ScabParams:
        temps = [t for t, _ in self.table_f]
        if temps != sorted(temps) or len(set(temps)) != len(temps):
            raise ValueError("scab.table_f: temperatures must rise from row to row")
        if any(h <= 0 for _, h in self.table_f):
            raise ValueError("scab.table_f: hours must be positive")
        if self.severe_factor < self.moderate_factor:
            raise ValueError("scab: severe_factor must be at least moderate_factor")
        return self


class FireBlightParams(_Strict):
    crops: list[str]
    stages: list[str]
    base_c: float
    window_days: int = Field(ge=1, le=10)
    min_wet_h: int = Field(ge=1, le=24)
    history: str
    limits: dict[str, tuple[float, float, float]]  # caution, high, extreme (°C degree-hours)
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _limits(self) -> FireBlightParams:
        if self.history not in self.limits:
            raise ValueError(f"fire_blight.history: {self.history!r} is not one of {sorted(self.limits)}")
        for name, row in self.limits.items():
            if list(row) != sorted(row) or row[0] <= 0:
                raise ValueError(f"fire_blight.limits.{name}: caution < high < extreme, all above 0")
        return self


class GreyMouldParams(_Strict):
    crops: list[str]
    days: int = Field(ge=1, le=14)
    min_known_days: int = Field(ge=1, le=14)
    wet_h_per_day: float = Field(ge=0, le=24)
    night_from_h: int = Field(ge=12, le=23)
    night_to_h: int = Field(ge=0, le=12)
    night_min_c: float
    night_max_c: float
    night_h_per_day: float = Field(ge=0, le=24)
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _ranges(self) -> GreyMouldParams:
        if self.min_known_days > self.days:
            raise ValueError("grey_mould: min_known_days cannot exceed days")
        if self.night_max_c <= self.night_min_c:
            raise ValueError("grey_mould: night_max_c must be above night_min_c")
        return self


class DownyParams(_Strict):
    crops: list[str]
    # rows of [wet hours, lowest °C at which they infect, optimum from °C, optimum to °C]
    table: list[tuple[float, float, float, float]] = Field(min_length=1)
    max_c: float
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _rows(self) -> DownyParams:
        for hours, low, opt_lo, opt_hi in self.table:
            if not (hours > 0 and low <= opt_lo <= opt_hi <= self.max_c):
                raise ValueError("downy_mildew.table: each row needs hours > 0 and low <= optimum <= max_c")
        return self


class MarssoninaParams(_Strict):
    crops: list[str]
    months: list[int]
    table: list[tuple[float, float]] = Field(min_length=2)  # [°C, least wet hours]
    min_c: float
    max_c: float
    severe_factor: float = Field(ge=1)
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _table(self) -> MarssoninaParams:
        temps = [t for t, _ in self.table]
        if temps != sorted(temps) or len(set(temps)) != len(temps) or any(h <= 0 for _, h in self.table):
            raise ValueError("marssonina.table: temperatures must rise and hours be positive")
        if not (self.min_c <= temps[0] and temps[-1] <= self.max_c):
            raise ValueError("marssonina: min_c and max_c must enclose the table")
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError("marssonina.months: 1 to 12")
        return self


class PowderyParams(_Strict):
    crops: list[str]
    min_c: float  # a counting hour: min_c <= T < max_c
    max_c: float
    run_h: int = Field(ge=1, le=24)  # consecutive such hours that make a day count
    hot_c: float  # a day reaching it loses points whatever else it had
    gain: float = Field(gt=0)
    loss: float = Field(gt=0)
    start_days: int = Field(ge=1, le=10)  # counting days in a row that start the index
    low_max: float = Field(ge=0, le=100)  # the index up to it: low; up to moderate_max: moderate; above: high
    moderate_max: float = Field(ge=0, le=100)
    max_unknown_h: int = Field(ge=0, le=24)
    advice_zh: str
    advice_en: str

    @model_validator(mode="after")
    def _ranges(self) -> PowderyParams:
        if not self.min_c < self.max_c <= self.hot_c:
            raise ValueError("powdery_mildew: min_c < max_c <= hot_c")
        if self.low_max >= self.moderate_max:
            raise ValueError("powdery_mildew: low_max must be below moderate_max")
        return self


class PhenologyParams(_Strict):
    base_c: float
    min_hours: int = Field(ge=1, le=24)
    max_missing_days: int = Field(ge=0)
    order: list[str] = Field(min_length=2)  # the crop's stages in order, as the config names them
    sums: list[tuple[str, float]] = Field(min_length=1)  # [stage, degree-days since 1 January]

    @model_validator(mode="after")
    def _sums(self) -> PhenologyParams:
        names = [n for n, _ in self.sums]
        if any(n not in self.order for n in names):
            raise ValueError("phenology.sums: every stage must be in order")
        if [self.order.index(n) for n in names] != sorted(self.order.index(n) for n in names):
            raise ValueError("phenology.sums: stages must follow order")
        values = [v for _, v in self.sums]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError("phenology.sums: degree-days must rise")
        return self


class Milestone(_Strict):
    event: str
    dd_c: float = Field(gt=0)
    zh: str
    en: str
    advice_zh: str
    advice_en: str


class PestParams(_Strict):
    name_zh: str
    name_en: str
    crops: list[str]
    lower_c: float
    upper_c: float
    min_hours: int = Field(ge=1, le=24)
    lead_days: int = Field(ge=0, le=30)
    milestone: list[Milestone] = Field(min_length=1)

    @model_validator(mode="after")
    def _thresholds(self) -> PestParams:
        if self.upper_c <= self.lower_c:
            raise ValueError("pest: upper_c must be above lower_c")
        sums = [m.dd_c for m in self.milestone]
        if sums != sorted(sums) or len(set(sums)) != len(sums):
            raise ValueError("pest: milestones must come in rising degree-days")
        return self


class Params(_Strict):
    wetness: WetnessParams
    scab: ScabParams
    fire_blight: FireBlightParams
    grey_mould: GreyMouldParams
    downy_mildew: DownyParams
    marssonina: MarssoninaParams
    powdery_mildew: PowderyParams
    phenology: dict[str, PhenologyParams]  # by crop
    pest: dict[str, PestParams]


def load_params(path: Path = DEFAULT) -> Params:
    with path.open("rb") as f:
        return Params.model_validate(tomllib.load(f))
