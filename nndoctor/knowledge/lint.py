"""`nndoctor rules lint`: every check a contributor's pull request must pass, as plain messages.

Each problem names the file, the field and what to write. Errors fail the lint; warnings do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nndoctor.engine.compiler import CycleError, stratify
from nndoctor.engine.conditions import fact_tests, facts_in
from nndoctor.engine.durable_matcher import EngineError
from nndoctor.engine.facts import FactError, coerce_value
from nndoctor.engine.inference import Engine
from nndoctor.knowledge.cases import CaseResult, run_cases
from nndoctor.knowledge.kb import Cause, Condition, Fix, Rule
from nndoctor.knowledge.loader import KnowledgeBase, KnowledgeError, load_knowledge_base, read_yaml

MAX_FACT_PROPERTIES = 250  # durable_rules holds at most 254 properties per fact


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" | "warning"
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        return f"{self.severity}: {where}{self.message}"


@dataclass(frozen=True)
class LintReport:
    problems: tuple[Problem, ...]
    seed_items: int
    seed_covered: int
    rules: int
    causes: int
    facts: int
    cases: int

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def lint(root: Path | None = None) -> LintReport:
    try:
        kb = load_knowledge_base(root)
    except KnowledgeError as exc:
        problem = Problem("error", exc.path, exc.field or "", exc.message)
        return LintReport((problem,), 0, 0, 0, 0, 0, 0)
    problems = list(_check(kb))
    seed_ids = _seed_items(kb, problems)
    cited = _cited_seeds(kb)
    for sid in sorted(cited - seed_ids):
        problems.append(Problem("error", _where_cited(kb, sid), "sources",
                                f"seed:{sid} is not an item of seed_items.yaml"))
    for sid in sorted(seed_ids - cited):
        problems.append(Problem("error", str(kb.root / "seed_items.yaml"), sid,
                                f"seed item {sid} is cited by no fact, cause, fix or rule; "
                                f"add 'seed:{sid}' to the sources of the entry that encodes it"))
    engine = _compile(kb, problems)
    results: list[CaseResult] = []
    if engine is not None and not any(p.severity == "error" for p in problems):
        results = run_cases(kb, engine)
        for r in results:
            if not r.passed:
                problems.append(Problem("error", str(kb.files["rule:" + r.rule_id]),
                                        f"tests.{r.case}", r.message))
    return LintReport(tuple(problems), len(seed_ids), len(seed_ids & cited), len(kb.rules),
                      len(kb.causes), len(kb.facts), len(results))


def _compile(kb: KnowledgeBase, problems: list[Problem]) -> Engine | None:
    """The engine the cases run on. A rule durable_rules cannot compile (it hangs: caught by
    the watchdog in durable_matcher.py, or refuses) is an error naming the rule's file."""
    try:
        return Engine(kb)
    except EngineError as exc:
        rule_id = getattr(exc, "rule_id", None)
        path = kb.files.get(f"rule:{rule_id}", kb.root / "rules")
        problems.append(Problem("error", str(path), "when", str(exc)))
    except Exception:
        if not any(p.severity == "error" for p in problems):
            raise  # not explained by a problem already reported
    return None


def _seed_items(kb: KnowledgeBase, problems: list[Problem]) -> set[str]:
    path = kb.root / "seed_items.yaml"
    try:
        data = read_yaml(path)
    except KnowledgeError as exc:
        problems.append(Problem("error", exc.path, "", exc.message))
        return set()
    return set((data or {}).get("items", {}))


def _all_sources(kb: KnowledgeBase) -> Iterator[tuple[str, str]]:
    for name, fact in kb.facts.items():
        for s in fact.sources:
            yield f"fact:{name}", s
    for cid, cause in kb.causes.items():
        for s in [*cause.sources, *(s for fix in cause.fixes for s in fix.sources),
                  *(s for m in cause.expects for s in m.sources)]:
            yield f"cause:{cid}", s
    for rid, rule in kb.rules.items():
        for s in rule.sources:
            yield f"rule:{rid}", s
    for name, det in kb.detectors.detectors.items():
        for s in det.sources:
            yield f"detector:{name}", s
    for s in [*kb.settings.sources, *(s for st in kb.settings.separating_steps
                                      for s in st.sources)]:
        yield "settings", s


def _cited_seeds(kb: KnowledgeBase) -> set[str]:
    return {s[5:] for _, s in _all_sources(kb) if s.startswith("seed:")}


def _where_cited(kb: KnowledgeBase, sid: str) -> str:
    for key, s in _all_sources(kb):
        if s == f"seed:{sid}":
            return str(kb.files.get(key, kb.root / "detectors.yaml"))
    return str(kb.root)


