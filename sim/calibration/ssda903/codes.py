"""The SSDA903 code lists, as a reader of several years of returns needs them.

Each list holds every code that is valid in at least one collection year we expect to
read (2014/15 onwards), so a stitched ten-year extract passes without false alarms: K3
and Z11-Z14 are new codes, H5, P2 and Z1 were dropped in 2025/26. Codes that are no
longer in any current list but still turn up in older data (Q1/Q2, E43/E44) are in the
`RETIRED` table: the reader keeps them and says once per file how they are read.
Meanings are paraphrased from `/work/shared/ssda903.md` section 3.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- RNE
RNE: dict[str, str] = {
    "S": "started to be looked after",
    "L": "legal status changed only",
    "P": "placement and carer changed",
    "T": "placement changed, same carer",
    "B": "legal status, placement and carer changed",
    "U": "legal status and placement changed, same carer",
}
RNE_NEW_CARER = frozenset({"S", "P", "B"})  # a new bed: the child moved to another carer
RNE_SAME_CARER = frozenset({"T", "U"})  # placement re-labelled, same carer and bed

# --------------------------------------------------------------------------- LS
LS: dict[str, str] = {
    "C1": "interim care order",
    "C2": "full care order",
    "D1": "freeing order",
    "E1": "placement order",
    "V2": "single period of accommodation (s20)",
    "V3": "series of short breaks, recorded episode by episode",
    "V4": "series of short breaks, recorded as agreements",
    "L1": "police protection",
    "L2": "emergency protection order",
    "L3": "child assessment order",
    "J1": "remanded to LA or youth detention accommodation",
    "J2": "accommodated under PACE 1984",
    "J3": "youth rehabilitation order with residence requirement",
}
LS_SHORT_BREAKS = frozenset({"V3", "V4"})  # left out of DfE's national statistics

# --------------------------------------------------------------------------- CIN
CIN: dict[str, str] = {
    "N1": "abuse or neglect",
    "N2": "child's disability",
    "N3": "parental illness or disability",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
}

# --------------------------------------------------------------------------- PLACE
# code -> (meaning, analyst group). Groups follow ssda903.md table 3.4.
PLACE: dict[str, tuple[str, str]] = {
    "A3": ("placed for adoption with consent, with current foster carer", "Adoption"),
    "A4": ("placed for adoption with consent, not with current foster carer", "Adoption"),
    "A5": ("placed for adoption under placement order, with current foster carer", "Adoption"),
    "A6": ("placed for adoption under placement order, not with current foster carer", "Adoption"),
    "H5": ("semi-independent living, not regulated (until 2024/25)", "Supported / 16+"),
    "K1": ("secure children's home", "Secure"),
    "K2": ("children's home", "Residential (children's home)"),
    "K3": ("Ofsted-registered supported accommodation (from 2024/25)", "Supported / 16+"),
    "P1": ("placed with parents or others with parental responsibility", "Placed with parents"),
    "P2": ("independent living (until 2024/25)", "Supported / independent"),
    "P3": ("residential employment", "Other community"),
    "R1": ("residential care home", "Other residential"),
    "R2": ("NHS or health trust establishment", "Other residential"),
    "R3": ("family centre or mother-and-baby unit", "Other residential"),
    "R5": ("young offender institution or prison", "Other residential (custody)"),
    "S1": ("residential school", "Residential school"),
    "T0": ("temporary move of any type", "Temporary"),
    "T1": ("temporary stay in hospital", "Temporary"),
    "T2": ("temporary: away on holiday", "Temporary"),
    "T3": ("temporary: usual foster carer on holiday", "Temporary"),
    "T4": ("other temporary stay of 7 days or less", "Temporary"),
    "U1": ("foster care with relative or friend, long-term", "Foster - kinship"),
    "U2": ("foster care with relative or friend, fostering for adoption", "Foster - kinship"),
    "U3": ("foster care with relative or friend, other", "Foster - kinship"),
    "U4": ("foster care with other carer, long-term", "Foster - mainstream"),
    "U5": ("foster care with other carer, fostering for adoption", "Foster - mainstream"),
    "U6": ("foster care with other carer, other", "Foster - mainstream"),
    "Z1": ("other placement (until 2024/25)", "Other"),
    "Z11": ("other placement (from 2025/26; meaning not published here)", "Other"),
    "Z12": ("other placement (from 2025/26; meaning not published here)", "Other"),
    "Z13": ("other placement (from 2025/26; meaning not published here)", "Other"),
    "Z14": ("other placement (from 2025/26; meaning not published here)", "Other"),
    # retired, kept so old data still reads (see RETIRED)
    "Q1": ("foster care with relative or friend (retired; now U1-U3)", "Foster - kinship"),
    "Q2": ("foster care with other carer (retired; now U4-U6)", "Foster - mainstream"),
}
PLACE_TEMPORARY = frozenset({"T0", "T1", "T2", "T3", "T4"})
PLACE_GROUP: dict[str, str] = {code: group for code, (_, group) in PLACE.items()}

# --------------------------------------------------------------------------- PLACE_PROVIDER
PLACE_PROVIDER: dict[str, str] = {
    "PR0": "parent(s) or others with parental responsibility",
    "PR1": "own LA provision",
    "PR2": "other LA provision",
    "PR3": "other public provision",
    "PR4": "private provision",
    "PR5": "voluntary / third sector provision",
}

# --------------------------------------------------------------------------- REC
# code -> (meaning, exit group). X1 is not an exit: the child is still looked after.
REC: dict[str, tuple[str, str]] = {
    "X1": ("episode ended, child still looked after", "Not an exit"),
    "E11": ("adopted, application unopposed", "Adoption"),
    "E12": ("adopted, consent dispensed with", "Adoption"),
    "E2": ("died", "Other"),
    "E3": ("care taken over by another LA", "Other (transfer)"),
    "E4A": ("returned home as part of the care plan", "Return home"),
    "E4B": ("returned home, not part of the care plan", "Return home"),
    "E13": ("left to live with family without parental responsibility", "Return home"),
    "E41": ("residence / child arrangements order", "CAO"),
    "E45": ("SGO to former foster carers who are relatives or friends", "SGO"),
    "E46": ("SGO to former foster carers, not relatives or friends", "SGO"),
    "E47": ("SGO to other relatives or friends", "SGO"),
    "E48": ("SGO to other carers", "SGO"),
    "E5": ("independent living with formal support", "Independence"),
    "E6": ("independent living without formal support", "Independence"),
    "E7": ("residential care funded by adult social care", "Adult services"),
    "E8": ("care ended for any other reason (mostly 18th birthdays)", "Other / age 18"),
    "E9": ("sentenced to custody", "Custody"),
    "E14": ("remand accommodation ended", "Youth justice"),
    "E15": ("age assessment found 18 or over", "Other (UASC)"),
    "E16": ("moved abroad", "Other"),
    "E17": ("aged 18+ and stayed with current carers (Staying Put)", "Staying Put"),
    # retired or marker codes, kept (see RETIRED)
    "E43": ("SGO to former foster carers (retired; now E45/E46)", "SGO"),
    "E44": ("SGO to other carers (retired; now E47/E48)", "SGO"),
    "E99": ("care ended, reason not recorded (set when cleaning the data)", "Unknown"),
}
REC_CONTINUES = "X1"
REC_UNKNOWN_EXIT = "E99"  # what the reader writes when an end of care is inferred
REC_GROUP: dict[str, str] = {code: group for code, (_, group) in REC.items()}

# --------------------------------------------------------------------------- REASON_PLACE_CHANGE
REASON_PLACE_CHANGE: dict[str, str] = {
    "CARPL": "care plan changed or carried out (planned move)",
    "CLOSE": "carer resigned or provision closed",
    "ALLEG": "allegation leading to a s47 enquiry",
    "STAND": "concern about the standard of care",
    "APPRR": "carer's approval or registration withdrawn",
    "CREQB": "carer asked to end it: child's behaviour",
    "CREQO": "carer asked to end it: other reason",
    "CHILD": "child asked to end it",
    "LAREQ": "responsible or area authority asked to end it",
    "PLACE": "status of the placement changed only, same carer",
    "CUSTOD": "custody arrangement",
    "OTHER": "any other reason",
}
REASON_BREAKDOWN = frozenset({"CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "CLOSE", "APPRR"})
REASON_RELABEL = "PLACE"  # same carer, same bed: not a move

# --------------------------------------------------------------------------- SEX
SEX: dict[str, str] = {
    "1": "male",
    "2": "female",
    "M": "male",
    "F": "female",
    "U": "unknown (2024/25 onwards)",
}

# --------------------------------------------------------------------------- retired codes
# (column, code) -> how the reader reads it. Reported once per file, never skipped.
RETIRED: dict[tuple[str, str], str] = {
    ("PLACE", "Q1"): "retired code for foster care with a relative or friend, "
    "grouped with U1-U3 (Foster - kinship)",
    ("PLACE", "Q2"): "retired code for foster care with another carer, "
    "grouped with U4-U6 (Foster - mainstream)",
    ("REC", "E43"): "retired SGO code, grouped with E45/E46 (SGO)",
    ("REC", "E44"): "retired SGO code, grouped with E47/E48 (SGO)",
    ("REC", "E99"): "not a DfE code: a cleaning tool's marker for 'care ended, reason not "
    "recorded', kept as an exit with unknown reason",
}

# Short "expected ..." texts for problem messages.
EXPECTED: dict[str, str] = {
    "RNE": "one of S, L, P, T, B, U",
    "LS": "one of C1, C2, D1, E1, V2, V3, V4, L1-L3, J1-J3",
    "CIN": "one of N1-N8",
    "PLACE": "a placement code: A3-A6, H5, K1-K3, P1-P3, R1-R3, R5, S1, T0-T4, U1-U6, Z1, Z11-Z14",
    "PLACE_PROVIDER": "one of PR0-PR5",
    "REC": "X1 or an exit code: E11, E12, E13, E14, E15, E16, E17, E2, E3, E4A, E4B, "
    "E41, E45-E48, E5-E9",
    "REASON_PLACE_CHANGE": "one of CARPL, CLOSE, ALLEG, STAND, APPRR, CREQB, CREQO, CHILD, "
    "LAREQ, PLACE, CUSTOD, OTHER",
    "SEX": "1 or 2 (M, F or U from 2024/25)",
}

LISTS: dict[str, frozenset[str]] = {
    "RNE": frozenset(RNE),
    "LS": frozenset(LS),
    "CIN": frozenset(CIN),
    "PLACE": frozenset(PLACE),
    "PLACE_PROVIDER": frozenset(PLACE_PROVIDER),
    "REC": frozenset(REC),
    "REASON_PLACE_CHANGE": frozenset(REASON_PLACE_CHANGE),
    "SEX": frozenset(SEX),
}
