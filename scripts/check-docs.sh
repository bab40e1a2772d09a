#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Checks Documentation/ as a KTAP document, one result per file:
#
# - every .rst starts with the kernel's SPDX line and parses with docutils in
#   strict mode: any warning or error fails it. Sphinx directives and roles
#   (toctree, kernel-doc, c:function, :ref:, ...) are registered as no-ops;
#   toctree entries must name existing documents, and every document but
#   Documentation/kt298/index.rst (the root) must be in some toctree;
# - every device-tree binding (Documentation/devicetree/bindings/**/*.yaml)
#   starts with the bindings' SPDX line, parses as YAML with the keys and $id a
#   binding needs, and passes dt-doc-validate (dtschema, from PyPI, in a venv
#   under the cache, made on first use) with $refs resolved against the kernel
#   source's bindings. Without the venv (no network) or the kernel source, that
#   part is skipped.
#
# Needs python3 with docutils and yaml (Debian: python3-docutils, python3-yaml)
# and, for dtschema, python3-venv. Exits non-zero if any file fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
ksrc=${KSRC:-$CACHE/src/linux}
python=${KT_PYTHON:-python3}

# dtschema, pinned: a new release may add rules. The stamp names the version, so
# changing it here rebuilds the venv.
DTSCHEMA_VERSION=2026.9
venv=$CACHE/dtschema-venv
stamp=$venv/.kt298-dtschema-$DTSCHEMA_VERSION
dt_doc_validate=
dt_note=
mkdir -p "$CACHE"
kt_lock dtschema-venv
if [ ! -e "$stamp" ]; then
	rm -rf "$venv"
	log "installing dtschema $DTSCHEMA_VERSION into $venv"
	if ! out=$("$python" -m venv "$venv" 2>&1 &&
		"$venv/bin/pip" install --quiet --disable-pip-version-check "dtschema==$DTSCHEMA_VERSION" 2>&1); then
		rm -rf "$venv"
		dt_note="dtschema could not be installed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	else
		touch "$stamp"
	fi
fi
[ -e "$stamp" ] && dt_doc_validate=$venv/bin/dt-doc-validate

cd "$repo" || exit 1
mapfile -t files < <(find Documentation -type f \( -name '*.rst' -o -path 'Documentation/devicetree/bindings/*.yaml' \) | LC_ALL=C sort)

exec "$python" - "$dt_doc_validate" "$dt_note" "$ksrc/Documentation/devicetree/bindings" "${files[@]}" <<'PY'
import glob
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

import docutils.core
import docutils.nodes
import docutils.utils
from docutils.parsers.rst import Directive, directives, roles
import yaml

dt_doc_validate, dt_note, kernel_bindings, *files = sys.argv[1:]

RST_SPDX = ".. SPDX-License-Identifier: GPL-2.0"
YAML_SPDX = "# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)"
BINDINGS = "Documentation/devicetree/bindings/"
# The document the others hang from (in a kernel tree, Documentation/index.rst
# would name it).
ROOTS = {"Documentation/kt298/index.rst"}

# Documents named by toctrees, as paths without ".rst".
in_toctree = set()


class AnyOptions(dict):
    """An option_spec that takes every option, unchecked."""

    def __missing__(self, key):
        return directives.unchanged


class SphinxNoOp(Directive):
    """A Sphinx directive docutils does not know: accepted, and dropped."""

    optional_arguments = 64
    final_argument_whitespace = True
    has_content = True
    option_spec = AnyOptions()

    def run(self):
        return []


class TocTree(SphinxNoOp):
    """toctree: checks that every entry is a document and records it."""

    def run(self):
        here = os.path.dirname(self.state.document.current_source)
        for line in self.content:
            entry = line.strip()
            if not entry or entry == "self" or re.match(r"^[a-z]+://", entry):
                continue
            m = re.match(r"^.*<(.+)>$", entry)
            target = m.group(1).strip() if m else entry
            if target.startswith("/"):
                path = os.path.join("Documentation", target.lstrip("/"))
            else:
                path = os.path.join(here, target)
            path = os.path.normpath(path)
            matches = [path]
            if "glob" in self.options:
                matches = [p[:-4] for p in glob.glob(path + ".rst")]
            found = [p for p in matches if os.path.isfile(p + ".rst")]
            if not found:
                msg = self.state_machine.reporter.error(
                    f'toctree entry "{entry}" names no document ({os.path.relpath(path)}.rst)',
                    line=self.lineno,
                )
                return [msg]
            in_toctree.update(os.path.relpath(p) for p in found)
        return []


# Directives of Sphinx and of the kernel's Sphinx extensions.
for name in [
    "kernel-doc", "kernel-abi", "kernel-feat", "kernel-include", "kernel-figure",
    "kernel-render", "maintainers-include", "only", "tabularcolumns", "highlight",
    "index", "glossary", "sectionauthor", "codeauthor", "seealso", "versionadded",
    "versionchanged", "deprecated", "literalinclude", "hlist", "centered", "rst-class",
    "c:function", "c:macro", "c:type", "c:struct", "c:union", "c:enum", "c:enumerator",
    "c:member", "c:var", "c:namespace", "c:namespace-push", "c:namespace-pop",
]:
    directives.register_directive(name, SphinxNoOp)
directives.register_directive("toctree", TocTree)


def literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [docutils.nodes.literal(rawtext, text)], []


for name in [
    "ref", "doc", "numref", "download", "any", "term", "abbr", "manpage", "file", "kbd",
    "envvar", "option", "program", "samp", "command", "menuselection", "guilabel",
    "c:func", "c:type", "c:macro", "c:struct", "c:union", "c:enum", "c:enumerator",
    "c:member", "c:data", "c:var", "c:expr", "c:texpr",
]:
    roles.register_local_role(name, literal_role)