def _check(kb: KnowledgeBase) -> Iterator[Problem]:
    findings = {n for n, f in kb.facts.items() if f.kind == "finding"}
    refs = set(kb.references.references)
    for key, source in _all_sources(kb):
        if source.startswith("ref:") and source[4:] not in refs:
            path = str(kb.files.get(key, kb.root / "settings.yaml"))
            yield Problem("error", path, "sources",
                          f"{source} is not in references.yaml; add it there or cite a URL")
    concluded: dict[str, int] = {}
    for rule in kb.rules.values():
        yield from _check_rule(kb, rule, findings)
        for c in rule.then:
            if c.cf > 0:
                concluded[c.target] = concluded.get(c.target, 0) + 1
    try:
        stratify(kb.rules, findings)
    except CycleError as exc:
        yield Problem("error", str(kb.root / "rules"), "then", str(exc))
    for cause in kb.causes.values():
        yield from _check_expects(kb, cause, findings)
        yield from _check_fixes(kb, cause, findings)
    for name, members in kb.settings.observations.items():
        for fact in members:
            if fact not in kb.facts:
                yield Problem("error", str(kb.root / "settings.yaml"), f"observations.{name}",
                              f"unknown fact {fact!r}")
    for i, step in enumerate(kb.settings.separating_steps):
        for cid in step.causes:
            if cid not in kb.causes:
                yield Problem("error", str(kb.root / "settings.yaml"),
                              f"separating_steps.{i}.causes", f"unknown cause {cid!r}")
    for cid in kb.causes:
        if cid not in concluded:
            yield Problem("error", str(kb.files["cause:" + cid]), "id",
                          f"no rule concludes cause {cid!r} with a positive cf: it is unreachable")
    used = {f for r in kb.rules.values() for f in facts_in(r.when)}
    used |= {f for c in kb.causes.values() for fix in c.fixes for f in fix_facts(fix)}
    for name, fact in kb.facts.items():
        if fact.kind == "finding" and name not in concluded:
            yield Problem("warning", str(kb.files["fact:" + name]), f"facts.{name}",
                          "no rule concludes this finding")
        elif name not in used and fact.kind == "observation":
            yield Problem("warning", str(kb.files["fact:" + name]), f"facts.{name}",
                          "no rule or fix uses this fact")
        for other in fact.known_from:
            if other not in kb.facts:
                yield Problem("error", str(kb.files["fact:" + name]), f"facts.{name}.known_from",
                              f"unknown fact {other!r}")
    yield from _check_producers(kb)
    if len(kb.facts) > MAX_FACT_PROPERTIES:
        yield Problem("error", str(kb.root / "facts"), "facts",
                      f"{len(kb.facts)} facts exceed the engine's limit of {MAX_FACT_PROPERTIES}")


def _check_expects(kb: KnowledgeBase, cause: Cause, findings: set[str]) -> Iterator[Problem]:
    here = str(kb.files["cause:" + cause.id])
    names = [m.name for m in cause.expects]
    if len(names) != len(set(names)):
        yield Problem("error", here, "expects", f"manifestation names must be unique: {names}")
    for i, m in enumerate(cause.expects):
        where = f"expects.{i}.when"
        yield from _check_condition(kb, m.when, here, where, findings)
        for name in set(m.decided_by) - set(facts_in(m.when)):
            yield Problem("error", here, f"expects.{i}.decided_by",
                          f"{name!r} is not tested in this manifestation's 'when'")
        for test, _ in fact_tests(m.when):
            if test.operator()[0] in {"present", "absent"}:
                yield Problem("error", here, where, f"{test.fact!r}: a manifestation tests a "
                              "value; 'present'/'absent' cannot be observed absent")


def fix_conditions(fix: Fix) -> list[tuple[str, Condition]]:
    """The conditions of a fix, by field name."""
    return [(name, cond) for name in ("applies_when", "not_when", "first_when")
            if (cond := getattr(fix, name)) is not None]


def fix_facts(fix: Fix) -> set[str]:
    """Every fact a fix reads: the values its texts show and the facts its conditions test."""
    return set(fix.needs) | {f for _, cond in fix_conditions(fix) for f in facts_in(cond)}


def _check_fixes(kb: KnowledgeBase, cause: Cause, findings: set[str]) -> Iterator[Problem]:
    """Fix texts use declared number facts; conditions test declared facts; every cause keeps
    at least one fix whatever the run (one without 'applies_when' or 'not_when')."""
    here = str(kb.files["cause:" + cause.id])
    for i, fix in enumerate(cause.fixes):
        for name in fix.needs:
            spec = kb.facts.get(name)
            if spec is None:
                yield Problem("error", here, f"fixes.{i}.needs", f"unknown fact {name!r}; "
                              "declare it in knowledge/facts/*.yaml or use a declared one")
            elif spec.type != "number":
                yield Problem("error", here, f"fixes.{i}.needs", f"{name!r} is {spec.type}; a "
                              "fix text can only show the value of a number fact")
        for field, cond in fix_conditions(fix):
            yield from _check_condition(kb, cond, here, f"fixes.{i}.{field}", findings)
    if all(fix.applies_when is not None or fix.not_when is not None for fix in cause.fixes):
        yield Problem("error", here, "fixes", "every fix has 'applies_when' or 'not_when', so a "
                      "run can be left with none; keep at least one fix without them")


