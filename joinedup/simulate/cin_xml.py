"""Write the Children in Need census return as the DfE's XML (Message/Header/Children/Child).

Job: turn simulated children in need into the census XML, element names and order as the DfE
CIN census schema and DfE's own validator (``cin_validator``) read them, and report which person
each written element is about.

Invariants:
- element order follows the XSD: ``ChildIdentifiers``, ``ChildCharacteristics``, then
  ``CINdetails`` (referral fields, then ``Assessments``, ``CINPlanDates``, ``Section47``,
  ``ChildProtectionPlans`` with ``Reviews``);
- an absent value is an absent element (never an empty one), dates are ``YYYY-MM-DD``;
- the returned truth has one row per ``Child``, ``CINdetails``, ``Assessments`` and
  ``ChildProtectionPlans`` element, numbered 1.. in document order per element type (tables
  ``child``, ``cindetails``, ``assessments``, ``cpp``). A ``CINdetails``' ``CINdetailsID`` is its
  1-based position within its ``Child``, as DfE's validator numbers it (the XML carries none).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True, slots=True, kw_only=True)
class CinReturn:
    """A census return: the header facts and the children (dicts as the simulator builds them)."""

    la_number: str
    reference_date: date
    children: tuple[dict[str, Any], ...]


def _text(parent: ET.Element, tag: str, value: Any) -> None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return
    if isinstance(value, pd.Timestamp):
        value = value.date()
    element = ET.SubElement(parent, tag)
    element.text = value.isoformat() if isinstance(value, date) else str(value)


def build_cin_tree(cin: CinReturn) -> tuple[ET.ElementTree, pd.DataFrame]:
    """The XML tree and its truth rows (table, row_number, person_id)."""
    message = ET.Element("Message")
    header = ET.SubElement(message, "Header")
    details = ET.SubElement(header, "CollectionDetails")
    _text(details, "Collection", "CIN")
    _text(details, "Year", str(cin.reference_date.year))
    _text(details, "ReferenceDate", cin.reference_date)
    source = ET.SubElement(header, "Source")
    _text(source, "SourceLevel", "L")
    _text(source, "LEA", cin.la_number)
    _text(source, "SoftwareCode", "joinedup simulator")
    _text(source, "Release", "1")
    _text(source, "SerialNo", "1")
    _text(source, "DateTime", f"{cin.reference_date.isoformat()}T12:00:00")
    children = ET.SubElement(message, "Children")
    truth: dict[str, list[str]] = {"child": [], "cindetails": [], "assessments": [], "cpp": []}
    for child in cin.children:
        pid = child["person_id"]
        element = ET.SubElement(children, "Child")
        truth["child"].append(pid)
        ids = ET.SubElement(element, "ChildIdentifiers")
        for tag in (
            "LAchildID",
            "UPN",
            "FormerUPN",
            "UPNunknown",
            "PersonBirthDate",
            "ExpectedPersonBirthDate",
            "Sex",
            "PersonDeathDate",
        ):
            _text(ids, tag, child[tag])
        characteristics = ET.SubElement(element, "ChildCharacteristics")
        _text(characteristics, "Ethnicity", child["Ethnicity"])
        disabilities = ET.SubElement(characteristics, "Disabilities")
        for code in child["Disabilities"]:
            _text(disabilities, "Disability", code)
        for episode in child["episodes"]:
            cin_details = ET.SubElement(element, "CINdetails")
            truth["cindetails"].append(pid)
            for tag in (
                "CINreferralDate",
                "ReferralSource",
                "PrimaryNeedCode",
                "CINclosureDate",
                "ReasonForClosure",
                "DateOfInitialCPC",
                "ReferralNFA",
            ):
                _text(cin_details, tag, episode[tag])
            for assessment in episode["assessments"]:
                a = ET.SubElement(cin_details, "Assessments")
                truth["assessments"].append(pid)
                _text(a, "AssessmentActualStartDate", assessment["start"])
                _text(a, "AssessmentInternalReviewDate", None)
                _text(a, "AssessmentAuthorisationDate", assessment["end"])
                if assessment["factors"]:
                    factors = ET.SubElement(a, "FactorsIdentifiedAtAssessment")
                    for code in assessment["factors"]:
                        _text(factors, "AssessmentFactors", code)
            for plan in episode["plans"]:
                p = ET.SubElement(cin_details, "CINPlanDates")
                _text(p, "CINPlanStartDate", plan["start"])
                _text(p, "CINPlanEndDate", plan["end"])
            for s47 in episode["s47"]:
                s = ET.SubElement(cin_details, "Section47")
                _text(s, "S47ActualStartDate", s47["start"])
                _text(s, "InitialCPCtarget", s47["target"])
                _text(s, "DateOfInitialCPC", s47["icpc"])
                _text(s, "ICPCnotRequired", s47["not_required"])
            for cpp in episode["cpp"]:
                c = ET.SubElement(cin_details, "ChildProtectionPlans")
                truth["cpp"].append(pid)
                _text(c, "CPPstartDate", cpp["start"])
                _text(c, "CPPendDate", cpp["end"])
                _text(c, "InitialCategoryOfAbuse", cpp["initial"])
                _text(c, "LatestCategoryOfAbuse", cpp["latest"])
                _text(c, "NumberOfPreviousCPP", cpp["previous"])
                for review in cpp["reviews"]:
                    r = ET.SubElement(c, "Reviews")
                    _text(r, "CPPreviewDate", review)
    tree = ET.ElementTree(message)
    ET.indent(tree)
    frames = [
        pd.DataFrame(
            {
                "table": table,
                "row_number": range(1, len(pids) + 1),
                "person_id": pids,
            }
        )
        for table, pids in truth.items()
    ]
    return tree, pd.concat(frames, ignore_index=True).astype({"row_number": "int64"})


def write_cin_xml(cin: CinReturn, path: Path) -> pd.DataFrame:
    """Write the return to ``path``; return its truth rows (table, row_number, person_id)."""
    tree, truth = build_cin_tree(cin)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return truth
