"""Known vulnerabilities in the locked dependencies (`make lint`).

The lock is exported to a requirements list and given to pip-audit, first with the OSV service,
then with PyPI's. A service counts only when it audited every package: pip-audit itself reports
"could not be audited" as a skip and passes. When no service can answer (a build machine whose
registry mirror serves packages but not PyPI's per-release JSON, and no route to api.osv.dev),
the lock is checked against the copy of the PyPA advisory database in deploy/audit/advisories/
instead, and the output says so with the copy's date. `python deploy/lint/audit.py --refresh
<checkout of github.com/pypa/advisory-database>` renews that copy for the packages in the lock.

Exit status: 0 no known vulnerability, 1 some, 2 nothing could be checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"
SNAPSHOT = ROOT / "deploy" / "audit" / "advisories"
SNAPSHOT_INFO = ROOT / "deploy" / "audit" / "SNAPSHOT"


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_requirements() -> dict[str, str]:
    """Every third-party package of the lock (all members, dev groups included) -> version."""
    out = subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--all-packages",
            "--no-hashes",
            "--no-emit-workspace",
            "--quiet",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = {}
    for line in out.splitlines():
        line = line.split(";")[0].strip()
        if line and not line.startswith(("#", "-")) and "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name.split("[")[0])] = version.strip()
    return pins


def pip_audit(pins: dict[str, str], service: str) -> tuple[bool, list[str]]:
    """(every package audited, findings) from one pip-audit service."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                str(PIP_AUDIT),
                "-r",
                str(requirements),
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "-s",
                service,
                "-f",
                "json",
                "-o",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if not report.exists():
            return False, []
        dependencies = json.loads(report.read_text()).get("dependencies", [])
    complete = bool(dependencies) and not any("skip_reason" in d for d in dependencies)
    findings = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['no release'])})"
        for d in dependencies
        for v in d.get("vulns", [])
    ]
    return complete, findings


def _affected(entry: dict, version: Version, raw: str) -> bool:
    if raw in {str(v) for v in entry.get("versions") or ()}:
        return True
    for span in entry.get("ranges") or ():
        if span.get("type") != "ECOSYSTEM":
            continue
        inside = False
        for event in span.get("events") or ():
            try:
                if "introduced" in event:
                    inside = event["introduced"] == "0" or version >= Version(str(event["introduced"]))
                elif "fixed" in event and inside and version >= Version(str(event["fixed"])):
                    inside = False
                elif "last_affected" in event and inside and version > Version(str(event["last_affected"])):
                    inside = False
            except InvalidVersion:
                continue
        if inside:
            return True
    return False


def snapshot_findings(pins: dict[str, str]) -> list[str]:
    findings = []
    for name, raw in sorted(pins.items()):
        folder = SNAPSHOT / name
        if not folder.is_dir():
            continue
        version = Version(raw)
        for advisory in sorted(folder.glob("*.yaml")):
            record = yaml.safe_load(advisory.read_text())
            if record.get("withdrawn"):
                continue
            for entry in record.get("affected") or ():
                if normalise(entry.get("package", {}).get("name", "")) == name and _affected(entry, version, raw):
                    findings.append(f"{name} {raw}: {record['id']} ({advisory.relative_to(ROOT)})")
                    break
    return findings


def refresh(checkout: Path) -> int:
    """Copy the advisories of the locked packages from a checkout of pypa/advisory-database."""
    pins = locked_requirements()
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    copied = 0
    for folder in sorted((checkout / "vulns").iterdir()):
        if normalise(folder.name) in pins:
            shutil.copytree(folder, SNAPSHOT / normalise(folder.name))
            copied += len(list(folder.glob("*.yaml")))
    commit = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%H %cs"], capture_output=True, text=True, check=False
    ).stdout.strip()
    SNAPSHOT_INFO.write_text(f"github.com/pypa/advisory-database {commit}\n")
    print(f"{copied} advisories for {len(pins)} locked packages copied into {SNAPSHOT.relative_to(ROOT)}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--refresh"] and len(argv) == 2:
        return refresh(Path(argv[1]))
    pins = locked_requirements()
    for service in ("osv", "pypi"):
        complete, findings = pip_audit(pins, service)
        if complete:
            for finding in findings:
                print(f"vulnerable: {finding}", file=sys.stderr)
            print(
                f"audit: {len(pins)} locked packages checked with pip-audit ({service}): "
                f"{len(findings)} known vulnerabilities"
            )
            return 1 if findings else 0
    if not SNAPSHOT_INFO.exists():
        print("audit: no vulnerability service answered and there is no advisory snapshot", file=sys.stderr)
        return 2
    findings = snapshot_findings(pins)
    for finding in findings:
        print(f"vulnerable: {finding}", file=sys.stderr)
    print(
        f"audit: OSV and PyPI's vulnerability service did not answer for every package from here; "
        f"{len(pins)} locked packages checked against the advisory snapshot "
        f"({SNAPSHOT_INFO.read_text().strip()}): {len(findings)} known vulnerabilities"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
