"""Findings and reports: what every check returns, in one shape.

A :class:`Finding` names its check (a stable id such as ``eos-token``), a severity
(``error`` | ``warning`` | ``info``) and a one-line message; a :class:`Report` collects them
for one path and is ``ok`` unless some finding is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "message": self.message}


@dataclass
class Report:
    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def add(self, check: str, severity: str, message: str) -> None:
        self.findings.append(Finding(check, severity, message))

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def to_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "ok": self.ok, "findings": [f.to_dict() for f in self.findings]}

    def format(self) -> str:
        """One line for the verdict, one per finding: ``  ✗ error   eos-token   EOS is [EOS], …``."""
        marks = {"error": "✗", "warning": "!", "info": "✓"}
        return "\n".join([f"{self.path} ({self.kind}): {'ok' if self.ok else 'ERRORS'}",
                          *(f"  {marks[f.severity]} {f.severity:<7} {f.check:<24} {f.message}" for f in self.findings)])

    def frame(self):
        """The findings as a pandas DataFrame (check, severity, message)."""
        import pandas as pd

        return pd.DataFrame([f.to_dict() for f in self.findings], columns=["check", "severity", "message"])


def side_by_side(reports: dict[str, Report]):
    """A DataFrame with one row per check and one column per report: the worst severity and its first message.

    ``"error: emits <|media_start|>, …"``; an empty cell means the check did not run there.
    """
    import pandas as pd

    rank = {s: i for i, s in enumerate(SEVERITIES)}
    rows: dict[str, dict[str, str]] = {}
    for name, report in reports.items():
        worst: dict[str, Finding] = {}
        for f in report.findings:
            if f.check not in worst or rank[f.severity] < rank[worst[f.check].severity]:
                worst[f.check] = f
        for check, f in worst.items():
            rows.setdefault(check, {})[name] = f"{f.severity}: {f.message}"
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(reports)).fillna("")