def check_rst(path):
    """Returns the problems of one .rst file (empty: fine)."""
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.split("\n", 1)[0] != RST_SPDX:
        problems.append(f"first line is not '{RST_SPDX}'")
    warnings = io.StringIO()
    settings = {
        "report_level": 2,  # warnings and worse are reported...
        "halt_level": 5,  # ...all of them, not only the first
        "warning_stream": warnings,
        "file_insertion_enabled": True,
        "raw_enabled": True,
        "input_encoding": "utf-8",
    }
    try:
        docutils.core.publish_doctree(text, source_path=path, settings_overrides=settings)
    except Exception as e:  # A parser crash is a failure too.
        problems.append(f"docutils: {e!r}")
    problems += [l for l in warnings.getvalue().splitlines() if l.strip()]
    return problems


def compatibles(node):
    """The compatible strings a schema fragment lists."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("const", "enum", "items", "oneOf", "anyOf", "contains"):
                out += compatibles(v)
    elif isinstance(node, list):
        for v in node:
            out += compatibles(v)
    elif isinstance(node, str):
        out.append(node)
    return out


def check_yaml(path, notes):
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.split("\n", 1)[0] != YAML_SPDX:
        problems.append(f"first line is not '{YAML_SPDX}'")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return problems + [f"YAML: {e}"]
    if not isinstance(doc, dict):
        return problems + ["not a YAML mapping"]
    for key in ["$id", "$schema", "title", "maintainers", "properties", "required", "examples"]:
        if key not in doc:
            problems.append(f"no '{key}'")
    rel = path[len(BINDINGS):]
    want_id = f"http://devicetree.org/schemas/{rel}#"
    if doc.get("$id") != want_id:
        problems.append(f"$id is {doc.get('$id')!r}, not {want_id!r}")
    if doc.get("$schema") != "http://devicetree.org/meta-schemas/core.yaml#":
        problems.append(f"$schema is {doc.get('$schema')!r}")
    if ("additionalProperties" in doc) == ("unevaluatedProperties" in doc):
        problems.append("needs one of additionalProperties and unevaluatedProperties")
    props = doc.get("properties") or {}
    for key in ["compatible", "reg"]:
        if key in props and key not in (doc.get("required") or []):
            problems.append(f"'{key}' is not required")
    if not isinstance(doc.get("examples"), list) or not all(isinstance(e, str) for e in doc["examples"]):
        problems.append("'examples' is not a list of strings")
    if problems or not dt_doc_validate:
        if not problems:
            notes.append(f"SKIP dt-doc-validate: {dt_note or 'not available'}")
        return problems
    if not os.path.isdir(kernel_bindings):
        notes.append(f"SKIP dt-doc-validate: no kernel bindings at {kernel_bindings} for $ref")
        return problems
    # The binding in an overlay of the kernel's bindings, where its $refs resolve
    # as they would in a kernel tree: the directories on its path are made, with
    # a symbolic link to each of their other entries.
    with tempfile.TemporaryDirectory(prefix="kt298-dt-") as tmp:
        tree = os.path.join(tmp, "bindings")
        dest = os.path.join(tree, rel)
        src, dst = kernel_bindings, tree
        for part in rel.split("/"):
            os.makedirs(dst, exist_ok=True)
            if os.path.isdir(src):
                for entry in os.listdir(src):
                    if entry != part:
                        os.symlink(os.path.join(src, entry), os.path.join(dst, entry))
            src, dst = os.path.join(src, part), os.path.join(dst, part)
        shutil.copyfile(path, dest)
        r = subprocess.run([dt_doc_validate, "-u", tree, dest], capture_output=True, text=True)
        out = (r.stdout + r.stderr).replace(tree + "/", "")
        if r.returncode != 0 or out.strip():
            problems += [f"dt-doc-validate: {l}" for l in out.splitlines() if l.strip()]
            if not out.strip():
                problems.append(f"dt-doc-validate exited with {r.returncode}")
    # The same compatible in a kernel binding makes dt-mk-schema warn.
    compat = compatibles((doc.get("properties") or {}).get("compatible"))
    for c in compat:
        pat = re.compile(r"[\s\"'-]" + re.escape(c) + r"[\"'\s]")
        for other in glob.glob(os.path.join(kernel_bindings, "**", "*.yaml"), recursive=True):
            if os.path.relpath(other, kernel_bindings) == rel:
                continue
            with open(other, encoding="utf-8", errors="replace") as f:
                if pat.search(f.read()):
                    notes.append(f'note: compatible "{c}" is also in the kernel\'s '
                                 f"{os.path.relpath(other, kernel_bindings)}")
    return problems


print("KTAP version 1")
results = []
for path in files:
    notes = []
    if path.endswith(".rst"):
        problems = check_rst(path)
    else:
        problems = check_yaml(path, notes)
    results.append((path, problems, notes))

failed = 0
for n, (path, problems, notes) in enumerate(results, 1):
    if path.endswith(".rst"):
        stem = path[:-4]
        in_root = path in ROOTS or re.search(r"^:orphan:", open(path, encoding="utf-8").read(), re.M)
        if not in_root and stem not in in_toctree:
            problems.append("not in any toctree")
    for line in problems:
        print(f"# {path}: {line}")
    skip = ""
    for note in notes:
        if note.startswith("SKIP "):
            skip = " # " + note
        else:
            print(f"# {path}: {note}")
    if problems:
        failed += 1
        print(f"not ok {n} - {path}")
    else:
        print(f"ok {n} - {path}{skip}")
print(f"1..{len(results)}")
if not results:
    print("# no documentation found")
sys.exit(1 if failed or not results else 0)
PY
