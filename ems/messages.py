"""One-line error messages from pydantic validation errors (request records and config records alike)."""

from __future__ import annotations

_TEXT = {
    "missing": "required field is missing",
    "float_type": "expected a finite number", "float_parsing": "expected a finite number",
    "finite_number": "expected a finite number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number", "bool_type": "expected true or false",
    "string_type": "expected a non-empty string", "string_too_short": "expected a non-empty string",
    "list_type": "expected a list", "model_type": "expected a JSON object", "dict_type": "expected a JSON object",
    "model_attributes_type": "expected a JSON object",
}


#: Longest shown value in a message (a 400-digit number is cut, not printed whole).
MAX_SHOWN = 40


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN - 3]}..."


def _where(loc: tuple, skip: int, tags: tuple[str, ...]) -> str:
    where = ""
    for part in loc[skip:]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part in tags or str(part).startswith("function-"):
            continue
        else:
            where += f".{part}" if where else str(part)
    return where


def one_line(error: dict, skip: int = 0, tags: tuple[str, ...] = (), choices: tuple[str, ...] = ()) -> str:
    """One pydantic error as ``field=value: what is wrong``, the field path in request notation
    (``devices[0].phases_kw``); ``skip`` leading loc parts (e.g. FastAPI's ``body``) and the union
    ``tags`` are left out of the path; ``choices`` are the tags a discriminator accepts."""
    where = _where(tuple(error["loc"]), skip, tags)
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "json_invalid":
        return f"request: not valid JSON ({ctx.get('error', error['msg'])})"
    if kind == "value_error" and (isinstance(value, dict) or value is None) and not where:
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    where = where or "request"
    if kind == "union_tag_invalid":
        key = f"{where}.{ctx.get('discriminator', '').strip(chr(39))}"
        return f"{key}={ctx.get('tag')!r}: must be one of {', '.join(choices)}"
    if kind == "union_tag_not_found":
        return f"{where}.flex_model: required field is missing (one of {', '.join(choices)})"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        if isinstance(value, dict) or value is None:  # a record-level check: its text names the field
            return f"{where}.{text}" if where else text
        return f"{where}={_show(value)}: {text}"
    if kind == "missing":
        return f"{where}: {_TEXT[kind]}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()))
        text = {"greater_than_equal": "must not be negative" if bound == 0 else f"must be >= {bound}",
                "greater_than": "must be positive" if bound == 0 else f"must be > {bound}",
                "less_than_equal": f"must be <= {bound}", "less_than": f"must be < {bound}"}[kind]
        return f"{where}={_show(value)}: {text}"
    return f"{where}={_show(value)}: {_TEXT.get(kind, error['msg'])}"
