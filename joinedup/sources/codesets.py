"""Code sets shared by several extracts (DfE, NHS and Home Office code lists).

Sources: DfE CBDS and CIN/SSDA903 guidance, NHS Data Dictionary; see
``docs/reference/sources.md`` for each list's citation.
"""

from __future__ import annotations

from joinedup.sources.contract import codes

# DfE ethnicity: the 20 main codes plus the extended codes a Bradford-like district uses most.
DFE_ETHNICITY = codes(
    "WBRI",
    "WIRI",
    "WIRT",
    "WOTH",
    "WROM",
    "MWBC",
    "MWBA",
    "MWAS",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "AOTH",
    "BCRB",
    "BAFR",
    "BOTH",
    "CHNE",
    "OOTH",
    "REFU",
    "NOBT",
    "AMPK",
    "AKPA",
    "AOPK",
)

# DfE first-language codes seen in the district (319 exist; unknown ones are flagged, not refused).
DFE_LANGUAGE = codes(
    "ENG",
    "ENB",
    "OTH",
    "OTB",
    "NOT",
    "REF",
    "URD",
    "PNJ",
    "PNJM",
    "PNJP",
    "PHR",
    "BNG",
    "POL",
    "ARA",
    "SOM",
    "GUJ",
    "SLO",
    "CZE",
    "ROM",
    "KUR",
    "PAS",
    "FRN",
    "TIG",
    "PRS",
)

# NHS ethnic category (Data Dictionary ETHNIC CATEGORY, 2001 census based).
NHS_ETHNIC_CATEGORY = codes(
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "J",
    "K",
    "L",
    "M",
    "N",
    "P",
    "R",
    "S",
    "Z",
    "99",
)

NC_YEARS = codes("E1", "E2", "N1", "N2", "R", *(str(i) for i in range(1, 15)), "X")
ENROL_STATUS = codes("C", "M", "S", "F", "O")
SEN_PROVISION = codes("N", "K", "E")
SEN_TYPE = codes(
    "SPLD",
    "MLD",
    "SLD",
    "PMLD",
    "SEMH",
    "SLCN",
    "HI",
    "VI",
    "MSI",
    "PD",
    "ASD",
    "OTH",
    "NSA",
)

ATTENDANCE_CODES_2024 = codes(
    "/",
    "\\",
    "L",
    "K",
    "V",
    "P",
    "W",
    "B",
    "D",
    "C1",
    "M",
    "J1",
    "S",
    "X",
    "C2",
    "C",
    "T",
    "R",
    "I",
    "E",
    "Q",
    "Y1",
    "Y2",
    "Y3",
    "Y4",
    "Y5",
    "Y6",
    "Y7",
    "G",
    "N",
    "O",
    "U",
    "Z",
    "#",
)

EXCLUSION_CATEGORY = codes("PERM", "SUSP", "LNCH")
EXCLUSION_REASON = codes(
    "PP",
    "PA",
    "VP",
    "VA",
    "OW",
    "BU",
    "RA",
    "LG",
    "DS",
    "SM",
    "DA",
    "DM",
    "TH",
    "DB",
    "MT",
    "PH",
)

TERMS = codes("AUT", "SPR", "SUM")
