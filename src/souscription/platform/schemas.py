"""Schemas shared by every router: the error model as published in the OpenAPI document."""

from __future__ import annotations

from ninja import Schema


class ProblemOut(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorsOut(Schema):
    errors: list[ProblemOut]
