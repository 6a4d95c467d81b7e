#!/usr/bin/env python3
"""The layering check (the test nf_lint_layers): every include of the library points down.

Reads the layer order from the ```layers block of docs/architecture.md (its one home), then checks
every C++ file under include/nf/<layer>/ and src/<layer>/, and data_tools/ and bench/ (layer apps):
  - #include "nf/<other>/..." must name the file's own layer or one below it, and for a layer
    whose line says [needs], one it names;
  - #include "header.h" (a private header, by a path relative to the file) must live in the same
    layer directory as the file; a header the build generates there (train/proto/event.pb.h,
    found through the build's copy of src/) counts as that directory's.
Prints each violation as `path:line: ...` with what to do, and exits 1; exits 0 when the tree is clean.
usage: check_layers.py [SOURCE_DIR]   (default: the checkout holding this script)
Plain Python 3, standard library only.
"""
import re
import sys
from pathlib import Path

DOC = "docs/architecture.md"
SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}
# Directories of the apps layer besides src/apps.
APP_DIRS = ("data_tools", "bench")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
LAYER_LINE = re.compile(r"^([a-z_]+)(?:\s+\[([a-z_ ,]*)\])?(?:\s+.*)?$")


class Layers:
    """The layer order of the ```layers block: names bottom-up, and the [needs] of each layer."""

    def __init__(self, doc):
        self.order, self.needs = [], {}
        lines = doc.read_text(encoding="utf-8").splitlines()
        try:
            start = next(i for i, line in enumerate(lines) if line.strip() == "```layers")
        except StopIteration:
            raise SystemExit(f"{doc}: no ```layers block; it holds the layer order this check reads")
        for number, line in enumerate(lines[start + 1:], start + 2):
            if line.strip() == "```":
                break
            if not line.strip():
                continue
            match = LAYER_LINE.match(line)
            if not match or match.group(1) in self.order:
                raise SystemExit(f"{doc}:{number}: expected 'layer [needs] what it holds' with a new layer name")
            name = match.group(1)
            if match.group(2) is not None:
                needs = set(match.group(2).replace(",", " ").split())
                unknown = needs - set(self.order)
                if unknown:
                    raise SystemExit(f"{doc}:{number}: {name} [needs] {', '.join(sorted(unknown))}, "
                                     f"which is not a layer below it")
                self.needs[name] = needs
            self.order.append(name)
        if not self.order:
            raise SystemExit(f"{doc}: the ```layers block is empty")

    def rank(self, layer):
        return self.order.index(layer)

    def chain(self):
        return " < ".join(self.order)


def layer_roots(root):
    """(directory, layer) for every layer directory of the tree: include/nf/<layer>, src/<layer>,
    data_tools and bench."""
    roots = []
    for parent in (root / "include" / "nf", root / "src"):
        for directory in sorted(p for p in parent.iterdir() if p.is_dir()):
            roots.append((directory, directory.name))
    roots += [(root / name, "apps") for name in APP_DIRS if (root / name).is_dir()]
    return roots


def stray_files(root):
    """Sources directly in include/nf/ or src/, outside every layer directory."""
    for parent in (root / "include" / "nf", root / "src"):
        for path in sorted(parent.iterdir()):
            if path.is_file() and path.suffix in SUFFIXES:
                yield path


def resolve_private(root, path, name):
    """The file a quoted non-nf include names: next to `path`, else the build's generated copy
    of src/ (a directory of src/ that holds the generator's input)."""
    beside = (path.parent / name).resolve()
    if beside.exists():
        return beside
    generated = (root / "src" / name).resolve()
    if generated.parent.is_dir() and generated.parent != root / "src":
        return generated
    return None


def check(root):
    layers = Layers(root / DOC)
    known = set(layers.order)
    violations, files, includes = [], 0, 0

    def report(path, number, message):
        violations.append((str(path.relative_to(root)), number, message))

    for path in stray_files(root):
        report(path, 1, f"is in no layer directory; move it into {path.parent.relative_to(root)}/<layer>/")
    roots = layer_roots(root)
    for directory, layer in roots:
        if layer not in known:
            report(directory, 0, f"'{layer}' is no layer of {DOC} ({layers.chain()}); "
                                 f"move its files into a layer directory, or add the layer to the ```layers block")
            continue
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in SUFFIXES):
            files += 1
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                quote, name = match.groups()
                parts = name.split("/")
                if parts[0] == "nf" and len(parts) > 2:
                    includes += 1
                    other = parts[1]
                    if other not in known:
                        report(path, number, f"{layer} includes {name}, but '{other}' is no layer of {DOC} "
                                             f"({layers.chain()}); include the header from its layer")
                    elif layers.rank(other) > layers.rank(layer):
                        report(path, number, f"{layer} includes {other} (above it); {name}: a layer includes "
                                             f"only itself and the layers below it ({layers.chain()}, {DOC}). "
                                             f"Move what {layer} needs from {other} down into {layer} or below, "
                                             f"move this code up into {other}, or have the layer that wires "
                                             f"both pass it in")
                    elif other != layer and layer in layers.needs and other not in layers.needs[layer]:
                        report(path, number, f"{layer} includes {other}, but {layer} needs only "
                                             f"{', '.join(sorted(layers.needs[layer]))} ({DOC}); {name}: keep "
                                             f"{layer} free of {other}, or change its [needs] there if it "
                                             f"really must depend on it")
                elif quote == '"':
                    includes += 1
                    target = resolve_private(root, path, name)
                    if target is None:
                        report(path, number, f'"{name}" is not beside {path.name}: a private header lives in '
                                             f"the layer directory of the files that include it; include "
                                             f'another layer\'s header as "nf/<layer>/...", a library\'s as <...>')
                    elif directory not in target.parents:
                        owner = next((owner for top, owner in roots if top in target.parents), None)
                        where = target.relative_to(root) if root in target.parents else target
                        public = (f"make it a public header of {owner} (include/nf/{owner}/) and include it as "
                                  f'"nf/{owner}/..."' if owner in known and layers.rank(owner) <= layers.rank(layer)
                                  else "make what it declares a public header of a layer at or below " + layer)
                        report(path, number, f'{layer} includes the private header "{name}" ({where}), outside '
                                             f"{directory.relative_to(root)}/: {public}, or move the header into "
                                             f"{directory.relative_to(root)}/")
    return layers, violations, files, includes


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]).resolve()
    if len(sys.argv) > 2 or not (root / DOC).is_file():
        raise SystemExit(f"usage: check_layers.py [SOURCE_DIR]: {root / DOC} not found")
    layers, violations, files, includes = check(root)
    for path, number, message in sorted(violations):
        print(f"{path}:{number}: {message}")
    if violations:
        print(f"{len(violations)} layering violation(s) in {files} files; the layer order is {DOC}'s: "
              f"{layers.chain()}")
        return 1
    print(f"layers ok: {files} files, {includes} project includes, all pointing down ({layers.chain()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
