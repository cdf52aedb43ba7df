"""Business decisions through zen-engine, with the trace every decision keeps.

A decision keeps the rule set's key (product/version/decision), every decision-table row that fired (node name,
rule id, description; in graph order) and the inputs it saw. Graphs are handed to zen once, through its static
loader, and evaluated by key (measured: the static loader ~119k evaluations/s, a loader callback called on every
evaluation ~28k/s, `create_decision().evaluate()` ~3.9k/s).

The rows that fired are read from the result, not from zen's trace: the trace copies every node's input and output
and costs 2.9 times a plain evaluation (instructions counted on the car pricing graph, zen-engine 2.1.3). When the
engine is built, every decision table gets one more output column, `_fired_t<n>`, whose cell in each row is that
row's number in the graph; `decide` evaluates without trace, takes the cells out of the result (one per row a
"collect" table collected) and maps them back to the rows: ~18 % of an evaluation in all, where the trace adds
~190 %. The files stay as written: the column exists only in what zen is given. A graph whose cells might not all
reach the result (a node other than input, output and decision table; a table whose output a later table drops; a
table looping over a list; a column already named `_fired…`) is evaluated with zen's trace instead, so every
decision is traced either way.

Measured by `benchmarks/pricing.py` (2 cores shared with other work, medians of interleaved rounds): the pricing
call (context, evaluation, fired rows, breakdown) runs ~27-32k/s against ~48-56k/s for raw zen on the same graph and
context without trace: a ratio of ~0.56-0.58 (target: 0.5), from ~0.21-0.27 with zen's trace. Per call, best of
repeated timings: zen 17 µs, the `_fired` column 1.5 µs, the context 3.6 µs, taking the fired rows 1.7 µs,
`price_breakdown` 2.8 µs (integer arithmetic on exact ratios, named tuples: it was 8.4 µs with Decimal and frozen
dataclasses). The context is built from a shape worked out once per definition (`group.name` fields, date fields).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import zen

from souscription.products.catalog import Catalog, ProductVersion
from souscription.products.domain import FieldType, ProductDefinition

FIRED = "_fired"
"""The id of the column added to every decision table (its cells: `_fired_t<n>`). Graphs using the name are traced
by zen."""

_TABLE, _FOLLOWABLE = "decisionTableNode", frozenset({"inputNode", "outputNode", "decisionTableNode"})


@dataclass(frozen=True)
class FiredRule:
    node: str
    rule_id: str
    description: str


class Decision(NamedTuple):
    """One per evaluation: a named tuple, since a frozen dataclass's constructor costs ~4 % of a pricing call."""

    rule_set: str
    result: Any
    fired: tuple[FiredRule, ...]
    inputs: Mapping[str, Any]

    def as_trace(self) -> dict[str, Any]:
        return {
            "rule_set": self.rule_set,
            "fired": [{"node": f.node, "rule": f.rule_id, "description": f.description} for f in self.fired],
            "inputs": dict(self.inputs),
        }


class RuleEngine:
    def __init__(self, catalog: Catalog) -> None:
        self._graphs = {key: _TracedGraph.of(content) for key, content in catalog.decision_contents().items()}
        contents = {key: graph.content for key, graph in self._graphs.items()}
        self._engine = zen.ZenEngine({"loader": {"type": "static", "content": contents}})

    def decide(self, version: ProductVersion, name: str, answers: Mapping[str, Any], *, today: date) -> Decision:
        key = version.decision_key(name)
        context = decision_context(version.definition, answers, today=today)
        graph = self._graphs.get(key)
        if graph is None or graph.rows is None:  # an unknown key fails in zen, with zen's message
            response = self._engine.evaluate(key, context, {"trace": True})
            return Decision(key, response["result"], _fired(response["trace"]), context)
        result = self._engine.evaluate(key, context)["result"]
        return Decision(key, result, graph.take_fired(result), context)


