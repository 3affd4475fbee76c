#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""Validates exitmon's JSON output against the schemas in docs/ (draft 2020-12).

  validate.py FILE...         each FILE holds one JSON document or JSON lines
                              (`run -o json`); the schema is chosen by "format"
  validate.py --strict FILE.. also checks that adding a member to the document
                              and to its first row makes it invalid (so a field
                              added to the output without the schema fails)
  validate.py --docs MD...    every ```json block of the Markdown files

Prints one line per problem, exits 1 on any, 77 when python3-jsonschema is
missing (the callers skip, or fail under CI=true).
"""
import copy
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    print("python3-jsonschema is not installed (apt-get install python3-jsonschema)")
    sys.exit(77)

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
SCHEMAS = {"exitmon-report": "report", "exitmon-diff": "diff", "exitmon-snapshot": "snapshot"}


def load_schemas():
    store = {}
    for name in ("common", "report", "diff", "snapshot"):
        with open(os.path.join(DOCS, name + ".schema.json")) as f:
            s = json.load(f)
        Draft202012Validator.check_schema(s)
        store[name] = s
    try:  # jsonschema >= 4.18: the referencing library
        from referencing import Registry, Resource
        reg = Registry().with_resources(
            [(s["$id"], Resource.from_contents(s)) for s in store.values()])

        def make(s):
            return Draft202012Validator(s, registry=reg)
    except ImportError:  # Debian 12's 4.10
        by_id = {s["$id"]: s for s in store.values()}

        def make(s):
            return Draft202012Validator(s, resolver=jsonschema.RefResolver(s.get("$id", ""), s, store=by_id))
    return store, make


STORE, MAKE = load_schemas()
VALIDATORS = {n: MAKE(s) for n, s in STORE.items()}


def branch(doc):
    """The oneOf branch the document claims (line type, snapshot version), for a precise message."""
    name = SCHEMAS[doc["format"]]
    defs = STORE[name].get("$defs", {})
    sub = doc.get("type") if name == "report" else "v%s" % doc.get("version") if name == "snapshot" else "diff"
    if sub not in defs:
        return None
    return MAKE({"$schema": STORE[name]["$schema"], "$ref": STORE[name]["$id"] + "#/$defs/" + sub})


def problems(doc):
    """Messages for one document (empty when valid)."""
    if not isinstance(doc, dict) or doc.get("format") not in SCHEMAS:
        return ["not an exitmon document (no known \"format\")"]
    v = VALIDATORS[SCHEMAS[doc["format"]]]
    errors = list(v.iter_errors(doc))
    if not errors:
        return []
    b = branch(doc)
    if b is not None and list(b.iter_errors(doc)):
        errors = list(b.iter_errors(doc))
    # oneOf over line types / versions: name the deepest cause (the branch
    # that got furthest), not "is not valid under any of the given schemas"
    def leaves(es):
        for x in es:
            if x.context:
                yield from leaves(x.context)
            else:
                yield x
    e = max(leaves(errors), key=lambda x: (len(x.absolute_path), x.validator != "const"))
    return ["%s at /%s (%d error(s) in all)" % (e.message[:200], "/".join(str(p) for p in e.absolute_path),
                                              len(errors))]


def documents(path):
    with open(path) as f:
        text = f.read()
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def strict_problems(doc):
    """A member added at the top and in rows[0] must be refused."""
    out = []
    bad = copy.deepcopy(doc)
    bad["x_unlisted_field"] = 1
    if not problems(bad):
        out.append("a document with an unlisted member still validates")
    rows = doc.get("rows") or []
    if rows:
        bad = copy.deepcopy(doc)
        bad["rows"][0]["x_unlisted_field"] = 1
        if not problems(bad):
            out.append("a row with an unlisted member still validates")
    return out


def main(argv):
    strict = "--strict" in argv
    args = [a for a in argv if a != "--strict"]
    bad = 0
    if args and args[0] == "--docs":
        items = []
        for md in args[1:]:
            with open(md) as f:
                for i, block in enumerate(re.findall(r"```json\n(.*?)```", f.read(), re.S)):
                    try:
                        docs = [json.loads(block)]
                    except json.JSONDecodeError:
                        try:
                            docs = [json.loads(l) for l in block.splitlines() if l.strip()]
                        except json.JSONDecodeError as e:
                            print("%s: json block %d: not JSON: %s" % (md, i + 1, e))
                            bad += 1
                            continue
                    items += [("%s: json block %d" % (md, i + 1), d) for d in docs]
    else:
        items = []
        for path in args:
            try:
                items += [("%s: document %d" % (path, i + 1), d) for i, d in enumerate(documents(path))]
            except (OSError, ValueError) as e:
                print("%s: %s" % (path, e))
                bad += 1
    if not items and not bad:
        print("no documents to validate")
        return 1
    for where, doc in items:
        for p in problems(doc) + (strict_problems(doc) if strict else []):
            print("%s: %s" % (where, p))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