def _check_producers(kb: KnowledgeBase) -> Iterator[Problem]:
    """Every fact declared ``derived_from_logs`` must be one a log detector can emit (each
    detector declares ``produces=(...)`` when it registers), and a detector may only declare
    facts of the vocabulary."""
    import nndoctor.adapters.symptoms  # noqa: F401  (importing the detectors registers them)
    from nndoctor.adapters.symptoms.base import PRODUCES, producers

    made = producers()
    for name, fact in kb.facts.items():
        if fact.derived_from_logs and name not in made:
            yield Problem("error", str(kb.files["fact:" + name]), f"facts.{name}",
                          "declared 'derived_from_logs: true' but no detector produces it; add it "
                          "to the produces=(...) of the @detector that emits it (nndoctor/adapters/"
                          "symptoms) or remove 'derived_from_logs'")
    for detector_name, names in sorted(PRODUCES.items()):
        for name in names:
            if name not in kb.facts:
                yield Problem("error", str(kb.root / "detectors.yaml"), detector_name,
                              f"detector {detector_name!r} produces {name!r}, which no facts file "
                              "declares")


def _check_rule(kb: KnowledgeBase, rule: Rule, findings: set[str]) -> Iterator[Problem]:
    path = kb.files["rule:" + rule.id]
    here = str(path)
    expected = f"{rule.id}-{rule.name}.yaml"
    if path.name != expected:
        yield Problem("error", here, "id", f"file name must be {expected!r}")
    if path.parent.name != rule.category:
        yield Problem("error", here, "category",
                      f"category {rule.category!r} must match its folder {path.parent.name!r}")
    prefix = rule.id[:-3]
    for other in kb.rules.values():
        if other.category == rule.category and other.id[:-3] != prefix:
            yield Problem("error", here, "id", f"rules of category {rule.category!r} use one "
                          f"prefix; {other.id} uses {other.id[:-3]!r}, this uses {prefix!r}")
            break
    yield from _check_condition(kb, rule.when, here, "when", findings)
    for i, c in enumerate(rule.then):
        if c.cause and c.cause not in kb.causes:
            yield Problem("error", here, f"then.{i}.cause", f"unknown cause {c.cause!r}; "
                          "add knowledge/causes/<id>.yaml or use an existing id")
        if c.finding and c.finding not in findings:
            yield Problem("error", here, f"then.{i}.finding", f"unknown finding {c.finding!r}; "
                          "declare it with 'kind: finding' in knowledge/facts/*.yaml")
    for case in rule.tests:
        for name, value in case.facts.items():
            spec = kb.facts.get(name)
            if spec is None:
                yield Problem("error", here, f"tests.{case.name}.facts",
                              f"unknown fact {name!r}")
                continue
            try:
                coerce_value(name, value, spec)
            except FactError as exc:
                yield Problem("error", here, f"tests.{case.name}.facts", str(exc))
        targets = {c.target for c in rule.then}
        for target in case.certainty or {}:
            if target not in targets:
                yield Problem("error", here, f"tests.{case.name}.certainty",
                              f"{target!r} is not a conclusion of this rule")


def _check_condition(kb: KnowledgeBase, cond: Condition, here: str, where: str,
                     findings: set[str]) -> Iterator[Problem]:
    """Every fact test of ``cond`` names a declared fact with a value of its type."""
    for test, negated in fact_tests(cond):
        spec = kb.facts.get(test.fact)
        if spec is None:
            yield Problem("error", here, where, f"unknown fact {test.fact!r}; declare it in "
                          "knowledge/facts/*.yaml or use a declared one")
            continue
        op, ref = test.operator()
        if spec.kind == "finding" and (negated or op not in {"eq", "present"} or ref is False):
            yield Problem("error", here, where, f"finding {test.fact!r} may only be tested "
                          "with 'eq: true' or 'present: true', never negated")
            continue
        values = ref if op == "in" else [ref] if op not in {"present", "absent"} else []
        if op in {"lt", "le", "gt", "ge"} and spec.type != "number":
            yield Problem("error", here, where, f"{op} needs a number fact; {test.fact!r} "
                          f"is {spec.type}")
            continue
        for v in values:
            try:
                coerce_value(test.fact, v, spec)
            except FactError as exc:
                yield Problem("error", here, where, str(exc))
                continue
            if spec.type == "bool" and not isinstance(v, bool):
                yield Problem("error", here, where, f"write true/false for {test.fact!r}, "
                              f"not {v!r}")