@dataclass(frozen=True)
class _TracedGraph:
    """A graph as zen evaluates it: with a `_fired_t<n>` column in every table, or as written if it cannot be followed.

    `rows[k]` is the row whose cell says `k`; `places` says where the cells land in the result: the key path (a
    table's `outputPath`), whether that place is the list of rows a "collect" table makes, and the cells found there.
    `rows` is None when the graph needs zen's trace."""

    content: dict[str, Any]
    rows: tuple[FiredRule, ...] | None = None
    places: tuple[tuple[tuple[str, ...], bool, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, written: Mapping[str, Any]) -> _TracedGraph:
        if not _followable(written):
            return cls(content=dict(written))
        content = copy.deepcopy(dict(written))
        rows: list[FiredRule] = []
        places: dict[tuple[tuple[str, ...], bool], list[str]] = {}
        tables = [node for node in content["nodes"] if node["type"] == _TABLE]
        for number, table in enumerate(tables):
            columns, cell = table["content"], f"{FIRED}_t{number}"
            columns["outputs"].append({"id": FIRED, "name": "Règle appliquée (trace)", "field": cell})
            for index, rule in enumerate(columns["rules"]):
                rule[FIRED] = str(len(rows))
                rows.append(
                    FiredRule(
                        node=str(table.get("name")),
                        rule_id=str(rule.get("_id", index)),
                        description=str(rule.get("_description", "")),
                    )
                )
            output_path = str(columns.get("outputPath") or "")
            path = tuple(output_path.split(".")) if output_path else ()
            places.setdefault((path, columns.get("hitPolicy") == "collect"), []).append(cell)
        return cls(
            content=content,
            rows=tuple(rows),
            places=tuple((path, collected, tuple(cells)) for (path, collected), cells in places.items()),
        )

    def take_fired(self, result: Any) -> tuple[FiredRule, ...]:
        """The rows that fired, in graph order, taking their `_fired_t<n>` cells out of `result`."""
        rows = self.rows
        if rows is None:  # `_fired` answers from zen's trace for such a graph and never calls this
            raise RuntimeError("a graph without `_fired` cells: its fired rows come from zen's trace")
        numbers: list[int] = []
        for path, collected, cells in self.places:
            place = result
            for key in path:
                place = place.get(key) if isinstance(place, dict) else None
            if collected:
                if isinstance(place, list):
                    for output in place:
                        for cell in cells:
                            number = output.pop(cell, None)
                            if number is not None:
                                numbers.append(number)
            elif isinstance(place, dict):
                for cell in cells:
                    number = place.pop(cell, None)
                    if number is not None:
                        numbers.append(number)
        numbers.sort()
        return tuple(map(rows.__getitem__, numbers))


def _followable(graph: Mapping[str, Any]) -> bool:
    """Whether every table's `_fired` cells reach the result: only tables, each feeding the output or tables that
    pass their input through, none looping over a list, none already using the reserved `_fired` name."""
    nodes = graph.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and n.get("type") in _FOLLOWABLE for n in nodes):
        return False
    by_id = {node.get("id"): node for node in nodes}
    targets: dict[Any, list[Any]] = {}
    for edge in graph.get("edges") or []:
        targets.setdefault(edge.get("sourceId"), []).append(by_id.get(edge.get("targetId")))
    for node in nodes:
        if node["type"] != _TABLE:
            continue
        content = node.get("content")
        if not isinstance(content, dict) or not isinstance(content.get("rules"), list):
            return False
        if content.get("executionMode", "single") != "single" or content.get("inputField"):
            return False
        columns = [*(content.get("inputs") or []), *(content.get("outputs") or [])]
        if any(c.get("id") == FIRED or str(c.get("field", "")).startswith(FIRED) for c in columns):
            return False
        if not _reaches_output(node, targets, frozenset()):
            return False
    return True


