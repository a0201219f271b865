"""`python -m schemas`: write the contract JSON Schema for editors (schemas/contract.schema.json)."""

from schemas.spec import write_json_schema

if __name__ == "__main__":
    write_json_schema()
