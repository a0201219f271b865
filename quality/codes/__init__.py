"""National code validators: citizen ID (GB 11643), USCC (GB 32100), org code (GB 11714), GB/T 2260."""

from quality.codes._scalar import (
    id_check_char,
    make_id_number,
    make_uscc,
    org_code_check_char,
    uscc_check_char,
)

__all__ = [
    "id_check_char",
    "make_id_number",
    "make_uscc",
    "org_code_check_char",
    "uscc_check_char",
]