def _reaches_output(node: dict[str, Any], targets: Mapping[Any, list[Any]], before: frozenset[Any]) -> bool:
    """Whether all of `node`'s output reaches the output node, through tables that pass their input through."""
    if node.get("id") in before:  # a cycle: zen refuses the graph anyway
        return False
    following, before = targets.get(node.get("id")) or [], before | {node.get("id")}
    return bool(following) and all(
        isinstance(after, dict)
        and (
            after.get("type") == "outputNode"
            or (
                after.get("type") == _TABLE
                and (after.get("content") or {}).get("passThrough") is True
                and _reaches_output(after, targets, before)
            )
        )
        for after in following
    )


def decision_context(definition: ProductDefinition, answers: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Dotted answers (`vehicle.power_hp`) as the nested object JDM fields address, plus today's date.

    Every date field `x.y` also gets `x.y_years`, the whole years elapsed by today (an age, a vehicle's age):
    computed here exactly, because JDM's date arithmetic counts 365.25-day years and errs on birthdays."""
    shape = _SHAPES.get(id(definition))
    if shape is None or shape.definition is not definition:
        shape = _shape(definition)
    pairs = shape.pairs
    context: dict[str, Any] = {"today": {"iso": today.isoformat(), "year": today.year}}
    for dotted, value in answers.items():
        pair = pairs.get(dotted)
        if pair is None:  # not a `group.name` field of the definition
            _put(context, dotted.split("."), value)
            continue
        group, name = pair
        values = context.get(group)
        if values is None:
            context[group] = {name: value}
        else:
            values[name] = value
    day = (today.month, today.day)
    for name, years in shape.dates:
        answer = answers.get(name)
        if isinstance(answer, str):
            try:
                since = date.fromisoformat(answer)
            except ValueError:
                continue
            elapsed = today.year - since.year - (day < (since.month, since.day))  # whole_years(since, today)
            if len(years) == 2:  # `group.name`: the group holds the date itself
                context[years[0]][years[1]] = elapsed
            else:
                _put(context, years, elapsed)
    return context


def whole_years(since: date, today: date) -> int:
    """Completed years from `since` to `today` (a person born 2000-11-21 is 26 on 2026-11-21, 25 the day before)."""
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


@dataclass(frozen=True)
class _Shape:
    """A definition's fields as the context needs them, worked out once: `group.name` fields as (group, name) pairs,
    and each date field with the key path of its `_years`."""

    definition: ProductDefinition
    pairs: Mapping[str, tuple[str, str]]
    dates: tuple[tuple[str, list[str]], ...]


_SHAPES: dict[int, _Shape] = {}


def _shape(definition: ProductDefinition) -> _Shape:
    fields = definition.fields()
    shape = _Shape(
        definition=definition,
        pairs={
            spec.name: (group, name)
            for spec in fields
            for group, _, name in [spec.name.partition(".")]
            if name and "." not in name
        },
        dates=tuple((spec.name, f"{spec.name}_years".split(".")) for spec in fields if spec.type is FieldType.DATE),
    )
    if len(_SHAPES) >= 256:  # definitions are few and long-lived: this only bounds a misuse
        _SHAPES.clear()
    _SHAPES[id(definition)] = shape  # holds `definition`, so that its id is not reused while cached
    return shape


def _put(context: dict[str, Any], path: list[str], value: Any) -> None:
    node = context
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _fired(trace: Mapping[str, Any]) -> tuple[FiredRule, ...]:
    """The rows that fired, from zen's trace (for graphs whose `_fired` cells could not reach the result)."""
    fired: list[FiredRule] = []
    for node in sorted(trace.values(), key=lambda n: n.get("order", 0)):
        data = node.get("traceData")
        rows = data if isinstance(data, list) else [data] if isinstance(data, dict) and "rule" in data else []
        for row in rows:
            rule = row.get("rule") or {}
            fired.append(
                FiredRule(
                    node=str(node.get("name")),
                    rule_id=str(rule.get("_id", row.get("index"))),
                    description=str(rule.get("_description", "")),
                )
            )
    return tuple(fired)
