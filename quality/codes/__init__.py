"""National code validators: citizen ID (GB 11643), USCC (GB 32100), org code (GB 11714), GB/T 2260.

Scalar helpers build and check one code (simulators, reference); the vectorised validators take
Arrow arrays and return one reason per row (null = valid) without a Python loop per row.
"""

from quality.codes._arrow import normalize_codes
from quality.codes._scalar import (
    id_check_char,
    make_id_number,
    make_uscc,
    org_code_check_char,
    uscc_check_char,
)
from quality.codes.id_numbers import (
    ID_REASONS,
    MIN_BIRTH_YEAR,
    check_id_numbers,
    id_birth_dates,
    id_genders,
    valid_id_numbers,
)
from quality.codes.regions import (
    REGIONS,
    RegionInfo,
    RegionLevel,
    RegionStatus,
    Unverified,
    check_region_codes,
    region_name,
    region_statuses,
)
from quality.codes.single import check_id_number, check_region_code, check_uscc, region_status
from quality.codes.uscc import AUTHORITY_TYPES, RELAXABLE_USCC_REASONS, USCC_REASONS, check_usccs, valid_usccs

__all__ = [
    "AUTHORITY_TYPES",
    "ID_REASONS",
    "MIN_BIRTH_YEAR",
    "REGIONS",
    "RELAXABLE_USCC_REASONS",
    "USCC_REASONS",
    "RegionInfo",
    "RegionLevel",
    "RegionStatus",
    "Unverified",
    "check_id_number",
    "check_id_numbers",
    "check_region_code",
    "check_region_codes",
    "check_uscc",
    "check_usccs",
    "id_birth_dates",
    "id_check_char",
    "id_genders",
    "make_id_number",
    "make_uscc",
    "normalize_codes",
    "org_code_check_char",
    "region_name",
    "region_status",
    "region_statuses",
    "uscc_check_char",
    "valid_id_numbers",
    "valid_usccs",
]
