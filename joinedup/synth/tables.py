"""What the twin synthesises from each store table, and how its rows stay consistent.

The person table is widened with one count per event table and a few per-person **flags** (the
outcomes that join tables: ASQ all five at 2, GLD, SEN, FSM, persistent absence, KS2 expected).
Event rows are then drawn per synthetic person, conditioned on that person's row:

- ``anchor``: the row's timeline date; drawn as a calendar date from donors of the synthetic
  child's own birth cohort (academic year of birth), with the person's month of birth as a
  predictor, so calendar windows (a census day, a term, the years a source covers) and ages both
  hold; ``school`` columns are drawn with it (year group, academic year, term);
- ``flag``: the per-person flag whose value every donor of the ``block`` must share (an EYFSP row
  is drawn whole from a child with the same GLD result, so ``is_gld`` stays a rule over the
  goals);
- other dates are offsets in days from the anchor (an end never precedes its start);
- ``group_id``: a source id grouping rows of one child (``cin_details_id``), replaced by fresh ids;
- ``derived``: computed after sampling, never drawn (rates, zones, BMI);
- ``by_age``: for events timed by age (the 2-year review), the anchor is the person's month of
  birth plus the donor's age at the event, and rows past the real data's last date are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from joinedup.store.linked import ALL_ELGS, ASQ_DOMAINS

ELG_COLUMNS = ALL_ELGS  # the store's 17 early learning goals, in its column order


@dataclass(frozen=True, slots=True, kw_only=True)
class EventTableSpec:
    name: str  # store table, e.g. store__eyfsp
    anchor: str
    school: tuple[str, ...] = ()
    flag: str | None = None
    block: tuple[str, ...] = ()
    block_key: str | None = None  # the tree's target for the block (default: its first column)
    group_id: str | None = None
    derived: tuple[str, ...] = ()
    by_age: bool = False  # the anchor is birth + the donor's age at the event (age-timed events)

    @property
    def short(self) -> str:
        return self.name.removeprefix("store__")

    @property
    def count_column(self) -> str:
        return f"n_{self.short}"


EVENT_TABLES: tuple[EventTableSpec, ...] = (
    EventTableSpec(
        name="store__enrolment",
        anchor="census_date",
        school=("ncyear",),
        flag="sen_any",
        block=("sen_provision", "sen_primary_need", "sen_secondary_need"),
    ),
    EventTableSpec(
        name="store__attendance",
        anchor="term_start",
        school=("academic_year", "term"),
        flag="pa_year",
        block=(
            "schools",
            "sessions_possible",
            "sessions_present",
            "authorised_absence",
            "unauthorised_absence",
        ),
        derived=("absence_rate", "is_persistent_absence"),
    ),
    EventTableSpec(name="store__exclusion", anchor="start_date"),
    EventTableSpec(
        name="store__eyfsp",
        anchor="assessed_by",
        school=("academic_year",),
        flag="gld",
        block=(*ELG_COLUMNS, "is_gld", "elgs_expected"),
        block_key="elgs_expected",
    ),
    EventTableSpec(
        name="store__ks2",
        anchor="assessed_by",
        school=("academic_year",),
        flag="ks2_expected",
        block=(
            "read_scaled",
            "read_status",
            "mat_scaled",
            "mat_status",
            "gps_scaled",
            "gps_status",
            "writ_ta",
            "sci_ta",
            "is_expected_rwm",
        ),
    ),
    EventTableSpec(
        name="store__development_check",
        anchor="review_date",
        flag="asq_all_five",
        block=(
            *(f"asq_{d}" for d in ASQ_DOMAINS),
            *(f"zone_{d}" for d in ASQ_DOMAINS),
            "is_all_five_expected",
            "domains_below",
        ),
        block_key="domains_below",
        school=("age_months",),  # the donor's recorded age at review, with its date
        by_age=True,
    ),
    EventTableSpec(
        name="store__ncmp",
        anchor="measurement_date",
        school=("school_year",),
        block=("height_cm", "weight_kg"),
        derived=("bmi",),
    ),
    EventTableSpec(name="store__gp_registration", anchor="registration_start"),
    EventTableSpec(name="store__gp_event", anchor="event_date"),
    # length of stay is drawn, not derived: birth episodes keep only the month of their dates;
    # the episode's dates come from one donor, so they stay in order
    EventTableSpec(
        name="store__admission",
        anchor="admidate",
        block=("epistart", "epiend", "disdate", "length_of_stay_days", "opdate_01"),
    ),
    EventTableSpec(
        name="store__social_care_episode", anchor="start_date", group_id="cin_details_id"
    ),
    EventTableSpec(name="store__cla_episode", anchor="start_date"),
    EventTableSpec(name="store__missing_episode", anchor="start_date"),
    EventTableSpec(name="store__police_event", anchor="reported_date"),
    EventTableSpec(
        name="store__housing", anchor="approach_date", block=("ta_start", "ta_end", "ta_type")
    ),
)

PERSON_TABLE = "store__person"

# per-person flags joining the tables: name -> (SQL aggregate over the secondary view, view)
FLAG_SQL: dict[str, tuple[str, str]] = {
    "asq_all_five": ("bool_or(is_all_five_expected)", "store__development_check"),
    "gld": ("bool_or(is_gld)", "store__eyfsp"),
    "ks2_expected": ("bool_or(is_expected_rwm)", "store__ks2"),
    "sen_any": ("bool_or(sen_provision IN ('K', 'E'))", "store__enrolment"),
    "fsm_any": ("bool_or(is_fsm_on_census_day)", "store__enrolment"),
    "pa_year": (
        "sum(authorised_absence + unauthorised_absence) / nullif(sum(sessions_possible), 0) >= 0.1",
        "store__attendance",
    ),
}
